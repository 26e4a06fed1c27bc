// Tests for the link emulator: each shaping rule measured through real loopback sockets, in-process and as
// the program.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "testbed/link_emulator.hpp"

extern char** environ;

using namespace outpost::test;
using Clock = std::chrono::steady_clock;

namespace {

double secondsBetween(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// Measured figures go to stdout so a run shows them; the assertions hold the bounds.
void report(const std::string& what, double seconds) {
    std::printf("link-emulator: %s %.3f s\n", what.c_str(), seconds);
}

// Every blocking call in these tests gives up after this, so a broken emulator fails a test instead of
// hanging it.
void setTimeouts(int fd, int millis) {
    timeval tv{millis / 1000, (millis % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int listenLoopback(std::uint16_t& port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 64) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    return fd;
}

int connectLoopback(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    setTimeouts(fd, 10'000);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

bool sendAll(int fd, const char* data, std::size_t n) {
    while (n > 0) {
        ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        data += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

// What one side saw until the connection ended: bytes, when they came, and how it ended.
struct ReadLog {
    std::string bytes;
    std::vector<std::pair<Clock::time_point, std::size_t>> marks;  // time of each read, total after it
    bool eof = false;
    bool reset = false;
    bool timedOut = false;

    // When the total first reached n bytes.
    Clock::time_point reached(std::size_t n) const {
        for (const auto& [t, total] : marks)
            if (total >= n) return t;
        return Clock::time_point::max();
    }
};

ReadLog readUntilClosed(int fd, std::size_t stopAt = SIZE_MAX) {
    ReadLog log;
    std::vector<char> buf(64 * 1024);
    while (log.bytes.size() < stopAt) {
        ssize_t r = ::recv(fd, buf.data(), std::min(buf.size(), stopAt - log.bytes.size()), 0);
        if (r > 0) {
            log.bytes.append(buf.data(), static_cast<std::size_t>(r));
            log.marks.emplace_back(Clock::now(), log.bytes.size());
        } else if (r == 0) {
            log.eof = true;
            break;
        } else if (errno == EINTR) {
            continue;
        } else {
            log.reset = errno == ECONNRESET;
            log.timedOut = errno == EAGAIN || errno == EWOULDBLOCK;
            break;
        }
    }
    return log;
}

std::string randomBytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& ch : s) ch = static_cast<char>(rng() & 0xff);
    return s;
}

// Accepts one connection (within 10 s) and hands it to a function in its own thread.
class OneShotServer {
public:
    explicit OneShotServer(std::function<void(int)> handle) {
        m_listenFd = listenLoopback(m_port);
        m_thread = std::thread([this, handle = std::move(handle)] {
            pollfd p{m_listenFd, POLLIN, 0};
            if (::poll(&p, 1, 10'000) != 1) return;
            int fd = ::accept4(m_listenFd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) return;
            setTimeouts(fd, 10'000);
            handle(fd);
            ::close(fd);
        });
    }
    ~OneShotServer() {
        join();
        ::close(m_listenFd);
    }
    void join() {
        if (m_thread.joinable()) m_thread.join();
    }
    std::uint16_t port() const { return m_port; }

private:
    int m_listenFd = -1;
    std::uint16_t m_port = 0;
    std::thread m_thread;
};

// Sends every byte back on every connection until the peer closes or the server goes.
class EchoServer {
public:
    EchoServer() {
        m_listenFd = listenLoopback(m_port);
        m_acceptor = std::thread([this] {
            while (!m_stop) {
                pollfd p{m_listenFd, POLLIN, 0};
                if (::poll(&p, 1, 50) != 1) continue;
                int fd = ::accept4(m_listenFd, nullptr, nullptr, SOCK_CLOEXEC);
                if (fd < 0) continue;
                std::lock_guard lock(m_mutex);
                m_workers.emplace_back([this, fd] { echo(fd); });
            }
        });
    }
    ~EchoServer() {
        m_stop = true;
        m_acceptor.join();
        std::lock_guard lock(m_mutex);
        for (auto& t : m_workers) t.join();
        ::close(m_listenFd);
    }
    std::uint16_t port() const { return m_port; }

private:
    void echo(int fd) {
        setTimeouts(fd, 100);
        std::vector<char> buf(64 * 1024);
        while (!m_stop) {
            ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
            if (r > 0) {
                const char* p = buf.data();
                std::size_t left = static_cast<std::size_t>(r);
                while (left > 0 && !m_stop) {
                    ssize_t w = ::send(fd, p, left, MSG_NOSIGNAL);
                    if (w > 0) {
                        p += w;
                        left -= static_cast<std::size_t>(w);
                    } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                        left = 0;
                        r = -1;
                    }
                }
                if (r < 0) break;
            } else if (r == 0) {
                ::shutdown(fd, SHUT_WR);
                break;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                break;
            }
        }
        ::close(fd);
    }

    int m_listenFd = -1;
    std::uint16_t m_port = 0;
    std::atomic<bool> m_stop{false};
    std::mutex m_mutex;
    std::vector<std::thread> m_workers;
    std::thread m_acceptor;
};

LinkOptions optionsFor(std::uint16_t targetPort) {
    LinkOptions o;
    o.targetPort = targetPort;
    o.maxSeconds = 30;
    return o;
}

double pingOnce(int fd) {
    const std::string ping = "ping-0123456789";
    auto t0 = Clock::now();
    REQUIRE(sendAll(fd, ping.data(), ping.size()));
    ReadLog back = readUntilClosed(fd, ping.size());
    REQUIRE(back.bytes == ping);
    return secondsBetween(t0, Clock::now());
}

ParsedLinkOptions parse(std::vector<std::string> args) {
    return parseLinkOptions(args);
}

// The program with stdout and stderr on pipes.
struct Child {
    pid_t pid = -1;
    int out = -1;
    int err = -1;
};

Child spawnEmulator(const std::vector<std::string>& args) {
    int outPipe[2], errPipe[2];
    REQUIRE(::pipe2(outPipe, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(errPipe, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2);
    std::vector<std::string> all{OUTPOST_LINK_EMULATOR};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    Child c;
    int rc = posix_spawn(&c.pid, OUTPOST_LINK_EMULATOR, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(outPipe[1]);
    ::close(errPipe[1]);
    REQUIRE(rc == 0);
    c.out = outPipe[0];
    c.err = errPipe[0];
    return c;
}

// Reads from fd until a newline or EOF or the time limit.
std::string readLine(int fd, int millis) {
    std::string line;
    auto until = Clock::now() + std::chrono::milliseconds(millis);
    while (Clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) != 1) continue;
        char ch;
        if (::read(fd, &ch, 1) != 1 || ch == '\n') break;
        line += ch;
    }
    return line;
}

std::string readAll(int fd) {
    std::string s;
    char buf[4096];
    ssize_t r;
    while ((r = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(r));
    return s;
}

// The exit status, or -1 if it had not exited within the limit (it is then killed).
int waitExit(pid_t pid, int millis) {
    auto until = Clock::now() + std::chrono::milliseconds(millis);
    int status = 0;
    while (Clock::now() < until) {
        if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
}

}  // namespace

TEST_CASE("link emulator: an unshaped 1 MiB round trip through an echo server is byte-identical", "[tools]") {
    EchoServer echo;
    LinkEmulator emulator(optionsFor(echo.port()));
    emulator.start();
    const std::string data = randomBytes(1024 * 1024, 7);
    int fd = connectLoopback(emulator.port());
    auto t0 = Clock::now();
    std::thread writer([&] {
        sendAll(fd, data.data(), data.size());
        ::shutdown(fd, SHUT_WR);
    });
    ReadLog back = readUntilClosed(fd);
    writer.join();
    ::close(fd);
    report("1 MiB echo round trip, no shaping:", secondsBetween(t0, Clock::now()));
    CHECK(back.eof);
    REQUIRE(back.bytes.size() == data.size());
    CHECK(back.bytes == data);
}

TEST_CASE("link emulator: latency adds twice the one-way delay to a round trip", "[tools]") {
    EchoServer echo;
    LinkOptions o = optionsFor(echo.port());
    o.up.latencyMs = 100;
    o.down.latencyMs = 100;
    LinkEmulator emulator(o);
    emulator.start();
    int fd = connectLoopback(emulator.port());
    for (int i = 0; i < 4; ++i) {
        double rtt = pingOnce(fd);
        report("round trip at 100 ms each way:", rtt);
        CHECK(rtt >= 0.200);
        CHECK(rtt < 0.350);
    }
    ::close(fd);
}

TEST_CASE("link emulator: each direction has its own latency", "[tools]") {
    EchoServer echo;
    LinkOptions o = optionsFor(echo.port());
    o.up.latencyMs = 150;
    o.down.latencyMs = 30;
    LinkEmulator emulator(o);
    emulator.start();
    int fd = connectLoopback(emulator.port());
    double rtt = pingOnce(fd);
    ::close(fd);
    report("round trip at 150 ms up, 30 ms down:", rtt);
    CHECK(rtt >= 0.180);
    CHECK(rtt < 0.330);
}

TEST_CASE("link emulator: latency is per chunk, so spaced writes are not delayed one after another",
          "[tools]") {
    Clock::time_point lastArrival;
    ReadLog got;
    OneShotServer sink([&](int fd) { got = readUntilClosed(fd); });
    LinkOptions o = optionsFor(sink.port());
    o.up.latencyMs = 200;
    LinkEmulator emulator(o);
    emulator.start();
    int fd = connectLoopback(emulator.port());
    auto t0 = Clock::now();
    for (int i = 0; i < 10; ++i) {
        REQUIRE(sendAll(fd, "0123456789", 10));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::shutdown(fd, SHUT_WR);
    sink.join();
    ::close(fd);
    REQUIRE(got.bytes.size() == 100);
    double first = secondsBetween(t0, got.reached(10));
    double last = secondsBetween(t0, got.reached(100));
    report("first of ten spaced writes at 200 ms one way:", first);
    report("last of ten spaced writes (sent at ~0.18 s):", last);
    CHECK(first >= 0.200);
    CHECK(last >= 0.380);
    CHECK(last < 0.600);  // a sleep per read would take 2 s
}

TEST_CASE("link emulator: a bandwidth cap makes N bytes take at least N*8/bps", "[tools]") {
    SECTION("up: 8 KiB at 64 kbit/s") {
        ReadLog got;
        OneShotServer sink([&](int fd) { got = readUntilClosed(fd); });
        LinkOptions o = optionsFor(sink.port());
        o.up.bitsPerSecond = 64'000;
        LinkEmulator emulator(o);
        emulator.start();
        const std::string data = randomBytes(8192, 1);
        int fd = connectLoopback(emulator.port());
        auto t0 = Clock::now();
        REQUIRE(sendAll(fd, data.data(), data.size()));
        ::shutdown(fd, SHUT_WR);
        sink.join();
        ::close(fd);
        REQUIRE(got.bytes == data);
        double took = secondsBetween(t0, got.reached(data.size()));
        report("8 KiB up at 64 kbit/s (ideal 1.024 s):", took);
        CHECK(took >= 8192.0 * 8 / 64'000);
        CHECK(took < 1.024 + 0.5);
    }
    SECTION("down: 16 KiB at 128 kbit/s, the other direction unshaped") {
        const std::string data = randomBytes(16384, 2);
        OneShotServer source([&](int fd) { sendAll(fd, data.data(), data.size()); });
        LinkOptions o = optionsFor(source.port());
        o.down.bitsPerSecond = 128'000;
        LinkEmulator emulator(o);
        emulator.start();
        auto t0 = Clock::now();
        int fd = connectLoopback(emulator.port());
        ReadLog got = readUntilClosed(fd);
        ::close(fd);
        REQUIRE(got.bytes == data);
        CHECK(got.eof);
        double took = secondsBetween(t0, got.reached(data.size()));
        report("16 KiB down at 128 kbit/s (ideal 1.024 s):", took);
        CHECK(took >= 16384.0 * 8 / 128'000);
        CHECK(took < 1.024 + 0.5);
    }
}

TEST_CASE("link emulator: a stall after N bytes holds the rest back for S ms", "[tools]") {
    SECTION("up: 300 ms after 1000 bytes") {
        ReadLog got;
        OneShotServer sink([&](int fd) { got = readUntilClosed(fd); });
        LinkOptions o = optionsFor(sink.port());
        o.up.stallAfterBytes = 1000;
        o.up.stallMs = 300;
        LinkEmulator emulator(o);
        emulator.start();
        const std::string data = randomBytes(2000, 3);
        int fd = connectLoopback(emulator.port());
        auto t0 = Clock::now();
        REQUIRE(sendAll(fd, data.data(), data.size()));
        ::shutdown(fd, SHUT_WR);
        sink.join();
        ::close(fd);
        REQUIRE(got.bytes == data);
        double before = secondsBetween(t0, got.reached(1000));
        double after = secondsBetween(t0, got.reached(1001));
        report("first 1000 bytes before the stall:", before);
        report("byte 1001, after a 300 ms stall:", after);
        CHECK(before < 0.150);
        CHECK(after >= 0.300);
        CHECK(after - before >= 0.290);
        CHECK(after < 0.600);
    }
    SECTION("down: 250 ms after 500 bytes") {
        const std::string data = randomBytes(2000, 4);
        OneShotServer source([&](int fd) { sendAll(fd, data.data(), data.size()); });
        LinkOptions o = optionsFor(source.port());
        o.down.stallAfterBytes = 500;
        o.down.stallMs = 250;
        LinkEmulator emulator(o);
        emulator.start();
        auto t0 = Clock::now();
        int fd = connectLoopback(emulator.port());
        ReadLog got = readUntilClosed(fd);
        ::close(fd);
        REQUIRE(got.bytes == data);
        double before = secondsBetween(t0, got.reached(500));
        double after = secondsBetween(t0, got.reached(501));
        report("byte 501 down, after a 250 ms stall:", after);
        CHECK(after >= 0.250);
        CHECK(after - before >= 0.240);
        CHECK(after < 0.550);
    }
}

TEST_CASE("link emulator: a cut after N bytes up delivers exactly N, then both sides see the link drop",
          "[tools]") {
    ReadLog got;
    OneShotServer sink([&](int fd) { got = readUntilClosed(fd); });
    LinkOptions o = optionsFor(sink.port());
    o.up.cutAfterBytes = 1000;
    LinkEmulator emulator(o);
    emulator.start();
    const std::string data = randomBytes(5000, 5);
    int fd = connectLoopback(emulator.port());
    auto t0 = Clock::now();
    sendAll(fd, data.data(), data.size());  // may fail once the reset is back: that is the point
    ReadLog client = readUntilClosed(fd);
    double clientSaw = secondsBetween(t0, Clock::now());
    ::close(fd);
    sink.join();
    report("client saw the up cut after:", clientSaw);
    CHECK(got.bytes.size() == 1000);
    CHECK(got.bytes == data.substr(0, got.bytes.size()));
    CHECK(got.reset);
    CHECK_FALSE(client.timedOut);
    CHECK(client.reset);
    CHECK(client.bytes.empty());
    CHECK(clientSaw < 1.0);
}

TEST_CASE("link emulator: a cut after N bytes down loses the rest of the reply", "[tools]") {
    EchoServer echo;
    LinkOptions o = optionsFor(echo.port());
    o.down.cutAfterBytes = 3000;
    LinkEmulator emulator(o);
    emulator.start();
    const std::string data = randomBytes(5000, 6);
    int fd = connectLoopback(emulator.port());
    REQUIRE(sendAll(fd, data.data(), data.size()));
    ReadLog back = readUntilClosed(fd);
    ::close(fd);
    CHECK(back.bytes.size() == 3000);
    CHECK(back.bytes == data.substr(0, back.bytes.size()));
    CHECK(back.reset);
    CHECK_FALSE(back.timedOut);
}

TEST_CASE("link emulator: many concurrent connections each get their own bytes back", "[tools]") {
    EchoServer echo;
    LinkOptions o = optionsFor(echo.port());
    o.up.latencyMs = 20;
    o.down.latencyMs = 20;
    LinkEmulator emulator(o);
    emulator.start();
    constexpr int kClients = 16;
    std::vector<std::thread> clients;
    std::atomic<int> identical{0};
    auto t0 = Clock::now();
    for (int i = 0; i < kClients; ++i) {
        clients.emplace_back([&, i] {
            const std::string data = randomBytes(64 * 1024, 100 + static_cast<unsigned>(i));
            int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            setTimeouts(fd, 10'000);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            addr.sin_port = htons(emulator.port());
            if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
                ::close(fd);
                return;
            }
            std::thread writer([&] {
                sendAll(fd, data.data(), data.size());
                ::shutdown(fd, SHUT_WR);
            });
            ReadLog back = readUntilClosed(fd);
            writer.join();
            ::close(fd);
            if (back.bytes == data) ++identical;
        });
    }
    for (auto& t : clients) t.join();
    double took = secondsBetween(t0, Clock::now());
    report("16 connections x 64 KiB echo at 20 ms each way:", took);
    CHECK(identical == kClients);
    CHECK(emulator.connectionsAccepted() == kClients);
    CHECK(took >= 0.040);
    CHECK(took < 5.0);
}

TEST_CASE("link emulator: a refused target is a reset for the client", "[tools]") {
    std::uint16_t deadPort = 0;
    ::close(listenLoopback(deadPort));  // nothing listens there any more
    LinkEmulator emulator(optionsFor(deadPort));
    emulator.start();
    int fd = connectLoopback(emulator.port());
    ReadLog got = readUntilClosed(fd);
    ::close(fd);
    CHECK(got.bytes.empty());
    CHECK_FALSE(got.timedOut);
}

TEST_CASE("link emulator: run() returns by itself after max seconds", "[tools]") {
    LinkOptions o = optionsFor(9);
    o.maxSeconds = 1;
    LinkEmulator emulator(o);
    auto t0 = Clock::now();
    emulator.run();
    double took = secondsBetween(t0, Clock::now());
    report("run() with max seconds 1 returned after:", took);
    CHECK(took >= 0.99);
    CHECK(took < 1.5);
}

TEST_CASE("link emulator: options are parsed, and bad ones are named", "[tools]") {
    auto good =
        parse({"--listen", "127.0.0.1:0", "--target=127.0.0.1:8080", "--latency-ms", "300",
               "--down-latency-ms", "50", "--bandwidth-bps", "256000", "--up-bps", "64000",
               "--up-stall-after", "10", "--stall-ms", "500", "--down-cut-after", "0", "--max-seconds", "5"});
    REQUIRE(good.options);
    CHECK(good.options->targetPort == 8080);
    CHECK(good.options->up.latencyMs == 300);
    CHECK(good.options->down.latencyMs == 50);
    CHECK(good.options->up.bitsPerSecond == 64000);
    CHECK(good.options->down.bitsPerSecond == 256000);
    CHECK(good.options->up.stallAfterBytes == 10u);
    CHECK(good.options->up.stallMs == 500);
    CHECK_FALSE(good.options->down.stallAfterBytes);
    CHECK(good.options->down.cutAfterBytes == 0u);
    CHECK_FALSE(good.options->up.cutAfterBytes);
    CHECK(good.options->maxSeconds == 5);
    CHECK(parse({"--target", "127.0.0.1:1"}).options->maxSeconds == 600);
    CHECK(parse({"--help"}).help);

    auto errorOf = [](std::vector<std::string> args) {
        auto p = parseLinkOptions(args);
        CHECK_FALSE(p.options);
        return p.error;
    };
    const std::string target = "--target=127.0.0.1:9";
    CHECK_THAT(errorOf({target, "--bogus", "1"}), Catch::Contains("unknown option '--bogus'"));
    CHECK_THAT(errorOf({target, "--latency-ms", "abc"}),
               Catch::Contains("--latency-ms: 'abc' is not a whole number"));
    CHECK_THAT(errorOf({target, "--up-bps", "-5"}), Catch::Contains("--up-bps"));
    CHECK_THAT(errorOf({target, "--bandwidth-bps", "0"}), Catch::Contains("--bandwidth-bps"));
    CHECK_THAT(errorOf({target, "--latency-ms"}), Catch::Contains("--latency-ms needs a value"));
    CHECK_THAT(errorOf({"--target", "10.0.0.1:80"}), Catch::Contains("'10.0.0.1' is not a loopback address"));
    CHECK_THAT(errorOf({"--target", "example.org:80"}), Catch::Contains("not a loopback address"));
    CHECK_THAT(errorOf({"--target", "127.0.0.1:99999"}), Catch::Contains("not a port number"));
    CHECK_THAT(errorOf({"--target", "127.0.0.1"}), Catch::Contains("not HOST:PORT"));
    CHECK_THAT(errorOf({target, "--listen", "0.0.0.0:0"}), Catch::Contains("--listen"));
    CHECK_THAT(errorOf({"--latency-ms", "5"}), Catch::Contains("--target 127.0.0.1:PORT is required"));
    CHECK_THAT(errorOf({target, "--up-stall-after", "5"}),
               Catch::Contains("--up-stall-after needs --stall-ms"));
    CHECK_THAT(errorOf({target, "--stall-ms", "5"}), Catch::Contains("--stall-ms needs"));
    CHECK_THAT(errorOf({target, "--max-seconds", "0"}), Catch::Contains("--max-seconds"));

    LinkOptions remote;
    remote.targetHost = "192.168.1.1";
    remote.targetPort = 80;
    CHECK_THROWS_WITH(LinkEmulator(remote), Catch::Contains("not a loopback address"));
}

TEST_CASE("link emulator program: prints its port, shapes traffic, stops on SIGTERM", "[tools]") {
    EchoServer echo;
    Child child =
        spawnEmulator({"--listen", "127.0.0.1:0", "--target", "127.0.0.1:" + std::to_string(echo.port()),
                       "--latency-ms", "50", "--max-seconds", "20"});
    std::string line = readLine(child.out, 5000);
    REQUIRE(line.rfind("listening 127.0.0.1:", 0) == 0);
    auto port = static_cast<std::uint16_t>(std::stoi(line.substr(std::strlen("listening 127.0.0.1:"))));
    REQUIRE(port != 0);
    int fd = connectLoopback(port);
    double rtt = pingOnce(fd);
    ::close(fd);
    report("program round trip at 50 ms each way:", rtt);
    CHECK(rtt >= 0.100);
    CHECK(rtt < 0.300);
    auto t0 = Clock::now();
    ::kill(child.pid, SIGTERM);
    int status = waitExit(child.pid, 5000);
    report("program exit after SIGTERM:", secondsBetween(t0, Clock::now()));
    CHECK(status == 0);
    CHECK_THAT(readAll(child.err), Catch::Contains("stopped after 1 connections"));
    ::close(child.out);
    ::close(child.err);
}

TEST_CASE("link emulator program: bad options exit 1 naming the problem, and --max-seconds ends it",
          "[tools]") {
    Child bad = spawnEmulator({"--target", "10.1.2.3:443"});
    CHECK(waitExit(bad.pid, 5000) == 1);
    CHECK_THAT(readAll(bad.err), Catch::Contains("'10.1.2.3' is not a loopback address"));
    ::close(bad.out);
    ::close(bad.err);

    Child unknown = spawnEmulator({"--target", "127.0.0.1:9", "--latency", "5"});
    CHECK(waitExit(unknown.pid, 5000) == 1);
    CHECK_THAT(readAll(unknown.err), Catch::Contains("unknown option '--latency'"));
    ::close(unknown.out);
    ::close(unknown.err);

    auto t0 = Clock::now();
    Child timed = spawnEmulator({"--target", "127.0.0.1:9", "--max-seconds", "1"});
    CHECK(readLine(timed.out, 5000).rfind("listening 127.0.0.1:", 0) == 0);
    CHECK(waitExit(timed.pid, 5000) == 0);
    double took = secondsBetween(t0, Clock::now());
    report("program with --max-seconds 1 exited after:", took);
    CHECK(took < 2.5);
    ::close(timed.out);
    ::close(timed.err);
}
