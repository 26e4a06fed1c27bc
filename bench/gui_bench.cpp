// outpost-bench gui: the field client against a bare ImGui window: cold start to first frame, frame build
// CPU, memory.
//
// Every figure comes from child processes on one display, so the client (ui/outpost) and the yardstick
// (testbed/bare_window.cpp) share the same X server and the same OpenGL (Mesa's software renderer
// under Xvfb). Each child is started with --bench: it prints "first-frame" right after its first frame is
// presented, and one JSON line of frame figures when it exits. The store is made by outpostctl (init,
// then demo-seed), so its passphrase is hardened with the same Argon2id parameters a user's store has.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "bench.hpp"
#include "storage/store.hpp"

extern char** environ;

namespace outpost::bench {

namespace {

namespace fs = std::filesystem;

#if defined(OUTPOST_GUI) && defined(OUTPOSTCTL) && defined(OUTPOST_BARE_WINDOW)
constexpr bool kBuiltWithGui = true;
const char* const kGui = OUTPOST_GUI;
const char* const kCtl = OUTPOSTCTL;
const char* const kBare = OUTPOST_BARE_WINDOW;
#else
constexpr bool kBuiltWithGui = false;
const char* const kGui = "";
const char* const kCtl = "";
const char* const kBare = "";
#endif

constexpr const char* kPassphrase = "outpost-bench-gui-passphrase";
constexpr const char* kUnit = "MINUSCA-RWABATT-1";
constexpr const char* kSize = "1366x768";
constexpr const char* kXvfbScreen = "-screen 0 1366x768x24";
// Set in the environment of the copy of this program that runs under xvfb-run, so it never re-executes again.
constexpr const char* kUnderXvfbEnv = "OUTPOST_BENCH_UNDER_XVFB";
// Frames each cold-start child runs: enough for its figures, short enough that 3 x K starts stay quick.
constexpr int kColdFrames = 30;

// The targets.
constexpr double kTargetStartRatio = 1.5;
constexpr double kTargetBuildCpuUs = 2000;
constexpr double kTargetRssAboveMb = 40;

struct Options {
    long records = 100000;
    int runs = 7;
    int frames = 300;
    std::string dir;
    bool quick = false;
    bool xvfb = false;
    bool keep = false;
    std::uint64_t seed = 2026;
};

// What one child printed, and how long it took to show its first frame.
struct ChildRun {
    double firstFrameMs = -1;  // from just before spawning it to reading "first-frame" on its stdout
    double exitMs = 0;
    std::string out;         // everything on stdout
    nlohmann::json figures;  // the last JSON object line on stdout, if any
};

std::string tail(const std::string& path, std::size_t bytes = 2000) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    return s.size() > bytes ? "..." + s.substr(s.size() - bytes) : s;
}

// Starts a program with stdout on a pipe and stderr in logPath, reads its stdout to the end and waits for
// it. Throws when it cannot start, runs past timeoutS, or exits with a failure status.
ChildRun runChild(const std::vector<std::string>& args, const std::string& logPath, double timeoutS) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    ChildRun run;
    pid_t pid = 0;
    const auto t0 = Clock::now();
    const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
        ::close(fds[0]);
        throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(rc));
    }

    std::string pending;
    auto takeLine = [&](const std::string& line) {
        if (line == "first-frame" && run.firstFrameMs < 0) run.firstFrameMs = msSince(t0);
        if (!line.empty() && line.front() == '{') {
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (!j.is_discarded()) run.figures = std::move(j);
        }
    };
    bool timedOut = false;
    char buf[4096];
    for (;;) {
        const double left = timeoutS * 1000.0 - msSince(t0);
        if (left <= 0) {
            timedOut = true;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(left) + 1);
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) continue;
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        run.out.append(buf, static_cast<std::size_t>(n));
        pending.append(buf, static_cast<std::size_t>(n));
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
            takeLine(pending.substr(0, nl));
            pending.erase(0, nl + 1);
        }
    }
    ::close(fds[0]);
    if (timedOut) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    run.exitMs = msSince(t0);
    if (!pending.empty()) takeLine(pending);
    const std::string name = fs::path(args[0]).filename().string();
    if (timedOut)
        throw std::runtime_error(name + " ran longer than " + std::to_string(static_cast<int>(timeoutS)) +
                                 " s and was stopped; its stderr:\n" + tail(logPath));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error(name + " failed (" +
                                 (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                                    : "signal " + std::to_string(WTERMSIG(status))) +
                                 "); its stderr:\n" + tail(logPath));
    return run;
}

// A windowed child: it must have shown a first frame and printed its figures.
ChildRun runWindow(const std::vector<std::string>& args, const std::string& logPath) {
    ChildRun r = runChild(args, logPath, 300);
    if (r.firstFrameMs < 0 || !r.figures.is_object() || !r.figures.contains("build_cpu_us_p50"))
        throw std::runtime_error(fs::path(args[0]).filename().string() +
                                 " printed no 'first-frame' or no figures; stdout:\n" + r.out);
    return r;
}

// The three programs compared at start-up. The unlock screen is what a person sees first; home
// unlocked from the environment adds Argon2id and the home screen's queries over the whole store.
enum class Start { Bare, ClientUnlock, ClientHome };

std::vector<std::string> startArgs(Start s, const std::string& store) {
    const std::string frames = std::to_string(kColdFrames);
    switch (s) {
        case Start::Bare:
            return {kBare, "--frames", frames, "--bench", "--size", kSize};
        case Start::ClientUnlock:
            return {kGui, "--store", store, "--frames", frames, "--bench", "--size", kSize};
        case Start::ClientHome:
            return {kGui,      "--store", store, "--unlock-from-env", "--open", "home", "--frames", frames,
                    "--bench", "--size",  kSize};
    }
    return {};
}

const char* startName(Start s) {
    switch (s) {
        case Start::Bare:
            return "bare";
        case Start::ClientUnlock:
            return "unlock";
        case Start::ClientHome:
            return "home";
    }
    return "";
}

double median(std::vector<double> v) {
    return summarize(std::move(v)).p50;
}

// Runs this program again under xvfb-run when there is no display (or --xvfb asks for one), so every
// child shares one virtual X server. Returns only when it did not re-execute.
int reexecUnderXvfb(int argc, char** argv) {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) throw std::runtime_error("cannot find this program's own path to re-run it under xvfb-run");
    std::vector<std::string> args = {"xvfb-run", "-a", "-s", kXvfbScreen, self.string(), "gui"};
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
    std::vector<char*> cargv;
    for (auto& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::setenv(kUnderXvfbEnv, "1", 1);
    note("no display: running again under xvfb-run");
    ::execvp("xvfb-run", cargv.data());
    note(std::string("cannot run xvfb-run (") + std::strerror(errno) +
         "): install xvfb, or run with DISPLAY set to an X server");
    return 2;
}

int run(const Options& o, bool underXvfb) {
    ScratchDir scratch(o.dir.empty() ? defaultBaseDir() : o.dir);
    if (o.keep) scratch.keep();
    const fs::path dir = scratch.path();
    const std::string store = (dir / "store").string();
    ::setenv("OUTPOST_PASSPHRASE", kPassphrase, 1);
    auto log = [&](const std::string& name) { return (dir / (name + ".log")).string(); };

    // One untimed start of the yardstick loads the shared libraries into the page cache and tells which
    // OpenGL the display gives; every figure below is of a warm start.
    note("warm-up start of the bare window");
    const ChildRun probe = runWindow(startArgs(Start::Bare, store), log("bare-warmup"));
    Line env = environment("gui", scratch.path());
    const char* display = std::getenv("DISPLAY");
    env["display"] = underXvfb ? std::string("Xvfb via xvfb-run (") + kXvfbScreen + ")"
                               : std::string(display ? display : "");
    env["gl_renderer"] = probe.figures.value("gl_renderer", "");
    env["gl_version"] = probe.figures.value("gl_version", "");
    env["imgui"] = probe.figures.value("imgui", "");
    env["font"] = probe.figures.value("font", "");
    env["window"] = kSize;
    env["records"] = o.records;
    env["runs"] = o.runs;
    env["frames"] = o.frames;
    emit(env);

    note("making a store of " + std::to_string(o.records) + " records with outpostctl");
    {
        const auto t0 = Clock::now();
        runChild({kCtl, "--store", store, "init", "--unit", kUnit, "--user", "bench"}, log("init"), 120);
        const double initMs = msSince(t0);
        const auto t1 = Clock::now();
        runChild({kCtl, "--store", store, "demo-seed", "--count", std::to_string(o.records), "--seed",
                  std::to_string(o.seed)},
                 log("demo-seed"), 3600);
        Line l;
        l["bench"] = "gui";
        l["metric"] = "store_setup";
        l["records"] = o.records;
        l["init_ms"] = round3(initMs);
        l["demo_seed_s"] = round3(msSince(t1) / 1000.0);
        emit(l);
    }

    // What --unlock-from-env adds before the client's first frame: the passphrase's Argon2id, measured
    // here in this process with the store's own parameters.
    std::vector<double> unlockMs;
    for (int i = 0; i < std::max(3, o.runs / 2); ++i) {
        const auto t0 = Clock::now();
        auto key = storage::Store::unlock(store, kPassphrase);
        unlockMs.push_back(msSince(t0));
        if (!key) throw std::runtime_error("unlocking the bench store: " + key.error().message);
    }
    const double unlockP50 = median(unlockMs);

    note("cold start to first frame: " + std::to_string(o.runs) + " starts of each, in turn");
    for (Start s : {Start::ClientUnlock, Start::ClientHome})
        runWindow(startArgs(s, store), log(std::string(startName(s)) + "-warmup"));
    std::map<Start, std::vector<double>> firstFrame, rss;
    const Start order[] = {Start::Bare, Start::ClientUnlock, Start::ClientHome};
    for (int k = 0; k < o.runs; ++k) {
        // The order turns each round, so no program always starts right after the same other one.
        for (int j = 0; j < 3; ++j) {
            const Start s = order[(k + j) % 3];
            const ChildRun r = runWindow(startArgs(s, store), log(startName(s)));
            firstFrame[s].push_back(r.firstFrameMs);
            rss[s].push_back(r.figures.value("rss_kb", 0.0));
        }
    }
    const Stats bare = summarize(firstFrame[Start::Bare]);
    {
        Line l;
        l["bench"] = "gui";
        l["metric"] = "cold_start_first_frame";
        l["program"] = "bare window";
        l["p50_ms"] = round3(bare.p50);
        l["min_ms"] = round3(bare.min);
        l["max_ms"] = round3(bare.max);
        l["n"] = bare.n;
        emit(l);
    }
    for (Start s : {Start::ClientUnlock, Start::ClientHome}) {
        const Stats c = summarize(firstFrame[s]);
        Line l;
        l["bench"] = "gui";
        l["metric"] = "cold_start_first_frame";
        l["program"] = "client";
        l["screen"] = startName(s);
        if (s == Start::ClientHome) {
            l["unlocked_from_env"] = true;
            l["store_records"] = o.records;
        }
        l["p50_ms"] = round3(c.p50);
        l["min_ms"] = round3(c.min);
        l["max_ms"] = round3(c.max);
        l["bare_p50_ms"] = round3(bare.p50);
        l["bare_min_ms"] = round3(bare.min);
        l["ratio_p50"] = round3(c.p50 / bare.p50);
        l["ratio_min"] = round3(c.min / bare.min);
        if (s == Start::ClientHome) {
            // The part of the wait a person spends after typing the passphrase, not before seeing a window.
            l["unlock_argon2id_p50_ms"] = round3(unlockP50);
            l["ratio_p50_less_unlock"] = round3((c.p50 - unlockP50) / bare.p50);
        }
        l["target_ratio"] = kTargetStartRatio;
        l["within_target"] = c.p50 / bare.p50 <= kTargetStartRatio;
        l["n"] = c.n;
        emit(l);
    }
    {
        const double client = median(rss[Start::ClientUnlock]), bareKb = median(rss[Start::Bare]);
        Line l;
        l["bench"] = "gui";
        l["metric"] = "rss_above_bare";
        l["screen"] = "unlock";
        l["frames"] = kColdFrames;
        l["client_rss_kb"] = std::lround(client);
        l["bare_rss_kb"] = std::lround(bareKb);
        l["above_bare_mb"] = round3((client - bareKb) / 1024.0);
        l["target_mb"] = kTargetRssAboveMb;
        l["within_target"] = (client - bareKb) / 1024.0 < kTargetRssAboveMb;
        l["n"] = rss[Start::ClientUnlock].size();
        emit(l);
    }

    note("frame build CPU and memory: the records list over " + std::to_string(o.records) + " records, " +
         std::to_string(o.frames) + " frames");
    const std::string frames = std::to_string(o.frames);
    const ChildRun client = runWindow({kGui, "--store", store, "--unlock-from-env", "--open", "records",
                                       "--frames", frames, "--bench", "--size", kSize},
                                      log("records"));
    const ChildRun bareRun =
        runWindow({kBare, "--frames", frames, "--bench", "--size", kSize}, log("bare-frames"));
    if (client.figures.value("screen", "") != "records")
        throw std::runtime_error("the client ended on screen '" + client.figures.value("screen", "") +
                                 "', not the records list");
    {
        const double p50 = client.figures.value("build_cpu_us_p50", 0.0);
        const double p99 = client.figures.value("build_cpu_us_p99", 0.0);
        Line l;
        l["bench"] = "gui";
        l["metric"] = "frame_build_cpu";
        l["screen"] = "records";
        l["store_records"] = o.records;
        l["frames"] = client.figures.value("frames", 0);
        l["measured_frames"] = std::max(0, client.figures.value("frames", 0) - 5);
        l["p50_us"] = round3(p50);
        l["p99_us"] = round3(p99);
        l["bare_p50_us"] = round3(bareRun.figures.value("build_cpu_us_p50", 0.0));
        l["bare_p99_us"] = round3(bareRun.figures.value("build_cpu_us_p99", 0.0));
        l["target_us"] = kTargetBuildCpuUs;
        l["within_target"] = p99 < kTargetBuildCpuUs;
        emit(l);
    }
    {
        const double clientKb = client.figures.value("rss_kb", 0.0),
                     bareKb = bareRun.figures.value("rss_kb", 0.0);
        Line l;
        l["bench"] = "gui";
        l["metric"] = "rss_above_bare";
        l["screen"] = "records";
        l["store_records"] = o.records;
        l["frames"] = o.frames;
        l["client_rss_kb"] = std::lround(clientKb);
        l["bare_rss_kb"] = std::lround(bareKb);
        l["above_bare_mb"] = round3((clientKb - bareKb) / 1024.0);
        l["target_mb"] = kTargetRssAboveMb;
        l["within_target"] = (clientKb - bareKb) / 1024.0 < kTargetRssAboveMb;
        emit(l);
    }
    if (o.keep) note("kept " + scratch.path());
    return 0;
}

}  // namespace

int runGui(int argc, char** argv) {
    Options o;
    CLI::App app{
        "Measures the field client against a bare Dear ImGui window on the same display: cold start to first "
        "frame, frame build CPU on the records list, and resident memory. Runs itself under xvfb-run when "
        "DISPLAY is not set. Prints one JSON object per line.",
        "outpost-bench gui"};
    app.add_option("--records", o.records, "demo records in the store (default 100000)")
        ->check(CLI::Range(1L, 1000000L));
    app.add_option("--runs", o.runs, "starts of each program for the cold-start figures (default 7)")
        ->check(CLI::Range(1, 1000));
    app.add_option("--frames", o.frames, "frames of the records list for build CPU and memory (default 300)")
        ->check(CLI::Range(10, 100000));
    app.add_option("--dir", o.dir, "make the scratch folder under DIR (default: $TMPDIR or /tmp)");
    app.add_flag("--quick", o.quick, "smoke test: 5000 records, 3 starts of each");
    app.add_flag("--xvfb", o.xvfb, "run under xvfb-run even when DISPLAY is set (software OpenGL)");
    app.add_option("--seed", o.seed, "demo data seed (default 2026)");
    app.add_flag("--keep", o.keep, "keep the scratch folder, its store and the children's stderr logs");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (o.quick) {
        if (!app.count("--records")) o.records = 5000;
        if (!app.count("--runs")) o.runs = 3;
    }
    if (!kBuiltWithGui) {
        note(
            "this outpost-bench was built without the field client or the bare window (OUTPOST_BUILD_GUI "
            "must be ON)");
        return 2;
    }
    const char* display = std::getenv("DISPLAY");
    const bool underXvfb = std::getenv(kUnderXvfbEnv) != nullptr;
    try {
        if (!underXvfb && (o.xvfb || !display || !*display)) return reexecUnderXvfb(argc, argv);
        return run(o, underXvfb);
    } catch (const std::exception& e) {
        note(std::string("failed: ") + e.what());
        return 1;
    }
}

}  // namespace outpost::bench
