// outpost-bare-window: a minimal GLFW + Dear ImGui program, the yardstick outpost-bench gui measures the
// client against.
//
// Kept deliberately as small as a real ImGui program can be while staying comparable with the field
// client: the same window and OpenGL 3.3 core context, the same backends, the same UI font file at the
// client's default size, vsync on, and the same --bench figures measured in the same way (see
// ui/outpost_main.cpp and ui/window.cpp). Anything beyond that counts against the client, as it should.
#define GLFW_INCLUDE_NONE
#include <GL/gl.h>
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

// The client's default text size (client::Settings::fontSize), pixels at 96 dpi.
constexpr float kFontSizePx = 17.0f;

double threadCpuMicros() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// The client's lookup order for its regular face: $OUTPOST_FONT, Noto Sans, DejaVu Sans.
std::string findFont() {
    const char* env = std::getenv("OUTPOST_FONT");
    if (env && std::filesystem::exists(env)) return env;
    for (const char* c : {"/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
                          "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"})
        if (std::filesystem::exists(c)) return c;
    return {};
}

std::string jsonEscaped(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
    return out;
}

long residentKb() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0;
}

int usage(int status) {
    (status ? std::cerr : std::cout)
        << "Usage: outpost-bare-window [--frames N] [--size WIDTHxHEIGHT] [--bench]\n"
           "A bare GLFW + Dear ImGui window, the yardstick for the field client's start-up, frame time and "
           "memory.\n";
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    int frames = 0, width = 1366, height = 768;
    bool bench = false;
    for (int i = 1; i < argc; ++i) {
        const bool hasValue = i + 1 < argc;
        if (!std::strcmp(argv[i], "--frames") && hasValue) {
            frames = std::atoi(argv[++i]);
        } else if (!std::strcmp(argv[i], "--size") && hasValue) {
            if (std::sscanf(argv[++i], "%dx%d", &width, &height) != 2 || width < 320 || height < 240 ||
                width > 8192 || height > 8192) {
                std::cerr << "outpost-bare-window: --size must be WIDTHxHEIGHT, e.g. 1366x768\n";
                return 1;
            }
        } else if (!std::strcmp(argv[i], "--bench")) {
            bench = true;
        } else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
            return usage(0);
        } else {
            return usage(1);
        }
    }

    if (!glfwInit()) {
        std::cerr << "outpost-bare-window: no display (set DISPLAY, or run under xvfb-run)\n";
        return 2;
    }
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
    glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
    glfwWindowHint(GLFW_SCALE_TO_MONITOR, GLFW_TRUE);
    GLFWwindow* window = glfwCreateWindow(width, height, "outpost-bare-window", nullptr, nullptr);
    if (!window) {
        std::cerr << "outpost-bare-window: cannot create an OpenGL 3.3 window on this display\n";
        glfwTerminate();
        return 2;
    }
    glfwMakeContextCurrent(window);
    glfwSwapInterval(1);
    float scale = 1, unusedY = 1;
    glfwGetWindowContentScale(window, &scale, &unusedY);
    if (scale <= 0.5f) scale = 1.0f;

    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    // No imgui.ini or log in the working folder, as in the client.
    io.IniFilename = nullptr;
    io.LogFilename = nullptr;
    ImGui_ImplGlfw_InitForOpenGL(window, true);
    ImGui_ImplOpenGL3_Init("#version 330 core");
    const std::string font = findFont();
    if (font.empty()) {
        io.Fonts->AddFontDefault();
    } else {
        // The client's oversampling, so the yardstick's font atlas is not the larger of the two by default.
        ImFontConfig cfg;
        cfg.OversampleH = 2;
        io.Fonts->AddFontFromFileTTF(font.c_str(), kFontSizePx * scale, &cfg);
    }

    std::vector<double> buildMicros;
    int frame = 0;
    while (!glfwWindowShouldClose(window)) {
        glfwPollEvents();
        ImGui_ImplOpenGL3_NewFrame();
        ImGui_ImplGlfw_NewFrame();
        const double buildStart = threadCpuMicros();
        ImGui::NewFrame();
        const ImGuiViewport* vp = ImGui::GetMainViewport();
        ImGui::SetNextWindowPos(vp->WorkPos);
        ImGui::SetNextWindowSize(vp->WorkSize);
        ImGui::Begin("##bare", nullptr, ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove);
        ImGui::TextUnformatted("A bare Dear ImGui window.");
        ImGui::End();
        ImGui::Render();
        const double built = threadCpuMicros() - buildStart;

        int w = 0, h = 0;
        glfwGetFramebufferSize(window, &w, &h);
        glViewport(0, 0, w, h);
        glClearColor(0.1f, 0.1f, 0.1f, 1.0f);
        glClear(GL_COLOR_BUFFER_BIT);
        ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
        glfwSwapBuffers(window);
        ++frame;
        if (bench) {
            if (frame == 1) std::cout << "first-frame" << std::endl;
            // From frame 6 on, as the client measures.
            if (frame > 5) buildMicros.push_back(built);
        }
        if (frames > 0 && frame >= frames) break;
    }

    if (bench) {
        std::sort(buildMicros.begin(), buildMicros.end());
        auto pct = [&](double p) {
            return buildMicros.empty() ? 0.0
                                       : buildMicros[static_cast<std::size_t>(
                                             p * static_cast<double>(buildMicros.size() - 1))];
        };
        const char* renderer = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
        const char* version = reinterpret_cast<const char*>(glGetString(GL_VERSION));
        std::cout << "{\"frames\":" << frame << ",\"build_cpu_us_p50\":" << pct(0.5)
                  << ",\"build_cpu_us_p99\":" << pct(0.99) << ",\"rss_kb\":" << residentKb()
                  << ",\"screen\":\"bare\",\"font\":\"" << jsonEscaped(font) << "\",\"gl_renderer\":\""
                  << jsonEscaped(renderer ? renderer : "") << "\",\"gl_version\":\""
                  << jsonEscaped(version ? version : "") << "\",\"imgui\":\"" << ImGui::GetVersion() << "\"}"
                  << std::endl;
    }
    ImGui_ImplOpenGL3_Shutdown();
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();
    glfwDestroyWindow(window);
    glfwTerminate();
    return 0;
}
