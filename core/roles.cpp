// The permission table of the local roles: one place decides, the store and the UI ask.
#include "core/roles.hpp"

namespace outpost::core {

std::string_view roleName(Role r) {
    switch (r) {
        case Role::Commander:
            return "commander";
        case Role::TrainingOfficer:
            return "training-officer";
        case Role::ConductFocalPoint:
            return "conduct-focal-point";
        case Role::Clerk:
            return "clerk";
    }
    return "clerk";
}

std::vector<Role> allRoles() {
    return {Role::Commander, Role::TrainingOfficer, Role::ConductFocalPoint, Role::Clerk};
}

std::optional<Role> parseRole(std::string_view name) {
    for (Role r : allRoles())
        if (roleName(r) == name) return r;
    return std::nullopt;
}

std::string roleNamesText() {
    std::string out;
    for (Role r : allRoles()) out += (out.empty() ? "" : ", ") + std::string(roleName(r));
    return out;
}

std::string_view actionName(FormAction a) {
    switch (a) {
        case FormAction::Create:
            return "create";
        case FormAction::Read:
            return "read";
        case FormAction::Finalize:
            return "finalize";
    }
    return "read";
}

FormRights formRights(Role r, std::string_view formId) {
    //                                   create read  finalize sensitive
    constexpr FormRights kNone{false, false, false, false};
    constexpr FormRights kReadOnly{false, true, false, false};
    constexpr FormRights kEntry{true, true, false, false};  // drafts only: someone else finalizes
    constexpr FormRights kFull{true, true, true, false};
    constexpr FormRights kFullSensitive{true, true, true, true};
    const bool conduct = formId == "incident";
    const bool training = formId == "training" || formId == "training-gap";
    switch (r) {
        case Role::Commander:
            return kFull;  // conduct records too, but never their sensitive section
        case Role::TrainingOfficer:
            if (conduct) return kNone;
            if (training) return kFull;
            return kReadOnly;
        case Role::ConductFocalPoint:
            if (conduct) return kFullSensitive;
            return kReadOnly;
        case Role::Clerk:
            return conduct ? kNone : kEntry;
    }
    return kNone;
}

bool allows(Role r, std::string_view formId, FormAction a) {
    FormRights f = formRights(r, formId);
    switch (a) {
        case FormAction::Create:
            return f.create;
        case FormAction::Read:
            return f.read;
        case FormAction::Finalize:
            return f.finalize;
    }
    return false;
}

bool mayManageAccounts(Role r) {
    return r == Role::Commander;
}

bool mayEnroll(Role r) {
    return r == Role::Commander;
}

}  // namespace outpost::core
