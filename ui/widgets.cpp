// Shared widgets: focus chain, buttons, type-to-choose inputs, badges.
//
// [SECTION] focus chain
// [SECTION] buttons
// [SECTION] type-to-choose
// [SECTION] looks
#include "ui/widgets.hpp"

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>
#include <imgui_internal.h>
#include <imgui_stdlib.h>

#include "client/settings.hpp"
#include "core/utf8.hpp"

#include <algorithm>

namespace outpost::ui {

// [SECTION] focus chain
void FocusChain::begin(const FrameInput& in) {
    m_prevCount = m_count;
    m_count = 0;
    m_focusedNow = -1;
    if (m_prevCount > 0 && (in.tab || in.shiftTab)) {
        // The field being left must stop taking keystrokes now, before the next one takes focus.
        ImGui::ClearActiveID();
        int cur = m_focused;
        if (in.tab) m_target = cur < 0 ? 0 : (cur + 1) % m_prevCount;
        if (in.shiftTab) m_target = cur < 0 ? m_prevCount - 1 : (cur - 1 + m_prevCount) % m_prevCount;
    }
}

void FocusChain::before(bool isText) {
    m_currentIsText = isText;
    if (m_count == m_target && isText) {
        ImGui::SetKeyboardFocusHere();
        ImGui::SetScrollHereY(0.35f);
    }
}

void FocusChain::after() {
    const int index = m_count++;
    if (ImGui::IsItemActive() || ImGui::IsItemFocused()) m_focusedNow = index;
    if (index != m_target) return;
    m_target = -1;
    m_focusedNow = index;
    if (m_currentIsText) return;
    ImGuiContext& g = *GImGui;
    // Leave any text field being edited, then put the keyboard (nav) focus on this widget, visibly.
    ImGui::ClearActiveID();
    ImGui::SetFocusID(ImGui::GetItemID(), g.CurrentWindow);
    g.NavDisableHighlight = false;
    g.NavDisableMouseHover = true;
    ImGui::SetScrollHereY(0.35f);
}

void FocusChain::end() {
    m_focused = m_focusedNow;
    if (m_target >= m_count) m_target = -1;
}

// [SECTION] buttons
bool button(const char* label, const std::string& name, FrameInput& in, const ImVec2& size) {
    bool clicked = ImGui::Button(label, size);
    track(name);
    if (!clicked && in.enter && ImGui::IsItemFocused()) {
        clicked = true;
        in.enter = false;
    }
    return clicked;
}

// [SECTION] type-to-choose
namespace {
bool matches(const std::string& query, const ChoiceOption& o) {
    if (query.empty()) return true;
    std::string q = core::foldForSearch(query);
    return core::foldForSearch(o.label).find(q) != std::string::npos ||
           core::foldForSearch(o.value).find(q) != std::string::npos;
}
}  // namespace

bool choiceInput(const char* id, std::string& text, std::string& value,
                 const std::vector<ChoiceOption>& options, const char* hint, float width) {
    ImGui::PushID(id);
    ImGui::SetNextItemWidth(width);
    ImGui::InputTextWithHint("##choice", hint, &text, ImGuiInputTextFlags_AutoSelectAll);
    const bool active = ImGui::IsItemActive();
    const bool deactivated = ImGui::IsItemDeactivated();
    const ImVec2 below(ImGui::GetItemRectMin().x, ImGui::GetItemRectMax().y);
    const ImGuiID boxId = ImGui::GetItemID();
    bool changed = false;

    std::vector<const ChoiceOption*> hits;
    for (const auto& o : options)
        if (matches(text, o)) hits.push_back(&o);
    // An exact label or value is taken at once, so typing a whole choice needs no Enter.
    auto pick = [&](const ChoiceOption* o) {
        std::string nv = o ? o->value : std::string();
        if (nv != value) changed = true;
        value = nv;
        if (o) text = o->label;
    };
    std::string folded = core::foldForSearch(text);
    for (const auto& o : options)
        if (!text.empty() &&
            (core::foldForSearch(o.label) == folded || core::foldForSearch(o.value) == folded) &&
            value != o.value) {
            value = o.value;
            changed = true;
        }
    if (active &&
        (ImGui::IsKeyPressed(GLFW_KEY_ENTER, false) || ImGui::IsKeyPressed(GLFW_KEY_KP_ENTER, false)) &&
        !hits.empty())
        pick(hits.front());
    // Leaving the box (Tab) with text that matches takes the first match, as Enter does.
    if (deactivated && !text.empty() && !hits.empty() &&
        std::none_of(hits.begin(), hits.end(), [&](const ChoiceOption* o) { return o->value == value; }))
        pick(hits.front());
    if (text.empty() && !value.empty() && (active || deactivated)) {
        value.clear();
        changed = true;
    }
    // The list of matches floats under the box while it is being edited.
    // The list below must not become "the last item": callers ask the box itself whether it is active.
    const ImGuiLastItemData boxItem = GImGui->LastItemData;
    if (active && !text.empty() && !(hits.size() == 1 && hits.front()->value == value)) {
        ImGui::SetNextWindowPos(below);
        ImGui::SetNextWindowSizeConstraints(ImVec2(width, 0),
                                            ImVec2(width * 1.5f, ImGui::GetTextLineHeightWithSpacing() * 7));
        ImGui::BeginTooltip();
        int shown = 0;
        for (const auto* o : hits) {
            if (shown++ == 6) {
                ImGui::TextDisabled("...");
                break;
            }
            ImGui::TextUnformatted(o->label.c_str());
        }
        if (hits.empty()) ImGui::TextDisabled("-");
        ImGui::EndTooltip();
    }
    (void)boxId;
    GImGui->LastItemData = boxItem;
    ImGui::PopID();
    return changed;
}

// [SECTION] looks
ImFont* headingFont() {
    ImGuiIO& io = ImGui::GetIO();
    return io.Fonts->Fonts.Size > 1 ? io.Fonts->Fonts[1] : io.Fonts->Fonts[0];
}

void heading(const char* text) {
    ImGui::PushFont(headingFont());
    ImGui::TextUnformatted(text);
    ImGui::PopFont();
}

namespace {
bool night() {
    return ImGui::GetStyle().Colors[ImGuiCol_WindowBg].x < 0.2f;
}
}  // namespace

ImVec4 colourGood() {
    return night() ? ImVec4(0.45f, 0.55f, 0.30f, 1) : ImVec4(0.10f, 0.50f, 0.20f, 1);
}
ImVec4 colourWarn() {
    return night() ? ImVec4(0.75f, 0.55f, 0.20f, 1) : ImVec4(0.75f, 0.50f, 0.00f, 1);
}
ImVec4 colourBad() {
    return night() ? ImVec4(0.85f, 0.25f, 0.18f, 1) : ImVec4(0.75f, 0.10f, 0.10f, 1);
}
ImVec4 colourMuted() {
    return ImGui::GetStyle().Colors[ImGuiCol_TextDisabled];
}

void badge(const char* text, const ImVec4& colour) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    ImVec2 size = ImGui::CalcTextSize(text);
    ImVec2 p = ImGui::GetCursorScreenPos();
    const float padX = 6, padY = 1;
    ImVec4 fill = colour;
    fill.w = 0.18f;
    dl->AddRectFilled(p, ImVec2(p.x + size.x + 2 * padX, p.y + size.y + 2 * padY), ImGui::GetColorU32(fill),
                      4.0f);
    dl->AddRect(p, ImVec2(p.x + size.x + 2 * padX, p.y + size.y + 2 * padY), ImGui::GetColorU32(colour),
                4.0f);
    ImGui::SetCursorScreenPos(ImVec2(p.x + padX, p.y + padY));
    ImGui::TextColored(colour, "%s", text);
    ImGui::SetCursorScreenPos(ImVec2(p.x + size.x + 2 * padX + ImGui::GetStyle().ItemSpacing.x, p.y));
    ImGui::Dummy(ImVec2(0, size.y + 2 * padY));
}

void callout(const ImVec4& colour, const std::function<void()>& body) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float pad = ImGui::GetFontSize() * 0.6f;
    const ImVec2 start = ImGui::GetCursorScreenPos();
    const float width = ImGui::GetContentRegionAvail().x;
    // The box is drawn after its content (its height is known then), on a channel behind it.
    dl->ChannelsSplit(2);
    dl->ChannelsSetCurrent(1);
    ImGui::SetCursorScreenPos(ImVec2(start.x + pad, start.y + pad));
    ImGui::BeginGroup();
    ImGui::PushTextWrapPos(ImGui::GetCursorPos().x + width - 2 * pad);
    body();
    ImGui::PopTextWrapPos();
    ImGui::EndGroup();
    const ImVec2 end(start.x + width, ImGui::GetItemRectMax().y + pad);
    dl->ChannelsSetCurrent(0);
    ImVec4 fill = colour;
    fill.w = 0.14f;
    dl->AddRectFilled(start, end, ImGui::GetColorU32(fill), 4.0f);
    dl->AddRect(start, end, ImGui::GetColorU32(colour), 4.0f, 0, 1.5f);
    dl->ChannelsMerge();
    ImGui::SetCursorScreenPos(start);
    ImGui::Dummy(ImVec2(width, end.y - start.y));
}

}  // namespace outpost::ui
