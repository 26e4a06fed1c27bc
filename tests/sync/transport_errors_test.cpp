// A connection to HQ that fails below HTTP is told in words a person can act on (HQ refused the
// connection, did not answer in time, closed the connection ...), never in libcurl's or OpenSSL's own
// text ("SSL_ERROR_SYSCALL", "Empty reply from server"), which is kept apart for logs and --verbose.
// The servers here are bare TCP listeners on 127.0.0.1: one that closes each connection at once, one
// that never answers, and a port where nothing listens.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/store.hpp"
#include "support/skip_policy.hpp"
#include "support/test_support.hpp"
#include "sync/client.hpp"
#include "sync/http_client.hpp"
#include "sync/protocol.hpp"

using namespace outpost;
using namespace outpost::sync;
using namespace std::chrono_literals;

namespace {

// A TCP listener on 127.0.0.1 that closes every connection as soon as it is made (a reset, as the
// client's first bytes are unread), or once it has read the client's first bytes (an orderly close:
// libcurl's "Empty reply from server", OpenSSL's SSL_ERROR_SYSCALL), or accepts nothing and says
// nothing (the kernel completes the connection; no byte ever comes back).
class Listener {
public:
    enum class Mode { CloseAtOnce, ReadThenClose, Silent };

    explicit Listener(Mode mode) {
        m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(m_fd >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&a), &len);
        m_port = ntohs(a.sin_port);
        REQUIRE(::listen(m_fd, 16) == 0);
        if (mode != Mode::Silent)
            m_thread = std::thread([this, mode] {
                for (;;) {
                    int c = ::accept(m_fd, nullptr, nullptr);
                    if (c < 0) return;
                    ++m_accepted;
                    if (mode == Mode::ReadThenClose) {
                        char buf[4096];
                        (void)::read(c, buf, sizeof buf);
                        ::shutdown(c, SHUT_WR);
                    }
                    ::close(c);
                }
            });
    }
    ~Listener() {
        ::shutdown(m_fd, SHUT_RDWR);
        if (m_thread.joinable()) m_thread.join();
        ::close(m_fd);
    }
    int port() const { return m_port; }
    int accepted() const { return m_accepted.load(); }

private:
    int m_fd = -1;
    int m_port = 0;
    std::thread m_thread;
    std::atomic<int> m_accepted{0};
};

// A port on 127.0.0.1 where nothing listens.
int closedPort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

const std::string kPin = base64UrlEncode(blake2b256("any pin: no handshake gets that far"));

http::Response get(const std::string& baseUrl, long connectTimeoutMs = 3000, long lowSpeedSeconds = 2) {
    http::Options o;
    o.baseUrl = baseUrl;
    o.pin = kPin;
    o.allowInsecureHttp = true;
    o.connectTimeoutMs = connectTimeoutMs;
    o.lowSpeedBytes = 1;
    o.lowSpeedSeconds = lowSpeedSeconds;
    http::Client c(o, 1);
    http::Request r;
    r.target = "/v1/hello";
    return c.perform(r);
}

// The user-facing text is in words; the library's text is in detail, and only there.
void checkWords(const http::Response& r) {
    INFO("error: " << r.error << "\ndetail: " << r.detail);
    CHECK(r.transportFailed());
    CHECK_THAT(r.error, !Catch::Contains("SSL_ERROR_SYSCALL") && !Catch::Contains("Empty reply") &&
                            !Catch::Contains("OpenSSL") && !Catch::Contains("libcurl") &&
                            !Catch::Contains("Couldn't") && !Catch::Contains("Failed to connect"));
    CHECK_THAT(r.detail, Catch::StartsWith("libcurl error "));
}

std::string unitId() {
    return "MINUSCA-RWABATT-1";
}

storage::DataKey laptopKey() {
    unsigned char b[storage::DataKey::kSize];
    std::fill(std::begin(b), std::end(b), static_cast<unsigned char>(0x43));
    return storage::DataKey::fromBytes(b, storage::DataKey::kSize);
}

// A laptop enrolled with an "HQ" at url, with one report queued.
std::unique_ptr<storage::Store> laptopFor(const test::TempDir& dir, const std::string& url) {
    storage::InitOptions io;
    io.unitId = unitId();
    io.user = "lt.transport";
    REQUIRE(storage::Store::createWithKey(dir.path(), laptopKey(), io).ok());
    auto store = storage::Store::open(dir.path(), laptopKey()).value();
    auto keys = SigningKeyPair::generate();
    storage::SyncConfig c;
    c.hqUrl = url;
    c.pin = kPin;
    c.deviceId = "dev-transport-1";
    c.hqId = "hq-none";
    c.hqSignKey = base64Encode(SigningKeyPair::generate().publicKey);
    c.epoch = "epoch-1";
    REQUIRE(store->saveEnrollment(c, keys.secretKey).ok());
    auto r = store->importFinal("training-gap", {json{{"unit", unitId()},
                                                      {"description", "transport test"},
                                                      {"source", "evaluation"},
                                                      {"identified_date", "2025-01-10"},
                                                      {"severity", "minor"},
                                                      {"personnel_affected", 3},
                                                      {"remedy", "in_mission_course"},
                                                      {"target_date", "2025-03-01"},
                                                      {"status", "open"}}});
    INFO((r ? "" : r.error().message));
    REQUIRE(r.ok());
    return store;
}

}  // namespace

TEST_CASE("HQ that closes the connection at once: said in words, over TLS and plain HTTP",
          "[sync][transport]") {
    const auto mode = GENERATE(Listener::Mode::CloseAtOnce, Listener::Mode::ReadThenClose);
    INFO((mode == Listener::Mode::CloseAtOnce ? "closed at once" : "closed after reading"));
    Listener hq(mode);
    const std::string where = "127.0.0.1:" + std::to_string(hq.port());
    SECTION("TLS: the handshake is cut (OpenSSL's SSL_ERROR_SYSCALL)") {
        auto r = get("https://" + where);
        checkWords(r);
        CHECK_THAT(r.error, Catch::Contains("HQ closed the connection") && Catch::Contains("TLS handshake"));
        CHECK_FALSE(r.pinMismatch);
    }
    SECTION("plain HTTP: nothing comes back (libcurl's 'Empty reply from server')") {
        auto r = get("http://" + where);
        checkWords(r);
        CHECK_THAT(r.error, Catch::Contains("HQ closed the connection"));
    }
    CHECK(hq.accepted() >= 1);
}

TEST_CASE("HQ that never answers over a working link: HQ is named, not the link, and a retry may help",
          "[sync][transport]") {
    // The silent listener's machine acknowledges every byte (the kernel completes the connection and
    // queues what arrives): the link carried everything, and the silence is HQ's.
    Listener hq(Listener::Mode::Silent);
    const std::string where = "127.0.0.1:" + std::to_string(hq.port());
    SECTION("TLS: the handshake gets no answer") {
        auto t0 = std::chrono::steady_clock::now();
        auto r = get("https://" + where, 1000);
        checkWords(r);
        CHECK(r.timedOut);
        CHECK(r.retryable);
        CHECK_THAT(r.error, Catch::StartsWith("HQ did not answer: its machine at " + where) &&
                                Catch::Contains("TLS handshake") && Catch::Contains("within 1 s") &&
                                Catch::Contains("(HQ is busy or stalled)") &&
                                !Catch::Contains("link stalled") && !Catch::Contains("link to HQ stalled"));
        CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    }
    SECTION("plain HTTP: the request goes, no answer comes") {
        auto r = get("http://" + where, 3000, 1);
        checkWords(r);
        CHECK(r.timedOut);
        CHECK(r.retryable);
        CHECK_THAT(r.error, Catch::StartsWith("HQ did not answer: it received the whole request") &&
                                Catch::Contains("nothing came back for 1 s") &&
                                !Catch::Contains("link stalled") && !Catch::Contains("link to HQ stalled"));
    }
}

TEST_CASE("HQ that stops reading the request: its machine still acknowledges, so HQ is named, not the link",
          "[sync][transport]") {
    // A peer that takes the connection and never reads, with a small receive window: a large request
    // fills it and this laptop's send queue. The peer's machine answers the window probes: it is
    // reachable, and HQ (not the link) stopped taking bytes.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    REQUIRE(::listen(fd, 4) == 0);
    http::Options o;
    o.baseUrl = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    o.allowInsecureHttp = true;
    o.lowSpeedBytes = 1;
    o.lowSpeedSeconds = 2;
    http::Client c(o, 1);
    http::Request req;
    req.method = "POST";
    req.target = "/v1/push";
    req.body.assign(32u << 20, 'x');  // far more than the two sockets' buffers hold
    auto r = c.perform(req);
    ::close(fd);
    checkWords(r);
    CHECK(r.timedOut);
    CHECK(r.retryable);
    CHECK_THAT(r.error, Catch::StartsWith("HQ stopped taking the request: its machine acknowledges") &&
                            !Catch::Contains("link"));
}

TEST_CASE("a link that drops every packet mid-request: the link is named, and the pass would not retry",
          "[sync][transport]") {
    // A network of the test's own (a network namespace: root, as CI runs) whose loopback is taken down
    // while the request is on its way: from then on no packet and no acknowledgement moves, as on a link
    // that dropped. The peer reads slowly, so the request is still being sent when that happens.
    struct Outcome {
        std::string setupError;
        http::Response response;
    } out;
    std::thread inNamespace([&out] {
        if (::unshare(CLONE_NEWNET) != 0) {
            out.setupError = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
            return;
        }
        auto setLoopback = [](bool up) {
            int s = ::socket(AF_INET, SOCK_DGRAM, 0);
            ifreq ifr{};
            std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
            bool ok = s >= 0 && ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
            if (ok) {
                ifr.ifr_flags = static_cast<short>(up ? (ifr.ifr_flags | IFF_UP) : (ifr.ifr_flags & ~IFF_UP));
                ok = ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
            }
            if (s >= 0) ::close(s);
            return ok;
        };
        if (!setLoopback(true)) {
            out.setupError = std::string("bringing the namespace's loopback up: ") + std::strerror(errno);
            return;
        }
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        ::listen(fd, 4);
        std::atomic<bool> stop{false};
        std::thread reader([&] {
            int c = ::accept(fd, nullptr, nullptr);
            if (c < 0) return;
            char buf[16384];
            while (!stop) {
                (void)::recv(c, buf, sizeof buf, MSG_DONTWAIT);
                std::this_thread::sleep_for(20ms);  // about 800 KB/s
            }
            ::close(c);
        });
        std::thread cut([&] {
            std::this_thread::sleep_for(700ms);
            if (!setLoopback(false))
                out.setupError = std::string("taking loopback down: ") + std::strerror(errno);
        });
        http::Options o;
        o.baseUrl = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
        o.allowInsecureHttp = true;
        o.lowSpeedBytes = 1;
        o.lowSpeedSeconds = 2;
        http::Client c(o, 1);
        http::Request req;
        req.method = "POST";
        req.target = "/v1/push";
        req.body.assign(16u << 20, 'x');  // 20 s at the reader's pace
        out.response = c.perform(req);
        stop = true;
        cut.join();
        ::shutdown(fd, SHUT_RDWR);
        ::close(fd);
        reader.join();
    });
    inNamespace.join();
    if (!out.setupError.empty()) {
        test::cannotRunHere("netns", out.setupError);
        return;
    }
    const auto& r = out.response;
    checkWords(r);
    CHECK(r.timedOut);
    CHECK_FALSE(r.retryable);
    CHECK_THAT(r.error,
               Catch::StartsWith("the link to HQ stalled: what this laptop sent was not acknowledged"));
}

TEST_CASE("a port where nothing listens: HQ refused the connection", "[sync][transport]") {
    const std::string where = "127.0.0.1:" + std::to_string(closedPort());
    for (const std::string scheme : {"https://", "http://"}) {
        INFO(scheme);
        auto r = get(scheme + where);
        checkWords(r);
        CHECK_THAT(r.error, Catch::Contains("HQ refused the connection") && Catch::Contains(where));
        CHECK_THAT(r.detail, Catch::Contains("errno"));
    }
}

TEST_CASE("a sync that cannot reach HQ says why in words; the library's text goes to the log only",
          "[sync][transport]") {
    Listener hq(Listener::Mode::CloseAtOnce);
    test::TempDir dir;
    auto store = laptopFor(dir, "https://127.0.0.1:" + std::to_string(hq.port()));
    std::mutex mu;
    std::vector<std::string> logged;
    ClientOptions o;
    o.connectTimeoutMs = 3000;
    o.transportLog = [&](const std::string& detail) {
        std::lock_guard lk(mu);
        logged.push_back(detail);
    };
    auto r = syncOnce(*store, o);
    INFO((r ? "" : r.error().message));
    REQUIRE(r.ok());
    const auto& p = r.value().progress;
    INFO(p.message);
    CHECK_FALSE(r.value().ok);
    CHECK(p.phase == core::SyncPhase::Offline);
    CHECK_THAT(p.message, Catch::Contains("HQ closed the connection") &&
                              !Catch::Contains("SSL_ERROR_SYSCALL") && !Catch::Contains("OpenSSL"));
    // The queued report keeps the same words as its last error.
    auto ob = store->outbox().value();
    REQUIRE(ob.size() == 1);
    CHECK(ob[0].state == core::OutboxState::Queued);
    CHECK_THAT(ob[0].lastError, Catch::Contains("HQ closed the connection") && !Catch::Contains("OpenSSL"));
    auto seen = [&] {
        std::lock_guard lk(mu);
        return logged;
    };
    REQUIRE_FALSE(seen().empty());
    CHECK_THAT(seen()[0], Catch::StartsWith("libcurl error 35"));

    SECTION("enrolling: the same words after 'cannot reach HQ'") {
        test::TempDir fresh;
        storage::InitOptions io;
        io.unitId = unitId();
        io.user = "lt.enroll";
        REQUIRE(storage::Store::createWithKey(fresh.path(), laptopKey(), io).ok());
        auto s = storage::Store::open(fresh.path(), laptopKey()).value();
        auto code = EnrollmentCode::generate(kPin);
        auto e = enroll(*s, "https://127.0.0.1:" + std::to_string(closedPort()), code.text(), "lap", o);
        REQUIRE_FALSE(e.ok());
        CHECK(e.error().domain == ErrorDomain::Network);
        CHECK_THAT(e.error().message,
                   Catch::Contains("cannot reach HQ") && Catch::Contains("HQ refused the connection") &&
                       !Catch::Contains("Couldn't connect") && !Catch::Contains("libcurl"));
        CHECK_THAT(seen().back(), Catch::StartsWith("libcurl error 7"));
    }
}
