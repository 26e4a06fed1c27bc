// outpost: the field client's window. Options for tests: --script, --screenshot-dir, --size, --frames.
#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>
#include <imgui.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <vector>

#include "client/app.hpp"
#include "ui/input.hpp"
#include "ui/panels.hpp"
#include "ui/window.hpp"

using namespace outpost;

int main(int argc, char** argv) {
    CLI::App cli{"outpost - the Outpost field client", "outpost"};
    std::string store = client::App::defaultStoreDir(), script, shotDir = ".", size = "1366x768", theme, lang;
    int frames = 0;
    std::string shotAtEnd, openScreen, failScreen;
    bool unlockFromEnv = false, bench = false;
    double idleLockSeconds = 0;
    cli.add_option("--store", store, "store folder (default: $OUTPOST_STORE or ~/.local/share/outpost)");
    cli.add_option("--script", script, "run a script of input events, then exit (docs/operations.md)");
    cli.add_option("--screenshot-dir", shotDir, "where the script's screenshots go");
    cli.add_option("--size", size, "window size WIDTHxHEIGHT (default 1366x768)");
    cli.add_option("--frames", frames, "exit after this many frames (0: run until closed)");
    cli.add_option("--screenshot", shotAtEnd, "with --frames: write the last frame to this PNG");
    cli.add_option("--theme", theme, "day or night, for this run only")
        ->check(CLI::IsMember({"day", "night"}));
    cli.add_option("--lang", lang, "en or fr, for this run only")->check(CLI::IsMember({"en", "fr"}));
    cli.add_flag("--unlock-from-env", unlockFromEnv,
                 "unlock with $OUTPOST_PASSPHRASE instead of the unlock screen (scripts and benchmarks)");
    cli.add_option("--open", openScreen, "after unlocking, open this screen: records, gaps, sync, settings")
        ->check(CLI::IsMember({"home", "records", "gaps", "sync", "settings"}));
    cli.add_flag(
        "--bench", bench,
        "print 'first-frame' when the first frame is shown, and at exit one JSON line of frame figures");
    cli.add_option("--idle-lock-seconds", idleLockSeconds, "lock after this many idle seconds (tests)")
        ->check(CLI::Range(1.0, 86400.0))
        ->group("");
    cli.add_option("--test-fail-screen", failScreen,
                   "tests: this screen's panel throws each time it is drawn (the window must survive it)")
        ->check(CLI::IsMember({"unlock", "home", "records", "form", "record", "gaps", "sync", "settings"}))
        ->group("");
    CLI11_PARSE(cli, argc, argv);

    int width = 1366, height = 768;
    if (std::sscanf(size.c_str(), "%dx%d", &width, &height) != 2 || width < 320 || height < 240 ||
        width > 8192 || height > 8192) {
        std::cerr << "outpost: --size must be WIDTHxHEIGHT, e.g. 1366x768\n";
        return 1;
    }
    std::optional<ui::ScriptRunner> runner;
    if (!script.empty()) {
        auto r = ui::ScriptRunner::load(script);
        if (!r) {
            std::cerr << "outpost: " << r.error().message << "\n";
            return 1;
        }
        runner = std::move(r).value();
        std::error_code ec;
        std::filesystem::create_directories(shotDir, ec);
    }

    client::App app({store, {}, {}, idleLockSeconds});
    if (!theme.empty()) app.settings().theme = theme == "night" ? client::Theme::Night : client::Theme::Day;
    if (!lang.empty()) app.settings().lang = lang == "fr" ? client::Lang::Fr : client::Lang::En;
    app.applyLanguage();

    ui::Window win;
    if (!win.open(width, height, "Outpost")) {
        std::cerr << "outpost: " << win.error() << "\n";
        return 2;
    }
    client::Settings loaded = app.settings();
    win.loadFonts(loaded.effectiveFontSize());
    win.applyTheme(loaded.theme, loaded.largeText);

    if (unlockFromEnv) {
        const char* pass = std::getenv("OUTPOST_PASSPHRASE");
        auto r = app.unlock(pass ? pass : "");
        if (!r) {
            std::cerr << "outpost: " << r.error().message << "\n";
            return 5;
        }
        static const std::map<std::string, client::Screen> screens = {{"home", client::Screen::Home},
                                                                      {"records", client::Screen::Records},
                                                                      {"gaps", client::Screen::Gaps},
                                                                      {"sync", client::Screen::Sync},
                                                                      {"settings", client::Screen::Settings}};
        if (!openScreen.empty()) app.go(screens.at(openScreen));
    }

    ui::Shell shell;
    for (client::Screen sc :
         {client::Screen::Unlock, client::Screen::Home, client::Screen::Records, client::Screen::Form,
          client::Screen::Record, client::Screen::Gaps, client::Screen::Sync, client::Screen::Settings})
        if (failScreen == client::screenName(sc)) shell.failOnScreen(sc);
    ui::InputRouter router;
    std::vector<double> buildMicros;
    int frame = 0;
    int exitCode = 0;
    while (!win.shouldClose()) {
        // Text size and theme changes take effect between frames (the font atlas is rebuilt).
        const client::Settings& s = app.settings();
        if (s.effectiveFontSize() != loaded.effectiveFontSize() || s.largeText != loaded.largeText)
            win.loadFonts(s.effectiveFontSize());
        if (s.theme != loaded.theme || s.largeText != loaded.largeText) win.applyTheme(s.theme, s.largeText);
        loaded = s;

        win.beginFrame([&] {
            if (runner) runner->inject();
            router.beforeNewFrame();
        });
        ui::FrameInput in = router.afterNewFrame();
        if (ui::anyInputThisFrame()) app.noteActivity(glfwGetTime());
        shell.draw(app, in);
        app.tick(glfwGetTime());
        std::string shot;
        if (runner) shot = runner->afterFrame(client::screenName(app.screen()), shotDir);
        ++frame;
        if (frames > 0 && frame == frames && !shotAtEnd.empty()) shot = shotAtEnd;
        if (!win.endFrame(shot)) {
            std::cerr << "outpost: could not write the screenshot " << shot << "\n";
            exitCode = 4;
        }
        if (bench) {
            if (frame == 1) std::cout << "first-frame" << std::endl;
            // The first frames build caches (fonts, pages of the list): measure the steady state.
            if (frame > 5) buildMicros.push_back(win.lastBuildCpuMicros());
        }
        if (runner && runner->failed()) {
            std::cerr << "outpost: " << runner->error() << "\n";
            exitCode = 3;
            break;
        }
        if (runner && (runner->done() || runner->quitRequested())) break;
        if (frames > 0 && frame >= frames) break;
    }
    if (bench) {
        std::sort(buildMicros.begin(), buildMicros.end());
        auto pct = [&](double p) {
            return buildMicros.empty() ? 0.0
                                       : buildMicros[static_cast<std::size_t>(p * (buildMicros.size() - 1))];
        };
        long rssKb = 0;
        std::ifstream status("/proc/self/status");
        for (std::string line; std::getline(status, line);)
            if (line.rfind("VmRSS:", 0) == 0) rssKb = std::stol(line.substr(6));
        std::cout << "{\"frames\":" << frame << ",\"build_cpu_us_p50\":" << pct(0.5)
                  << ",\"build_cpu_us_p99\":" << pct(0.99) << ",\"rss_kb\":" << rssKb << ",\"screen\":\""
                  << client::screenName(app.screen()) << "\"}" << std::endl;
    }
    return exitCode;
}
