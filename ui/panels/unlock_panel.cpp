// The unlock screen: the passphrase opens the store; nothing of it is kept after a failure.
#include <imgui.h>
#include <imgui_stdlib.h>
#include <sodium.h>

#include "ui/panels.hpp"

namespace outpost::ui {

using client::tr;

void UnlockPanel::draw(client::App& app, FrameInput& in) {
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const float w = std::min(avail.x - 40, 520.0f * ImGui::GetFontSize() / 17.0f);
    ImGui::SetCursorPos(ImVec2((avail.x - w) / 2, avail.y * 0.22f));
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
    submit = button(tr("unlock.button"), "unlock.button", in) || submit;
    if (submit) {
        auto r = app.unlock(m_pass);
        // The passphrase leaves memory whatever happened.
        sodium_memzero(m_pass.data(), m_pass.size());
        m_pass.clear();
        m_focusPending = true;
        if (!r)
            m_error = r.error().code == ErrorCode::WrongKey ? tr("unlock.wrong") : r.error().message;
        else
            m_error.clear();
    }
    if (!m_error.empty()) {
        ImGui::Spacing();
        ImGui::TextColored(colourBad(), "%s", m_error.c_str());
    }
    ImGui::EndChild();
}

}  // namespace outpost::ui
