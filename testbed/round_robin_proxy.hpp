// A loopback TCP balancer in front of several outpost-hq processes, as a site runs them behind one
// address: each new connection goes to the next process in turn, and one whose port refuses is skipped.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace outpost::test {

// Listens on 127.0.0.1 (a free port) and relays every accepted connection to one of the backends, which
// are ports on 127.0.0.1. A backend that refuses the connection (its process is gone) is skipped for the
// next one, as a balancer that redispatches does; when every backend refuses, the client's connection is
// closed. A backend that accepts but never answers (a frozen process: the kernel completes the handshake
// for it) is not detected, as no TCP balancer without health checks can. Bytes are relayed both ways
// until both sides have closed their halves (a half-close is passed on); an error on either side resets
// both.
class RoundRobinProxy {
public:
    // Binds the listening socket at once, so port() is known before start(); throws std::runtime_error.
    explicit RoundRobinProxy(std::vector<std::uint16_t> backendPorts);
    ~RoundRobinProxy();  // stops and joins
    RoundRobinProxy(const RoundRobinProxy&) = delete;
    RoundRobinProxy& operator=(const RoundRobinProxy&) = delete;

    std::uint16_t port() const { return m_port; }
    std::size_t backends() const { return m_ports.size(); }

    // Serves connections in a background thread until stop() or the destructor. Call once.
    void start();
    // Closes every relayed connection and returns once the thread has ended. Safe to call twice.
    void stop();

    // Connections accepted from clients so far.
    std::uint64_t connectionsAccepted() const { return m_accepted.load(); }
    // Connections made to backend i (the connect succeeded, which a frozen process's kernel still does).
    std::uint64_t connectionsTo(std::size_t i) const { return m_connected[i].load(); }
    // Connect attempts backend i refused (its process was not running).
    std::uint64_t refusalsBy(std::size_t i) const { return m_refused[i].load(); }
    // Clients closed at once because every backend refused.
    std::uint64_t connectionsDropped() const { return m_dropped.load(); }

private:
    void run();

    std::vector<std::uint16_t> m_ports;
    int m_listenFd = -1;
    int m_wakeRead = -1;
    int m_wakeWrite = -1;
    std::uint16_t m_port = 0;
    std::atomic<std::uint64_t> m_accepted{0};
    std::atomic<std::uint64_t> m_dropped{0};
    std::unique_ptr<std::atomic<std::uint64_t>[]> m_connected;
    std::unique_ptr<std::atomic<std::uint64_t>[]> m_refused;
    std::thread m_thread;
};

}  // namespace outpost::test
