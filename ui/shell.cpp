// The frame around every screen: the navigation bar, the screen itself, and the status bar.
#include "ui/panels.hpp"

#include <imgui.h>
#include <imgui_internal.h>
#include <sodium.h>

#include <chrono>

#include "ui/panels/panel_util.hpp"

namespace outpost::ui {

using client::Screen;
using client::tr;

namespace {

void navButton(client::App& app, Screen target, const char* key, const std::string& name, FrameInput& in) {
    bool current = app.screen() == target;
    if (current) ImGui::PushStyleColor(ImGuiCol_Button, ImGui::GetStyle().Colors[ImGuiCol_ButtonActive]);
    if (button(tr(key), name, in)) app.go(target);
    if (current) ImGui::PopStyleColor();
    ImGui::SameLine();
}

}  // namespace

void Shell::forgetEverything() {
    m_unlock.wipe();
    m_settings.wipe();
    m_records.wipe();
    m_form.wipe();
    m_home = HomePanel{};
    m_records = RecordsPanel{};
    m_form = FormPanel{};
    m_record = RecordPanel{};
    m_gaps = GapsPanel{};
    m_sync = SyncPanel{};
    m_settings = SettingsPanel{};
    // ImGui keeps its own copy of the text being edited (and its undo buffer): zeroed, then released.
    if (ImGuiContext* g = ImGui::GetCurrentContext()) {
        ImGui::ClearActiveID();
        ImGuiInputTextState& st = g->InputTextState;
        if (st.TextW.Data)
            sodium_memzero(st.TextW.Data, static_cast<std::size_t>(st.TextW.Capacity) * sizeof(ImWchar));
        if (st.TextA.Data) sodium_memzero(st.TextA.Data, static_cast<std::size_t>(st.TextA.Capacity));
        if (st.InitialTextA.Data)
            sodium_memzero(st.InitialTextA.Data, static_cast<std::size_t>(st.InitialTextA.Capacity));
        sodium_memzero(&st.Stb, sizeof st.Stb);
        st.TextW.clear();
        st.TextA.clear();
        st.InitialTextA.clear();
        st.CurLenW = st.CurLenA = 0;
        st.ID = 0;
        g->IO.InputQueueCharacters.resize(0);
    }
}

void Shell::draw(client::App& app, FrameInput& in) {
    if (m_wasUnlocked && !app.unlocked()) forgetEverything();
    m_wasUnlocked = app.unlocked();
    const ImGuiViewport* vp = ImGui::GetMainViewport();
    ImGui::SetNextWindowPos(vp->WorkPos);
    ImGui::SetNextWindowSize(vp->WorkSize);
    ImGui::Begin("##outpost", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                     ImGuiWindowFlags_NoBringToFrontOnFocus);
    clearTracked();

    if (app.screen() == Screen::Unlock) {
        m_unlock.draw(app, in);
        ImGui::End();
        return;
    }

    // Navigation bar
    ImGui::PushFont(headingFont());
    ImGui::TextUnformatted(tr("app.title"));
    ImGui::PopFont();
    ImGui::SameLine(0, 24);
    navButton(app, Screen::Home, "nav.home", "nav.home", in);
    navButton(app, Screen::Records, "nav.records", "nav.records", in);
    navButton(app, Screen::Gaps, "nav.gaps", "nav.gaps", in);
    navButton(app, Screen::Sync, "nav.sync", "nav.sync", in);
    navButton(app, Screen::Settings, "nav.settings", "nav.settings", in);
    const auto& home = app.home();
    std::string who = home.unitName + "  ·  " + home.user;
    float lockW = ImGui::CalcTextSize(tr("nav.lock")).x + ImGui::GetStyle().FramePadding.x * 2;
    float whoW = ImGui::CalcTextSize(who.c_str()).x;
    float right = ImGui::GetWindowContentRegionMax().x;
    // With large text or long French labels the unit name gives way (shortened) before the buttons do.
    const float room = right - lockW - 24 - (ImGui::GetCursorPosX() + 12);
    if (whoW > room) {
        who = home.user;
        whoW = ImGui::CalcTextSize(who.c_str()).x;
    }
    ImGui::SameLine(std::max(ImGui::GetCursorPosX() + 12, right - lockW - whoW - 24));
    ImGui::AlignTextToFramePadding();
    if (whoW <= room)
        ImGui::TextDisabled("%s", who.c_str());
    else
        ImGui::TextUnformatted("");
    ImGui::SameLine(right - lockW);
    if (button(tr("nav.lock"), "nav.lock", in)) {
        app.lock();
        ImGui::End();
        return;
    }
    ImGui::Separator();

    if (in.escape && app.screen() != Screen::Home) {
        in.escape = false;
        app.back();
    }
    if (in.ctrlF && app.screen() != Screen::Records) app.go(Screen::Records);

    // The screen, leaving room for the status bar.
    float statusH = ImGui::GetFrameHeightWithSpacing() + ImGui::GetStyle().ItemSpacing.y;
    ImGui::BeginChild("##screen", ImVec2(0, -statusH), false, ImGuiWindowFlags_NoBackground);
    switch (app.screen()) {
        case Screen::Home:
            m_home.draw(app, in);
            break;
        case Screen::Records:
            m_records.draw(app, in);
            break;
        case Screen::Form:
            m_form.draw(app, in);
            break;
        case Screen::Record:
            m_record.draw(app, in);
            break;
        case Screen::Gaps:
            m_gaps.draw(app, in);
            break;
        case Screen::Sync:
            m_sync.draw(app, in);
            break;
        case Screen::Settings:
            m_settings.draw(app, in);
            break;
        case Screen::Unlock:
            break;
    }
    ImGui::EndChild();

    // Status bar: what just happened, and what is waiting.
    ImGui::Separator();
    if (!app.flash().empty())
        ImGui::TextColored(app.flashIsError() ? colourBad() : colourGood(), "%s", app.flash().c_str());
    else
        ImGui::TextDisabled("%s", "");
    const client::SyncSnapshot snap = app.syncSnapshot();
    const std::string waiting = groupDigits(snap.queued) + " " + tr("status.waiting") + "  ·  " +
                                tr("status.link") + tr("punct.colon");
    const std::string link = client::linkText(snap, std::chrono::system_clock::now());
    const float linkW = ImGui::CalcTextSize(link.c_str()).x;
    ImGui::SameLine(
        std::max(ImGui::GetCursorPosX() + 12, right - ImGui::CalcTextSize(waiting.c_str()).x - linkW));
    ImGui::TextDisabled("%s", waiting.c_str());
    ImGui::SameLine(0, 0);
    // Trouble on the link is coloured; a link that works stays as quiet as the rest of the bar.
    if (linkNeedsAttention(snap.link))
        ImGui::TextColored(linkColour(snap.link), "%s", link.c_str());
    else
        ImGui::TextDisabled("%s", link.c_str());
    track(std::string("status.link.") + client::linkStateName(snap.link));
    ImGui::End();
}

}  // namespace outpost::ui
