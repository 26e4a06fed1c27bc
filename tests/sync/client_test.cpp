// The field client's sync engine: against HQ's real handlers over TLS in-process (enrollment with the pin,
// push, receipts, pull of forms and feedback, resync), and against a fake HQ on plain HTTP that answers
// what a test wants: captive portals, bad signatures, answers for another batch, 409/403/413/426/503,
// stalls and cancellation, batch sizes and several batches in flight.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/time.hpp"
#include "core/uuid.hpp"
#include "hq/http_server.hpp"
#include "hq/service.hpp"
#include "hq/tls.hpp"
#include "storage/hq/store.hpp"
#include "storage/store.hpp"
#include "support/test_support.hpp"
#include "sync/client.hpp"
#include "sync/protocol.hpp"

using namespace outpost;
using namespace outpost::sync;
using namespace outpost::hq;
using namespace std::chrono_literals;
using storage::Store;
using test::TempDir;
namespace hqs = outpost::storage::hq;

namespace {

const std::string kUnit = "MINUSCA-RWABATT-1";

json gapPayload(const std::string& description) {
    return json{{"unit", kUnit},
                {"description", description},
                {"source", "evaluation"},
                {"identified_date", "2025-01-10"},
                {"severity", "minor"},
                {"personnel_affected", 12},
                {"remedy", "in_mission_course"},
                {"target_date", "2025-03-01"},
                {"status", "open"}};
}

storage::DataKey laptopKey() {
    unsigned char b[storage::DataKey::kSize];
    std::fill(std::begin(b), std::end(b), static_cast<unsigned char>(0x41));
    return storage::DataKey::fromBytes(b, storage::DataKey::kSize);
}

struct Laptop {
    TempDir dir;
    std::unique_ptr<Store> store;

    Laptop() {
        storage::InitOptions io;
        io.unitId = kUnit;
        io.user = "capt.sync";
        auto c = Store::createWithKey(dir.path(), laptopKey(), io);
        INFO((c ? "" : c.error().message));
        REQUIRE(c.ok());
        reopen();
    }
    void reopen() {
        store.reset();
        auto s = Store::open(dir.path(), laptopKey());
        INFO((s ? "" : s.error().message));
        REQUIRE(s.ok());
        store = std::move(s).value();
    }
    std::vector<std::string> addReports(int n, const std::string& tag = "gap") {
        std::vector<json> p;
        for (int i = 0; i < n; ++i) p.push_back(gapPayload(tag + " " + std::to_string(i)));
        auto r = store->importFinal("training-gap", p);
        INFO((r ? "" : r.error().message));
        REQUIRE(r.ok());
        return r.value();
    }
    std::int64_t queued() { return store->outboxCounts().value().queued; }
    std::int64_t quarantined() { return store->outboxCounts().value().quarantined; }
    PassResult sync(const ClientOptions& o = {}, const std::atomic<bool>* cancel = nullptr) {
        auto r = syncOnce(*store, o, {}, cancel);
        INFO((r ? "" : r.error().message));
        REQUIRE(r.ok());
        return r.value();
    }
    void requireSound() {
        auto v = store->verify();
        REQUIRE(v.ok());
        std::string text;
        for (const auto& p : v.value()) text += "\n  " + p;
        INFO("verify:" << text);
        CHECK(v.value().empty());
    }
};

// HQ's real handlers and HTTPS server, in this process, on 127.0.0.1 with a fresh self-signed certificate.
struct RealHq {
    TempDir dir;
    HqIdentity identity;
    std::unique_ptr<HqService> service;
    std::unique_ptr<HqHttpServer> server;
    std::unique_ptr<hqs::HqStore> store;
    std::thread thread;

    RealHq() {
        std::string cert = dir.sub("cert.pem"), key = dir.sub("key.pem");
        REQUIRE(makeSelfSignedCertificate(cert, key).ok());
        identity.hqId = "hq-client-test";
        identity.signing = SigningKeyPair::generate();
        identity.tlsPin = certificatePin(cert).value();
        std::string location = dir.sub("data");
        std::filesystem::create_directories(location);
        service = std::make_unique<HqService>([location] { return hqs::openHqStore(location); }, identity);
        store = hqs::openHqStore(location).value();
        HqHttpOptions o;
        o.certFile = cert;
        o.keyFile = key;
        o.threads = 8;
        server = std::make_unique<HqHttpServer>(*service, o);
        auto b = server->bind();
        INFO((b ? "" : b.error().message));
        REQUIRE(b.ok());
        thread = std::thread([this] { (void)server->run(); });
    }
    ~RealHq() {
        server->stop();
        thread.join();
    }
    std::string code(const std::string& unit = kUnit) {
        auto c = EnrollmentCode::generate(identity.tlsPin);
        REQUIRE(store->addEnrollment(c.secretHash(), unit, "2999-01-01T00:00:00.000Z").ok());
        return c.text();
    }
    std::string url() const { return server->url(); }
};

// --- A fake HQ on plain HTTP --------------------------------------------------------------------------
struct FakeRequest {
    std::string method, target;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::string header(const std::string& n) const {
        auto it = headers.find(n);
        return it == headers.end() ? std::string() : it->second;
    }
};

struct FakeAnswer {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::chrono::milliseconds delay{0};  // before the answer
    bool hangUp = false;                 // close the connection without answering
};

// Reads HTTP/1.1 requests (Content-Length bodies) on keep-alive connections; a thread per connection.
class FakeHq {
public:
    using Handler = std::function<FakeAnswer(const FakeRequest&)>;

    explicit FakeHq(Handler h) : m_handler(std::move(h)) {
        m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(m_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&a), &len);
        m_port = ntohs(a.sin_port);
        REQUIRE(::listen(m_fd, 64) == 0);
        m_accept = std::thread([this] { acceptLoop(); });
    }
    ~FakeHq() {
        m_stop = true;
        ::shutdown(m_fd, SHUT_RDWR);
        ::close(m_fd);
        m_accept.join();
        {
            std::lock_guard lk(m_mu);
            for (int c : m_conns) ::shutdown(c, SHUT_RDWR);
        }
        for (auto& t : m_threads) t.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
    std::vector<FakeRequest> requests() {
        std::lock_guard lk(m_mu);
        return m_seen;
    }
    int maxConcurrent() const { return m_maxConcurrent.load(); }
    int connections() const { return m_connections.load(); }

private:
    Handler m_handler;
    int m_fd = -1;
    int m_port = 0;
    std::atomic<bool> m_stop{false};
    std::thread m_accept;
    std::vector<std::thread> m_threads;
    std::vector<int> m_conns;
    std::mutex m_mu;
    std::vector<FakeRequest> m_seen;
    std::atomic<int> m_concurrent{0}, m_maxConcurrent{0}, m_connections{0};

    void acceptLoop() {
        while (!m_stop) {
            int c = ::accept(m_fd, nullptr, nullptr);
            if (c < 0) return;
            std::lock_guard lk(m_mu);
            m_conns.push_back(c);
            ++m_connections;
            m_threads.emplace_back([this, c] { serve(c); });
        }
    }

    static bool readMore(int c, std::string& buf) {
        char tmp[65536];
        ssize_t n = ::read(c, tmp, sizeof tmp);
        if (n <= 0) return false;
        buf.append(tmp, static_cast<std::size_t>(n));
        return true;
    }

    void serve(int c) {
        std::string buf;
        for (;;) {
            std::size_t end;
            while ((end = buf.find("\r\n\r\n")) == std::string::npos)
                if (!readMore(c, buf)) return finish(c);
            FakeRequest req;
            std::string head = buf.substr(0, end);
            buf.erase(0, end + 4);
            std::size_t lineEnd = head.find("\r\n");
            std::string first = head.substr(0, lineEnd);
            auto sp1 = first.find(' '), sp2 = first.rfind(' ');
            req.method = first.substr(0, sp1);
            req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
            std::size_t pos = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
            while (pos < head.size()) {
                std::size_t e = head.find("\r\n", pos);
                if (e == std::string::npos) e = head.size();
                std::string line = head.substr(pos, e - pos);
                pos = e + 2;
                auto colon = line.find(':');
                if (colon == std::string::npos) continue;
                std::string name = line.substr(0, colon);
                for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                std::string value = line.substr(colon + 1);
                while (!value.empty() && value.front() == ' ') value.erase(0, 1);
                req.headers[name] = value;
            }
            std::size_t length = std::strtoul(req.header("content-length").c_str(), nullptr, 10);
            while (buf.size() < length)
                if (!readMore(c, buf)) return finish(c);
            req.body = buf.substr(0, length);
            buf.erase(0, length);
            int now = ++m_concurrent;
            int seen = m_maxConcurrent.load();
            while (now > seen && !m_maxConcurrent.compare_exchange_weak(seen, now)) {
            }
            {
                std::lock_guard lk(m_mu);
                m_seen.push_back(req);
            }
            FakeAnswer a = m_handler(req);
            if (a.delay.count() > 0) {
                auto until = std::chrono::steady_clock::now() + a.delay;
                while (!m_stop && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
            }
            --m_concurrent;
            if (a.hangUp) return finish(c);
            std::string out = "HTTP/1.1 " + std::to_string(a.status) +
                              " X\r\nContent-Length: " + std::to_string(a.body.size()) + "\r\n";
            for (const auto& [k, v] : a.headers) out += k + ": " + v + "\r\n";
            out += "\r\n" + a.body;
            if (::send(c, out.data(), out.size(), MSG_NOSIGNAL) < 0) return finish(c);
        }
    }
    void finish(int c) { ::close(c); }
};

// What HQ would answer, signed with the fake HQ's key: results chosen per item by the test.
struct FakeLogic {
    SigningKeyPair hqKeys = SigningKeyPair::generate();
    SigningKeyPair deviceKeys = SigningKeyPair::generate();
    std::string deviceId = "dev-fake-1";
    std::string epoch = "epoch-1";
    std::atomic<std::int64_t> nextSeq{1};

    static PushRequest decode(const FakeRequest& r) {
        std::string text =
            r.header("content-encoding") == "zstd" ? zstdDecompress(r.body, 64u << 20) : r.body;
        return PushRequest::fromJson(json::parse(text));
    }

    FakeAnswer signedAnswer(const PushRequest& pr, const std::vector<ItemResult>& results, int status = 200,
                            bool zstd = true) {
        PushResponse a;
        a.batchId = pr.batchId;
        a.epoch = epoch;
        a.results = results;
        a.signature = base64Encode(
            sign(hqKeys.secretKey, receiptString(pr.batchId, epoch, deviceId, pr.items, results)));
        json body = a.toJson();
        if (status != 200) body["error"] = {{"code", "all_rejected"}, {"message", "every item was rejected"}};
        FakeAnswer f;
        f.status = status;
        f.body = body.dump();
        if (zstd && status == 200) {
            f.body = zstdCompress(f.body);
            f.headers.push_back({"Content-Encoding", "zstd"});
        }
        return f;
    }

    FakeAnswer storeAll(const FakeRequest& r) {
        auto pr = decode(r);
        std::vector<ItemResult> res;
        for (std::size_t i = 0; i < pr.items.size(); ++i) res.push_back({ItemStatus::Stored, nextSeq++, ""});
        return signedAnswer(pr, res);
    }

    static FakeAnswer emptyPull(std::int64_t next = 0, const std::string& epoch = "epoch-1") {
        FakeAnswer f;
        f.body = json{{"epoch", epoch}, {"next", next}, {"more", false}, {"items", json::array()}}.dump();
        return f;
    }

    static FakeAnswer error(int status, const std::string& code, const std::string& message,
                            json extra = {}) {
        json body = errorBody(code, message);
        if (extra.is_object())
            for (auto it = extra.begin(); it != extra.end(); ++it) body[it.key()] = it.value();
        FakeAnswer f;
        f.status = status;
        f.body = body.dump();
        return f;
    }

    // Enrolls the laptop with this fake HQ directly in its store (no enrollment request).
    void enroll(Laptop& l, const std::string& url) {
        storage::SyncConfig c;
        c.hqUrl = url;
        c.pin = base64UrlEncode(blake2b256("not used over plain http"));
        c.deviceId = deviceId;
        c.hqId = "hq-fake";
        c.hqSignKey = base64Encode(hqKeys.publicKey);
        c.epoch = epoch;
        REQUIRE(l.store->saveEnrollment(c, deviceKeys.secretKey).ok());
    }
};

ClientOptions insecure() {
    ClientOptions o;
    o.allowInsecureHttp = true;
    o.connectTimeoutMs = 3000;
    o.lowSpeedBytes = 1;
    o.lowSpeedSeconds = 2;
    return o;
}

bool isPush(const FakeRequest& r) {
    return r.method == "POST" && r.target == "/v1/push";
}
bool isPull(const FakeRequest& r) {
    return r.method == "GET" && r.target.rfind("/v1/pull?", 0) == 0;
}

}  // namespace

// --- Against HQ's real handlers over TLS -----------------------------------------------------------------

TEST_CASE("enroll, push with signed receipts, and pull forms and feedback from the real HQ over TLS",
          "[sync][client]") {
    RealHq hq;
    Laptop lap;
    auto cfg = enroll(*lap.store, hq.url(), hq.code(), "lap-1");
    INFO((cfg ? "" : cfg.error().message));
    REQUIRE(cfg.ok());
    CHECK(cfg->hqId == "hq-client-test");
    CHECK(cfg->pin == hq.identity.tlsPin);
    CHECK(cfg->epoch == hq.store->epoch().value());
    CHECK(lap.store->deviceSecretKey().ok());
    auto ids = lap.addReports(250);

    std::vector<Progress> seen;
    auto r = syncOnce(*lap.store, {}, [&](const Progress& p) { seen.push_back(p); });
    INFO((r ? r->progress.message : r.error().message));
    REQUIRE(r.ok());
    CHECK(r->ok);
    CHECK(r->progress.phase == core::SyncPhase::Done);
    CHECK(r->progress.stored == 250);
    CHECK(r->progress.itemsSent == 250);
    CHECK(r->progress.itemsTotal == 250);
    CHECK(r->progress.bytesSent > 0);
    CHECK(r->progress.bytesReceived > 0);
    REQUIRE_FALSE(seen.empty());
    CHECK(seen.back().phase == core::SyncPhase::Done);
    CHECK(lap.queued() == 0);
    CHECK(lap.store->receiptCount().value() == 250);
    CHECK(hq.store->reportCount().value() == 250);
    CHECK(lap.store->get(ids[0])->meta.syncState == core::SyncState::Sent);
    auto rc = lap.store->receipt(ids[0], 1).value();
    REQUIRE(rc);
    auto atHq = hq.store->report(ids[0], 1).value();
    REQUIRE(atHq);
    CHECK(rc->hqSeq == atHq->hqSeq);
    CHECK(rc->hash == atHq->hash);
    lap.requireSound();
    CHECK_FALSE(lap.store->syncConfig().value()->lastSyncUtc.empty());

    // Nothing left to send; HQ's review and a new form version arrive by pull.
    REQUIRE(hq.store
                ->review(ids[3], 1, core::ReviewStatus::Returned, "Severity should be major", "hq.reviewer",
                         "2026-11-28T08:00:00.000Z")
                .ok());
    json def = json::parse(test::readFile(test::sourcePath("core/forms/training-gap.json")));
    def["version"] = def["version"].get<int>() + 1;
    REQUIRE(hq.store
                ->putForm(def["form"].get<std::string>(), def["version"].get<int>(), def,
                          "2026-11-28T08:00:00.000Z")
                .ok());
    auto again = lap.sync();
    CHECK(again.ok);
    CHECK(again.progress.itemsSent == 0);
    CHECK(again.progress.pulled >= 2);
    auto fb = lap.store->feedback(ids[3]).value();
    REQUIRE(fb.size() == 1);
    CHECK(fb[0].status == core::ReviewStatus::Returned);
    CHECK(fb[0].comment == "Severity should be major");
    CHECK(lap.store->forms().latest("training-gap")->version == def["version"].get<int>());
    CHECK(lap.store->syncConfig().value()->pullCursor > 0);
    // The same pass again pulls nothing new.
    auto third = lap.sync();
    CHECK(third.ok);
    CHECK(third.progress.pulled == 0);
}

TEST_CASE("an HQ restore: the laptop re-sends what HQ lost and holds receipts from the new epoch",
          "[sync][client]") {
    RealHq hq;
    Laptop lap;
    REQUIRE(enroll(*lap.store, hq.url(), hq.code(), "lap-1").ok());
    lap.addReports(20);
    REQUIRE(lap.sync().ok);
    auto newEpoch = hq.store->rotateEpoch();
    REQUIRE(newEpoch.ok());
    lap.addReports(5);
    auto r = lap.sync();
    CHECK(r.ok);
    CHECK(r.resynced);
    CHECK(r.progress.duplicates == 20);
    CHECK(r.progress.stored == 5);
    CHECK(lap.store->syncConfig().value()->epoch == newEpoch.value());
    CHECK(lap.store->receiptCount().value() == 25);
    CHECK(hq.store->reportCount().value() == 25);
    lap.requireSound();
}

TEST_CASE("enrollment is refused for a wrong pin, a used code and another unit, and nothing is kept",
          "[sync][client]") {
    RealHq hq;
    Laptop lap;
    SECTION("a server whose key does not match the code's pin") {
        auto code = EnrollmentCode::parse(hq.code());
        code.pin = base64UrlEncode(blake2b256("another key entirely"));
        auto r = enroll(*lap.store, hq.url(), code.text(), "lap");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().domain == ErrorDomain::Network);
        CHECK_THAT(r.error().message, Catch::Contains("not the HQ of this enrollment code"));
        CHECK(hq.store->devices().value().empty());  // nothing reached HQ
    }
    SECTION("a code used twice") {
        std::string code = hq.code();
        Laptop other;
        REQUIRE(enroll(*other.store, hq.url(), code, "first").ok());
        auto r = enroll(*lap.store, hq.url(), code, "second");
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("used"));
    }
    SECTION("a code for another unit") {
        auto r = enroll(*lap.store, hq.url(), hq.code("MINUSCA-PAKBATT-1"), "lap");
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("MINUSCA-PAKBATT-1") && Catch::Contains("refused"));
    }
    SECTION("plain http without the development flag, and a malformed code") {
        auto r = enroll(*lap.store, "http://127.0.0.1:1", hq.code(), "lap");
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("https"));
        CHECK_FALSE(enroll(*lap.store, hq.url(), "OP1.not-a-code", "lap").ok());
        CHECK_FALSE(enroll(*lap.store, hq.url() + "/some/path", hq.code(), "lap").ok());
    }
    CHECK_FALSE(lap.store->syncConfig().value().has_value());
    CHECK_FALSE(lap.store->deviceSecretKey().ok());
}

// --- Against a fake HQ ---------------------------------------------------------------------------------

TEST_CASE("only a checked answer counts: portal pages, bad signatures and wrong batches keep the queue",
          "[sync][client]") {
    FakeLogic logic;
    struct Case {
        const char* what;
        std::function<FakeAnswer(const FakeRequest&)> answer;
    };
    std::vector<Case> cases = {
        {"a login page with 200",
         [](const FakeRequest&) {
             FakeAnswer a;
             a.headers.push_back({"Content-Type", "text/html"});
             a.body = "<html><body>Please log in to the hotel Wi-Fi</body></html>";
             return a;
         }},
        {"a signature by another key",
         [&](const FakeRequest& r) {
             FakeLogic impostor;
             impostor.deviceId = logic.deviceId;
             return impostor.storeAll(r);
         }},
        {"a receipt for other bytes (the signature covers the hashes)",
         [&](const FakeRequest& r) {
             auto pr = FakeLogic::decode(r);
             pr.items[0].payload["description"] = "something else";
             std::vector<ItemResult> res(pr.items.size(), ItemResult{ItemStatus::Stored, 7, ""});
             return logic.signedAnswer(pr, res);
         }},
        {"an answer for another batch",
         [&](const FakeRequest& r) {
             auto pr = FakeLogic::decode(r);
             pr.batchId = core::newUuidV7();
             std::vector<ItemResult> res(pr.items.size(), ItemResult{ItemStatus::Stored, 7, ""});
             return logic.signedAnswer(pr, res);
         }},
        {"fewer results than items",
         [&](const FakeRequest& r) {
             auto pr = FakeLogic::decode(r);
             pr.items.pop_back();
             std::vector<ItemResult> res(pr.items.size(), ItemResult{ItemStatus::Stored, 7, ""});
             return logic.signedAnswer(pr, res);
         }},
        {"a corrupt zstd body",
         [](const FakeRequest&) {
             FakeAnswer a;
             a.headers.push_back({"Content-Encoding", "zstd"});
             a.body = std::string("\x28\xb5\x2f\xfd garbage", 12);
             return a;
         }},
        {"a body in an encoding Outpost does not use",
         [&](const FakeRequest& r) {
             auto a = logic.storeAll(r);
             a.headers = {{"Content-Encoding", "gzip"}};
             return a;
         }},
        {"a redirect to a portal",
         [](const FakeRequest&) {
             FakeAnswer a;
             a.status = 302;
             a.headers.push_back({"Location", "http://portal.example/login"});
             return a;
         }},
        {"JSON nested too deep",
         [](const FakeRequest&) {
             FakeAnswer a;
             a.body = std::string(200, '[') + std::string(200, ']');
             return a;
         }},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        Laptop lap;
        lap.addReports(5);
        FakeHq hq([&](const FakeRequest& r) { return isPush(r) ? c.answer(r) : FakeLogic::emptyPull(); });
        logic.enroll(lap, hq.url());
        auto r = lap.sync(insecure());
        CHECK_FALSE(r.ok);
        CHECK(r.progress.phase == core::SyncPhase::Failed);
        INFO(r.progress.message);
        CHECK_FALSE(r.progress.message.empty());
        CHECK(lap.queued() == 5);
        CHECK(lap.store->receiptCount().value() == 0);
        auto ob = lap.store->outbox().value();
        CHECK(ob[0].attempts == 1);
        CHECK_FALSE(ob[0].lastError.empty());
        CHECK(lap.store->syncConfig().value()->lastError == r.progress.message);
        // The pass stopped: no pull after a failed push.
        for (const auto& q : hq.requests()) CHECK_FALSE(isPull(q));
        lap.requireSound();
    }
}

TEST_CASE("requests are signed and carry the protocol, epoch and last-receipt headers", "[sync][client]") {
    FakeLogic logic;
    Laptop lap;
    auto first = lap.addReports(3);
    FakeHq hq([&](const FakeRequest& r) { return isPush(r) ? logic.storeAll(r) : FakeLogic::emptyPull(); });
    logic.enroll(lap, hq.url());
    auto r = lap.sync(insecure());
    REQUIRE(r.ok);
    lap.addReports(1);
    REQUIRE(lap.sync(insecure()).ok);
    auto reqs = hq.requests();
    REQUIRE(reqs.size() == 4);  // push, pull, push, pull
    std::set<std::string> nonces;
    for (const auto& q : reqs) {
        INFO(q.method << " " << q.target);
        CHECK(q.header("outpost-protocol") == "2");
        CHECK(q.header("outpost-device") == logic.deviceId);
        CHECK(q.header("outpost-epoch") == logic.epoch);
        CHECK(q.header("accept-encoding") == "zstd");
        CHECK(q.header("expect").empty());
        std::string nonce = q.header("outpost-nonce");
        CHECK(nonce.size() == 22);
        CHECK(nonces.insert(nonce).second);
        auto sig = base64Decode(q.header("outpost-signature"));
        REQUIRE(sig);
        CHECK(verify(logic.deviceKeys.publicKey,
                     signingString(q.method, q.target, logic.deviceId, nonce, q.body), *sig));
        if (isPush(q)) {
            CHECK(q.header("content-encoding") == "zstd");
            CHECK(FakeLogic::decode(q).items.size() >= 1);
        }
    }
    CHECK(reqs[0].header("outpost-last-receipt").empty());
    // After the first push, every request names the newest receipt: HQ seq 3, the third report sent.
    CHECK(lap.store->receipt(first[2], 1).value()->hqSeq == 3);
    CHECK(reqs[1].header("outpost-last-receipt") == "3:" + first[2]);
    CHECK(reqs[2].header("outpost-last-receipt") == "3:" + first[2]);
    CHECK(reqs[1].target == "/v1/pull?after=0&limit=500");
    CHECK(lap.store->lastReceipt().value()->hqSeq == 4);
}

TEST_CASE("HQ's refusals: rejected items are quarantined, 413 splits, 426, 503 and revocation stop",
          "[sync][client]") {
    FakeLogic logic;
    SECTION("rejected items are quarantined with their reason and the rest goes through") {
        Laptop lap;
        auto ids = lap.addReports(6);
        FakeHq hq([&](const FakeRequest& r) {
            if (!isPush(r)) return FakeLogic::emptyPull();
            auto pr = FakeLogic::decode(r);
            std::vector<ItemResult> res;
            for (const auto& e : pr.items)
                res.push_back(e.id == ids[1] ? ItemResult{ItemStatus::Rejected, 0,
                                                          "training-gap v1 is not a form HQ knows"}
                                             : ItemResult{ItemStatus::Stored, logic.nextSeq++, ""});
            return logic.signedAnswer(pr, res);
        });
        logic.enroll(lap, hq.url());
        auto r = lap.sync(insecure());
        CHECK(r.ok);
        CHECK(r.progress.stored == 5);
        CHECK(r.progress.rejected == 1);
        CHECK(lap.queued() == 0);
        CHECK(lap.quarantined() == 1);
        auto ob = lap.store->outbox().value();
        REQUIRE(ob.size() == 1);
        CHECK(ob[0].recordId == ids[1]);
        CHECK(ob[0].lastError == "training-gap v1 is not a form HQ knows");
        lap.requireSound();
    }
    SECTION("422: every item rejected, with HQ's signed results") {
        Laptop lap;
        lap.addReports(3);
        FakeHq hq([&](const FakeRequest& r) {
            if (!isPush(r)) return FakeLogic::emptyPull();
            auto pr = FakeLogic::decode(r);
            std::vector<ItemResult> res(pr.items.size(), ItemResult{ItemStatus::Rejected, 0, "unknown form"});
            return logic.signedAnswer(pr, res, 422);
        });
        logic.enroll(lap, hq.url());
        auto r = lap.sync(insecure());
        CHECK(r.ok);
        CHECK(r.progress.rejected == 3);
        CHECK(lap.quarantined() == 3);
    }
    SECTION("403 unit_mismatch quarantines the named items only") {
        Laptop lap;
        auto ids = lap.addReports(4);
        FakeHq hq([&](const FakeRequest& r) {
            if (!isPush(r)) return FakeLogic::emptyPull();
            auto pr = FakeLogic::decode(r);
            for (const auto& e : pr.items)
                if (e.id == ids[2])
                    return FakeLogic::error(403, "unit_mismatch", "1 item(s) belong to another unit",
                                            json{{"items", {ids[2]}}});
            return logic.storeAll(r);
        });
        logic.enroll(lap, hq.url());
        auto r = lap.sync(insecure());
        CHECK(r.ok);
        CHECK(r.progress.stored == 3);
        CHECK(lap.quarantined() == 1);
        CHECK(lap.store->outbox().value()[0].recordId == ids[2]);
        CHECK_THAT(lap.store->outbox().value()[0].lastError, Catch::Contains("another unit"));
    }
    SECTION("413 halves the batch until HQ takes it") {
        Laptop lap;
        lap.addReports(40);
        std::vector<std::size_t> sizes;
        std::mutex mu;
        FakeHq hq([&](const FakeRequest& r) {
            if (!isPush(r)) return FakeLogic::emptyPull();
            auto n = FakeLogic::decode(r).items.size();
            {
                std::lock_guard lk(mu);
                sizes.push_back(n);
            }
            if (n > 10) return FakeLogic::error(413, "too_many_items", "at most 10 items");
            return logic.storeAll(r);
        });
        logic.enroll(lap, hq.url());
        auto o = insecure();
        o.initialBatchItems = 40;
        o.maxInFlight = 1;
        auto r = lap.sync(o);
        CHECK(r.ok);
        CHECK(r.progress.stored == 40);
        REQUIRE(sizes.size() >= 3);
        CHECK(sizes[0] == 40);
        CHECK(sizes[1] == 20);
        CHECK(sizes[2] == 10);
    }
    SECTION("426: upgrade needed, nothing changes") {
        Laptop lap;
        lap.addReports(2);
        FakeHq hq([](const FakeRequest&) {
            return FakeLogic::error(426, "protocol_mismatch", "HQ speaks version 2", json{{"versions", {2}}});
        });
        logic.enroll(lap, hq.url());
        auto r = lap.sync(insecure());
        CHECK_FALSE(r.ok);
        CHECK_THAT(r.progress.message, Catch::Contains("426") && Catch::Contains("version"));
        CHECK(lap.queued() == 2);
    }
    SECTION("503: a failed attempt, counted, and the queue kept") {
        Laptop lap;
        lap.addReports(2);
        FakeHq hq([](const FakeRequest&) {
            auto a = FakeLogic::error(503, "unavailable", "the disk is full");
            a.headers.push_back({"Retry-After", "30"});
            return a;
        });
        logic.enroll(lap, hq.url());
        auto r = lap.sync(insecure());
        CHECK_FALSE(r.ok);
        CHECK_THAT(r.progress.message, Catch::Contains("503") && Catch::Contains("disk is full"));
        CHECK(lap.queued() == 2);
        CHECK(lap.store->outbox().value()[0].attempts == 1);
    }
    SECTION("503 with a short Retry-After: the batch goes once more in the same pass, after the wait") {
        Laptop lap;
        lap.addReports(2);
        std::atomic<int> pushes{0};
        FakeHq hq([&](const FakeRequest& r) {
            if (!isPush(r)) return FakeLogic::emptyPull();
            if (pushes++ == 0) {
                auto a = FakeLogic::error(503, "unavailable",
                                          "another HQ process has held what this change needs");
                a.headers.push_back({"Retry-After", "1"});
                return a;
            }
            return logic.storeAll(r);
        });
        logic.enroll(lap, hq.url());
        auto t0 = std::chrono::steady_clock::now();
        auto r = lap.sync(insecure());
        CHECK(r.ok);
        CHECK(r.progress.stored == 2);
        CHECK(pushes == 2);
        CHECK(std::chrono::steady_clock::now() - t0 >= 1s);  // Retry-After was waited out
        CHECK(hq.connections() == 2);
        CHECK(lap.queued() == 0);
        lap.requireSound();
    }
    SECTION("HQ closes the connection without answering: the batch goes once more, the pass succeeds") {
        Laptop lap;
        lap.addReports(3);
        std::atomic<int> pushes{0};
        FakeHq hq([&](const FakeRequest& r) {
            if (!isPush(r)) return FakeLogic::emptyPull();
            if (pushes++ == 0) {
                FakeAnswer a;
                a.hangUp = true;
                return a;
            }
            return logic.storeAll(r);
        });
        logic.enroll(lap, hq.url());
        auto r = lap.sync(insecure());
        INFO(r.progress.message);
        CHECK(r.ok);
        CHECK(r.progress.stored == 3);
        CHECK(pushes == 2);
        CHECK(lap.queued() == 0);
        lap.requireSound();
    }
    SECTION("a pull page HQ is too busy for is asked once more") {
        Laptop lap;
        std::atomic<int> pulls{0};
        FakeHq hq([&](const FakeRequest& r) {
            if (isPush(r)) return logic.storeAll(r);
            if (pulls++ == 0) {
                auto a = FakeLogic::error(503, "unavailable", "busy");
                a.headers.push_back({"Retry-After", "1"});
                return a;
            }
            return FakeLogic::emptyPull();
        });
        logic.enroll(lap, hq.url());
        auto r = lap.sync(insecure());
        CHECK(r.ok);
        CHECK(pulls == 2);
    }
    SECTION("403 revoked: marked revoked, nothing more is tried") {
        Laptop lap;
        lap.addReports(2);
        FakeHq hq(
            [](const FakeRequest&) { return FakeLogic::error(403, "revoked", "this device is revoked"); });
        logic.enroll(lap, hq.url());
        auto r = lap.sync(insecure());
        CHECK_FALSE(r.ok);
        CHECK(r.revoked);
        CHECK(lap.store->syncConfig().value()->revoked);
        CHECK(lap.queued() == 2);
        auto before = hq.requests().size();
        auto again = lap.sync(insecure());
        CHECK(again.revoked);
        CHECK(hq.requests().size() == before);  // a revoked laptop does not even connect
    }
    SECTION("409 epoch_changed: resync, then the pass carries on") {
        Laptop lap;
        lap.addReports(3);
        std::atomic<bool> restored{false};
        FakeHq hq([&](const FakeRequest& r) {
            if (restored && r.header("outpost-epoch") != "epoch-2")
                return FakeLogic::error(409, "epoch_changed", "restored", json{{"epoch", "epoch-2"}});
            if (!isPush(r)) return FakeLogic::emptyPull(0, logic.epoch);
            return logic.storeAll(r);
        });
        logic.enroll(lap, hq.url());
        REQUIRE(lap.sync(insecure()).ok);
        CHECK(lap.store->receiptCount().value() == 3);
        restored = true;
        logic.epoch = "epoch-2";
        lap.addReports(1);
        auto r = lap.sync(insecure());
        CHECK(r.ok);
        CHECK(r.resynced);
        CHECK(r.progress.stored == 4);  // the three HQ lost, and the new one
        CHECK(lap.store->syncConfig().value()->epoch == "epoch-2");
        CHECK(lap.store->receiptCount().value() == 4);
        lap.requireSound();
    }
}

TEST_CASE("batches double up to the maximum, several at once on separate connections", "[sync][client]") {
    FakeLogic logic;
    Laptop lap;
    lap.addReports(62);
    std::vector<std::size_t> sizes;
    std::mutex mu;
    FakeHq hq([&](const FakeRequest& r) {
        if (!isPush(r)) return FakeLogic::emptyPull();
        auto a = logic.storeAll(r);
        std::lock_guard lk(mu);
        sizes.push_back(FakeLogic::decode(r).items.size());
        a.delay = 150ms;
        return a;
    });
    logic.enroll(lap, hq.url());
    SECTION("one at a time: 2, 4, 8, 16, 16, 16") {
        auto o = insecure();
        o.initialBatchItems = 2;
        o.maxBatchItems = 16;
        o.maxInFlight = 1;
        auto r = lap.sync(o);
        CHECK(r.ok);
        CHECK(sizes == std::vector<std::size_t>{2, 4, 8, 16, 16, 16});
        CHECK(hq.maxConcurrent() == 1);
        CHECK(hq.connections() == 1);  // one kept-alive connection for every request
    }
    SECTION("more in flight while HQ's answers, not the bytes, take the time") {
        auto o = insecure();
        o.initialBatchItems = 2;
        o.maxBatchItems = 4;
        o.maxInFlight = 4;
        auto r = lap.sync(o);
        CHECK(r.ok);
        CHECK(r.progress.stored == 62);
        CHECK(hq.maxConcurrent() == 4);  // 1, 2, 3, then 4 at once
        CHECK(sizes.front() == 2);
        CHECK(hq.connections() <= 5);
    }
    CHECK(lap.queued() == 0);
    lap.requireSound();
}

TEST_CASE("the compression level follows the link: cheap on a fast one, thorough on a slow or unknown one",
          "[sync][client]") {
    CHECK(pushCompressionLevel(0) == 6);       // nothing measured yet
    CHECK(pushCompressionLevel(8000) == 6);    // 64 kbit/s
    CHECK(pushCompressionLevel(32000) == 6);   // 256 kbit/s
    CHECK(pushCompressionLevel(1.25e6) == 6);  // 10 Mbit/s
    CHECK(pushCompressionLevel(3.99e6) == 6);
    CHECK(pushCompressionLevel(4e6) == 1);    // from about 32 Mbit/s the CPU costs more than the bytes
    CHECK(pushCompressionLevel(500e6) == 1);  // loopback
}

TEST_CASE("the end of the queue is shared among the batches that may start", "[sync][client]") {
    // Plenty left, or one batch at a time: the batch size as it is.
    CHECK(nextBatchItems(250, 1000, 2) == 250);
    CHECK(nextBatchItems(500, 5000, 3) == 500);
    CHECK(nextBatchItems(500, 300, 1) == 500);
    // The last 500 over two free slots: two batches of 250 side by side, not 500 then nothing.
    CHECK(nextBatchItems(500, 500, 2) == 250);
    CHECK(nextBatchItems(2000, 1001, 3) == 334);
    // Never below 64 items a request (a request costs HQ a commit), nor above the batch size.
    CHECK(nextBatchItems(250, 100, 4) == 64);
    CHECK(nextBatchItems(250, 3, 2) == 64);
    CHECK(nextBatchItems(40, 60, 2) == 40);
    // Nonsense in, a usable size out.
    CHECK(nextBatchItems(0, 10, 2) == 1);
    CHECK(nextBatchItems(250, 0, 2) == 250);
}

TEST_CASE("on a link not yet measured a pass starts with the batch size and every report goes once",
          "[sync][client]") {
    FakeLogic logic;
    Laptop lap;
    lap.addReports(700);
    std::vector<std::size_t> sizes;
    std::mutex mu;
    FakeHq hq([&](const FakeRequest& r) {
        if (!isPush(r)) return FakeLogic::emptyPull();
        auto a = logic.storeAll(r);
        std::lock_guard lk(mu);
        sizes.push_back(FakeLogic::decode(r).items.size());
        return a;
    });
    logic.enroll(lap, hq.url());
    auto o = insecure();
    o.maxInFlight = 2;
    auto r = lap.sync(o);
    CHECK(r.ok);
    CHECK(r.progress.stored == 700);
    CHECK(lap.queued() == 0);
    std::lock_guard lk(mu);
    REQUIRE(sizes.size() >= 3);
    // Nothing is known of the link at the start of a pass: no small first batch (on a slow link it would
    // only add a connection); later batches may share the end of the queue once the link shows fast.
    CHECK(sizes[0] == 250);
    CHECK(sizes[1] == 250);
    std::size_t total = 0;
    for (auto n : sizes) {
        CHECK(n <= 500);
        total += n;
    }
    CHECK(total == 700);
    lap.requireSound();
}

TEST_CASE("pull reads pages until HQ says there is no more, applying each with its cursor",
          "[sync][client]") {
    FakeLogic logic;
    Laptop lap;
    auto ids = lap.addReports(1);
    FakeHq hq([&](const FakeRequest& r) {
        if (isPush(r)) return logic.storeAll(r);
        auto after = std::stoll(r.target.substr(r.target.find("after=") + 6));
        json items = json::array();
        for (std::int64_t q = after + 1; q <= std::min<std::int64_t>(after + 2, 5); ++q)
            items.push_back({{"q", q},
                             {"kind", "feedback"},
                             {"body",
                              {{"record", ids[0]},
                               {"rev", 1},
                               {"status", q == 5 ? "accepted" : "received"},
                               {"comment", "step " + std::to_string(q)},
                               {"by", "hq"},
                               {"at", "2026-11-28T08:00:00Z"}}}});
        FakeAnswer a;
        std::int64_t next = items.empty() ? after : items.back()["q"].get<std::int64_t>();
        a.body = zstdCompress(
            json{{"epoch", logic.epoch}, {"next", next}, {"more", next < 5}, {"items", items}}.dump());
        a.headers.push_back({"Content-Encoding", "zstd"});
        return a;
    });
    logic.enroll(lap, hq.url());
    auto o = insecure();
    o.pullPageSize = 2;
    auto r = lap.sync(o);
    CHECK(r.ok);
    CHECK(r.progress.pulled == 5);
    CHECK(lap.store->syncConfig().value()->pullCursor == 5);
    auto fb = lap.store->feedback(ids[0]).value();
    REQUIRE(fb.size() == 1);
    CHECK(fb[0].status == core::ReviewStatus::Accepted);
    CHECK(fb[0].comment == "step 5");
    std::vector<std::string> targets;
    for (const auto& q : hq.requests())
        if (isPull(q)) targets.push_back(q.target);
    CHECK(targets == std::vector<std::string>{"/v1/pull?after=0&limit=2", "/v1/pull?after=2&limit=2",
                                              "/v1/pull?after=4&limit=2"});
}

TEST_CASE(
    "HQ silent after the request: HQ is named, the batch goes once more on a new connection, and a "
    "cancel stops a pass at once",
    "[sync][client]") {
    FakeLogic logic;
    Laptop lap;
    lap.addReports(3);
    FakeHq hq([&](const FakeRequest& r) {
        auto a = isPush(r) ? logic.storeAll(r) : FakeLogic::emptyPull();
        a.delay = 20s;  // HQ goes silent; the link carries every byte
        return a;
    });
    logic.enroll(lap, hq.url());
    SECTION("the low-speed limit aborts the transfer, twice") {
        auto t0 = std::chrono::steady_clock::now();
        auto r = lap.sync(insecure());  // 1 byte per 2 s
        CHECK_FALSE(r.ok);
        // Not "offline": the link works, HQ does not answer.
        CHECK(r.progress.phase == core::SyncPhase::Failed);
        // libcurl judges the speed over a window of a few seconds: each try ends about 8 s after its request.
        CHECK(std::chrono::steady_clock::now() - t0 < 25s);
        INFO(r.progress.message);
        CHECK_THAT(r.progress.message,
                   Catch::StartsWith("HQ did not answer: it received the whole request") &&
                       Catch::Contains("a second try on a new connection failed too") &&
                       !Catch::Contains("link stalled"));
        CHECK_THAT(lap.store->outbox().value()[0].lastError, Catch::StartsWith("HQ did not answer"));
        auto pushes = hq.requests();
        CHECK(std::count_if(pushes.begin(), pushes.end(), [](const FakeRequest& q) { return isPush(q); }) ==
              2);
        CHECK(hq.connections() == 2);  // the second try did not reuse the first's connection
        // The same batch both times, each request signed with a nonce of its own.
        REQUIRE(pushes.size() == 2);
        CHECK(FakeLogic::decode(pushes[0]).batchId == FakeLogic::decode(pushes[1]).batchId);
        CHECK(pushes[0].header("outpost-nonce") != pushes[1].header("outpost-nonce"));
    }
    SECTION("the cancel flag") {
        auto o = insecure();
        o.lowSpeedSeconds = 60;
        std::atomic<bool> cancel{false};
        std::thread t([&] {
            std::this_thread::sleep_for(300ms);
            cancel = true;
        });
        auto t0 = std::chrono::steady_clock::now();
        auto r = lap.sync(o, &cancel);
        t.join();
        CHECK_FALSE(r.ok);
        CHECK(r.progress.message == "cancelled");
        CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    }
    CHECK(lap.queued() == 3);
}

TEST_CASE("the background worker syncs at start, backs off while HQ is away, and stops promptly",
          "[sync][client]") {
    FakeLogic logic;
    Laptop lap;
    lap.addReports(4);
    std::atomic<bool> up{false};
    std::atomic<bool> slow{false};
    FakeHq hq([&](const FakeRequest& r) {
        if (!up) return FakeLogic::error(503, "unavailable", "starting");
        auto a = isPush(r) ? logic.storeAll(r) : FakeLogic::emptyPull();
        if (slow) a.delay = 30s;
        return a;
    });
    logic.enroll(lap, hq.url());
    lap.store.reset();
    SyncWorker worker(lap.dir.path(), laptopKey(), insecure());
    worker.start();
    auto waitFor = [&](const std::function<bool()>& cond, std::chrono::seconds limit) {
        auto until = std::chrono::steady_clock::now() + limit;
        while (!cond() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
        return cond();
    };
    REQUIRE(waitFor([&] { return !worker.lastOutcome().empty(); }, 10s));
    CHECK_THAT(worker.lastOutcome(), Catch::StartsWith("failed: ") && Catch::Contains("503"));
    auto next = worker.nextAttempt();
    auto now = std::chrono::system_clock::now();
    CHECK(next > now + 1s);  // 5 s with jitter: between 2.5 and 7.5 s
    CHECK(next < now + 8s);
    up = true;
    worker.poke();  // "Sync now" does not wait for the backoff
    REQUIRE(waitFor([&] { return worker.lastOutcome() == "ok"; }, 10s));
    CHECK(worker.progress().stored == 4);
    // Stop while a transfer hangs: it is cancelled, not waited for.
    slow = true;
    worker.poke();
    REQUIRE(waitFor([&] { return worker.running(); }, 5s));
    std::this_thread::sleep_for(200ms);
    auto t0 = std::chrono::steady_clock::now();
    worker.stop();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    CHECK_FALSE(worker.running());
    lap.reopen();
    CHECK(lap.queued() == 0);
    lap.requireSound();
}
