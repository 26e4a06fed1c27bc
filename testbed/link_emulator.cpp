// The link emulator's engine: one poll() loop; each direction is a queue of chunks stamped with when they
// cross the link.
#include "testbed/link_emulator.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <stdexcept>

namespace outpost::test {
namespace {

using Clock = std::chrono::steady_clock;
using Nanos = std::chrono::nanoseconds;

constexpr std::size_t kReadSize = 64 * 1024;
// Reading stops while this much waits in one direction, so a slow link pushes back on the sender.
constexpr std::size_t kMaxQueued = 1024 * 1024;
// A capped link writes once this much time's worth of bytes is due, not one byte per wakeup.
constexpr double kQuantumSeconds = 0.005;
// A cut waits (at most this long) for the last allowed bytes to leave our send buffer, because the
// reset would discard them and the test could not tell "exactly N bytes" from "fewer".
constexpr auto kCutDrainLimit = std::chrono::milliseconds(500);
constexpr std::uint64_t kMaxMillis = 3'600'000;
constexpr std::uint64_t kMaxSeconds = 86'400;

std::string errnoText(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

// SO_LINGER 0 makes close() send a reset, which is how a dropped link looks to both ends.
void closeAbruptly(int& fd) {
    if (fd < 0) return;
    linger lg{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ::close(fd);
    fd = -1;
}

void closeQuietly(int& fd) {
    if (fd < 0) return;
    ::close(fd);
    fd = -1;
}

// Without it, small chunks wait for delayed ACKs (up to 40 ms) and latency figures lie.
void setNoDelay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

struct Chunk {
    std::vector<char> bytes;
    std::size_t written = 0;
    Clock::time_point start;  // when its first bit starts crossing the link
};

struct Direction {
    LinkShape shape;
    double bytesPerSecond = 0;  // 0: no cap
    std::deque<Chunk> queue;
    std::size_t queued = 0;
    std::uint64_t received = 0;
    std::uint64_t sent = 0;
    Clock::time_point linkFreeAt{};  // when the link finishes carrying everything accepted so far
    // When the whole link (every connection in this direction) is free: connections share the bandwidth,
    // as they would on one satellite terminal. Null: this direction has the link to itself.
    Clock::time_point* sharedFreeAt = nullptr;
    bool stallApplied = false;
    bool eof = false;
    bool shutDown = false;
    bool blocked = false;                         // the last write would have blocked: wait for POLLOUT
    std::atomic<std::uint64_t>* total = nullptr;  // the emulator's byte count for this direction

    Nanos latency() const { return std::chrono::milliseconds(shape.latencyMs); }

    Nanos transmitTime(std::size_t n) const {
        if (bytesPerSecond <= 0) return Nanos(0);
        return Nanos(static_cast<std::int64_t>(std::ceil(static_cast<double>(n) * 1e9 / bytesPerSecond)));
    }

    // Bytes of c that have crossed the link and waited out the latency by now. The link carries a byte
    // in 8/bps seconds, back to back, so there is no burst: N bytes never arrive faster than N*8/bps.
    std::size_t due(const Chunk& c, Clock::time_point now) const {
        Nanos elapsed = now - c.start - latency();
        if (elapsed < Nanos(0)) return 0;
        if (bytesPerSecond <= 0) return c.bytes.size();
        // The small addend absorbs rounding, so waking at the computed time always finds the byte due.
        double n = std::floor(std::chrono::duration<double>(elapsed).count() * bytesPerSecond + 1e-6);
        return n >= static_cast<double>(c.bytes.size()) ? c.bytes.size() : static_cast<std::size_t>(n);
    }

    // The link goes dead once byte N has crossed, not once byte N+1 arrives: a sender that pauses
    // after N bytes for longer than the stall never notices it.
    void maybeStall(Clock::time_point now) {
        if (!shape.stallAfterBytes || stallApplied || received != *shape.stallAfterBytes) return;
        linkFreeAt = std::max(linkFreeAt, now) + std::chrono::milliseconds(shape.stallMs);
        stallApplied = true;
    }

    void enqueue(const char* data, std::size_t n, Clock::time_point now) {
        while (n > 0) {
            maybeStall(now);
            std::size_t piece = n;
            if (shape.stallAfterBytes && !stallApplied && received < *shape.stallAfterBytes)
                piece = std::min<std::size_t>(piece, *shape.stallAfterBytes - received);
            Chunk c;
            c.bytes.assign(data, data + piece);
            c.start = std::max(now, linkFreeAt);
            if (sharedFreeAt) c.start = std::max(c.start, *sharedFreeAt);
            linkFreeAt = c.start + transmitTime(piece);
            if (sharedFreeAt && bytesPerSecond > 0) *sharedFreeAt = linkFreeAt;
            queue.push_back(std::move(c));
            received += piece;
            queued += piece;
            data += piece;
            n -= piece;
        }
        maybeStall(now);
    }

    std::optional<std::uint64_t> cutRoom() const {
        if (!shape.cutAfterBytes) return std::nullopt;
        return *shape.cutAfterBytes - std::min(sent, *shape.cutAfterBytes);
    }

    // Byte N+1 exists and the first N are gone: the link drops now.
    bool cutNow() const {
        return shape.cutAfterBytes && sent >= *shape.cutAfterBytes && received > *shape.cutAfterBytes;
    }

    // Writes whatever is due; false when the peer is gone.
    bool flush(int to, Clock::time_point now) {
        while (!queue.empty() && !blocked) {
            Chunk& c = queue.front();
            std::size_t d = due(c, now);
            if (d <= c.written) break;
            std::size_t n = d - c.written;
            if (auto room = cutRoom()) n = std::min<std::size_t>(n, *room);
            if (n == 0) break;
            ssize_t w = ::send(to, c.bytes.data() + c.written, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    blocked = true;
                    break;
                }
                return false;
            }
            c.written += static_cast<std::size_t>(w);
            sent += static_cast<std::uint64_t>(w);
            if (total) *total += static_cast<std::uint64_t>(w);
            queued -= static_cast<std::size_t>(w);
            if (c.written == c.bytes.size()) queue.pop_front();
        }
        return true;
    }

    // When the next write should happen, if one is waiting on time alone.
    std::optional<Clock::time_point> nextWake() const {
        if (queue.empty() || blocked) return std::nullopt;
        if (auto room = cutRoom(); room && *room == 0) return std::nullopt;
        const Chunk& c = queue.front();
        if (bytesPerSecond <= 0) return c.start + latency();
        std::size_t quantum =
            std::max<std::size_t>(1, static_cast<std::size_t>(bytesPerSecond * kQuantumSeconds));
        std::size_t want = std::min(c.bytes.size(), c.written + quantum);
        return c.start + latency() + transmitTime(want);
    }
};

struct Connection {
    int client = -1;
    int target = -1;
    bool connecting = true;
    Direction up;    // client -> target
    Direction down;  // target -> client
    bool cutting = false;
    int cutFd = -1;
    Clock::time_point cutDeadline;
    bool dead = false;

    void abort() {
        closeAbruptly(client);
        closeAbruptly(target);
        dead = true;
    }
    void close() {
        closeQuietly(client);
        closeQuietly(target);
        dead = true;
    }

    void service(Clock::time_point now) {
        if (dead) return;
        if (cutting) {
            int outq = 0;
            if (::ioctl(cutFd, SIOCOUTQ, &outq) != 0 || outq == 0 || now >= cutDeadline) abort();
            return;
        }
        if (connecting) return;
        if (!up.flush(target, now) || !down.flush(client, now)) {
            abort();
            return;
        }
        for (auto [dir, to] : {std::pair{&up, target}, std::pair{&down, client}}) {
            if (dir->cutNow()) {
                cutting = true;
                cutFd = to;
                cutDeadline = now + kCutDrainLimit;
                return;
            }
            if (dir->eof && dir->queue.empty() && !dir->shutDown) {
                ::shutdown(to, SHUT_WR);
                dir->shutDown = true;
            }
        }
        if (up.shutDown && down.shutDown) close();
    }

    // One read per wakeup keeps a fast sender from starving the other connections.
    void readInto(Direction& dir, int from, std::vector<char>& buffer, Clock::time_point now) {
        std::size_t room = std::min(buffer.size(), kMaxQueued - std::min(kMaxQueued, dir.queued));
        if (room == 0) return;
        ssize_t r = ::recv(from, buffer.data(), room, 0);
        if (r > 0) {
            dir.enqueue(buffer.data(), static_cast<std::size_t>(r), now);
        } else if (r == 0) {
            dir.eof = true;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            // A reset on one side is passed on as a reset on the other.
            abort();
        }
    }
};

bool parseWhole(const std::string& text, std::uint64_t& out) {
    if (text.empty() ||
        !std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
        return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size();
}

// "HOST:PORT" with a loopback host; the error names the option.
bool parseAddress(const std::string& flag, const std::string& text, std::string& host, std::uint16_t& port,
                  std::string& error) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) {
        error = flag + ": '" + text + "' is not HOST:PORT";
        return false;
    }
    host = text.substr(0, colon);
    if (!isLoopbackHost(host)) {
        error = flag + ": '" + host + "' is not a loopback address (only 127.0.0.1 is allowed)";
        return false;
    }
    std::uint64_t p = 0;
    if (!parseWhole(text.substr(colon + 1), p) || p > 65535) {
        error = flag + ": '" + text.substr(colon + 1) + "' is not a port number (0 to 65535)";
        return false;
    }
    port = static_cast<std::uint16_t>(p);
    return true;
}

}  // namespace

bool isLoopbackHost(const std::string& host) {
    if (host == "localhost") return true;
    in_addr addr{};
    if (::inet_pton(AF_INET, host.c_str(), &addr) != 1) return false;
    return (ntohl(addr.s_addr) >> 24) == 127;
}

std::string linkEmulatorUsage() {
    return "usage: outpost-link-emulator --target 127.0.0.1:PORT [options]\n"
           "  --listen 127.0.0.1:PORT      where to listen (PORT 0: any free port; default 127.0.0.1:0)\n"
           "  --target 127.0.0.1:PORT      where to forward each connection (loopback only)\n"
           "  --latency-ms N               one-way delay in both directions (RTT grows by 2N)\n"
           "  --up-latency-ms N, --down-latency-ms N\n"
           "  --bandwidth-bps N            bits per second in each direction\n"
           "  --up-bps N, --down-bps N\n"
           "  --up-stall-after N, --down-stall-after N   after N bytes the link is dead for the stall time\n"
           "  --stall-ms S                 stall time for both directions (or --up-stall-ms, "
           "--down-stall-ms)\n"
           "  --up-cut-after N, --down-cut-after N       N bytes pass, then both sides get a reset\n"
           "  --max-seconds N              exit by itself after N seconds (default 600)\n"
           "\"up\" is client to target, \"down\" is target to client. The first line on stdout is\n"
           "\"listening 127.0.0.1:PORT\". SIGTERM or SIGINT stop it.\n";
}

ParsedLinkOptions parseLinkOptions(const std::vector<std::string>& args) {
    ParsedLinkOptions result;
    std::map<std::string, std::optional<std::uint64_t>> numbers;
    const char* numericFlags[] = {
        "--latency-ms",    "--up-latency-ms",  "--down-latency-ms",  "--bandwidth-bps", "--up-bps",
        "--down-bps",      "--up-stall-after", "--down-stall-after", "--stall-ms",      "--up-stall-ms",
        "--down-stall-ms", "--up-cut-after",   "--down-cut-after",   "--max-seconds"};
    for (const char* f : numericFlags) numbers[f] = std::nullopt;
    std::optional<std::string> listen, target;

    auto fail = [&](const std::string& message) {
        result.error = message;
        return result;
    };

    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string flag = args[i];
        std::optional<std::string> value;
        if (flag == "--help" || flag == "-h") {
            result.help = true;
            return result;
        }
        if (auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
            value = flag.substr(eq + 1);
            flag = flag.substr(0, eq);
        }
        bool known = numbers.count(flag) || flag == "--listen" || flag == "--target";
        if (!known) return fail("unknown option '" + flag + "'");
        if (!value) {
            if (i + 1 >= args.size()) return fail(flag + " needs a value");
            value = args[++i];
        }
        if (flag == "--listen") {
            listen = *value;
        } else if (flag == "--target") {
            target = *value;
        } else {
            std::uint64_t n = 0;
            if (!parseWhole(*value, n)) return fail(flag + ": '" + *value + "' is not a whole number");
            numbers[flag] = n;
        }
    }

    LinkOptions o;
    std::string host;
    if (listen) {
        if (!parseAddress("--listen", *listen, host, o.listenPort, result.error)) return result;
        if (host != "127.0.0.1" && host != "localhost")
            return fail("--listen: the emulator listens on 127.0.0.1 only");
    }
    if (!target) return fail("--target 127.0.0.1:PORT is required");
    if (!parseAddress("--target", *target, o.targetHost, o.targetPort, result.error)) return result;
    if (o.targetPort == 0) return fail("--target: port 0 is not a port one can connect to");

    for (const auto& [flag, n] : numbers) {
        if (!n) continue;
        bool millis = flag.find("-ms") != std::string::npos;
        if (millis && *n > kMaxMillis) return fail(flag + ": at most " + std::to_string(kMaxMillis));
        if (flag.find("bps") != std::string::npos && *n == 0)
            return fail(flag + ": must be at least 1 (leave it out for no cap)");
        if (flag == "--max-seconds" && (*n == 0 || *n > kMaxSeconds))
            return fail(flag + ": must be from 1 to " + std::to_string(kMaxSeconds));
    }

    auto pick = [&](const char* specific, const char* general) {
        return numbers[specific] ? numbers[specific] : numbers[general];
    };
    o.up.latencyMs = pick("--up-latency-ms", "--latency-ms").value_or(0);
    o.down.latencyMs = pick("--down-latency-ms", "--latency-ms").value_or(0);
    o.up.bitsPerSecond = pick("--up-bps", "--bandwidth-bps").value_or(0);
    o.down.bitsPerSecond = pick("--down-bps", "--bandwidth-bps").value_or(0);
    o.up.cutAfterBytes = numbers["--up-cut-after"];
    o.down.cutAfterBytes = numbers["--down-cut-after"];
    for (auto [shape, name] :
         {std::pair{&o.up, std::string("up")}, std::pair{&o.down, std::string("down")}}) {
        auto after = numbers["--" + name + "-stall-after"];
        auto ms = pick(("--" + name + "-stall-ms").c_str(), "--stall-ms");
        if (after && !ms)
            return fail("--" + name + "-stall-after needs --stall-ms (or --" + name + "-stall-ms)");
        if (numbers["--" + name + "-stall-ms"] && !after)
            return fail("--" + name + "-stall-ms needs --" + name + "-stall-after");
        shape->stallAfterBytes = after;
        shape->stallMs = after ? *ms : 0;
    }
    if (numbers["--stall-ms"] && !numbers["--up-stall-after"] && !numbers["--down-stall-after"])
        return fail("--stall-ms needs --up-stall-after or --down-stall-after");
    if (numbers["--max-seconds"]) o.maxSeconds = *numbers["--max-seconds"];
    result.options = o;
    return result;
}

LinkEmulator::LinkEmulator(const LinkOptions& options) : m_options(options) {
    if (!isLoopbackHost(options.targetHost))
        throw std::runtime_error("target '" + options.targetHost + "' is not a loopback address");
    if (options.targetPort == 0) throw std::runtime_error("target port is 0");
    in_addr target{};
    ::inet_pton(AF_INET, options.targetHost == "localhost" ? "127.0.0.1" : options.targetHost.c_str(),
                &target);
    m_targetAddr = target.s_addr;

    int pipeFds[2];
    if (::pipe2(pipeFds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error(errnoText("pipe"));
    m_wakeRead = pipeFds[0];
    m_wakeWrite = pipeFds[1];

    m_listenFd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m_listenFd < 0) throw std::runtime_error(errnoText("socket"));
    int one = 1;
    ::setsockopt(m_listenFd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(options.listenPort);
    if (::bind(m_listenFd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(m_listenFd, 128) != 0) {
        std::string message = errnoText("cannot listen on 127.0.0.1:" + std::to_string(options.listenPort));
        ::close(m_listenFd);
        ::close(m_wakeRead);
        ::close(m_wakeWrite);
        throw std::runtime_error(message);
    }
    socklen_t len = sizeof addr;
    ::getsockname(m_listenFd, reinterpret_cast<sockaddr*>(&addr), &len);
    m_port = ntohs(addr.sin_port);
}

LinkEmulator::~LinkEmulator() {
    if (m_thread.joinable()) {
        stop();
        m_thread.join();
    }
    ::close(m_listenFd);
    ::close(m_wakeRead);
    ::close(m_wakeWrite);
}

void LinkEmulator::start() {
    m_thread = std::thread([this] { run(); });
}

void LinkEmulator::stop() {
    char byte = 1;
    [[maybe_unused]] ssize_t w = ::write(m_wakeWrite, &byte, 1);
}

void LinkEmulator::run() {
    const auto deadline = Clock::now() + std::chrono::seconds(m_options.maxSeconds);
    std::vector<std::unique_ptr<Connection>> conns;
    std::vector<pollfd> fds;
    std::vector<char> buffer(kReadSize);
    Clock::time_point upFreeAt{}, downFreeAt{};

    for (;;) {
        auto now = Clock::now();
        if (now >= deadline) break;
        for (auto& c : conns) c->service(now);
        std::erase_if(conns, [](const auto& c) { return c->dead; });

        Clock::time_point wake = deadline;
        fds.clear();
        fds.push_back({m_wakeRead, POLLIN, 0});
        fds.push_back({m_listenFd, POLLIN, 0});
        for (auto& c : conns) {
            short clientEvents = 0, targetEvents = 0;
            if (c->cutting) {
                wake = std::min(wake, now + std::chrono::milliseconds(2));
            } else {
                if (!c->up.eof && c->up.queued < kMaxQueued) clientEvents |= POLLIN;
                if (c->connecting) {
                    targetEvents |= POLLOUT;
                } else {
                    if (!c->down.eof && c->down.queued < kMaxQueued) targetEvents |= POLLIN;
                    if (c->up.blocked) targetEvents |= POLLOUT;
                    if (c->down.blocked) clientEvents |= POLLOUT;
                    for (const Direction* d : {&c->up, &c->down})
                        if (auto t = d->nextWake()) wake = std::min(wake, *t);
                }
            }
            // A socket we want nothing from is left out: a peer that has hung up would otherwise wake
            // poll() at once, over and over, while our last bytes wait out the latency.
            fds.push_back({clientEvents ? c->client : -1, clientEvents, 0});
            fds.push_back({targetEvents ? c->target : -1, targetEvents, 0});
        }

        auto waitNs = std::max<Nanos::rep>(0, (wake - now).count());
        // Round up: waking a little early would only find nothing due and spin.
        int timeoutMs = static_cast<int>(std::min<Nanos::rep>((waitNs + 999'999) / 1'000'000, 60'000));
        int rc = ::poll(fds.data(), fds.size(), timeoutMs);
        if (rc < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[0].revents) break;  // stop()
        now = Clock::now();

        if (fds[1].revents & POLLIN) {
            for (;;) {
                int client = ::accept4(m_listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (client < 0) break;
                ++m_accepted;
                auto c = std::make_unique<Connection>();
                c->client = client;
                setNoDelay(client);
                c->up.total = &m_bytesUp;
                c->down.total = &m_bytesDown;
                c->up.sharedFreeAt = &upFreeAt;
                c->down.sharedFreeAt = &downFreeAt;
                for (auto [dir, shape] :
                     {std::pair{&c->up, &m_options.up}, std::pair{&c->down, &m_options.down}}) {
                    dir->shape = *shape;
                    dir->bytesPerSecond = static_cast<double>(shape->bitsPerSecond) / 8.0;
                    dir->maybeStall(now);  // a stall after 0 bytes starts with the connection
                }
                c->target = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (c->target < 0) {
                    c->abort();
                    continue;
                }
                setNoDelay(c->target);
                sockaddr_in addr{};
                addr.sin_family = AF_INET;
                addr.sin_addr.s_addr = m_targetAddr;
                addr.sin_port = htons(m_options.targetPort);
                if (::connect(c->target, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
                    c->connecting = false;
                } else if (errno != EINPROGRESS) {
                    c->abort();  // the client sees the refusal as a reset
                    continue;
                }
                conns.push_back(std::move(c));
            }
        }

        // Connections accepted just now have no pollfd entry yet; they are served next round.
        for (std::size_t i = 0; 2 + 2 * i + 1 < fds.size(); ++i) {
            Connection& c = *conns[i];
            const pollfd& cp = fds[2 + 2 * i];
            const pollfd& tp = fds[2 + 2 * i + 1];
            if (c.dead || c.cutting) continue;
            if (c.connecting && tp.revents) {
                int err = 0;
                socklen_t len = sizeof err;
                ::getsockopt(c.target, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0 || (tp.revents & (POLLERR | POLLHUP))) {
                    c.abort();
                    continue;
                }
                c.connecting = false;
            } else if (!c.connecting) {
                // On an error the next write fails, and that drops the connection.
                if (tp.revents & (POLLOUT | POLLHUP | POLLERR)) c.up.blocked = false;
                if ((tp.events & POLLIN) && (tp.revents & (POLLIN | POLLHUP | POLLERR)))
                    c.readInto(c.down, c.target, buffer, now);
            }
            if (c.dead) continue;
            if (cp.revents & (POLLOUT | POLLHUP | POLLERR)) c.down.blocked = false;
            if ((cp.events & POLLIN) && (cp.revents & (POLLIN | POLLHUP | POLLERR)))
                c.readInto(c.up, c.client, buffer, now);
        }
    }
    for (auto& c : conns) c->close();
}

}  // namespace outpost::test
