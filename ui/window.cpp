// The GLFW/OpenGL window: context, ImGui backends, DPI-aware fonts with French glyphs, day and night themes.
#include "ui/window.hpp"

#define GLFW_INCLUDE_NONE
#include <GL/gl.h>
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <stb_image_write.h>

#include <time.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace outpost::ui {

namespace {

double threadCpuMicros() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Latin-1, Latin Extended-A (œ, Œ), general punctuation (’ « » … —), the euro sign, arrows and
// the few symbols the panels draw (✓ ✗ ● ▲ ▼).
const ImWchar kGlyphRanges[] = {0x0020, 0x00FF, 0x0100, 0x017F, 0x2000, 0x206F, 0x20AC, 0x20AC, 0x2190,
                                0x2193, 0x25B2, 0x25BC, 0x25CF, 0x25CF, 0x2713, 0x2717, 0};

std::string findFont(bool bold) {
    const char* env = std::getenv(bold ? "OUTPOST_FONT_BOLD" : "OUTPOST_FONT");
    if (env && std::filesystem::exists(env)) return env;
    const char* candidates[] = {
        bold ? "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"
             : "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
        bold ? "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
             : "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    };
    for (const char* c : candidates)
        if (std::filesystem::exists(c)) return c;
    return {};
}

}  // namespace

Window::~Window() {
    if (m_imgui) {
        ImGui_ImplOpenGL3_Shutdown();
        ImGui_ImplGlfw_Shutdown();
        ImGui::DestroyContext();
    }
    if (m_window) glfwDestroyWindow(m_window);
    glfwTerminate();
}

bool Window::open(int width, int height, const std::string& title) {
    glfwSetErrorCallback([](int, const char*) {});
    if (!glfwInit()) {
        m_error = "cannot open a window: no display (set DISPLAY, or run under xvfb-run)";
        return false;
    }
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
    glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
    glfwWindowHint(GLFW_SCALE_TO_MONITOR, GLFW_TRUE);
    m_window = glfwCreateWindow(width, height, title.c_str(), nullptr, nullptr);
    if (!m_window) {
        m_error = "cannot create an OpenGL 3.3 window on this display";
        return false;
    }
    glfwMakeContextCurrent(m_window);
    glfwSwapInterval(1);
    float sx = 1, sy = 1;
    glfwGetWindowContentScale(m_window, &sx, &sy);
    m_scale = sx > 0.5f ? sx : 1.0f;

    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
    // Layout state is not worth a file on a field laptop; nothing about the user is kept in it either.
    io.IniFilename = nullptr;
    io.LogFilename = nullptr;
    ImGui_ImplGlfw_InitForOpenGL(m_window, true);
    ImGui_ImplOpenGL3_Init("#version 330 core");
    m_imgui = true;
    return true;
}

void Window::loadFonts(float sizePx) {
    ImGuiIO& io = ImGui::GetIO();
    io.Fonts->Clear();
    float px = sizePx * m_scale;
    std::string regular = findFont(false);
    if (regular.empty()) {
        io.Fonts->AddFontDefault();
    } else {
        ImFontConfig cfg;
        cfg.OversampleH = 2;
        io.Fonts->AddFontFromFileTTF(regular.c_str(), px, &cfg, kGlyphRanges);
        std::string bold = findFont(true);
        if (!bold.empty()) io.Fonts->AddFontFromFileTTF(bold.c_str(), px * 1.25f, &cfg, kGlyphRanges);
    }
    io.Fonts->Build();
    ImGui_ImplOpenGL3_DestroyFontsTexture();
    ImGui_ImplOpenGL3_CreateFontsTexture();
}

void Window::applyTheme(client::Theme theme, bool largeTargets) {
    ImGuiStyle style;
    if (theme == client::Theme::Night) {
        ImGui::StyleColorsDark(&style);
        // Light discipline: near-black surfaces, dim warm text, no bright whites or blues.
        ImVec4* c = style.Colors;
        const ImVec4 text(0.80f, 0.55f, 0.42f, 1.0f), dim(0.50f, 0.36f, 0.28f, 1.0f);
        const ImVec4 bg(0.035f, 0.03f, 0.03f, 1.0f), panel(0.07f, 0.055f, 0.05f, 1.0f);
        const ImVec4 frame(0.12f, 0.08f, 0.07f, 1.0f), accent(0.45f, 0.16f, 0.10f, 1.0f);
        c[ImGuiCol_Text] = text;
        c[ImGuiCol_TextDisabled] = dim;
        c[ImGuiCol_WindowBg] = bg;
        c[ImGuiCol_ChildBg] = panel;
        c[ImGuiCol_PopupBg] = panel;
        c[ImGuiCol_Border] = ImVec4(0.22f, 0.13f, 0.10f, 1.0f);
        c[ImGuiCol_FrameBg] = frame;
        c[ImGuiCol_FrameBgHovered] = ImVec4(0.18f, 0.10f, 0.08f, 1.0f);
        c[ImGuiCol_FrameBgActive] = ImVec4(0.24f, 0.12f, 0.09f, 1.0f);
        c[ImGuiCol_TitleBg] = panel;
        c[ImGuiCol_TitleBgActive] = frame;
        c[ImGuiCol_MenuBarBg] = panel;
        c[ImGuiCol_Button] = ImVec4(0.20f, 0.09f, 0.07f, 1.0f);
        c[ImGuiCol_ButtonHovered] = ImVec4(0.30f, 0.12f, 0.08f, 1.0f);
        c[ImGuiCol_ButtonActive] = accent;
        c[ImGuiCol_Header] = ImVec4(0.20f, 0.09f, 0.07f, 1.0f);
        c[ImGuiCol_HeaderHovered] = ImVec4(0.28f, 0.11f, 0.08f, 1.0f);
        c[ImGuiCol_HeaderActive] = accent;
        c[ImGuiCol_CheckMark] = ImVec4(0.85f, 0.40f, 0.25f, 1.0f);
        c[ImGuiCol_SliderGrab] = accent;
        c[ImGuiCol_SliderGrabActive] = ImVec4(0.60f, 0.22f, 0.12f, 1.0f);
        c[ImGuiCol_Separator] = ImVec4(0.22f, 0.13f, 0.10f, 1.0f);
        c[ImGuiCol_TableHeaderBg] = frame;
        c[ImGuiCol_TableRowBg] = bg;
        c[ImGuiCol_TableRowBgAlt] = panel;
        c[ImGuiCol_TableBorderStrong] = ImVec4(0.22f, 0.13f, 0.10f, 1.0f);
        c[ImGuiCol_TableBorderLight] = ImVec4(0.14f, 0.09f, 0.08f, 1.0f);
        c[ImGuiCol_NavHighlight] = ImVec4(0.90f, 0.45f, 0.20f, 1.0f);
        c[ImGuiCol_TextSelectedBg] = ImVec4(0.40f, 0.15f, 0.10f, 1.0f);
        c[ImGuiCol_ScrollbarBg] = bg;
        c[ImGuiCol_ScrollbarGrab] = frame;
        c[ImGuiCol_ModalWindowDimBg] = ImVec4(0, 0, 0, 0.6f);
    } else {
        ImGui::StyleColorsLight(&style);
        ImVec4* c = style.Colors;
        c[ImGuiCol_WindowBg] = ImVec4(0.96f, 0.96f, 0.95f, 1.0f);
        c[ImGuiCol_ChildBg] = ImVec4(1.0f, 1.0f, 1.0f, 1.0f);
        c[ImGuiCol_FrameBg] = ImVec4(1.0f, 1.0f, 1.0f, 1.0f);
        c[ImGuiCol_Border] = ImVec4(0.70f, 0.72f, 0.75f, 1.0f);
        c[ImGuiCol_Button] = ImVec4(0.82f, 0.87f, 0.93f, 1.0f);
        c[ImGuiCol_ButtonHovered] = ImVec4(0.62f, 0.75f, 0.90f, 1.0f);
        c[ImGuiCol_Header] = ImVec4(0.80f, 0.86f, 0.94f, 1.0f);
        c[ImGuiCol_NavHighlight] = ImVec4(0.00f, 0.36f, 0.80f, 1.0f);
        c[ImGuiCol_TableRowBgAlt] = ImVec4(0.94f, 0.95f, 0.97f, 1.0f);
    }
    style.FrameBorderSize = 1.0f;
    style.FrameRounding = 3.0f;
    style.WindowRounding = 0.0f;
    style.ChildRounding = 4.0f;
    style.GrabRounding = 3.0f;
    style.ItemSpacing = ImVec2(10, 7);
    style.FramePadding = ImVec2(8, 5);
    style.WindowPadding = ImVec2(14, 12);
    style.ScrollbarSize = 16;
    if (largeTargets) {
        // Gloves on a rugged screen: bigger hit targets and scrollbars.
        style.FramePadding = ImVec2(12, 9);
        style.ItemSpacing = ImVec2(12, 10);
        style.ScrollbarSize = 24;
        style.GrabMinSize = 20;
    }
    style.ScaleAllSizes(m_scale);
    ImGui::GetStyle() = style;
}

bool Window::shouldClose() const {
    return glfwWindowShouldClose(m_window);
}
void Window::requestClose() {
    glfwSetWindowShouldClose(m_window, GLFW_TRUE);
}

void Window::beginFrame(const std::function<void()>& inject) {
    glfwPollEvents();
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    if (inject) inject();
    m_buildStart = threadCpuMicros();
    ImGui::NewFrame();
}

bool Window::endFrame(const std::string& screenshotPath) {
    ImGui::Render();
    m_buildMicros = threadCpuMicros() - m_buildStart;
    int w = 0, h = 0;
    glfwGetFramebufferSize(m_window, &w, &h);
    glViewport(0, 0, w, h);
    const ImVec4 bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
    glClearColor(bg.x, bg.y, bg.z, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    bool ok = true;
    if (!screenshotPath.empty()) ok = writeScreenshot(screenshotPath, w, h);
    glfwSwapBuffers(m_window);
    return ok;
}

bool writeScreenshot(const std::string& path, int width, int height) {
    std::vector<unsigned char> px(static_cast<std::size_t>(width) * height * 4);
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    glReadBuffer(GL_BACK);
    glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE, px.data());
    // OpenGL's rows run bottom-up; PNG's top-down. Alpha is forced opaque.
    std::vector<unsigned char> flipped(px.size());
    const std::size_t row = static_cast<std::size_t>(width) * 4;
    for (int y = 0; y < height; ++y) {
        std::copy_n(&px[static_cast<std::size_t>(height - 1 - y) * row], row,
                    &flipped[static_cast<std::size_t>(y) * row]);
        for (std::size_t x = 3; x < row; x += 4) flipped[static_cast<std::size_t>(y) * row + x] = 255;
    }
    return stbi_write_png(path.c_str(), width, height, 4, flipped.data(), static_cast<int>(row)) != 0;
}

}  // namespace outpost::ui
