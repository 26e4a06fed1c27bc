// Local account roles and what each may do with each form (docs/security.md has the table).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::core {

// The people who share one field laptop.
enum class Role {
    Commander,          // the contingent commander: every non-sensitive record, manages accounts
    TrainingOfficer,    // training sessions, requirements and gaps; reads readiness
    ConductFocalPoint,  // conduct incidents including the sensitive (SEA) section
    Clerk,              // data entry of non-conduct forms; never sees conduct records
};

// "commander", "training-officer", "conduct-focal-point", "clerk": the names stored and typed.
std::string_view roleName(Role r);
std::optional<Role> parseRole(std::string_view name);
std::vector<Role> allRoles();
std::string roleNamesText();  // "commander, training-officer, conduct-focal-point, clerk"

// What a role may do with the records of one form. Create covers editing and discarding the role's
// drafts and amending; Finalize freezes a revision and queues it for HQ.
struct FormRights {
    bool create = false;
    bool read = false;
    bool finalize = false;
    bool readSensitive = false;  // see and write the fields marked `sensitive` (the SEA section)
};

enum class FormAction { Create, Read, Finalize };
std::string_view actionName(FormAction a);  // "create", "read", "finalize"

// The rights of a role on a form id. Conduct forms are `incident`; forms HQ adds later fall in the
// "other" row of the table (the commander and the clerk enter them, everyone reads them).
FormRights formRights(Role r, std::string_view formId);
bool allows(Role r, std::string_view formId, FormAction a);

// Account management (add, remove, change role, reset another account's passphrase) and enrollment.
bool mayManageAccounts(Role r);
bool mayEnroll(Role r);

}  // namespace outpost::core
