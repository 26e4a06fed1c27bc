// The round-robin balancer's engine: one poll() loop over non-blocking sockets, a bounded buffer per
// direction of each connection.
#include "testbed/round_robin_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace outpost::test {
namespace {

constexpr std::size_t kReadSize = 64 * 1024;
// Reading from one side stops while this much waits to be written to the other, so a slow reader
// pushes back on the sender instead of growing our memory.
constexpr std::size_t kMaxBuffered = 512 * 1024;

std::string errnoText(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

// SO_LINGER 0 makes close() send a reset: an error on one side must look like one on the other too,
// or the peer would take a truncated exchange for a complete one.
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

// Without it, small TLS records wait for delayed ACKs (up to 40 ms each) and every sync pass crawls.
void setNoDelay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Bytes read from one side, waiting to be written to the other.
struct Flow {
    std::vector<char> bytes;
    std::size_t written = 0;
    bool eof = false;       // the sending side closed its half
    bool shutDown = false;  // and that close has been passed on
    bool blocked = false;   // the last write would have blocked: wait for POLLOUT

    std::size_t pending() const { return bytes.size() - written; }
    bool wantsRead() const { return !eof && pending() < kMaxBuffered; }

    // Reads once; false on an error (not on a would-block).
    bool readFrom(int fd, std::vector<char>& buffer) {
        ssize_t r = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (r > 0) {
            if (written == bytes.size()) {
                bytes.clear();
                written = 0;
            }
            bytes.insert(bytes.end(), buffer.data(), buffer.data() + r);
            return true;
        }
        if (r == 0) {
            eof = true;
            return true;
        }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }

    // Writes what it can, then passes on a half-close once everything before it has left; false when
    // the receiving side is gone.
    bool writeTo(int fd) {
        while (pending() > 0) {
            ssize_t w = ::send(fd, bytes.data() + written, pending(), MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    blocked = true;
                    return true;
                }
                return false;
            }
            written += static_cast<std::size_t>(w);
        }
        blocked = false;
        bytes.clear();
        written = 0;
        if (eof && !shutDown) {
            ::shutdown(fd, SHUT_WR);
            shutDown = true;
        }
        return true;
    }
};

struct Connection {
    int client = -1;
    int backend = -1;
    bool connecting = false;
    std::size_t backendIndex = 0;
    std::size_t nextTry = 0;  // the backend to try if this one refuses
    std::size_t tries = 0;
    Flow up;    // client -> backend
    Flow down;  // backend -> client
    bool dead = false;

    void abort() {
        closeAbruptly(client);
        closeAbruptly(backend);
        dead = true;
    }
    void finishIfDone() {
        if (up.shutDown && down.shutDown) {
            closeQuietly(client);
            closeQuietly(backend);
            dead = true;
        }
    }
};

}  // namespace

RoundRobinProxy::RoundRobinProxy(std::vector<std::uint16_t> backendPorts) : m_ports(std::move(backendPorts)) {
    if (m_ports.empty()) throw std::runtime_error("a round-robin proxy needs at least one backend");
    for (auto p : m_ports)
        if (p == 0) throw std::runtime_error("backend port 0 is not a port one can connect to");
    m_connected = std::make_unique<std::atomic<std::uint64_t>[]>(m_ports.size());
    m_refused = std::make_unique<std::atomic<std::uint64_t>[]>(m_ports.size());
    for (std::size_t i = 0; i < m_ports.size(); ++i) {
        m_connected[i] = 0;
        m_refused[i] = 0;
    }

    int pipeFds[2];
    if (::pipe2(pipeFds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error(errnoText("pipe"));
    m_wakeRead = pipeFds[0];
    m_wakeWrite = pipeFds[1];

    m_listenFd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m_listenFd < 0) {
        std::string message = errnoText("socket");
        ::close(m_wakeRead);
        ::close(m_wakeWrite);
        throw std::runtime_error(message);
    }
    int one = 1;
    ::setsockopt(m_listenFd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(m_listenFd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(m_listenFd, 256) != 0) {
        std::string message = errnoText("cannot listen on 127.0.0.1");
        ::close(m_listenFd);
        ::close(m_wakeRead);
        ::close(m_wakeWrite);
        throw std::runtime_error(message);
    }
    socklen_t len = sizeof addr;
    ::getsockname(m_listenFd, reinterpret_cast<sockaddr*>(&addr), &len);
    m_port = ntohs(addr.sin_port);
}

RoundRobinProxy::~RoundRobinProxy() {
    stop();
    ::close(m_listenFd);
    ::close(m_wakeRead);
    ::close(m_wakeWrite);
}

void RoundRobinProxy::start() {
    if (m_thread.joinable()) throw std::runtime_error("the round-robin proxy is already running");
    m_thread = std::thread([this] { run(); });
}

void RoundRobinProxy::stop() {
    if (!m_thread.joinable()) return;
    char byte = 1;
    [[maybe_unused]] ssize_t w = ::write(m_wakeWrite, &byte, 1);
    m_thread.join();
}

void RoundRobinProxy::run() {
    std::vector<std::unique_ptr<Connection>> conns;
    std::vector<pollfd> fds;
    std::vector<char> buffer(kReadSize);
    std::size_t turn = 0;

    // Starts a connect to the connection's next backend, skipping those that refuse at once; false when
    // every backend has been tried.
    auto connectNext = [&](Connection& c) {
        while (c.tries < m_ports.size()) {
            std::size_t i = c.nextTry;
            c.nextTry = (c.nextTry + 1) % m_ports.size();
            ++c.tries;
            closeQuietly(c.backend);
            c.backend = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c.backend < 0) return false;
            setNoDelay(c.backend);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            addr.sin_port = htons(m_ports[i]);
            c.backendIndex = i;
            if (::connect(c.backend, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
                c.connecting = false;
                ++m_connected[i];
                return true;
            }
            if (errno == EINPROGRESS) {
                c.connecting = true;
                return true;
            }
            ++m_refused[i];
        }
        closeQuietly(c.backend);
        return false;
    };

    for (;;) {
        std::erase_if(conns, [](const auto& c) { return c->dead; });
        fds.clear();
        fds.push_back({m_wakeRead, POLLIN, 0});
        fds.push_back({m_listenFd, POLLIN, 0});
        for (auto& c : conns) {
            short clientEvents = 0, backendEvents = 0;
            if (c->connecting) {
                backendEvents = POLLOUT;
            } else {
                if (c->up.wantsRead()) clientEvents |= POLLIN;
                if (c->down.wantsRead()) backendEvents |= POLLIN;
                if (c->up.blocked) backendEvents |= POLLOUT;
                if (c->down.blocked) clientEvents |= POLLOUT;
            }
            // A socket we want nothing from is left out: a peer that has hung up would otherwise wake
            // poll() at once, over and over, while the other direction is still busy.
            fds.push_back({clientEvents ? c->client : -1, clientEvents, 0});
            fds.push_back({backendEvents ? c->backend : -1, backendEvents, 0});
        }

        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[0].revents) break;  // stop()

        for (std::size_t k = 0; k < conns.size(); ++k) {
            Connection& c = *conns[k];
            const pollfd& cp = fds[2 + 2 * k];
            const pollfd& bp = fds[2 + 2 * k + 1];
            if (c.connecting) {
                if (!bp.revents) continue;
                int err = 0;
                socklen_t len = sizeof err;
                ::getsockopt(c.backend, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err == 0 && !(bp.revents & (POLLERR | POLLHUP))) {
                    c.connecting = false;
                    ++m_connected[c.backendIndex];
                    continue;
                }
                // Refused (the process is gone): the next backend gets this client.
                ++m_refused[c.backendIndex];
                if (!connectNext(c)) {
                    ++m_dropped;
                    c.abort();
                }
                continue;
            }
            if (bp.revents & (POLLOUT | POLLHUP | POLLERR)) c.up.blocked = false;
            if (cp.revents & (POLLOUT | POLLHUP | POLLERR)) c.down.blocked = false;
            bool ok = true;
            if ((cp.events & POLLIN) && (cp.revents & (POLLIN | POLLHUP | POLLERR)))
                ok = c.up.readFrom(c.client, buffer);
            if (ok && (bp.events & POLLIN) && (bp.revents & (POLLIN | POLLHUP | POLLERR)))
                ok = c.down.readFrom(c.backend, buffer);
            // A reset or a write to a side that is gone ends both: the peer must see it as a failure.
            if (ok && !c.up.blocked) ok = c.up.writeTo(c.backend);
            if (ok && !c.down.blocked) ok = c.down.writeTo(c.client);
            if (!ok) {
                c.abort();
                continue;
            }
            c.finishIfDone();
        }

        if (fds[1].revents & POLLIN) {
            for (;;) {
                int client = ::accept4(m_listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (client < 0) break;
                ++m_accepted;
                setNoDelay(client);
                auto c = std::make_unique<Connection>();
                c->client = client;
                c->nextTry = turn;
                turn = (turn + 1) % m_ports.size();
                if (!connectNext(*c)) {
                    ++m_dropped;
                    c->abort();
                    continue;
                }
                conns.push_back(std::move(c));
            }
        }
    }
    for (auto& c : conns) {
        closeQuietly(c->client);
        closeQuietly(c->backend);
    }
}

}  // namespace outpost::test
