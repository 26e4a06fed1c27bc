// Keyboard shortcuts for a frame, and the script runner that drives the real window in tests.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/error.hpp"

#include <imgui.h>

namespace outpost::ui {

// What the application does with the keyboard this frame. Tab is taken away from ImGui (whose
// Tab only visits text fields) and handed to the panels' own focus chain, which visits every field.
struct FrameInput {
    bool tab = false;
    bool shiftTab = false;
    bool enter = false;  // Enter with no modifier
    bool ctrlS = false;
    bool ctrlEnter = false;
    bool escape = false;  // Esc while nothing is being edited (Esc in a field only leaves it)
    bool ctrlF = false;
};

// Call before ImGui::NewFrame: reads and removes Tab from ImGui's keys, remembers whether an item
// was being edited. Call after NewFrame: fills the rest.
class InputRouter {
public:
    void beforeNewFrame();
    FrameInput afterNewFrame();

private:
    bool m_tab = false, m_shift = false, m_wasEditing = false;
};

// True when this frame has any key, character, mouse move, click or wheel (the idle lock restarts).
bool anyInputThisFrame();

// Widgets a script can click, by name: panels call track("name") right after drawing one.
void track(const std::string& name);
void clearTracked();
bool trackedRect(const std::string& name, float& x0, float& y0, float& x1, float& y1);
std::vector<std::string> trackedNames();

// A script of input events for the real window (see docs/operations.md, "GUI scripts"):
//   wait N | wait-for NAME [SECONDS] | type TEXT | key [Ctrl+][Shift+]NAME | click NAME | screenshot FILE |
//   expect-screen NAME | quit
class ScriptRunner {
public:
    static Result<ScriptRunner> load(const std::string& path);
    bool done() const {
        return m_pc >= m_lines.size() && m_pendingRelease.empty() && !m_mouseUpNext && m_waitFor.empty();
    }
    // Called before ImGui::NewFrame each frame: injects this frame's events.
    void inject();
    // Called after the frame is built. Returns a screenshot path wanted for this frame, or "".
    // currentScreen is the application's screen name, for expect-screen.
    std::string afterFrame(const std::string& currentScreen, const std::string& screenshotDir);
    bool failed() const { return !m_error.empty(); }
    const std::string& error() const { return m_error; }
    bool quitRequested() const { return m_quit; }

private:
    struct Line {
        int number;
        std::string verb, arg;
    };
    std::vector<Line> m_lines;
    std::size_t m_pc = 0;
    int m_wait = 0;
    std::string m_waitFor;  // wait-for: a widget name, until it is on screen or the deadline passes
    double m_waitSeconds = 0;
    int m_waitLine = 0;
    std::chrono::steady_clock::time_point m_waitDeadline{};
    std::vector<int> m_pendingRelease;  // keys pressed last frame, released this frame
    bool m_releaseCtrl = false, m_releaseShift = false;
    bool m_mouseUpNext = false;
    std::string m_screenshot;
    std::string m_expect;
    int m_expectLine = 0;
    std::string m_error;
    bool m_quit = false;
    struct Point {
        float x = -1, y = -1;
        operator ImVec2() const { return ImVec2(x, y); }
        Point& operator=(const ImVec2& v) {
            x = v.x;
            y = v.y;
            return *this;
        }
    };
    Point m_lastMouse;
};

}  // namespace outpost::ui
