// Shared widgets: the Tab focus chain, Enter-activated buttons, type-to-choose inputs, status colours.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <imgui.h>

#include "ui/input.hpp"

namespace outpost::ui {

// Tab / Shift+Tab through every focusable widget of a panel, in drawing order, text fields and
// others alike. Call before() and after() around each focusable widget, begin()/end() once a frame.
class FocusChain {
public:
    void begin(const FrameInput& in);
    void before(bool isText);
    void after();
    void end();
    // Focus the first (or the index-th) item on the next frame.
    void focus(int index = 0) { m_target = index; }
    // Focus the item about to be drawn (call just before before()).
    void focusHere() { m_target = m_count; }
    int focused() const { return m_focused; }

private:
    int m_count = 0, m_prevCount = 0;
    int m_focused = -1, m_focusedNow = -1;
    int m_target = -1;
    bool m_currentIsText = false;
};

// A button that also fires on Enter when it has the keyboard focus, and that scripts can click by name.
bool button(const char* label, const std::string& name, FrameInput& in, const ImVec2& size = ImVec2(0, 0));

// A choice picked by typing: the text box filters the choices (case and accents ignored) and
// shows the matches under it; Enter or a click takes the first or the clicked match. `text` is the
// box's buffer; returns true when `value` changed.
struct ChoiceOption {
    std::string value;
    std::string label;
};
bool choiceInput(const char* id, std::string& text, std::string& value,
                 const std::vector<ChoiceOption>& options, const char* hint, float width);

// The font for headings (bold, larger) when loaded; the default font otherwise.
ImFont* headingFont();
void heading(const char* text);

// Colours that keep their meaning in both themes.
ImVec4 colourGood();
ImVec4 colourWarn();
ImVec4 colourBad();
ImVec4 colourMuted();

// A small filled badge with text ("draft", "waiting to sync").
void badge(const char* text, const ImVec4& colour);

// A full-width box, tinted and bordered in colour, around what body() draws (text wraps inside it):
// what must not be missed, such as a revoked device or a report HQ returned. body() may draw text
// and buttons, not tables.
void callout(const ImVec4& colour, const std::function<void()>& body);

}  // namespace outpost::ui
