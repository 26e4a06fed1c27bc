// The frame around every screen: the navigation bar, the screen itself, and the status bar.
//
// [SECTION] panels and their lifecycle
// [SECTION] the guard around a panel
// [SECTION] the frame
#include <imgui.h>
#include <imgui_internal.h>
#include <sodium.h>

#include <chrono>
#include <exception>
#include <iostream>

#include "ui/panels.hpp"
#include "ui/panels/panel_util.hpp"

namespace outpost::ui {

using client::Screen;
using client::tr;

// [SECTION] panels and their lifecycle
Shell::Shell() {
    m_panels[static_cast<std::size_t>(Screen::Unlock)] = std::make_unique<UnlockPanel>();
    m_panels[static_cast<std::size_t>(Screen::Home)] = std::make_unique<HomePanel>();
    m_panels[static_cast<std::size_t>(Screen::Records)] = std::make_unique<RecordsPanel>();
    m_panels[static_cast<std::size_t>(Screen::Form)] = std::make_unique<FormPanel>();
    m_panels[static_cast<std::size_t>(Screen::Record)] = std::make_unique<RecordPanel>();
    m_panels[static_cast<std::size_t>(Screen::Gaps)] = std::make_unique<GapsPanel>();
    m_panels[static_cast<std::size_t>(Screen::Sync)] = std::make_unique<SyncPanel>();
    m_panels[static_cast<std::size_t>(Screen::Settings)] = std::make_unique<SettingsPanel>();
}

void Shell::forgetEverything() {
    for (auto& p : m_panels) p->wipe();
    m_shown.reset();
    m_failure.reset();
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

// [SECTION] the guard around a panel
namespace {

// ImGui's stacks as they were before a panel was drawn, in the window the shell drew it into.
struct ImGuiDepth {
    int windows = 0;
    ImGuiStackSizes sizes;
    int ids = 0;
    int treeDepth = 0;
    int textWrap = 0, itemWidth = 0;
    float indent = 0;
    ImGuiTable* table = nullptr;
    int popups = 0;  // popups open (begun this frame or not)

    static ImGuiDepth now() {
        ImGuiContext& g = *GImGui;
        ImGuiWindow* w = g.CurrentWindow;
        ImGuiDepth d;
        d.windows = g.CurrentWindowStack.Size;
        d.sizes.SetToCurrentState();
        d.ids = w->IDStack.Size;
        d.treeDepth = w->DC.TreeDepth;
        d.textWrap = w->DC.TextWrapPosStack.Size;
        d.itemWidth = w->DC.ItemWidthStack.Size;
        d.indent = w->DC.Indent.x;
        d.table = g.CurrentTable;
        d.popups = g.OpenPopupStack.Size;
        return d;
    }
};

// Pops what the current window holds above these sizes, innermost kinds first, as End() expects them.
void popTo(const ImGuiStackSizes& s, int ids, int treeDepth) {
    ImGuiContext& g = *GImGui;
    ImGuiWindow* w = g.CurrentWindow;
    while (w->DC.TreeDepth > treeDepth) ImGui::TreePop();
    while (g.GroupStack.Size > s.SizeOfGroupStack) ImGui::EndGroup();
    while (w->IDStack.Size > ids) ImGui::PopID();
    while (g.DisabledStackSize > s.SizeOfDisabledStack) ImGui::EndDisabled();
    while (g.ColorStack.Size > s.SizeOfColorStack) ImGui::PopStyleColor();
    while (g.ItemFlagsStack.Size > s.SizeOfItemFlagsStack) ImGui::PopItemFlag();
    while (g.StyleVarStack.Size > s.SizeOfStyleVarStack) ImGui::PopStyleVar();
    while (g.FocusScopeStack.Size > s.SizeOfFocusScopeStack) ImGui::PopFocusScope();
    if (g.FontStack.Size > s.SizeOfFontStack) {
        // Not PopFont(): that pops the texture of the draw list of the window that pushed the font, which
        // may be gone. All fonts share one atlas, so the texture left on a draw list is the right one.
        g.FontStack.resize(s.SizeOfFontStack);
        ImGui::SetCurrentFont(g.FontStack.empty() ? ImGui::GetDefaultFont() : g.FontStack.back());
    }
}

// After a throw in a panel: ends what the panel began (tables, child windows, popups, tooltips) and pops
// what it pushed, back to `d`, so the frame can go on and ImGui's end-of-frame checks hold. Tables and
// windows are closed innermost first; before each, the stacks are brought back to where they stood when
// it began (EndTable wants its own ID on top; End() wants no colour, ID or group of the window left).
void recoverTo(const ImGuiDepth& d) {
    ImGuiContext& g = *GImGui;
    for (;;) {
        ImGuiWindow* w = g.CurrentWindow;
        ImGuiTable* t = g.CurrentTable;
        if (t && t != d.table && (t->InnerWindow == w || t->OuterWindow == w)) {
            const ImGuiID own = t->ID + static_cast<ImGuiID>(t->InstanceCurrent);
            while (t->InnerWindow->IDStack.Size > 1 && t->InnerWindow->IDStack.back() != own) ImGui::PopID();
            if (t->InnerWindow != t->OuterWindow && w == t->InnerWindow)
                popTo(g.CurrentWindowStack.back().StackSizesOnBegin, w->IDStack.Size, 0);
            ImGui::EndTable();
            continue;
        }
        if (g.CurrentWindowStack.Size <= d.windows) break;
        const ImGuiStackSizes& begun = g.CurrentWindowStack.back().StackSizesOnBegin;
        popTo(begun, begun.SizeOfIDStack, 0);
        if (w->Flags & ImGuiWindowFlags_ChildWindow)
            ImGui::EndChild();
        else
            ImGui::End();  // a popup or a tooltip (End() also leaves the popup stack)
    }
    popTo(d.sizes, d.ids, d.treeDepth);
    ImGuiWindow* w = g.CurrentWindow;
    while (w->DC.TextWrapPosStack.Size > d.textWrap) ImGui::PopTextWrapPos();
    while (w->DC.ItemWidthStack.Size > d.itemWidth) ImGui::PopItemWidth();
    w->DC.Indent.x = d.indent;
    // A modal the panel opened would go on taking every click from the rest of the window.
    if (g.OpenPopupStack.Size > d.popups) ImGui::ClosePopupToLevel(d.popups, false);
}

// The test hook's failure: in the middle of a panel, with scopes of every kind open, in a modal dialog.
[[noreturn]] void failWithScopesOpen() {
    ImGui::BeginChild("##failing", ImVec2(0, 0), false);
    ImGui::OpenPopup("##failing-modal");
    ImGui::BeginPopupModal("##failing-modal", nullptr, ImGuiWindowFlags_NoTitleBar);
    ImGui::PushID("failing");
    ImGui::BeginGroup();
    ImGui::PushStyleColor(ImGuiCol_Text, colourBad());
    ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(1, 1));
    ImGui::PushFont(headingFont());
    ImGui::BeginDisabled(true);
    ImGui::PushTextWrapPos(10);
    ImGui::Indent(30);
    if (ImGui::BeginTable("##failing", 2, ImGuiTableFlags_ScrollY, ImVec2(0, 100))) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::PushID(7);
        ImGui::PushStyleColor(ImGuiCol_Text, colourWarn());
        ImGui::TextUnformatted("...");
    }
    throw std::runtime_error("a failure injected for a test (--test-fail-screen)");
}

}  // namespace

void Shell::drawScreen(client::App& app, FrameInput& in) {
    const Screen s = app.screen();
    const bool entered = m_shown != s;
    m_shown = s;
    if (entered) m_failure.reset();
    if (m_failure) {
        drawFailure(in);
        return;
    }
    const ImGuiDepth depth = ImGuiDepth::now();
    std::string detail;
    // One guard a frame: a defect in a panel costs that screen, never the window.
    try {
        if (entered) panel(s).onEnter(app);
        panel(s).draw(app, in);
        if (m_testFailure == s) failWithScopesOpen();
        return;
    } catch (const std::exception& e) {
        detail = e.what();
    } catch (...) {
        detail = "unknown exception";
    }
    recoverTo(depth);
    std::cerr << "outpost: the " << client::screenName(s) << " screen failed: " << detail << std::endl;
    m_failure = Failure{s, detail};
    drawFailure(in);
}

void Shell::drawFailure(FrameInput& in) {
    callout(colourBad(), [&] {
        ImGui::PushFont(headingFont());
        ImGui::TextColored(colourBad(), "%s", tr("shell.failed_title"));
        ImGui::PopFont();
        track("shell.failed");
        ImGui::TextUnformatted(tr("shell.failed_text"));
        ImGui::TextDisabled("%s%s%s", tr("shell.failed_detail"), colon(), m_failure->detail.c_str());
        ImGui::Spacing();
        if (button(tr("shell.retry"), "shell.retry", in)) {
            // The next frame enters the screen afresh.
            m_failure.reset();
            m_shown.reset();
        }
    });
}

// [SECTION] the frame
namespace {

void navButton(client::App& app, Screen target, const char* key, const std::string& name, FrameInput& in) {
    bool current = app.screen() == target;
    if (current) ImGui::PushStyleColor(ImGuiCol_Button, ImGui::GetStyle().Colors[ImGuiCol_ButtonActive]);
    if (button(tr(key), name, in)) app.go(target);
    if (current) ImGui::PopStyleColor();
    ImGui::SameLine();
}

}  // namespace

void Shell::drawNavigation(client::App& app, FrameInput& in) {
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
    if (button(tr("nav.lock"), "nav.lock", in)) app.lock();
}

void Shell::drawStatus(client::App& app) {
    // Status bar: what just happened, and what is waiting.
    const float right = ImGui::GetWindowContentRegionMax().x;
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
        drawScreen(app, in);
        ImGui::End();
        return;
    }

    drawNavigation(app, in);
    if (!app.unlocked()) {  // the Lock button
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
    drawScreen(app, in);
    ImGui::EndChild();

    drawStatus(app);
    ImGui::End();
}

}  // namespace outpost::ui
