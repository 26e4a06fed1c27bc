// A loopback TCP proxy that shapes each direction (latency, bandwidth, stalls, cuts) so sync tests and
// benchmarks can run over a bad link.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace outpost::test {

// How one direction of the link behaves. "up" is client to target, "down" is target to client.
struct LinkShape {
    std::uint64_t latencyMs = 0;      // one way: a byte leaves this long after it finished crossing the link
    std::uint64_t bitsPerSecond = 0;  // 0: no cap; shared by every connection in this direction
    std::optional<std::uint64_t> stallAfterBytes;  // after this many bytes the link is dead for stallMs
    std::uint64_t stallMs = 0;
    std::optional<std::uint64_t> cutAfterBytes;  // exactly this many bytes pass, then both sides get a reset
};

struct LinkOptions {
    std::uint16_t listenPort = 0;  // 0: any free port; the proxy always listens on 127.0.0.1
    std::string targetHost = "127.0.0.1";
    std::uint16_t targetPort = 0;
    LinkShape up;
    LinkShape down;
    std::uint64_t maxSeconds = 600;  // run() returns by itself after this long, so nothing outlives a test
};

struct ParsedLinkOptions {
    std::optional<LinkOptions> options;  // empty when error is set or help was asked for
    std::string error;
    bool help = false;
};

// Parses the command line of outpost-link-emulator (without the program name).
ParsedLinkOptions parseLinkOptions(const std::vector<std::string>& args);
std::string linkEmulatorUsage();

// True for 127.0.0.0/8 written as a dotted quad, and for "localhost".
bool isLoopbackHost(const std::string& host);

class LinkEmulator {
public:
    // Binds the listening socket at once, so port() is known before run(); throws std::runtime_error.
    explicit LinkEmulator(const LinkOptions& options);
    ~LinkEmulator();
    LinkEmulator(const LinkEmulator&) = delete;
    LinkEmulator& operator=(const LinkEmulator&) = delete;

    std::uint16_t port() const { return m_port; }

    // Serves connections in the calling thread until stop() or maxSeconds.
    void run();
    // run() in a background thread; the destructor stops and joins it.
    void start();
    // Safe from another thread and from a signal handler (it only writes one byte to a pipe).
    void stop();

    std::uint64_t connectionsAccepted() const { return m_accepted.load(); }
    // Bytes delivered so far in each direction, over all connections (what crossed the emulated wire).
    std::uint64_t bytesUp() const { return m_bytesUp.load(); }
    std::uint64_t bytesDown() const { return m_bytesDown.load(); }

private:
    LinkOptions m_options;
    int m_listenFd = -1;
    int m_wakeRead = -1;
    int m_wakeWrite = -1;
    std::uint16_t m_port = 0;
    std::uint32_t m_targetAddr = 0;  // network byte order
    std::atomic<std::uint64_t> m_accepted{0};
    std::atomic<std::uint64_t> m_bytesUp{0};
    std::atomic<std::uint64_t> m_bytesDown{0};
    std::thread m_thread;
};

}  // namespace outpost::test
