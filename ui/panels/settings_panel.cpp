// Settings: HQ address, text size, theme and language, edited here and applied on Save.
//
// [SECTION] helpers
// [SECTION] the settings form
// [SECTION] save
// [SECTION] panic wipe: the unit id typed back enables the button
// [SECTION] accounts: the commander adds and removes accounts and changes roles
// [SECTION] the screen
#include <imgui.h>
#include <imgui_stdlib.h>

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

#include <algorithm>
#include <cmath>

#include <sodium.h>

#include "ui/panels.hpp"
#include "ui/panels/panel_util.hpp"

namespace outpost::ui {

using client::tr;

// [SECTION] helpers
namespace {

constexpr float kMinFont = 12.0f, kMaxFont = 28.0f;

bool validHq(const std::string& url) {
    if (url.empty()) return true;
    const std::string scheme = "https://";
    return url.rfind(scheme, 0) == 0 && url.size() > scheme.size() &&
           url.find_first_of(" \t") == std::string::npos;
}

bool sameSettings(const client::Settings& a, const client::Settings& b) {
    return a.hqUrl == b.hqUrl && a.fontSize == b.fontSize && a.largeText == b.largeText &&
           a.theme == b.theme && a.lang == b.lang && a.idleLockMinutes == b.idleLockMinutes;
}

// The label column of the settings form.
void rowLabel(const char* text) {
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(0);
    ImGui::AlignTextToFramePadding();
    if (text) ImGui::TextUnformatted(text);
    ImGui::TableSetColumnIndex(1);
}

}  // namespace

// [SECTION] the settings form
void SettingsPanel::drawForm(FrameInput& in, bool hqOk) {
    const float em = ImGui::GetFontSize();
    float labelW = 0;
    for (const char* k :
         {"settings.hq", "settings.font", "settings.theme", "settings.language", "settings.idle"})
        labelW = std::max(labelW, ImGui::CalcTextSize(tr(k)).x);
    ImGui::PushStyleVar(ImGuiStyleVar_CellPadding, ImVec2(ImGui::GetStyle().CellPadding.x, 0.35f * em));
    if (ImGui::BeginTable("##settings", 2, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_PadOuterX)) {
        ImGui::TableSetupColumn("##label", ImGuiTableColumnFlags_WidthFixed, labelW + em);
        ImGui::TableSetupColumn("##control", ImGuiTableColumnFlags_WidthStretch);

        rowLabel(tr("settings.hq"));
        m_chain.before(true);
        ImGui::SetNextItemWidth(std::min(26 * em, ImGui::GetContentRegionAvail().x * 0.55f));
        ImGui::InputTextWithHint("##hq", "https://", &m_edit.hqUrl);
        track("settings.hq");
        m_chain.after();
        // Beside the field when it fits (large French text often does not), else under it.
        const char* aside = hqOk ? tr("settings.hq_hint") : tr("settings.hq_invalid");
        const float room =
            ImGui::GetContentRegionAvail().x - ImGui::GetItemRectSize().x - ImGui::GetStyle().ItemSpacing.x;
        if (ImGui::CalcTextSize(aside).x <= room) ImGui::SameLine();
        ImGui::PushTextWrapPos(0);
        ImGui::TextColored(hqOk ? colourMuted() : colourBad(), "%s", aside);
        ImGui::PopTextWrapPos();

        rowLabel(tr("settings.font"));
        m_chain.before(false);
        ImGui::SetNextItemWidth(std::min(16 * em, ImGui::GetContentRegionAvail().x * 0.5f));
        if (ImGui::SliderFloat("##font", &m_edit.fontSize, kMinFont, kMaxFont, "%.0f px",
                               ImGuiSliderFlags_AlwaysClamp))
            m_edit.fontSize = std::round(m_edit.fontSize);
        track("settings.font");
        // ImGui's slider takes arrows only once activated; Left/Right on the focused slider is quicker.
        if (ImGui::IsItemFocused() && !ImGui::IsItemActive()) {
            if (ImGui::IsKeyPressed(GLFW_KEY_LEFT)) m_edit.fontSize = std::max(kMinFont, m_edit.fontSize - 1);
            if (ImGui::IsKeyPressed(GLFW_KEY_RIGHT))
                m_edit.fontSize = std::min(kMaxFont, m_edit.fontSize + 1);
        }
        m_chain.after();

        rowLabel(nullptr);
        m_chain.before(false);
        ImGui::Checkbox(tr("settings.large"), &m_edit.largeText);
        if (enterOnItem(in)) m_edit.largeText = !m_edit.largeText;
        track("settings.large");
        m_chain.after();

        rowLabel(tr("settings.theme"));
        auto radio = [&](const char* label, bool on, const std::string& name) {
            m_chain.before(false);
            bool picked = ImGui::RadioButton(label, on);
            picked = enterOnItem(in) || picked;
            track(name);
            m_chain.after();
            return picked;
        };
        if (radio(tr("settings.day"), m_edit.theme == client::Theme::Day, "settings.day"))
            m_edit.theme = client::Theme::Day;
        ImGui::SameLine(0, 2 * em);
        if (radio(tr("settings.night"), m_edit.theme == client::Theme::Night, "settings.night"))
            m_edit.theme = client::Theme::Night;

        rowLabel(tr("settings.language"));
        if (radio(tr("settings.english"), m_edit.lang == client::Lang::En, "settings.en"))
            m_edit.lang = client::Lang::En;
        ImGui::SameLine(0, 2 * em);
        if (radio(tr("settings.french"), m_edit.lang == client::Lang::Fr, "settings.fr"))
            m_edit.lang = client::Lang::Fr;

        rowLabel(tr("settings.idle"));
        m_chain.before(false);
        ImGui::SetNextItemWidth(std::min(10 * em, ImGui::GetContentRegionAvail().x * 0.4f));
        if (ImGui::InputInt("##idle", &m_edit.idleLockMinutes, 1, 10))
            m_edit.idleLockMinutes = std::clamp(m_edit.idleLockMinutes, 1, 240);
        track("settings.idle");
        m_chain.after();

        ImGui::EndTable();
    }
    ImGui::PopStyleVar();
}

// [SECTION] save
void SettingsPanel::drawSave(client::App& app, FrameInput& in, bool hqOk) {
    const float em = ImGui::GetFontSize();
    ImGui::Spacing();
    ImGui::Separator();
    ImGui::Spacing();
    m_chain.before(false);
    bool save = button(tr("settings.save"), "settings.save", in);
    m_chain.after();
    save = save || in.ctrlS;
    if (save) {
        if (!hqOk) {
            m_message = tr("settings.hq_invalid");
            m_messageIsError = true;
        } else {
            // The window picks up text size and theme between frames when app.settings() changes.
            app.settings() = m_edit;
            auto r = app.saveSettings();
            m_messageIsError = !r;
            m_message = r ? tr("settings.saved") : r.error().message;
        }
    }
    ImGui::SameLine(0, em);
    ImGui::AlignTextToFramePadding();
    if (!m_message.empty() && m_messageIsError)
        ImGui::TextColored(colourBad(), "%s", m_message.c_str());
    else if (!sameSettings(m_edit, app.settings()))
        ImGui::TextColored(colourWarn(), "%s", tr("settings.unsaved"));
    else if (!m_message.empty())
        ImGui::TextColored(colourGood(), "%s", m_message.c_str());
}

// [SECTION] panic wipe: the unit id typed back enables the button
void SettingsPanel::drawWipe(client::App& app, FrameInput& in) {
    const float em = ImGui::GetFontSize();
    ImGui::Spacing();
    ImGui::Separator();
    ImGui::Spacing();
    ImGui::TextColored(colourBad(), "%s", tr("wipe.title"));
    ImGui::PushTextWrapPos(0);
    ImGui::TextUnformatted(tr("wipe.explain"));
    ImGui::PopTextWrapPos();
    m_chain.before(false);
    ImGui::SetNextItemWidth(16 * em);
    ImGui::InputText("##wipeconfirm", &m_wipeConfirm);
    track("wipe.confirm");
    m_chain.after();
    ImGui::SameLine(0, em);
    const bool armed = app.unlocked() && m_wipeConfirm == app.unitId();
    ImGui::BeginDisabled(!armed);
    m_chain.before(false);
    bool wipe = button(tr("wipe.button"), "wipe.button", in);
    m_chain.after();
    ImGui::EndDisabled();
    if (wipe && armed) {
        auto r = app.wipe(m_wipeConfirm);
        m_wipeConfirm.clear();
        if (!r) {
            m_message = r.error().message;
            m_messageIsError = true;
        }
    }
}

// [SECTION] accounts: the commander adds and removes accounts and changes roles
void SettingsPanel::drawAccounts(client::App& app, FrameInput& in) {
    (void)in;
    const float em = ImGui::GetFontSize();
    ImGui::Spacing();
    ImGui::Separator();
    heading(tr("accounts.title"));
    if (!app.mayManageAccounts()) {
        ImGui::TextDisabled("%s", tr("accounts.only_commander"));
        return;
    }
    std::vector<std::string> roleLabels;
    for (core::Role r : core::allRoles())
        roleLabels.push_back(tr(("role." + std::string(core::roleName(r))).c_str()));
    auto done = [&](const Result<void>& r) {
        m_accountsError = !r;
        m_accountsMessage = r ? tr("accounts.done") : r.error().message;
    };
    auto all = app.storeAccounts();
    if (all && ImGui::BeginTable("##accounts", 3, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) {
        for (const auto& a : *all) {
            if (a.disabled) continue;
            ImGui::TableNextRow();
            ImGui::TableSetColumnIndex(0);
            ImGui::AlignTextToFramePadding();
            ImGui::Text("%s (%s)", a.displayName.c_str(), a.name.c_str());
            ImGui::TableSetColumnIndex(1);
            ImGui::PushID(a.name.c_str());
            int idx = static_cast<int>(a.role);
            ImGui::SetNextItemWidth(14 * em);
            if (comboBox("##role", idx, roleLabels, 14 * em, in) && idx != static_cast<int>(a.role))
                done(app.setRole(a.name, core::allRoles()[static_cast<std::size_t>(idx)]));
            track("accounts.role." + a.name);
            ImGui::TableSetColumnIndex(2);
            if (a.name != app.accountName()) {
                if (ImGui::Button(tr("accounts.remove"))) done(app.removeAccount(a.name));
                track("accounts.remove." + a.name);
            }
            ImGui::PopID();
        }
        ImGui::EndTable();
    }
    ImGui::Spacing();
    ImGui::SetNextItemWidth(12 * em);
    ImGui::InputTextWithHint("##newname", tr("accounts.name"), &m_newName);
    track("accounts.new_name");
    ImGui::SameLine();
    comboBox("##newrole", m_newRole, roleLabels, 14 * em, in);
    track("accounts.new_role");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(14 * em);
    ImGui::InputTextWithHint("##newpass", tr("accounts.passphrase"), &m_newPass,
                             ImGuiInputTextFlags_Password);
    track("accounts.new_pass");
    ImGui::SameLine();
    if (ImGui::Button(tr("accounts.add"))) {
        storage::Account a;
        a.name = m_newName;
        a.role = core::allRoles()[static_cast<std::size_t>(std::clamp(m_newRole, 0, 3))];
        done(app.addAccount(a, m_newPass));
        wipePassphrase();
        if (!m_accountsError) m_newName.clear();
    }
    track("accounts.add");
    if (!m_accountsMessage.empty())
        ImGui::TextColored(m_accountsError ? colourBad() : colourGood(), "%s", m_accountsMessage.c_str());
}

// [SECTION] the screen
// What is on screen starts from the saved settings each time the screen is entered, so leaving without
// saving really leaves them as they were.
void SettingsPanel::onEnter(client::App& app) {
    m_edit = app.settings();
    m_message.clear();
}

void SettingsPanel::draw(client::App& app, FrameInput& in) {
    m_chain.begin(in);
    heading(tr("settings.title"));
    ImGui::Spacing();
    const bool hqOk = validHq(m_edit.hqUrl);
    if (hqOk && m_message == tr("settings.hq_invalid")) m_message.clear();
    drawForm(in, hqOk);
    drawSave(app, in, hqOk);
    drawWipe(app, in);
    m_chain.end();
    drawAccounts(app, in);
}

void SettingsPanel::wipePassphrase() {
    sodium_memzero(m_newPass.data(), m_newPass.size());
    m_newPass.clear();
}

// Lock or wipe: the passphrase zeroed, then everything else forgotten.
void SettingsPanel::wipe() {
    wipePassphrase();
    *this = SettingsPanel{};
}

}  // namespace outpost::ui
