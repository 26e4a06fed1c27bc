// The unlock screen: an account and its passphrase open the store; nothing of either is kept after
// a try, and the wait after failed passphrases is shown.
//
// [SECTION] the account
// [SECTION] the passphrase and the wait
// [SECTION] the screen
#include <imgui.h>
#include <imgui_stdlib.h>
#include <sodium.h>

#include <cstdio>

#include "ui/panels.hpp"

namespace outpost::ui {

using client::tr;

void UnlockPanel::wipe() {
    sodium_memzero(m_pass.data(), m_pass.size());
    m_pass.clear();
    m_account.clear();
    m_error.clear();
    m_accounts.clear();
    m_checkedAt = -100;
    m_focusPending = true;
}

// [SECTION] the account
// Typed, or picked from the accounts on this laptop (names and roles only).
void UnlockPanel::drawAccount() {
    ImGui::TextUnformatted(tr("unlock.account"));
    ImGui::SetNextItemWidth(-1);
    ImGui::InputTextWithHint("##account", tr("unlock.account_hint"), &m_account);
    track("unlock.account");
    if (!m_accounts.empty()) {
        ImGui::TextDisabled("%s", tr("unlock.accounts"));
        for (const auto& a : m_accounts) {
            const std::string role = tr(("role." + std::string(core::roleName(a.role))).c_str());
            const std::string label = a.displayName == a.name
                                          ? a.name + " (" + role + ")"
                                          : a.displayName + " (" + a.name + ", " + role + ")";
            if (ImGui::Selectable(label.c_str(), m_account == a.name)) {
                m_account = a.name;
                m_focusPending = true;
            }
            track("unlock.account." + a.name);
        }
    }
}

// [SECTION] the passphrase and the wait
// Returns true when the person asked to unlock (Enter in the box, or the button) and no wait is on.
bool UnlockPanel::drawPassphrase(double now, FrameInput& in) {
    ImGui::Spacing();
    ImGui::TextUnformatted(tr("unlock.passphrase"));
    ImGui::SetNextItemWidth(-1);
    if (m_focusPending) {
        ImGui::SetKeyboardFocusHere();
        m_focusPending = false;
    }
    bool submit = ImGui::InputText("##passphrase", &m_pass,
                                   ImGuiInputTextFlags_Password | ImGuiInputTextFlags_EnterReturnsTrue);
    track("unlock.passphrase");
    ImGui::Spacing();
    const bool waiting = m_delay.waitSeconds > 0;
    if (waiting) {
        // The wait counts down on screen; the button comes back when it is over.
        const int left = static_cast<int>(m_delay.waitSeconds - (now - m_checkedAt) + 0.999);
        char text[160];
        std::snprintf(text, sizeof text, tr("unlock.wait"), std::max(1, left));
        ImGui::TextColored(colourBad(), "%s", text);
        track("unlock.wait");
        submit = false;
    } else {
        submit = button(tr("unlock.button"), "unlock.button", in) || submit;
    }
    return submit;
}

void UnlockPanel::tryUnlock(client::App& app) {
    auto r = app.unlock(m_account, m_pass);
    // The passphrase leaves memory whatever happened.
    sodium_memzero(m_pass.data(), m_pass.size());
    m_pass.clear();
    m_focusPending = true;
    m_checkedAt = -100;  // re-read the wait at once
    if (!r)
        m_error = r.error().code == ErrorCode::WrongKey ? tr("unlock.wrong")
                  : r.error().code == ErrorCode::Busy   ? std::string()
                                                        : r.error().message;
    else
        wipe();
}

// [SECTION] the screen
void UnlockPanel::draw(client::App& app, FrameInput& in) {
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const float w = std::min(avail.x - 40, 520.0f * ImGui::GetFontSize() / 17.0f);
    ImGui::SetCursorPos(ImVec2((avail.x - w) / 2, avail.y * 0.18f));
    ImGui::BeginChild("##unlockbox", ImVec2(w, 0), false, ImGuiWindowFlags_NoBackground);
    heading(tr("unlock.title"));
    ImGui::Spacing();
    ImGui::TextWrapped("%s", tr("unlock.hint"));
    ImGui::TextDisabled("%s: %s", tr("unlock.store"), app.storeDir().c_str());
    ImGui::Spacing();
    if (!app.wipeNotice().empty()) {
        ImGui::PushTextWrapPos(0);
        ImGui::TextColored(colourBad(), "%s", app.wipeNotice().c_str());
        ImGui::PopTextWrapPos();
        track("unlock.wiped");
        ImGui::Spacing();
    }
    if (!app.storeExists()) {
        ImGui::TextColored(colourBad(), "%s", tr("unlock.nostore"));
        ImGui::EndChild();
        return;
    }
    // The account list and the wait are read from the store file once a second, not every frame.
    const double now = ImGui::GetTime();
    if (now - m_checkedAt >= 1.0) {
        m_accounts = app.accounts();
        m_delay = app.authDelay();
        m_checkedAt = now;
    }
    drawAccount();
    if (drawPassphrase(now, in)) tryUnlock(app);
    if (!m_error.empty()) {
        ImGui::Spacing();
        ImGui::TextColored(colourBad(), "%s", m_error.c_str());
    }
    if (!app.flash().empty() && !app.unlocked()) {
        ImGui::Spacing();
        ImGui::TextDisabled("%s", app.flash().c_str());
    }
    ImGui::EndChild();
}

}  // namespace outpost::ui
