// Small display helpers the panels share: times, counts, unit names, status badges, Enter-aware combos.
#include "ui/panels/panel_util.hpp"

#include <imgui_internal.h>

#include <cstdio>

#include "client/i18n.hpp"
#include "ui/widgets.hpp"

namespace outpost::ui {

using client::tr;

std::string shortTime(const std::string& utc) {
    if (utc.empty()) return "-";
    if (utc.size() < 16 || utc[10] != 'T') return utc;
    return utc.substr(0, 10) + " " + utc.substr(11, 5);
}

std::string groupDigits(std::int64_t n) {
    return client::formatCount(n);
}

std::string formatNumber(double v, int decimals) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
    std::string s = b;
    if (s.find('.') != std::string::npos) {
        while (!s.empty() && s.back() == '0') s.pop_back();
        if (!s.empty() && s.back() == '.') s.pop_back();
    }
    if (s == "-0") s = "0";
    if (client::language() == client::Lang::Fr)
        for (char& c : s)
            if (c == '.') c = ',';
    return s;
}

std::string formatPercent(double v, int decimals) {
    return formatNumber(v, decimals) + (client::language() == client::Lang::Fr ? "\xC2\xA0%" : "%");
}

const char* colon() {
    return client::language() == client::Lang::Fr ? "\xC2\xA0: " : ": ";
}

std::string dateTimeText(const std::string& iso) {
    // YYYY-MM-DDTHH:MM[:SS[.fff]] then Z or +HH:MM / -HH:MM
    if (iso.size() < 17 || iso[10] != 'T') return iso;
    std::string zone;
    const auto z = iso.find_first_of("Z+-", 16);
    if (z == std::string::npos) return iso;
    zone = iso[z] == 'Z' ? "UTC" : "UTC" + iso.substr(z);
    return iso.substr(0, 10) + " " + iso.substr(11, 5) + " (" + zone + ")";
}

std::string formatBytes(std::uint64_t bytes) {
    if (bytes < 1024) return std::to_string(bytes) + " " + tr("syncp.bytes");
    const double kb = static_cast<double>(bytes) / 1024.0;
    if (kb < 1024) return formatNumber(kb, 1) + " " + tr("unit.kb");
    return formatNumber(kb / 1024.0, 1) + " " + tr("unit.mb");
}

std::string unitName(const core::ReferenceData& ref, const std::string& unitId) {
    core::json name = ref.value("units", unitId, "name");
    if (name.is_null()) return unitId;
    return core::ReferenceData::label(name, client::langCode(client::language()));
}

std::string unitShortName(const core::ReferenceData& ref, const std::string& unitId) {
    // The English name carries the abbreviation most reliably; both languages use the same one.
    core::json name = ref.value("units", unitId, "name");
    if (!name.is_null()) {
        std::string en = core::ReferenceData::label(name, "en");
        auto open = en.rfind('(');
        if (!en.empty() && en.back() == ')' && open != std::string::npos && en.size() - open > 2)
            return en.substr(open + 1, en.size() - open - 2);
    }
    auto dash = unitId.find('-');
    return dash == std::string::npos ? unitId : unitId.substr(dash + 1);
}

std::string referenceLabel(const core::ReferenceData& ref, const std::string& table, const std::string& id) {
    const std::string lang = client::langCode(client::language());
    core::json label = ref.value(table, id, "name");
    if (label.is_null()) label = ref.value(table, id, "title");
    if (label.is_null()) return id;
    std::string text = core::ReferenceData::label(label, lang);
    core::json code = ref.value(table, id, "code");
    if (code.is_string()) text = code.get<std::string>() + " \xE2\x80\x94 " + text;
    return text;
}

std::string statusText(core::RecordStatus status) {
    return tr(status == core::RecordStatus::Draft ? "status.draft" : "status.final");
}

namespace {
// The words for a sync or outbox state: its translation ("sync.<state>"), else the state's own name.
std::string syncWords(std::string_view state) {
    const std::string key = "sync." + std::string(state);
    std::string text = tr(key);
    return text == key ? std::string(state) : text;
}
}  // namespace

std::string syncText(core::SyncState syncState) {
    return syncWords(core::toText(syncState));
}
std::string syncText(core::OutboxState state) {
    return syncWords(core::toText(state));
}

ImVec4 statusColour(core::RecordStatus status) {
    return status == core::RecordStatus::Final ? colourGood() : colourWarn();
}

ImVec4 syncColour(core::SyncState syncState) {
    if (syncState == core::SyncState::Sent) return colourGood();
    if (syncState == core::SyncState::Quarantined) return colourBad();
    if (syncState == core::SyncState::Queued) return colourWarn();
    return colourMuted();
}
ImVec4 syncColour(core::OutboxState state) {
    if (state == core::OutboxState::Quarantined) return colourBad();
    return colourWarn();  // queued or held
}

void statusBadge(core::RecordStatus status) {
    badge(statusText(status).c_str(), statusColour(status));
}
void syncBadge(core::SyncState syncState) {
    badge(syncText(syncState).c_str(), syncColour(syncState));
}

ImVec4 linkColour(client::LinkState s) {
    using client::LinkState;
    switch (s) {
        case LinkState::UpToDate:
            return colourGood();
        case LinkState::Revoked:
        case LinkState::UpgradeNeeded:
        case LinkState::Failed:
            return colourBad();
        case LinkState::Offline:
        case LinkState::Unreachable:
        case LinkState::NotEnrolled:
            return colourWarn();
        default:
            return ImGui::GetStyle().Colors[ImGuiCol_Text];
    }
}

bool linkNeedsAttention(client::LinkState s) {
    using client::LinkState;
    return s != LinkState::UpToDate && s != LinkState::Waiting && s != LinkState::Sending &&
           s != LinkState::Starting;
}

bool enterOnItem(FrameInput& in) {
    if (!in.enter || !ImGui::IsItemFocused()) return false;
    in.enter = false;
    return true;
}

bool mouseOnItem() {
    return ImGui::IsItemHovered() && !GImGui->NavDisableMouseHover;
}

bool comboBox(const char* id, int& index, const std::vector<std::string>& items, float width,
              FrameInput& in) {
    bool changed = false;
    const char* preview = index >= 0 && index < static_cast<int>(items.size()) ? items[index].c_str() : "";
    ImGui::SetNextItemWidth(width);
    if (ImGui::BeginCombo(id, preview)) {
        for (int i = 0; i < static_cast<int>(items.size()); ++i) {
            const bool selected = i == index;
            bool picked = ImGui::Selectable(items[i].c_str(), selected);
            if (selected) ImGui::SetItemDefaultFocus();
            // ImGui takes an entry with Space; people expect Enter to work too.
            if (!picked && enterOnItem(in)) {
                picked = true;
                ImGui::CloseCurrentPopup();
            }
            if (picked && i != index) {
                index = i;
                changed = true;
            }
        }
        ImGui::EndCombo();
    } else if (enterOnItem(in)) {
        // The same popup BeginCombo opens on a click (imgui_widgets.cpp names it so).
        const ImGuiID popupId = ImHashStr("##ComboPopup", 0, ImGui::GetItemID());
        ImGui::OpenPopupEx(popupId, ImGuiPopupFlags_None);
    }
    return changed;
}

}  // namespace outpost::ui
