// Keyboard routing and the GUI script runner: real key, text and mouse events into the real window.
//
// [SECTION] routing
// [SECTION] tracked widgets
// [SECTION] scripts
#include "ui/input.hpp"

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>
#include <imgui.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace outpost::ui {

// [SECTION] routing
void InputRouter::beforeNewFrame() {
    ImGuiIO& io = ImGui::GetIO();
    m_tab = io.KeysDown[GLFW_KEY_TAB];
    m_shift = io.KeyShift;
    io.KeysDown[GLFW_KEY_TAB] = false;
    // Esc that closes an open combo or popup must not also leave the screen.
    m_wasEditing = ImGui::IsAnyItemActive() ||
                   ImGui::IsPopupOpen("", ImGuiPopupFlags_AnyPopupId | ImGuiPopupFlags_AnyPopupLevel);
}

FrameInput InputRouter::afterNewFrame() {
    ImGuiIO& io = ImGui::GetIO();
    FrameInput in;
    in.tab = m_tab && !m_shift && !io.KeyCtrl;
    in.shiftTab = m_tab && m_shift && !io.KeyCtrl;
    bool enter = ImGui::IsKeyPressed(GLFW_KEY_ENTER, false) || ImGui::IsKeyPressed(GLFW_KEY_KP_ENTER, false);
    in.enter = enter && !io.KeyCtrl && !io.KeyShift && !io.KeyAlt;
    in.ctrlEnter = enter && io.KeyCtrl;
    in.ctrlS = io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_S, false);
    in.ctrlF = io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_F, false);
    in.escape = ImGui::IsKeyPressed(GLFW_KEY_ESCAPE, false) && !m_wasEditing;
    return in;
}

// [SECTION] tracked widgets
namespace {
struct Rect {
    float x0, y0, x1, y1;
};
std::map<std::string, Rect>& tracked() {
    static std::map<std::string, Rect> m;
    return m;
}
}  // namespace

void track(const std::string& name) {
    ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    tracked()[name] = Rect{a.x, a.y, b.x, b.y};
}
void clearTracked() {
    tracked().clear();
}
bool trackedRect(const std::string& name, float& x0, float& y0, float& x1, float& y1) {
    auto it = tracked().find(name);
    if (it == tracked().end()) return false;
    x0 = it->second.x0;
    y0 = it->second.y0;
    x1 = it->second.x1;
    y1 = it->second.y1;
    return true;
}
std::vector<std::string> trackedNames() {
    std::vector<std::string> out;
    for (const auto& [k, v] : tracked()) out.push_back(k);
    return out;
}

// [SECTION] scripts
namespace {

int keyCode(const std::string& name) {
    static const std::map<std::string, int> keys = {
        {"Tab", GLFW_KEY_TAB},       {"Enter", GLFW_KEY_ENTER},    {"Escape", GLFW_KEY_ESCAPE},
        {"Esc", GLFW_KEY_ESCAPE},    {"Space", GLFW_KEY_SPACE},    {"Backspace", GLFW_KEY_BACKSPACE},
        {"Delete", GLFW_KEY_DELETE}, {"Up", GLFW_KEY_UP},          {"Down", GLFW_KEY_DOWN},
        {"Left", GLFW_KEY_LEFT},     {"Right", GLFW_KEY_RIGHT},    {"Home", GLFW_KEY_HOME},
        {"End", GLFW_KEY_END},       {"PageUp", GLFW_KEY_PAGE_UP}, {"PageDown", GLFW_KEY_PAGE_DOWN},
    };
    auto it = keys.find(name);
    if (it != keys.end()) return it->second;
    if (name.size() == 1 && name[0] >= 'A' && name[0] <= 'Z') return GLFW_KEY_A + (name[0] - 'A');
    if (name.size() == 1 && name[0] >= 'a' && name[0] <= 'z') return GLFW_KEY_A + (name[0] - 'a');
    if (name.size() == 1 && name[0] >= '0' && name[0] <= '9') return GLFW_KEY_0 + (name[0] - '0');
    return -1;
}

}  // namespace

Result<ScriptRunner> ScriptRunner::load(const std::string& path) {
    std::ifstream in(path);
    if (!in) return Error{ErrorDomain::Input, ErrorCode::BadInput, "cannot read the script " + path};
    ScriptRunner r;
    std::string line;
    int n = 0;
    static const std::set<std::string> verbs = {
        "wait", "wait-for", "type", "key", "click", "screenshot", "expect-screen", "expect-absent", "quit"};
    while (std::getline(in, line)) {
        ++n;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        std::size_t start = line.find_first_not_of(' ');
        if (start == std::string::npos || line[start] == '#') continue;
        line = line.substr(start);
        auto sp = line.find(' ');
        Line l{n, line.substr(0, sp), sp == std::string::npos ? "" : line.substr(sp + 1)};
        if (!verbs.count(l.verb))
            return Error{ErrorDomain::Input, ErrorCode::BadInput,
                         path + ":" + std::to_string(n) + ": unknown command '" + l.verb + "'"};
        if (l.verb == "key") {
            std::string k = l.arg;
            for (const char* mod : {"Ctrl+", "Shift+"})
                if (k.rfind(mod, 0) == 0) k = k.substr(std::string(mod).size());
            if (k.rfind("Shift+", 0) == 0) k = k.substr(6);
            if (keyCode(k) < 0)
                return Error{ErrorDomain::Input, ErrorCode::BadInput,
                             path + ":" + std::to_string(n) + ": unknown key '" + l.arg + "'"};
        }
        if (l.verb == "wait" && (l.arg.empty() || l.arg.find_first_not_of("0123456789") != std::string::npos))
            return Error{ErrorDomain::Input, ErrorCode::BadInput,
                         path + ":" + std::to_string(n) + ": wait takes a number of frames"};
        if (l.verb == "wait-for") {
            const auto sp2 = l.arg.find(' ');
            const std::string secs = sp2 == std::string::npos ? "" : l.arg.substr(sp2 + 1);
            if (l.arg.empty() || sp2 == 0 || secs.find_first_not_of("0123456789") != std::string::npos)
                return Error{ErrorDomain::Input, ErrorCode::BadInput,
                             path + ":" + std::to_string(n) +
                                 ": wait-for takes a widget name and, optionally, a number of seconds"};
        }
        r.m_lines.push_back(std::move(l));
    }
    return r;
}

void ScriptRunner::inject() {
    ImGuiIO& io = ImGui::GetIO();
    // Keep the mouse where the script last put it; the display's own pointer must not interfere.
    if (m_lastMouse.x >= 0) io.MousePos = m_lastMouse;
    // Release what was pressed last frame: one press is one key-down frame.
    for (int k : m_pendingRelease) io.KeysDown[k] = false;
    m_pendingRelease.clear();
    if (m_releaseCtrl) io.KeyCtrl = io.KeysDown[GLFW_KEY_LEFT_CONTROL] = false;
    if (m_releaseShift) io.KeyShift = io.KeysDown[GLFW_KEY_LEFT_SHIFT] = false;
    m_releaseCtrl = m_releaseShift = false;
    if (m_mouseUpNext) {
        io.MouseDown[0] = false;
        m_mouseUpNext = false;
        return;
    }
    if (!failed() && m_wait > 0) {
        --m_wait;
        return;
    }
    if (!failed() && !m_waitFor.empty()) {
        // The widgets tracked while the last frame was built.
        float x0, y0, x1, y1;
        if (trackedRect(m_waitFor, x0, y0, x1, y1)) {
            m_waitFor.clear();
        } else if (std::chrono::steady_clock::now() >= m_waitDeadline) {
            std::string known;
            for (const auto& n : trackedNames()) known += " " + n;
            char secs[32];
            std::snprintf(secs, sizeof secs, "%g", m_waitSeconds);
            m_error = "script line " + std::to_string(m_waitLine) + ": '" + m_waitFor +
                      "' was not on screen within " + secs + " s (on screen:" + known + ")";
            m_waitFor.clear();
        }
        return;
    }
    if (failed() || m_pc >= m_lines.size()) return;
    const Line& l = m_lines[m_pc++];
    auto where = "script line " + std::to_string(l.number) + ": ";
    if (l.verb == "wait") {
        m_wait = std::stoi(l.arg);
    } else if (l.verb == "wait-for") {
        const auto sp = l.arg.find(' ');
        m_waitFor = l.arg.substr(0, sp);
        m_waitSeconds = sp == std::string::npos ? 30.0 : std::stod(l.arg.substr(sp + 1));
        m_waitLine = l.number;
        m_waitDeadline = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(static_cast<std::int64_t>(m_waitSeconds * 1000));
    } else if (l.verb == "type") {
        io.AddInputCharactersUTF8(l.arg.c_str());
        m_wait = 1;
    } else if (l.verb == "key") {
        std::string k = l.arg;
        bool ctrl = false, shift = false;
        for (bool again = true; again;) {
            again = false;
            if (k.rfind("Ctrl+", 0) == 0) ctrl = again = true, k = k.substr(5);
            if (k.rfind("Shift+", 0) == 0) shift = again = true, k = k.substr(6);
        }
        int code = keyCode(k);
        if (ctrl) io.KeyCtrl = io.KeysDown[GLFW_KEY_LEFT_CONTROL] = true, m_releaseCtrl = true;
        if (shift) io.KeyShift = io.KeysDown[GLFW_KEY_LEFT_SHIFT] = true, m_releaseShift = true;
        io.KeysDown[code] = true;
        m_pendingRelease.push_back(code);
        // A person never types the next key within 50 ms: give the UI the frames it needs to move
        // focus (a focus request lands one frame later, and a text box takes keys the frame after).
        m_wait = 2;
    } else if (l.verb == "click") {
        float x0, y0, x1, y1;
        if (!trackedRect(l.arg, x0, y0, x1, y1)) {
            std::string known;
            for (const auto& n : trackedNames()) known += " " + n;
            m_error = where + "no widget named '" + l.arg + "' on screen (on screen:" + known + ")";
            return;
        }
        io.MousePos = ImVec2((x0 + x1) / 2, (y0 + y1) / 2);
        io.MouseDown[0] = true;
        m_mouseUpNext = true;
    } else if (l.verb == "screenshot") {
        m_screenshot = l.arg;
    } else if (l.verb == "expect-screen") {
        m_screenshot.clear();
        m_expect = l.arg;
        m_expectLine = l.number;
    } else if (l.verb == "expect-absent") {
        // Nothing whose name starts with the argument was on the last frame (a hidden form, a wiped view).
        for (const auto& n : trackedNames())
            if (n.rfind(l.arg, 0) == 0) {
                m_error = where + "'" + n + "' is on screen, and should not be";
                return;
            }
    } else if (l.verb == "quit") {
        m_quit = true;
    }
    if (l.verb == "click") m_lastMouse = io.MousePos;
}

std::string ScriptRunner::afterFrame(const std::string& currentScreen, const std::string& screenshotDir) {
    if (!m_expect.empty()) {
        if (m_expect != currentScreen)
            m_error = "script line " + std::to_string(m_expectLine) + ": expected the screen '" + m_expect +
                      "', but the screen is '" + currentScreen + "'";
        m_expect.clear();
    }
    if (m_screenshot.empty()) return {};
    std::string p = (std::filesystem::path(screenshotDir) / m_screenshot).string();
    m_screenshot.clear();
    return p;
}

bool anyInputThisFrame() {
    const ImGuiIO& io = ImGui::GetIO();
    if (io.InputQueueCharacters.Size > 0 || io.MouseDelta.x != 0 || io.MouseDelta.y != 0 ||
        io.MouseWheel != 0 || io.MouseWheelH != 0)
        return true;
    for (bool down : io.MouseDown)
        if (down) return true;
    for (bool down : io.KeysDown)
        if (down) return true;
    return false;
}

}  // namespace outpost::ui
