// The field client's sync engine: enrollment, one pass (push the outbox, then pull HQ's feed), and the
// background worker (docs/protocol.md, "The client's behaviour").
//
// Safety rests on the store, not on this file: an outbox row leaves only in the transaction that stores
// HQ's signed receipt for it (Store::applyPushOutcomes), so a pass may be cut at any point - killed,
// cancelled, the link gone - and the next pass simply sends again what has no receipt. HQ answers a
// repeat as a duplicate. What this file adds is the checking: only an answer that parses as HQ's answer
// to this very batch, with HQ's signature over the receipt, changes anything.
//
// [SECTION] helpers
// [SECTION] enrollment
// [SECTION] one pass
// [SECTION] background worker
#include "sync/client.hpp"
#include "sync/outgoing.hpp"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "core/time.hpp"
#include "core/utf8.hpp"
#include "core/uuid.hpp"
#include "sync/http_client.hpp"
#include "sync/protocol.hpp"

namespace outpost::sync {

using storage::Store;
using storage::SyncConfig;

// [SECTION] helpers
namespace {

constexpr int kMaxResyncsPerPass = 2;
// On a link known to be fast, a pass's first batch is small, so HQ has work while the laptop writes the
// next ones. (On a slow link it would only add a connection and its handshake to the pass.)
constexpr int kFirstBatchItems = 64;
// While a batch is written, the transfers in progress are moved along every this many items.
constexpr std::size_t kPumpEvery = 16;
constexpr std::size_t kMaxDeviceNameBytes = 200;
constexpr std::size_t kMaxEnrollAnswerBytes = 64 * 1024;

template <typename T>
T need(Result<T> r) {
    if (!r) throw Failure(r.error());
    return std::move(r).value();
}
void need(Result<void> r) {
    if (!r) throw Failure(r.error());
}

Failure protocolError(const std::string& m) {
    return Failure(ErrorDomain::Protocol, ErrorCode::BadInput, m);
}

// HQ's address as "scheme://host[:port]". https only, unless the development flag allows http.
std::string checkHqUrl(std::string url, bool allowInsecureHttp) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    const bool https = url.rfind("https://", 0) == 0;
    const bool http = url.rfind("http://", 0) == 0;
    if (!https && !http)
        throw Failure(ErrorDomain::Input, ErrorCode::BadInput,
                      "HQ's address must start with https:// (got '" + url + "')");
    if (http && !allowInsecureHttp)
        throw Failure(ErrorDomain::Input, ErrorCode::BadInput,
                      "plain http:// to HQ is refused: HQ is reached over https:// only (plain HTTP is for "
                      "development, with --insecure-http-for-development)");
    std::string rest = url.substr(url.find("://") + 3);
    if (rest.empty() || rest.find_first_of("/?#@ \t") != std::string::npos)
        throw Failure(ErrorDomain::Input, ErrorCode::BadInput,
                      "HQ's address must be https://host:port, without a path (got '" + url + "')");
    return url;
}

http::Options transportOptions(const std::string& url, const std::string& pin, const ClientOptions& o,
                               const std::atomic<bool>* cancel) {
    http::Options h;
    h.baseUrl = url;
    h.pin = pin;
    h.allowInsecureHttp = o.allowInsecureHttp;
    h.caFile = o.caFile;
    h.connectTimeoutMs = o.connectTimeoutMs;
    h.lowSpeedBytes = o.lowSpeedBytes;
    h.lowSpeedSeconds = o.lowSpeedSeconds;
    h.cancel = cancel;
    return h;
}

// An answer's body as text: a zstd frame is decompressed here (never by libcurl), at most maxOut bytes.
std::string answerText(const http::Response& r, std::size_t maxOut) {
    std::string enc = r.header("content-encoding");
    std::transform(enc.begin(), enc.end(), enc.begin(), [](unsigned char c) { return std::tolower(c); });
    if (enc.empty() || enc == "identity") {
        if (r.body.size() > maxOut)
            throw protocolError("the answer is larger than " + std::to_string(maxOut));
        return r.body;
    }
    if (enc == "zstd") return zstdDecompress(r.body, maxOut);
    throw protocolError("the answer is in an encoding Outpost does not use ('" + enc + "')");
}

// What HQ said when it refused: the error body's code and message (empty when the body is not one).
struct Refusal {
    int status = 0;
    std::string code, message;
    json body = json::object();
};

Refusal refusalOf(const http::Response& r) {
    Refusal f;
    f.status = r.status;
    try {
        f.body = parseObject(answerText(r, 1u << 20), Limits{}.maxJsonDepth);
        if (auto it = f.body.find("error"); it != f.body.end() && it->is_object()) {
            if (auto c = it->find("code"); c != it->end() && c->is_string()) f.code = c->get<std::string>();
            if (auto m = it->find("message"); m != it->end() && m->is_string())
                f.message = m->get<std::string>();
        }
    } catch (const std::exception&) {
        f.body = json::object();
    }
    return f;
}

std::string describe(const Refusal& f) {
    std::string s = "HQ answered " + std::to_string(f.status);
    if (!f.code.empty()) s += " " + f.code;
    if (!f.message.empty()) s += ": " + f.message;
    if (f.code.empty() && f.status >= 200 && f.status < 400)
        s += " without a valid Outpost answer (a captive portal or a proxy may be answering instead of HQ)";
    return s;
}

std::string stringMember(const json& j, const char* name) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
        throw protocolError(std::string("HQ's answer has no \"") + name + "\"");
    return it->get<std::string>();
}

using storage::SecretBytes;

}  // namespace

// [SECTION] enrollment
Result<SyncConfig> enroll(Store& store, const std::string& hqUrl, const std::string& code,
                          const std::string& deviceName, const ClientOptions& opts) {
    return tryCatch([&]() -> SyncConfig {
        if (!core::mayEnroll(store.role()))
            throw Failure(ErrorDomain::Auth, ErrorCode::Forbidden,
                          "the " + std::string(core::roleName(store.role())) +
                              " role may not enroll this laptop (a commander does)");
        EnrollmentCode ec = EnrollmentCode::parse(code);
        const std::string url = checkHqUrl(hqUrl, opts.allowInsecureHttp);
        if (deviceName.size() > kMaxDeviceNameBytes || !core::isValidUtf8(deviceName) ||
            std::any_of(deviceName.begin(), deviceName.end(),
                        [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
            throw Failure(ErrorDomain::Input, ErrorCode::BadInput,
                          "the device name must be at most 200 bytes of text without control characters");
        SigningKeyPair keys = SigningKeyPair::generate();
        SecretBytes secret{std::move(keys.secretKey)};

        http::Client net(transportOptions(url, ec.pin, opts, nullptr), 1);
        http::Request req;
        req.method = "POST";
        req.target = "/v1/enroll";
        req.headers = {std::string(kHeaderProtocol) + ": " + std::to_string(kProtocolVersion),
                       "Content-Type: application/json", "Accept-Encoding: zstd"};
        req.body =
            json{{"code", ec.secret}, {"public_key", base64Encode(keys.publicKey)}, {"name", deviceName}}
                .dump();
        http::Response r = net.perform(std::move(req));
        if (r.transportFailed() && opts.transportLog && !r.cancelled) opts.transportLog(r.detail);
        if (r.transportFailed())
            throw Failure(ErrorDomain::Network, ErrorCode::Io,
                          r.pinMismatch
                              ? "HQ at " + url + " is not the HQ of this enrollment code: " + r.error
                              : "cannot reach HQ at " + url + ": " + r.error);
        if (r.status != 200) {
            Refusal f = refusalOf(r);
            if (r.status == 410)
                throw Failure(
                    ErrorDomain::State, ErrorCode::Conflict,
                    (f.message.empty() ? describe(f) : f.message) + "; nothing was changed on this laptop");
            if (r.status == 426)
                throw Failure(ErrorDomain::Protocol, ErrorCode::Conflict,
                              describe(f) + "; install the Outpost version HQ expects");
            if (r.status == 400) throw Failure(ErrorDomain::Input, ErrorCode::BadInput, describe(f));
            throw Failure(ErrorDomain::Network, ErrorCode::Io, describe(f));
        }
        json j;
        try {
            j = parseObject(answerText(r, kMaxEnrollAnswerBytes), Limits{}.maxJsonDepth);
        } catch (const Failure& f) {
            throw Failure(
                ErrorDomain::Protocol, ErrorCode::BadInput,
                "HQ's answer to the enrollment is not an Outpost answer (" + f.error().message + ")");
        }
        SyncConfig cfg;
        cfg.hqUrl = url;
        cfg.pin = ec.pin;
        cfg.deviceId = stringMember(j, "device_id");
        cfg.hqId = stringMember(j, "hq_id");
        cfg.epoch = stringMember(j, "epoch");
        cfg.hqSignKey = stringMember(j, "hq_sign_key");
        const std::string unit = stringMember(j, "unit_id");
        auto signKey = base64Decode(cfg.hqSignKey);
        if (!signKey || signKey->size() != 32)
            throw protocolError("HQ's receipt-signing key in the enrollment answer is not an Ed25519 key");
        if (unit != store.unitId())
            throw Failure(ErrorDomain::State, ErrorCode::Conflict,
                          "HQ enrolled this device for unit " + unit +
                              ", but this laptop's store is for unit " + store.unitId() +
                              ": the enrollment is refused (ask HQ for a code for " + store.unitId() + ")");
        // HQ's recovery key (an HQ from before recovery sends none): a copy of the data key is sealed to
        // it, so a lost passphrase can be recovered through HQ (docs/operations.md).
        std::optional<std::vector<unsigned char>> recoveryKey;
        if (auto it = j.find("recovery_key"); it != j.end()) {
            auto k = it->is_string() ? base64Decode(it->get<std::string>()) : std::nullopt;
            if (!k || k->size() != 32)
                throw protocolError("HQ's recovery key in the enrollment answer is not an X25519 key");
            recoveryKey = *k;
        }
        need(store.saveEnrollment(cfg, secret.b));
        if (recoveryKey) need(store.setRecoveryKey(*recoveryKey));
        return cfg;
    });
}

// [SECTION] one pass

// Above this throughput a push body's bytes cost less time than compressing them harder: level 1 makes
// a typical body about 10 % larger than level 6 (some 13 bytes more per report) and saves some 3.6 us of
// CPU per report, which is where the two cross.
constexpr double kFastLinkBytesPerSecond = 4e6;
constexpr int kFastLinkLevel = 1;
constexpr int kSlowLinkLevel = 6;

int pushCompressionLevel(double bytesPerSecond) {
    return bytesPerSecond >= kFastLinkBytesPerSecond ? kFastLinkLevel : kSlowLinkLevel;
}

// What is left of the queue is shared among the batches that may start, but not below this many items
// each: a request costs HQ a commit and the link its headers, worth it only for a fair number of reports.
constexpr std::int64_t kMinSharedBatchItems = 64;

int nextBatchItems(int batchItems, std::int64_t remaining, int freeSlots) {
    batchItems = std::max(1, batchItems);
    if (freeSlots <= 1 || remaining <= 0) return batchItems;
    const std::int64_t share = std::max((remaining + freeSlots - 1) / freeSlots, kMinSharedBatchItems);
    return static_cast<int>(std::min<std::int64_t>(share, batchItems));
}

namespace {

// What carries over from one pass to the next in a worker: the batch size it had reached, and whether
// HQ asked for an upgrade (then retrying is pointless).
struct PassState {
    int batchItems = 0;
    int batchCeiling = 0;  // a size HQ refused as too large (413) is never reached again (0: no limit)
    int inFlight = 1;      // batches on the wire at once: grows while round trips, not bytes, take the time
    // zstd level for push bodies: on a slow link every byte saved is worth the CPU; on a fast one the CPU
    // is the bottleneck. Set from the measured throughput of each answered batch (pushCompressionLevel).
    int compressionLevel = kSlowLinkLevel;
    // The last answered batch showed a fast link (kFastLinkBytesPerSecond): the end of the queue is shared
    // among the batches in flight and a pass starts with a small batch. On a slow or unknown link neither:
    // more, smaller batches there mean new connections, each with its handshake's round trip.
    bool fastLink = false;
    bool upgradeNeeded = false;
    bool offline = false;
    int retryAfterSeconds = 0;
};

struct Batch {
    std::string id;
    std::vector<ReceiptItem> envelopes;  // id, revision and hash of each item, in the order sent
    std::vector<std::int64_t> seqs;
    int generation = 0;  // the resync generation it was sent in
    std::string body;    // as sent (compressed), for the one retry it may get
    bool retried = false;
    std::chrono::steady_clock::time_point due{};  // when the retry may start
};

// The longest Retry-After a pass waits out for its one retry; a longer one ends the pass (the worker
// waits it out before the next).
constexpr int kRetryInPassMaxSeconds = 10;

// How long HQ asked to wait (Retry-After, in seconds), 0 when it did not say.
int retryAfterOf(const http::Response& r) {
    std::string after = r.header("retry-after");
    return after.empty() ? 0 : std::clamp(std::atoi(after.c_str()), 0, 3600);
}

class Pass {
public:
    Pass(Store& store, const ClientOptions& opts, ProgressFn fn, const std::atomic<bool>* cancel,
         PassState& state)
        : m_store(store), m_opts(opts), m_fn(std::move(fn)), m_cancel(cancel), m_state(state) {}

    PassResult run();

private:
    Store& m_store;
    const ClientOptions& m_opts;
    ProgressFn m_fn;
    const std::atomic<bool>* m_cancel;
    PassState& m_state;
    Limits m_limits;
    SyncConfig m_cfg;
    SecretBytes m_sk;
    Bytes m_hqKey;
    std::unique_ptr<http::Client> m_net;
    PassResult m_result;
    std::map<int, Batch> m_inFlight;
    std::vector<Batch> m_retries;  // failed once for a reason on HQ's side: sent again on a new connection
    bool m_failed = false, m_stop = false;
    std::string m_message;
    int m_resyncs = 0, m_generation = 0, m_batchesStarted = 0;
    std::int64_t m_doneSent = 0, m_doneReceived = 0;
    std::chrono::steady_clock::time_point m_lastReport{};

    Progress& progress() { return m_result.progress; }
    int compressionLevel() const { return m_state.compressionLevel; }
    bool cancelled() const { return m_cancel && m_cancel->load(); }

    void report(bool force) {
        auto now = std::chrono::steady_clock::now();
        if (!force && now - m_lastReport < std::chrono::milliseconds(100)) return;
        m_lastReport = now;
        Progress& p = progress();
        p.bytesSent = m_doneSent + (m_net ? m_net->liveBytesSent() : 0);
        p.bytesReceived = m_doneReceived + (m_net ? m_net->liveBytesReceived() : 0);
        if (m_fn) m_fn(p);
    }
    void phase(core::SyncPhase name) {
        progress().phase = name;
        report(true);
    }
    // Stops the pass: no new batch, no pull. Answers already on their way are still applied.
    void fail(const std::string& message, bool offline = false) {
        if (!m_failed) {
            m_failed = true;
            m_message = message;
            m_state.offline = offline;
        }
        m_stop = true;
    }
    // A batch of n items was too large: half of it from now on, and never n again.
    void shrinkBatches(std::size_t n) {
        int half = std::max(1, static_cast<int>(n) / 2);
        m_state.batchItems = std::min(m_state.batchItems, half);
        m_state.batchCeiling = m_state.batchCeiling > 0 ? std::min(m_state.batchCeiling, half) : half;
    }
    // HQ is busy (503) or this device asked too often (429): the worker waits at least this long.
    void noteRetryAfter(const http::Response& r) { m_state.retryAfterSeconds = retryAfterOf(r); }
    // A batch that failed for a reason on HQ's side (a reset, a silence the link is not to blame for, HQ
    // busy) is sent once more in this pass, on a new connection, after wait. False when it had its retry.
    bool retryLater(Batch& b, const std::string& why, std::chrono::seconds wait) {
        if (b.retried || m_stop || cancelled()) return false;
        if (m_opts.transportLog) m_opts.transportLog("batch " + b.id + ": " + why + "; sending it again");
        b.retried = true;
        b.due = std::chrono::steady_clock::now() + wait;
        m_retries.push_back(std::move(b));
        return true;
    }
    void startDueRetries();
    // A second failure's words say there was a first.
    static std::string again(const Batch& b, const std::string& why) {
        return b.retried ? why + " (a second try on a new connection failed too)" : why;
    }
    void countTotal() {
        auto c = need(m_store.outboxCounts());
        progress().itemsTotal = progress().itemsSent + c.queued;
    }

    http::Request signedRequest(const std::string& method, const std::string& target, std::string body);
    bool startBatch(int slot);
    void onPushAnswer(Batch& b, http::Response& r);
    void onReceipt(Batch& b, const http::Response& r);
    void onRefusal(Batch& b, const http::Response& r);
    bool resync(const std::string& epoch);
    void push();
    bool pull();
    PassResult finish();
};

http::Request Pass::signedRequest(const std::string& method, const std::string& target, std::string body) {
    http::Request req;
    req.method = method;
    req.target = target;
    std::string nonce = newNonce();
    std::string sig = base64Encode(sign(m_sk.b, signingString(method, target, m_cfg.deviceId, nonce, body)));
    req.headers = {std::string(kHeaderProtocol) + ": " + std::to_string(kProtocolVersion),
                   std::string(kHeaderDevice) + ": " + m_cfg.deviceId,
                   std::string(kHeaderNonce) + ": " + nonce, std::string(kHeaderSignature) + ": " + sig,
                   "Accept-Encoding: zstd"};
    // HQ checks these to notice a restore (docs/protocol.md, "Resync after an HQ restore").
    if (!m_cfg.epoch.empty()) req.headers.push_back(std::string(kHeaderEpoch) + ": " + m_cfg.epoch);
    if (auto last = need(m_store.lastReceipt()))
        req.headers.push_back(std::string(kHeaderLastReceipt) + ": " + std::to_string(last->hqSeq) + ":" +
                              last->recordId);
    if (method == "POST") {
        req.headers.push_back("Content-Type: application/json");
        req.headers.push_back("Content-Encoding: zstd");
    }
    req.body = std::move(body);
    return req;
}

// Takes the next revisions from the outbox (none of those already in flight) and sends them on slot.
// False when the queue has nothing more to send.
bool Pass::startBatch(int slot) {
    for (;;) {
        std::vector<std::int64_t> busy;
        for (const auto& [s, b] : m_inFlight) busy.insert(busy.end(), b.seqs.begin(), b.seqs.end());
        for (const auto& b : m_retries) busy.insert(busy.end(), b.seqs.begin(), b.seqs.end());
        const Progress& p = progress();
        int take = m_state.batchItems;
        if (m_state.fastLink) {
            take = nextBatchItems(take, p.itemsTotal - p.itemsSent - static_cast<std::int64_t>(busy.size()),
                                  m_state.inFlight - static_cast<int>(m_inFlight.size()));
            if (m_batchesStarted == 0) take = std::min(take, kFirstBatchItems);
        }
        auto items = need(m_store.nextOutgoing(take, busy, false));
        if (items.empty()) return false;
        Batch b;
        b.id = core::newUuidV7();
        b.generation = m_generation;
        // The body is {"batch": ..., "items": [signed canonical envelope, ...]}: the stored payload text is
        // already canonical JSON, so each item is written once and hashed and signed from the same bytes
        // HQ will hash.
        std::string text = "{\"batch\":" + json(b.id).dump() + ",\"items\":[";
        for (auto& it : items) {
            b.seqs.push_back(it.outboxSeq);
            std::string payloadText = std::move(it.payloadText);
            Envelope e = envelopeOf(std::move(it));
            std::string canonical = e.canonicalWithPayloadText(payloadText);
            if (!b.envelopes.empty()) text += ',';
            // The sealed part (outside what is signed; its hash is inside) and the device's signature first,
            // then the canonical members.
            text += '{';
            if (!e.sealedPart.empty()) text += "\"sealed_part\":\"" + e.sealedPart + "\",";
            // Signed at finalize on an enrolled laptop; otherwise now.
            if (e.signature.empty()) e.signature = signRevision(m_sk.b, canonical);
            text += "\"sig\":" + json(e.signature).dump() + ",";
            text.append(canonical, 1, std::string::npos);
            b.envelopes.push_back({std::move(e.id), e.revision, hex(blake2b256(canonical))});
            // The batches already started travel while this one is written.
            if (b.envelopes.size() % kPumpEvery == 0) m_net->pump();
        }
        text += "]}";
        std::string body = zstdCompress(text, compressionLevel());
        if (body.size() > m_limits.maxBodyBytes) {
            if (b.envelopes.size() > 1) {
                // Smaller batches from now on; this one goes back to the queue untouched.
                shrinkBatches(b.envelopes.size());
                continue;
            }
            storage::PushOutcome o;
            o.outboxSeq = b.seqs[0];
            o.status = core::ItemStatus::Rejected;
            o.reason = "larger than HQ accepts in one request (" + std::to_string(body.size()) +
                       " bytes compressed)";
            need(m_store.applyPushOutcomes(b.id, {o}, json{{"local", o.reason}}.dump()));
            ++progress().rejected;
            continue;
        }
        b.body = body;
        m_net->start(slot, signedRequest("POST", "/v1/push", std::move(body)));
        m_net->pump();
        m_inFlight.emplace(slot, std::move(b));
        ++m_batchesStarted;
        return true;
    }
}

void Pass::onPushAnswer(Batch& b, http::Response& r) {
    m_doneSent += r.bytesSent;
    m_doneReceived += r.bytesReceived;
    if (r.transportFailed()) {
        if (r.cancelled) {
            fail("cancelled");
            return;
        }
        if (m_opts.transportLog) m_opts.transportLog(r.detail);
        if (r.retryable && retryLater(b, r.error, std::chrono::seconds(0))) return;
        need(m_store.notePushFailure(b.seqs, again(b, r.error)));
        // A stalled link gets smaller batches next time.
        if (r.timedOut && !r.retryable) m_state.batchItems = std::max(1, m_state.batchItems / 2);
        // HQ's silence over a working link is not this laptop being offline.
        fail(again(b, r.error), !r.pinMismatch && !r.tooLarge && !(r.retryable && r.timedOut));
        return;
    }
    if (r.status == 200 || r.status == 422) {
        onReceipt(b, r);
        return;
    }
    onRefusal(b, r);
}

// 200, or 422 (every item rejected): HQ's results for this batch, with its signature over the receipt.
void Pass::onReceipt(Batch& b, const http::Response& r) {
    PushResponse answer;
    std::string receipt;
    try {
        answer = PushResponse::fromJson(
            parseObject(answerText(r, m_limits.maxUncompressedBytes), m_limits.maxJsonDepth));
        if (answer.batchId != b.id) throw protocolError("the answer is for batch " + answer.batchId);
        if (answer.results.size() != b.envelopes.size())
            throw protocolError("the answer has " + std::to_string(answer.results.size()) + " results for " +
                                std::to_string(b.envelopes.size()) + " items");
        if (r.status == 422)
            for (const auto& res : answer.results)
                if (res.status != ItemStatus::Rejected)
                    throw protocolError("a 422 answer with an accepted item");
        receipt = receiptString(b.id, answer.epoch, m_cfg.deviceId, b.envelopes, answer.results);
        auto sig = base64Decode(answer.signature);
        if (!sig || !verify(m_hqKey, receipt, *sig))
            throw protocolError("HQ's signature on the receipt does not verify");
    } catch (const Failure& f) {
        std::string why = "HQ's answer (" + std::to_string(r.status) +
                          ") could not be checked: " + f.error().message +
                          " - a captive portal or a proxy may be answering instead of HQ";
        need(m_store.notePushFailure(b.seqs, why));
        fail(why);
        return;
    }
    std::vector<storage::PushOutcome> outcomes;
    outcomes.reserve(b.envelopes.size());
    Progress& p = progress();
    for (std::size_t i = 0; i < b.envelopes.size(); ++i) {
        const auto& res = answer.results[i];
        outcomes.push_back(outcomeOf(res, b.seqs[i], b.envelopes[i].hash));
        countStatus(p, res.status);
    }
    // The signed document, so a receipt can be proven later: what HQ signed, and its signature.
    json doc = {{"batch", b.id},
                {"epoch", answer.epoch},
                {"device", m_cfg.deviceId},
                {"receipt", receipt},
                {"sig", answer.signature}};
    need(m_store.applyPushOutcomes(b.id, outcomes, doc.dump()));
    p.itemsSent += static_cast<std::int64_t>(b.envelopes.size());
    if (r.status == 200) {
        const double seconds = r.transferSeconds;
        const double moved = static_cast<double>(r.bytesSent + r.bytesReceived);
        const double rate = seconds > 0 ? moved / seconds : kFastLinkBytesPerSecond;
        m_state.compressionLevel = pushCompressionLevel(rate);
        m_state.fastLink = rate >= kFastLinkBytesPerSecond;
        int limit = m_state.batchCeiling > 0 ? std::min(m_opts.maxBatchItems, m_state.batchCeiling)
                                             : m_opts.maxBatchItems;
        m_state.batchItems = std::max(1, std::min(limit, m_state.batchItems * 2));
        // One more batch on the wire when this one mostly waited for the answer (the round trip limits the
        // transfer); one fewer when it mostly moved bytes (the bandwidth does, and connections would only
        // share it).
        if (r.waitSeconds > r.transferSeconds)
            m_state.inFlight = std::min(std::max(1, m_opts.maxInFlight), m_state.inFlight + 1);
        else
            m_state.inFlight = std::max(1, m_state.inFlight - 1);
    }
    report(true);
    if (answer.epoch != m_cfg.epoch && b.generation == m_generation) resync(answer.epoch);
}

void Pass::onRefusal(Batch& b, const http::Response& r) {
    Refusal f = refusalOf(r);
    if (r.status == 409 && f.code == "epoch_changed") {
        // A batch sent before this pass's resync: its items are queued again already.
        if (b.generation != m_generation) return;
        auto it = f.body.find("epoch");
        if (it == f.body.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
            fail(describe(f) + " (without the new epoch)");
            return;
        }
        resync(it->get<std::string>());
        return;
    }
    if (r.status == 403 && f.code == "revoked") {
        need(m_store.markRevoked());
        m_result.revoked = true;
        fail("HQ revoked this device: nothing more is sent or received (" + f.message + ")");
        return;
    }
    if (r.status == 403 && f.code == "unit_mismatch") {
        std::set<std::string> named;
        if (auto it = f.body.find("items"); it != f.body.end() && it->is_array())
            for (const auto& x : *it)
                if (x.is_string()) named.insert(x.get<std::string>());
        std::vector<storage::PushOutcome> outcomes;
        for (std::size_t i = 0; i < b.envelopes.size(); ++i) {
            if (!named.count(b.envelopes[i].id)) continue;
            storage::PushOutcome o;
            o.outboxSeq = b.seqs[i];
            o.status = core::ItemStatus::Rejected;
            o.reason = "HQ says this report belongs to another unit than this device's: " + f.message;
            outcomes.push_back(std::move(o));
        }
        if (outcomes.empty()) {
            need(m_store.notePushFailure(b.seqs, describe(f)));
            fail(describe(f));
            return;
        }
        // The others were not stored either ("nothing was stored"): they stay queued for the next batch.
        progress().rejected += static_cast<std::int64_t>(outcomes.size());
        need(m_store.applyPushOutcomes(b.id, outcomes, json{{"refusal", f.body}}.dump()));
        return;
    }
    if (r.status == 413) {
        if (b.envelopes.size() > 1) {
            shrinkBatches(b.envelopes.size());
            return;  // the items are queued still; the next batches are smaller
        }
        storage::PushOutcome o;
        o.outboxSeq = b.seqs[0];
        o.status = core::ItemStatus::Rejected;
        o.reason = "too large for HQ: " + (f.message.empty() ? describe(f) : f.message);
        ++progress().rejected;
        need(m_store.applyPushOutcomes(b.id, {o}, json{{"refusal", f.body}}.dump()));
        return;
    }
    if (r.status == 426) {
        m_state.upgradeNeeded = true;
        fail(describe(f) +
             " - this laptop needs the Outpost version HQ speaks; it will not retry until upgraded");
        return;
    }
    if (r.status == 401) {
        fail(describe(f) + " - HQ does not accept this device any more: enroll it again");
        return;
    }
    if (r.status == 503) {
        const int after = retryAfterOf(r);
        if (after > 0 && after <= kRetryInPassMaxSeconds &&
            retryLater(b, describe(f), std::chrono::seconds(after)))
            return;
    }
    if (r.status == 503 || r.status == 429) noteRetryAfter(r);
    need(m_store.notePushFailure(b.seqs, again(b, describe(f))));
    fail(again(b, describe(f)));
}

// Sends again, each on a new connection, the batches whose wait is over (while slots are free). A batch
// from before a resync is dropped: the resync queued its items again.
void Pass::startDueRetries() {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = m_retries.begin(); it != m_retries.end();) {
        if (it->generation != m_generation) {
            it = m_retries.erase(it);
            continue;
        }
        const int slot = m_net->freeSlot();
        if (it->due > now || slot < 0) {
            ++it;
            continue;
        }
        http::Request req = signedRequest("POST", "/v1/push", it->body);
        req.freshConnection = true;
        m_net->start(slot, std::move(req));
        m_inFlight.emplace(slot, std::move(*it));
        it = m_retries.erase(it);
    }
}

// HQ was restored: put back in the queue what it acknowledged, start the feed again, carry on.
bool Pass::resync(const std::string& epoch) {
    if (m_resyncs >= kMaxResyncsPerPass) {
        fail("HQ asked for a resync again after " + std::to_string(m_resyncs) +
             " in this pass; trying later");
        return false;
    }
    need(m_store.beginResync(epoch));
    ++m_resyncs;
    ++m_generation;
    m_result.resynced = true;
    auto cfg = need(m_store.syncConfig());
    if (!cfg)
        throw Failure(ErrorDomain::State, ErrorCode::Conflict, "the enrollment went away during a resync");
    m_cfg = *cfg;
    countTotal();
    report(true);
    return true;
}

void Pass::push() {
    phase(core::SyncPhase::Pushing);
    for (;;) {
        if (cancelled()) fail("cancelled");
        // A pass that stopped sends nothing more: what waited for a retry stays queued for the next pass.
        if (m_stop) m_retries.clear();
        startDueRetries();
        while (!m_stop && static_cast<int>(m_inFlight.size()) < m_state.inFlight) {
            int slot = m_net->freeSlot();
            if (slot < 0 || !startBatch(slot)) break;
        }
        if (m_inFlight.empty() && m_retries.empty()) return;
        if (m_inFlight.empty()) {
            // Only retries waiting out a Retry-After: sleep until the first is due (cancel still seen).
            auto due =
                std::min_element(m_retries.begin(), m_retries.end(), [](const Batch& a, const Batch& b) {
                    return a.due < b.due;
                })->due;
            const auto wait = std::min<std::chrono::steady_clock::duration>(
                due - std::chrono::steady_clock::now(), std::chrono::milliseconds(100));
            if (wait > std::chrono::steady_clock::duration::zero()) std::this_thread::sleep_for(wait);
            report(false);
            continue;
        }
        for (auto& [slot, r] : m_net->poll(100)) {
            auto it = m_inFlight.find(slot);
            if (it == m_inFlight.end()) continue;
            Batch b = std::move(it->second);
            m_inFlight.erase(it);
            onPushAnswer(b, r);
        }
        report(false);
    }
}

// Pages of HQ's feed until it has no more. True when HQ asked for a resync meanwhile (what was
// re-queued must be pushed before the feed is read again from its start).
bool Pass::pull() {
    phase(core::SyncPhase::Pulling);
    const int page = std::clamp(m_opts.pullPageSize, 1, static_cast<int>(m_limits.maxPullPage));
    while (!m_stop) {
        if (cancelled()) {
            fail("cancelled");
            return false;
        }
        const std::int64_t cursor = m_cfg.pullCursor;
        std::string target = "/v1/pull?after=" + std::to_string(cursor) + "&limit=" + std::to_string(page);
        // The entry's identity too: HQ tells a restored feed that handed the number out again (409).
        if (cursor > 0 && !m_cfg.pullCursorAt.empty()) target += "&at=" + m_cfg.pullCursorAt;
        http::Response r = m_net->perform(signedRequest("GET", target, {}));
        m_doneSent += r.bytesSent;
        m_doneReceived += r.bytesReceived;
        // One retry on a new connection when HQ's side failed (as for a push batch).
        const int after = r.status == 503 ? retryAfterOf(r) : 0;
        if ((r.transportFailed() && r.retryable) || (after > 0 && after <= kRetryInPassMaxSeconds)) {
            if (m_opts.transportLog)
                m_opts.transportLog("pull: " + (r.transportFailed() ? r.error : describe(refusalOf(r))) +
                                    "; asking again");
            const auto due = std::chrono::steady_clock::now() + std::chrono::seconds(after);
            while (!cancelled() && std::chrono::steady_clock::now() < due)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            if (cancelled()) {
                fail("cancelled");
                return false;
            }
            http::Request again = signedRequest("GET", target, {});
            again.freshConnection = true;
            r = m_net->perform(std::move(again));
            m_doneSent += r.bytesSent;
            m_doneReceived += r.bytesReceived;
            if (r.transportFailed() && !r.cancelled)
                r.error += " (a second try on a new connection failed too)";
        }
        if (r.transportFailed()) {
            if (!r.cancelled && m_opts.transportLog) m_opts.transportLog(r.detail);
            fail(r.cancelled ? "cancelled" : r.error,
                 !r.cancelled && !r.pinMismatch && !r.tooLarge && !(r.retryable && r.timedOut));
            return false;
        }
        if (r.status != 200) {
            Refusal f = refusalOf(r);
            if (r.status == 409 && f.code == "epoch_changed") {
                auto it = f.body.find("epoch");
                if (it == f.body.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
                    fail(describe(f) + " (without the new epoch)");
                    return false;
                }
                return resync(it->get<std::string>());
            }
            if (r.status == 403 && f.code == "revoked") {
                need(m_store.markRevoked());
                m_result.revoked = true;
                fail("HQ revoked this device: nothing more is sent or received (" + f.message + ")");
                return false;
            }
            if (r.status == 426) m_state.upgradeNeeded = true;
            if (r.status == 503 || r.status == 429) noteRetryAfter(r);
            fail(describe(f));
            return false;
        }
        PullResponse answer;
        try {
            answer = PullResponse::fromJson(
                parseObject(answerText(r, m_limits.maxUncompressedBytes), m_limits.maxJsonDepth));
            if (answer.next < cursor) throw protocolError("the feed's cursor went back");
        } catch (const Failure& f) {
            fail("HQ's answer to a pull could not be checked: " + f.error().message +
                 " - a captive portal or a proxy may be answering instead of HQ");
            return false;
        }
        if (answer.epoch != m_cfg.epoch) return resync(answer.epoch);
        std::vector<storage::PulledEntry> entries;
        entries.reserve(answer.items.size());
        for (auto& it : answer.items) entries.push_back({it.seq, std::move(it.kind), std::move(it.body)});
        auto applied = m_store.applyPull(entries, answer.next, answer.at);
        if (!applied) {
            const auto& e = applied.error();
            if (e.domain == ErrorDomain::Storage) throw Failure(e);
            fail("a page of HQ's feed could not be applied: " + e.message);
            return false;
        }
        m_cfg.pullCursor = answer.next;
        m_cfg.pullCursorAt = answer.at;
        progress().pulled += static_cast<std::int64_t>(entries.size());
        report(true);
        if (!answer.more) return false;
        if (answer.next == cursor) {
            fail("HQ's feed says there is more but does not move forward");
            return false;
        }
    }
    return false;
}

PassResult Pass::finish() {
    Progress& p = progress();
    m_result.ok = !m_failed;
    p.message = m_message;
    p.phase = m_result.ok ? core::SyncPhase::Done
                          : (m_state.offline ? core::SyncPhase::Offline : core::SyncPhase::Failed);
    if (m_result.ok)
        need(m_store.setSyncStatus(core::nowTimestamp().utc, ""));
    else if (!m_result.revoked)
        need(m_store.setSyncStatus("", m_message));
    report(true);
    return m_result;
}

PassResult Pass::run() {
    m_state.offline = false;
    m_state.upgradeNeeded = false;
    m_state.retryAfterSeconds = 0;
    m_state.batchItems = std::clamp(m_state.batchItems > 0 ? m_state.batchItems : m_opts.initialBatchItems, 1,
                                    std::max(1, m_opts.maxBatchItems));
    m_state.inFlight = std::clamp(m_opts.initialInFlight, 1, std::max(1, m_opts.maxInFlight));
    auto cfg = need(m_store.syncConfig());
    if (!cfg)
        throw Failure(ErrorDomain::NotFound, ErrorCode::NotFound,
                      "this laptop is not enrolled with HQ (run 'outpostctl enroll')");
    m_cfg = *cfg;
    if (m_cfg.revoked) {
        m_result.revoked = true;
        fail("HQ revoked this device: nothing more is sent or received (enroll it again with a new code)");
        return finish();
    }
    m_sk.b = need(m_store.deviceSecretKey());
    auto hqKey = base64Decode(m_cfg.hqSignKey);
    if (!hqKey || hqKey->size() != 32)
        throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                      "HQ's signing key in the enrollment is damaged");
    m_hqKey = *hqKey;
    std::string url;
    try {
        url = checkHqUrl(m_cfg.hqUrl, m_opts.allowInsecureHttp);
    } catch (const Failure& f) {
        fail(f.error().message);
        return finish();
    }
    m_net = std::make_unique<http::Client>(transportOptions(url, m_cfg.pin, m_opts, m_cancel),
                                           std::max(1, m_opts.maxInFlight));
    phase(core::SyncPhase::Connecting);
    countTotal();
    for (;;) {
        const std::int64_t waiting = need(m_store.waitingSealedCount());
        push();
        if (m_stop) break;
        const bool resynced = pull();
        if (m_stop) break;
        if (resynced) continue;
        // Sensitive sections that the conduct keys just pulled have sealed go in this pass too.
        if (waiting > 0 && need(m_store.waitingSealedCount()) < waiting) push();
        break;
    }
    return finish();
}

Result<PassResult> runPass(Store& store, const ClientOptions& opts, ProgressFn fn,
                           const std::atomic<bool>* cancel, PassState& state) {
    return tryCatch([&]() -> PassResult {
        Pass pass(store, opts, std::move(fn), cancel, state);
        return pass.run();
    });
}

}  // namespace

Result<PassResult> syncOnce(Store& store, const ClientOptions& opts, ProgressFn progress,
                            const std::atomic<bool>* cancel) {
    PassState state;
    return runPass(store, opts, std::move(progress), cancel, state);
}

// [SECTION] background worker
namespace {
constexpr auto kFirstBackoff = std::chrono::seconds(5);
constexpr auto kMaxBackoff = std::chrono::minutes(15);
constexpr auto kIdlePass = std::chrono::minutes(15);  // a pass now and then for HQ's forms and feedback
constexpr auto kQueueLook = std::chrono::seconds(5);  // how often an idle worker looks for new reports
}  // namespace

struct SyncWorker::Impl {
    std::string dir;
    storage::DataKey key;
    ClientOptions opts;
    std::string account;  // whose passes these are (the audit log names them); empty: the first account

    mutable std::mutex mu;
    std::condition_variable cv;
    std::thread thread;
    bool started = false, stopping = false, poked = false, inPass = false;
    std::atomic<bool> cancel{false};
    Progress progress;
    std::string outcome;
    std::chrono::system_clock::time_point next{};

    enum class Mode { Now, Idle, Backoff, Parked };

    Impl(std::string d, storage::DataKey k, ClientOptions o, std::string a)
        : dir(std::move(d)), key(std::move(k)), opts(std::move(o)), account(std::move(a)) {}

    // Waits for the next pass; false when stopping. Idle: looks at the queue every few seconds.
    bool waitTurn(Mode mode, Store* store) {
        std::unique_lock lk(mu);
        for (;;) {
            if (stopping) return false;
            if (poked || mode == Mode::Now) {
                poked = false;
                return true;
            }
            auto now = std::chrono::system_clock::now();
            if (mode != Mode::Parked && now >= next) return true;
            auto until = mode == Mode::Parked ? now + std::chrono::hours(24) : next;
            if (mode == Mode::Idle) until = std::min(until, now + kQueueLook);
            cv.wait_until(lk, until);
            if (mode == Mode::Idle && store && !stopping && !poked) {
                lk.unlock();
                auto c = store->outboxCounts();
                lk.lock();
                if (c && c->queued > 0) return true;
            }
        }
    }

    void finishPass(const std::string& result, std::chrono::system_clock::time_point nextAt) {
        std::lock_guard lk(mu);
        outcome = result;
        next = nextAt;
        inPass = false;
    }

    void run() {
        std::unique_ptr<Store> store;
        PassState state;
        std::mt19937_64 rng{std::random_device{}()};
        int failures = 0;
        Mode mode = Mode::Now;
        auto backoff = [&](int retryAfterSeconds) {
            ++failures;
            auto base = kFirstBackoff * (1LL << std::min(failures - 1, 20));
            auto capped = std::min<std::chrono::milliseconds>(base, kMaxBackoff);
            double jitter = std::uniform_real_distribution<double>(0.5, 1.5)(rng);
            auto delay = std::chrono::milliseconds(
                static_cast<std::int64_t>(static_cast<double>(capped.count()) * jitter));
            delay = std::max<std::chrono::milliseconds>(delay, std::chrono::seconds(retryAfterSeconds));
            mode = Mode::Backoff;
            return std::chrono::system_clock::now() + delay;
        };
        for (;;) {
            if (!waitTurn(mode, store.get())) return;
            {
                std::lock_guard lk(mu);
                inPass = true;
            }
            if (!store) {
                storage::StoreOptions so;
                so.account = account;
                auto s = Store::open(dir, key, so);
                if (!s) {
                    finishPass("failed: " + s.error().message, backoff(0));
                    continue;
                }
                store = std::move(s).value();
            }
            auto r = runPass(
                *store, opts,
                [this](const Progress& p) {
                    std::lock_guard lk(mu);
                    progress = p;
                },
                &cancel, state);
            if (!r) {
                if (r.error().code == ErrorCode::NotFound) {
                    mode = Mode::Parked;  // not enrolled: nothing to do until poked after an enrollment
                    finishPass("failed: " + r.error().message, std::chrono::system_clock::time_point::max());
                } else {
                    finishPass("failed: " + r.error().message, backoff(0));
                }
                continue;
            }
            {
                std::lock_guard lk(mu);
                progress = r->progress;
            }
            if (r->ok) {
                failures = 0;
                mode = Mode::Idle;
                finishPass("ok", std::chrono::system_clock::now() + kIdlePass);
            } else if (r->revoked || state.upgradeNeeded) {
                mode = Mode::Parked;
                finishPass(r->revoked ? "revoked" : "failed: " + r->progress.message,
                           std::chrono::system_clock::time_point::max());
            } else if (cancel.load()) {
                finishPass("failed: cancelled", std::chrono::system_clock::now());
            } else {
                finishPass(state.offline ? "offline" : "failed: " + r->progress.message,
                           backoff(state.retryAfterSeconds));
            }
        }
    }
};

SyncWorker::SyncWorker(std::string storeDir, storage::DataKey key, ClientOptions opts, std::string account)
    : m_impl(
          std::make_unique<Impl>(std::move(storeDir), std::move(key), std::move(opts), std::move(account))) {}

SyncWorker::~SyncWorker() {
    stop();
}

void SyncWorker::start() {
    std::lock_guard lk(m_impl->mu);
    if (m_impl->started) return;
    m_impl->started = true;
    m_impl->stopping = false;
    m_impl->cancel = false;
    m_impl->thread = std::thread([impl = m_impl.get()] { impl->run(); });
}

void SyncWorker::stop() {
    {
        std::lock_guard lk(m_impl->mu);
        if (!m_impl->started) return;
        m_impl->stopping = true;
    }
    m_impl->cancel = true;  // a transfer in progress stops within a tenth of a second
    m_impl->cv.notify_all();
    if (m_impl->thread.joinable()) m_impl->thread.join();
    std::lock_guard lk(m_impl->mu);
    m_impl->started = false;
    m_impl->inPass = false;
}

void SyncWorker::poke() {
    {
        std::lock_guard lk(m_impl->mu);
        m_impl->poked = true;
    }
    m_impl->cv.notify_all();
}

Progress SyncWorker::progress() const {
    std::lock_guard lk(m_impl->mu);
    return m_impl->progress;
}

bool SyncWorker::running() const {
    std::lock_guard lk(m_impl->mu);
    return m_impl->inPass;
}

std::string SyncWorker::lastOutcome() const {
    std::lock_guard lk(m_impl->mu);
    return m_impl->outcome;
}

std::chrono::system_clock::time_point SyncWorker::nextAttempt() const {
    std::lock_guard lk(m_impl->mu);
    return m_impl->next;
}

}  // namespace outpost::sync
