// outpost-link-emulator: a loopback TCP proxy with a bad link in between, for sync tests and benchmarks.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "testbed/link_emulator.hpp"

namespace {

outpost::test::LinkEmulator* g_emulator = nullptr;

void onSignal(int) {
    if (g_emulator) g_emulator->stop();
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    auto parsed = outpost::test::parseLinkOptions(args);
    if (parsed.help) {
        std::fputs(outpost::test::linkEmulatorUsage().c_str(), stdout);
        return 0;
    }
    if (!parsed.options) {
        std::fprintf(stderr, "outpost-link-emulator: %s\n%s", parsed.error.c_str(),
                     outpost::test::linkEmulatorUsage().c_str());
        return 1;
    }
    try {
        outpost::test::LinkEmulator emulator(*parsed.options);
        g_emulator = &emulator;
        struct sigaction sa {};
        sa.sa_handler = onSignal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, nullptr);
        sigaction(SIGINT, &sa, nullptr);
        signal(SIGPIPE, SIG_IGN);
        // Whoever started us waits for this line before connecting, so it must not sit in a buffer.
        std::printf("listening 127.0.0.1:%u\n", static_cast<unsigned>(emulator.port()));
        std::fflush(stdout);
        emulator.run();
        g_emulator = nullptr;
        std::fprintf(stderr, "outpost-link-emulator: stopped after %llu connections\n",
                     static_cast<unsigned long long>(emulator.connectionsAccepted()));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "outpost-link-emulator: %s\n", e.what());
        return 1;
    }
    return 0;
}
