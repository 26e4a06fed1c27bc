// The GLFW window with an OpenGL 3 context, Dear ImGui's backends, fonts, themes and screenshots.
#pragma once

#include <functional>
#include <string>

#include "client/settings.hpp"

struct GLFWwindow;

namespace outpost::ui {

class Window {
public:
    Window() = default;
    ~Window();
    Window(const Window&) = delete;
    Window& operator=(const Window&) = delete;

    // Creates the window and ImGui. Returns false (with error()) when no display or GL is available.
    bool open(int width, int height, const std::string& title);
    const std::string& error() const { return m_error; }

    // Loads the UI font at this size (pixels at 96 dpi), scaled by the monitor's content scale.
    // Call between frames only.
    void loadFonts(float sizePx);
    void applyTheme(client::Theme theme, bool largeTargets);

    bool shouldClose() const;
    void requestClose();
    // Polls events and starts a frame: ImGui_ImplGlfw_NewFrame, then injectBeforeNewFrame (the
    // script runner's keys and mouse), then ImGui::NewFrame.
    void beginFrame(const std::function<void()>& injectBeforeNewFrame);
    // Renders and presents. When screenshotPath is not empty the frame is also written there as PNG.
    bool endFrame(const std::string& screenshotPath = {});
    GLFWwindow* handle() const { return m_window; }
    // Thread CPU time of the last frame from just before ImGui::NewFrame to just after ImGui::Render
    // (building the UI, not drawing it on the GPU), in microseconds.
    double lastBuildCpuMicros() const { return m_buildMicros; }
    float contentScale() const { return m_scale; }

private:
    GLFWwindow* m_window = nullptr;
    bool m_imgui = false;
    float m_scale = 1.0f;
    double m_buildStart = 0, m_buildMicros = 0;
    std::string m_error;
};

// Reads the current back buffer and writes it as a PNG file. Returns false on failure.
bool writeScreenshot(const std::string& path, int width, int height);

}  // namespace outpost::ui
