// HQ's protocol handlers (docs/protocol.md): hello, enroll, push and pull, over any transport; and the
// health check a load balancer asks (docs/operations.md, "Health checks").
//
// [SECTION] errors and answers
// [SECTION] body decoding: encodings, sizes, zstd, JSON
// [SECTION] the stores and the form catalog
// [SECTION] authentication and resync checks
// [SECTION] handlers
// [SECTION] HqService
#include "hq/service.hpp"
#include "hq/health.hpp"
#include "hq/helper_pool.hpp"
#include "hq/memory_budget.hpp"
#include "hq/rate_limiter.hpp"
#include "hq/store_pool.hpp"
#include "hq/tuning.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/builtin.hpp"
#include "core/formats.hpp"
#include "core/sensitive.hpp"
#include "core/time.hpp"
#include "core/validate.hpp"
#include "storage/sealed.hpp"

namespace outpost::hq {

using namespace outpost::sync;

namespace hqs = storage::hq;

// [SECTION] errors and answers
namespace {

// How long a client should wait before retrying after a 503.
constexpr int kRetryAfterSeconds = 30;
constexpr int kRetryAfterBusySeconds = 5;
// A rejection reason longer than this is cut (the client shows it to a person).
constexpr std::size_t kMaxReasonBytes = 2000;
constexpr std::size_t kMaxDeviceNameBytes = 200;
constexpr int kDefaultPullPage = 500;

// A request that fails: becomes the documented JSON error body. Thrown inside the handlers only.
struct HttpError {
    int status = 500;
    std::string code;
    std::string message;
    json extra = json::object();  // more members next to "error" (epoch, items, results ...)
    int retryAfter = 0;
};

[[noreturn]] void failWith(int status, std::string code, std::string message, json extra = json::object()) {
    throw HttpError{status, std::move(code), std::move(message), std::move(extra), 0};
}

Response jsonAnswer(int status, const json& body) {
    Response r;
    r.status = status;
    r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
}

Response errorAnswer(const HttpError& e) {
    json body = errorBody(e.code, e.message);
    for (auto it = e.extra.begin(); it != e.extra.end(); ++it) body[it.key()] = it.value();
    Response r = jsonAnswer(e.status, body);
    if (e.retryAfter > 0) r.headers["Retry-After"] = std::to_string(e.retryAfter);
    return r;
}

bool containsNoCase(std::string_view haystack, std::string_view needle) {
    auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
    });
    return it != haystack.end();
}

std::string trim(std::string s) {
    auto notSpace = [](unsigned char c) { return !std::isspace(c); };
    s.erase(s.begin(), std::find_if(s.begin(), s.end(), notSpace));
    s.erase(std::find_if(s.rbegin(), s.rend(), notSpace).base(), s.end());
    return s;
}

// A push or pull answer, zstd-compressed when the client said it accepts zstd.
Response dataAnswer(const Request& req, int status, const json& body) {
    Response r = jsonAnswer(status, body);
    if (containsNoCase(req.header("accept-encoding"), "zstd")) {
        r.body = zstdCompress(r.body, 3);
        r.headers["Content-Encoding"] = "zstd";
    }
    return r;
}

// [SECTION] body decoding: encodings, sizes, zstd, JSON

// The reservation of the request this thread handles (HqService::handle and handleBundle make it, and
// keep it until the answer is made): what the request's body takes, decompressed and parsed, is counted
// in it.
thread_local MemoryBudget::Reservation* tl_requestMemory = nullptr;

[[noreturn]] void memoryRefused(Inflated::Problem why) {
    const MemoryBudget& budget = tl_requestMemory->budget();
    const std::string mib = std::to_string(budget.capacity() >> 20) + " MiB";
    if (why == Inflated::Problem::NeverFits)
        failWith(413, "too_large",
                 "the body needs more than HQ's whole request memory budget (" + mib +
                     ") once decompressed and parsed; send fewer items at once");
    throw HttpError{503, "unavailable",
                    "HQ's request memory budget (" + mib +
                        " for the bodies of all requests at once) stayed full for " +
                        std::to_string(budget.maxWait().count()) + " ms; retry later",
                    json::object(), tuning::kRequestMemoryRetryAfterSeconds};
}

// Counts n more bytes in this request's reservation, or answers 503 (the budget stays full) or 413 (it
// could never hold them).
void reserveRequestMemory(std::size_t n) {
    if (!tl_requestMemory) failWith(500, "internal", "HQ handles a request without a memory reservation");
    if (tl_requestMemory->grow(n)) return;
    memoryRefused(tl_requestMemory->bytes() + n > tl_requestMemory->budget().capacity()
                      ? Inflated::Problem::NeverFits
                      : Inflated::Problem::OverBudget);
}

// One zstd frame into at most maxOut bytes, within the request's memory budget as it comes out (see
// inflateWithin). Tells a body that is too big once decompressed (413) from one that is damaged (400) -
// a "zip bomb" stops at maxOut bytes of output, or earlier when the budget is full.
std::string inflateBody(std::string_view frame, std::size_t maxOut) {
    if (!tl_requestMemory) failWith(500, "internal", "HQ handles a request without a memory reservation");
    Inflated r = inflateWithin(frame, maxOut, *tl_requestMemory);
    using P = Inflated::Problem;
    switch (r.problem) {
        case P::None:
            return std::move(r.text);
        case P::NotZstd:
            if (frame.empty()) failWith(400, "bad_encoding", "the body is empty; a zstd frame was expected");
            failWith(400, "bad_encoding", "the body is not a zstd frame (Content-Encoding: zstd)");
        case P::DeclaredTooLarge:
            failWith(413, "too_large",
                     "the body would be " + std::to_string(r.declared) +
                         " bytes once decompressed; the limit is " + std::to_string(maxOut));
        case P::TooLarge:
            failWith(413, "too_large",
                     "the body is larger than " + std::to_string(maxOut) + " bytes once decompressed");
        case P::Damaged:
            failWith(400, "bad_encoding", "the zstd frame is damaged: " + r.detail);
        case P::Truncated:
            failWith(400, "bad_encoding", "the zstd frame is truncated");
        case P::OverBudget:
        case P::NeverFits:
            memoryRefused(r.problem);
    }
    failWith(500, "internal", "HQ's decompression ended in an unknown state");
}

// The request body as JSON text: the encoding checked (identity or zstd), sizes within limits. Every
// caller parses the text: what parsing it will take is counted in the request's reservation here, with
// the text, before anything is parsed.
std::string bodyText(const Request& req, const Limits& limits) {
    std::string enc = trim(req.header("content-encoding"));
    std::transform(enc.begin(), enc.end(), enc.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string text;
    if (enc.empty() || enc == "identity") {
        if (req.body.size() > limits.maxUncompressedBytes)
            failWith(413, "too_large",
                     "the body is larger than " + std::to_string(limits.maxUncompressedBytes));
        reserveRequestMemory(req.body.size() + 1);  // the copy below
        text = req.body;
    } else if (enc == "zstd") {
        text = inflateBody(req.body, limits.maxUncompressedBytes);
    } else {
        failWith(415, "unsupported_encoding", "Content-Encoding '" + enc + "' is not supported; send zstd");
    }
    reserveRequestMemory(jsonParseCost(text));
    return text;
}

json parseBody(std::string_view text, const Limits& limits) {
    if (nestedDeeperThan(text, limits.maxJsonDepth))
        failWith(400, "too_deep",
                 "the JSON is nested deeper than " + std::to_string(limits.maxJsonDepth) + " levels");
    try {
        return parseObject(text, limits.maxJsonDepth);
    } catch (const Failure& f) {
        failWith(400, "malformed", f.error().message);
    }
}

std::string utcNow() {
    return core::nowTimestamp().utc;
}

// Why a revision's sensitive section is not acceptable, or "" (docs/protocol.md, "Sealed parts"): no
// sensitive value may arrive in the clear, and a sealed part must be one and match the signed hash.
std::string sealedProblem(const core::FormDef& form, const Envelope& e) {
    if (auto clear = core::sensitivePathsWithValues(form, e.payload); !clear.empty()) {
        std::string names;
        for (const auto& p : clear) names += (names.empty() ? "" : ", ") + p;
        return "sensitive field(s) " + names +
               " arrived in the clear; they must be sealed to HQ's conduct keys";
    }
    if (!e.sealedHash.empty() && !form.hasSensitiveFields())
        return e.formId + " v" + std::to_string(e.formVersion) + " has no sensitive section to seal";
    if (e.sealedPart.empty()) return {};
    auto bytes = base64Decode(e.sealedPart);
    if (!bytes) return "the sealed part is not base64";
    if (hex(blake2b256(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()))) !=
        e.sealedHash)
        return "the sealed part does not match the signed hash in \"sealed\"";
    try {
        (void)storage::sealedRecipients(*bytes);
    } catch (const Failure& f) {
        return "the sealed part is malformed: " + f.error().message;
    }
    return {};
}

// "readiness v3 does not validate at HQ: a: required: ...; b: max: ..." from a validation's errors.
std::string validationReason(const Envelope& e, const core::ValidationResult& v) {
    std::string reason = e.formId + " v" + std::to_string(e.formVersion) + " does not validate at HQ: ";
    bool first = true;
    for (const auto& issue : v.issues) {
        if (issue.warning) continue;
        if (!first) reason += "; ";
        reason += issue.text();
        first = false;
        if (reason.size() > kMaxReasonBytes) break;
    }
    if (reason.size() > kMaxReasonBytes) {
        reason.resize(kMaxReasonBytes);
        // Do not leave half a UTF-8 character at the cut.
        while (!reason.empty() && (static_cast<unsigned char>(reason.back()) & 0xC0) == 0x80)
            reason.pop_back();
        if (!reason.empty() && (static_cast<unsigned char>(reason.back()) & 0x80)) reason.pop_back();
        reason += "...";
    }
    return reason;
}

std::optional<std::int64_t> parseInt64(std::string_view s) {
    std::int64_t v = 0;
    if (s.empty()) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// The value of name in a query string ("after=12&limit=500"); nullopt when absent.
std::optional<std::string> queryValue(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view part = query.substr(0, amp);
        auto eq = part.find('=');
        if (part.substr(0, eq) == name)
            return std::string(eq == std::string_view::npos ? "" : part.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

}  // namespace

// [SECTION] the stores and the form catalog

// What HQ validates against: its current reference data and every form version it knows. Rebuilt
// when the store's feed head moves (every form or reference push appends to the feed), so several
// HQ processes sharing one PostgreSQL database all see a push at their next request.
struct Catalog {
    std::int64_t feedHead = -1;
    std::shared_ptr<const core::ReferenceData> reference;
    core::FormRegistry forms;
    // The forms with a sensitive section as HQ validates them: the section arrives sealed, so its
    // fields are not required here (the laptop checked them before sealing).
    core::FormRegistry sealedRules;
    void add(core::FormDef f) {
        if (f.hasSensitiveFields())
            sealedRules.add(std::make_shared<const core::FormDef>(core::withSealedSection(f)));
        forms.add(std::make_shared<const core::FormDef>(std::move(f)));
    }
};

struct HqService::Impl {
    StorePool::Opener openStore;
    HqIdentity identity;
    Limits limits;

    // The stores the requests borrow (hq/store_pool.hpp), made with the identity.
    std::unique_ptr<StorePool> pool;
    // Whether this process is storing a push (tuning::kIngestGateWait), and the wait for its turn.
    std::mutex ingestMutex;
    std::condition_variable ingestFree;
    bool ingesting = false;
    // Whether the database answers, for GET /v1/health (its own store, not the pool's).
    std::unique_ptr<DatabaseProbe> probe;

    std::mutex catalogMutex;
    std::shared_ptr<const Catalog> catalog;

    HelperPool helpers{defaultHelperThreads()};

    // What the requests' bodies may hold at once, decompressed and parsed (hq/memory_budget.hpp).
    std::shared_ptr<MemoryBudget> memory =
        std::make_shared<MemoryBudget>(tuning::kRequestMemoryBudgetBytes, tuning::kRequestMemoryWait);

    // Per-device token buckets (Limits::deviceRequestsPerSecond), made with the limits.
    std::unique_ptr<DeviceRateLimiter> rateLimiter;
    void takeToken(const std::string& deviceId);
    // Enrollment attempts per network address (hq/tuning.hpp, "enrollment throttle").
    DeviceRateLimiter enrollThrottle{tuning::kEnrollAttemptsPerSecond, tuning::kEnrollBurst,
                                     tuning::kEnrollAddresses};
    void takeEnrollToken(const std::string& address);

    hqs::HqStore& store();
    void dropStore();
    template <typename T>
    T need(Result<T> r);
    void need(Result<void> r);
    [[noreturn]] void storageFailure(const Error& e);
    std::shared_ptr<const Catalog> currentCatalog(hqs::HqStore& s);

    // fromBundle: the request came in a store-and-forward bundle, where a nonce used before is no replay.
    hqs::Device authenticate(const Request& req, hqs::HqStore& s, bool fromBundle);
    std::string checkResync(const Request& req, hqs::HqStore& s, const hqs::Device& device);

    Response hello(const Request& req);
    Response health(const Request& req);
    Response enroll(const Request& req);
    Response push(const Request& req, bool fromBundle);
    Response pull(const Request& req, bool fromBundle);
    Response route(const Request& req, bool fromBundle);
};

hqs::HqStore& HqService::Impl::store() {
    auto s = pool->current();
    if (!s) storageFailure(s.error());
    return **s;
}

// Forgets this request's store after an I/O failure: the next request opens a fresh one.
void HqService::Impl::dropStore() {
    pool->dropCurrent();
}

void HqService::Impl::storageFailure(const Error& e) {
    switch (e.code) {
        case ErrorCode::DiskFull:
        case ErrorCode::Io:
        case ErrorCode::Busy:
        case ErrorCode::Corrupt: {
            if (e.code == ErrorCode::Io) dropStore();
            HttpError h{503, "unavailable", "HQ cannot store or read data right now: " + e.message,
                        json::object(),
                        e.code == ErrorCode::Busy ? kRetryAfterBusySeconds : kRetryAfterSeconds};
            throw h;
        }
        case ErrorCode::BadInput:
        case ErrorCode::Invalid:
            // Text the store refuses to keep (a NUL character, invalid UTF-8) reached it from the request.
            failWith(400, "malformed", "HQ cannot keep this request: " + e.message);
        default:
            failWith(500, "internal", "HQ failed: " + e.message);
    }
}

template <typename T>
T HqService::Impl::need(Result<T> r) {
    if (!r) storageFailure(r.error());
    return std::move(r).value();
}

void HqService::Impl::need(Result<void> r) {
    if (!r) storageFailure(r.error());
}

std::shared_ptr<const Catalog> HqService::Impl::currentCatalog(hqs::HqStore& s) {
    const auto heads = need(s.heads());
    {
        std::lock_guard lock(catalogMutex);
        if (catalog && catalog->feedHead == heads.feed) return catalog;
    }
    auto c = std::make_shared<Catalog>();
    c->feedHead = heads.feed;
    if (auto doc = need(s.reference())) {
        auto parsed = core::ReferenceData::fromJson(*doc);
        // `reference push` checked it; a document that no longer loads falls back to the demo data.
        if (parsed) c->reference = std::make_shared<const core::ReferenceData>(std::move(parsed).value());
    }
    if (!c->reference)
        c->reference = std::shared_ptr<const core::ReferenceData>(&core::ReferenceData::demo(), [](auto*) {});
    // Built-in forms one by one: a reference document that breaks one of them leaves the others usable.
    for (auto source : core::builtinFormSources())
        if (auto f = core::parseFormDefText(source, *c->reference)) c->add(std::move(f).value());
    for (const auto& def : need(s.forms()))
        if (auto f = core::parseFormDef(def, *c->reference)) c->add(std::move(f).value());
    std::lock_guard lock(catalogMutex);
    catalog = c;
    return c;
}

// [SECTION] authentication and resync checks

// The documented order: the device exists (401), is not revoked (403), the signature verifies (401),
// the nonce is new (409). A bundle's request records its nonce too, but may find it used: importing the
// same bundle again is harmless (the batch id returns the recorded results; a pull changes nothing).
hqs::Device HqService::Impl::authenticate(const Request& req, hqs::HqStore& s, bool fromBundle) {
    const std::string deviceId = req.header("outpost-device");
    const std::string nonce = req.header("outpost-nonce");
    const std::string signature = req.header("outpost-signature");
    if (deviceId.empty()) failWith(401, "unknown_device", "the request names no device (Outpost-Device)");
    if (deviceId.size() > 128) failWith(401, "unknown_device", "HQ knows no such device");
    auto device = need(s.device(deviceId));
    if (!device) failWith(401, "unknown_device", "HQ knows no device '" + deviceId + "'");
    if (device->revoked) failWith(403, "revoked", "device '" + deviceId + "' was revoked by HQ");
    auto publicKey = base64Decode(device->publicKey);
    auto sig = base64Decode(signature);
    if (signature.empty() || !publicKey || !sig ||
        !verify(*publicKey, signingString(req.method, req.target, deviceId, nonce, req.body), *sig))
        failWith(401, "bad_signature",
                 "the request's signature does not verify with device '" + deviceId + "''s key");
    if (!isNonce(nonce))
        failWith(400, "malformed",
                 "Outpost-Nonce must be 16 bytes in base64url without padding (22 characters)");
    // A bundle's requests were made long ago and arrive together: only the network's are rate-limited.
    if (!fromBundle) takeToken(deviceId);
    if (!need(s.useNonce(deviceId, nonce)) && !fromBundle)
        failWith(409, "replayed", "this request's nonce was used before; a retry needs a new nonce");
    return *device;
}

void HqService::Impl::takeToken(const std::string& deviceId) {
    const auto wait = rateLimiter->take(deviceId);
    if (!wait) return;
    const double burst = rateLimiter->burst();
    HttpError e{429, "rate_limited",
                "device '" + deviceId + "' sent more than " + std::to_string(static_cast<int>(burst)) +
                    " requests in a burst (" +
                    std::to_string(static_cast<int>(limits.deviceRequestsPerSecond)) +
                    " per second allowed); retry later",
                json::object(), std::max(1, static_cast<int>(std::ceil(*wait)))};
    e.extra["retry_after"] = e.retryAfter;
    throw e;
}

// What the enrollment throttle counts by: an IPv4 address whole, an IPv6 address by its /64 (a host
// usually holds a whole /64).
namespace {
std::string throttleKey(const std::string& address) {
    unsigned char v6[16];
    if (address.find(':') == std::string::npos || inet_pton(AF_INET6, address.c_str(), v6) != 1)
        return address;
    if (std::all_of(v6, v6 + 10, [](unsigned char b) { return b == 0; }) && v6[10] == 0xff && v6[11] == 0xff)
        return address.substr(address.rfind(':') + 1);  // an IPv4 address written as IPv6
    return hex(Bytes(v6, v6 + 8)) + "/64";
}
}  // namespace

void HqService::Impl::takeEnrollToken(const std::string& address) {
    // A request no network carried (in-process, from a test harness or a tool) has no address to count.
    if (address.empty()) return;
    const auto wait = enrollThrottle.take(throttleKey(address));
    if (!wait) return;
    HttpError e{429, "rate_limited",
                "too many enrollment attempts from this address (" +
                    std::to_string(static_cast<int>(tuning::kEnrollBurst)) + " at once, then " +
                    std::to_string(static_cast<int>(tuning::kEnrollAttemptsPerSecond * 60 + 0.5)) +
                    " a minute); retry later",
                json::object(), std::max(1, static_cast<int>(std::ceil(*wait)))};
    e.extra["retry_after"] = e.retryAfter;
    throw e;
}

// HQ's epoch, after checking the device's view of it: a different epoch, or a last receipt for a
// report HQ does not hold, means HQ was restored and the device must resync.
std::string HqService::Impl::checkResync(const Request& req, hqs::HqStore& s, const hqs::Device& device) {
    const std::string epoch = need(s.epoch());
    const std::string claimed = trim(req.header("outpost-epoch"));
    if (!claimed.empty() && claimed != epoch)
        failWith(409, "epoch_changed", "HQ's data was restored from a backup (epoch " + epoch + "); resync",
                 json{{"epoch", epoch}});
    const std::string last = trim(req.header("outpost-last-receipt"));
    if (!last.empty()) {
        auto colon = last.find(':');
        auto seq = parseInt64(std::string_view(last).substr(0, colon));
        if (colon == std::string::npos || !seq || *seq <= 0 || colon + 1 >= last.size())
            failWith(400, "malformed", "Outpost-Last-Receipt must be <hq seq>:<record id>");
        // Only the device's own unit's reports count: a receipt is never an oracle for another unit's.
        if (!need(s.hasReport(*seq, last.substr(colon + 1), device.unitId)))
            failWith(
                409, "epoch_changed",
                "HQ no longer holds report " + std::to_string(*seq) + " (restored from a backup); resync",
                json{{"epoch", epoch}});
    }
    return epoch;
}

// [SECTION] handlers

namespace {

// Where a field that is not multiline text holds a tab or a line break (docs/protocol.md, "Member
// formats": only multiline fields may), as "<where>.payload.<field>: ..."; "" when none does.
std::string lineBreakProblem(const std::vector<core::FieldDef>& fields, const json& values,
                             const std::string& where) {
    if (!values.is_object()) return {};
    for (const auto& f : fields) {
        auto it = values.find(f.name);
        if (it == values.end()) continue;
        const std::string path = where + "." + f.name;
        if (f.type == core::FieldType::Repeat && it->is_array()) {
            for (std::size_t i = 0; i < it->size(); ++i)
                if (auto p = lineBreakProblem(f.fields, (*it)[i], path + "[" + std::to_string(i) + "]");
                    !p.empty())
                    return p;
            continue;
        }
        if (f.type == core::FieldType::Multiline) continue;
        auto breaks = [](const json& v) {
            return v.is_string() &&
                   v.get_ref<const std::string&>().find_first_of("\t\n") != std::string::npos;
        };
        bool bad = breaks(*it);
        if (it->is_array())
            for (const auto& v : *it) bad = bad || breaks(v);
        if (bad) return path + ": holds a tab or a line break (only multiline text may)";
    }
    return {};
}

}  // namespace

Response HqService::Impl::hello(const Request&) {
    auto& s = store();
    json body = {{"protocol", kProtocolName},
                 {"versions", json::array({kProtocolVersion})},
                 {"hq_id", identity.hqId},
                 {"epoch", need(s.epoch())},
                 {"limits",
                  {{"max_body", limits.maxBodyBytes},
                   {"max_uncompressed", limits.maxUncompressedBytes},
                   {"max_items", limits.maxItems},
                   {"max_pull_page", limits.maxPullPage}}}};
    return jsonAnswer(200, body);
}

// No credentials and no protocol header: a load balancer's check is a plain GET. 200 while this process
// serves requests and its database answers within tuning::kHealthDeadline; 503 otherwise, saying why.
Response HqService::Impl::health(const Request& req) {
    if (req.method != "GET" && req.method != "HEAD")
        failWith(405, "method_not_allowed", "/v1/health answers GET and HEAD only");
    const DatabaseProbe::Outcome o = probe->check();
    if (!o.healthy) {
        HttpError e{503, "unhealthy", o.problem,
                    json{{"status", "unhealthy"}, {"database_ms", o.took.count()}}, kRetryAfterSeconds};
        throw e;
    }
    return jsonAnswer(200, json{{"status", "ok"}, {"database_ms", o.took.count()}});
}

Response HqService::Impl::enroll(const Request& req) {
    // Every attempt takes a token, well-formed or not, before anything else is looked at; one that
    // enrolls gives it back at the end.
    takeEnrollToken(req.remoteAddress);
    json j = parseBody(bodyText(req, limits), limits);
    auto text = [&](const char* name) -> std::string {
        auto it = j.find(name);
        if (it == j.end() || !it->is_string())
            failWith(400, "malformed",
                     std::string("the enrollment request needs \"") + name + "\" as a string");
        return it->get<std::string>();
    };
    std::string code = trim(text("code"));
    std::string keyText = text("public_key");
    std::string name = trim(text("name"));
    // The secret alone, as the spec sends it; a whole OP1 code is accepted too.
    if (code.rfind("OP1.", 0) == 0 || code.rfind("op1.", 0) == 0) {
        try {
            code = EnrollmentCode::parse(code).secret;
        } catch (const Failure& f) {
            failWith(400, "malformed", f.error().message);
        }
    }
    std::transform(code.begin(), code.end(), code.begin(), [](unsigned char c) { return std::tolower(c); });
    if (code.size() != 26 || code.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567") != std::string::npos)
        failWith(400, "malformed", "\"code\" must be the 26-character secret of an enrollment code");
    auto key = base64Decode(keyText);
    if (!key || key->size() != 32)
        failWith(400, "malformed", "\"public_key\" must be an Ed25519 public key (32 bytes, base64)");
    if (!isSigningPublicKey(*key))
        failWith(400, "malformed",
                 "\"public_key\" is not a usable Ed25519 public key (not a curve point, or of small order)");
    if (name.size() > kMaxDeviceNameBytes)
        failWith(400, "malformed",
                 "\"name\" is longer than " + std::to_string(kMaxDeviceNameBytes) + " bytes");
    if (core::firstControlCharacter(name, false) != std::string::npos)
        failWith(400, "malformed", "\"name\" contains control characters or is not UTF-8");

    auto& s = store();
    EnrollmentCode ec;
    ec.secret = code;
    auto redeemed = s.redeemEnrollment(ec.secretHash(), name, base64Encode(*key), utcNow());
    if (!redeemed) {
        const auto& e = redeemed.error();
        if (e.code == ErrorCode::NotFound)
            failWith(410, "enrollment_unknown", "HQ issued no such enrollment code; ask HQ for a new one");
        if (e.code == ErrorCode::Conflict)
            failWith(410, "enrollment_used", "this enrollment code was used already; ask HQ for a new one");
        if (e.domain == ErrorDomain::State || e.code == ErrorCode::Invalid)
            failWith(410, "enrollment_expired", "this enrollment code has expired; ask HQ for a new one");
        storageFailure(e);
    }
    const auto& device = redeemed.value();
    json body = {{"device_id", device.id},
                 {"unit_id", device.unitId},
                 {"hq_id", identity.hqId},
                 {"epoch", need(s.epoch())},
                 {"hq_sign_key", base64Encode(identity.signing.publicKey)}};
    if (!identity.recoveryPublicKey.empty()) body["recovery_key"] = base64Encode(identity.recoveryPublicKey);
    // A code that worked was no guess: only failed attempts use up the address's allowance, so a
    // signals office enrolling a room of laptops through one address is not held up.
    if (!req.remoteAddress.empty()) enrollThrottle.giveBack(throttleKey(req.remoteAddress));
    return jsonAnswer(200, body);
}

Response HqService::Impl::push(const Request& req, bool fromBundle) {
    auto& s = store();
    const hqs::Device device = authenticate(req, s, fromBundle);
    const std::string epoch = checkResync(req, s, device);

    const std::string text = bodyText(req, limits);
    PushRequest pr;
    if (auto parts = splitPushBody(text)) {
        // The shape Outpost's client writes: the items are parsed apart, on the helper threads too. What
        // is refused, and with which error, is what parsing the body whole would give (the else branch).
        if (nestedDeeperThan(text, limits.maxJsonDepth))
            failWith(400, "too_deep",
                     "the JSON is nested deeper than " + std::to_string(limits.maxJsonDepth) + " levels");
        const std::size_t n = parts->items.size();
        pr.items.resize(n);
        std::vector<char> valid(n, 0);
        std::vector<std::string> decodeErrors(n);
        helpers.forEach(n, [&](std::size_t i) {
            auto doc = parseItemText(parts->items[i]);
            if (!doc) return;
            valid[i] = 1;
            try {
                pr.items[i] = Envelope::fromJson(std::move(*doc));
            } catch (const Failure& f) {
                decodeErrors[i] = f.error().message;
            }
        });
        if (std::find(valid.begin(), valid.end(), 0) != valid.end())
            failWith(400, "malformed", "the body is not valid JSON");
        if (n > limits.maxItems)
            failWith(413, "too_many_items",
                     "the push has " + std::to_string(n) + " items; at most " +
                         std::to_string(limits.maxItems) + " are accepted in one request");
        if (parts->batchId.size() > 64)
            failWith(400, "malformed", "the push request: \"batch\" is longer than 64 characters");
        for (const auto& m : decodeErrors)
            if (!m.empty()) failWith(400, "malformed", m);
        pr.batchId = std::move(parts->batchId);
    } else {
        json j = parseBody(text, limits);
        if (auto it = j.find("items"); it != j.end() && it->is_array() && it->size() > limits.maxItems)
            failWith(413, "too_many_items",
                     "the push has " + std::to_string(it->size()) + " items; at most " +
                         std::to_string(limits.maxItems) + " are accepted in one request");
        try {
            pr = PushRequest::fromJson(std::move(j));
        } catch (const Failure& f) {
            failWith(400, "malformed", f.error().message);
        }
    }
    if (pr.items.empty()) failWith(400, "malformed", "the push has no items");
    if (auto problem = batchIdProblem(pr.batchId); !problem.empty()) failWith(400, "malformed", problem);

    auto known = currentCatalog(s);
    // Every item must belong to the device's unit, or nothing of the request is stored.
    json foreign = json::array();
    for (const auto& e : pr.items) {
        bool mismatch = e.unitId != device.unitId;
        if (auto form = known->forms.find(e.formId, e.formVersion);
            !mismatch && form && !form->unitField.empty()) {
            // A form that names the unit in its payload must name the same unit there.
            auto it = e.payload.find(form->unitField);
            mismatch = it != e.payload.end() && it->is_string() && it->get<std::string>() != device.unitId;
        }
        if (mismatch) foreign.push_back(e.id);
    }
    if (!foreign.empty())
        failWith(403, "unit_mismatch",
                 std::to_string(foreign.size()) + " item(s) belong to another unit than this device's (" +
                     device.unitId + "); nothing was stored",
                 json{{"items", foreign}});

    // Each item is checked on its own (signature, canonical bytes, form, validation), on the helper
    // threads as well as this one; the results are gathered in the items' order.
    std::vector<hqs::IncomingItem> incoming(pr.items.size());
    const Bytes deviceKey = base64Decode(device.publicKey).value_or(Bytes{});
    helpers.forEach(pr.items.size(), [&](std::size_t i) {
        const Envelope& e = pr.items[i];
        hqs::IncomingItem& it = incoming[i];
        it.recordId = e.id;
        it.revision = e.revision;
        it.parent = e.parent;
        it.formId = e.formId;
        it.formVersion = e.formVersion;
        it.unitId = e.unitId;
        it.author = e.author;
        it.createdUtc = e.createdUtc;
        it.createdOffset = e.createdOffset;
        it.finalizedUtc = e.finalizedUtc;
        it.canonical = e.canonical();
        it.hash = hex(blake2b256(it.canonical));
        it.signature = e.signature;
        it.sealedPart = e.sealedPart;
        auto form = known->forms.find(e.formId, e.formVersion);
        const std::string where = "items[" + std::to_string(i) + "]";
        // Members out of their formats are refused before anything else looks at them.
        if (auto formatWhy = e.formatProblem(where); !formatWhy.empty()) {
            it.rejectReason = formatWhy;
        } else if (auto problem = revisionSignatureProblem(deviceKey, it.canonical, e.signature);
                   !problem.empty()) {
            // The device vouches for these exact bytes, author included; HQ stores nothing unsigned.
            it.rejectReason = problem;
        } else if (!form) {
            it.rejectReason = e.formId + " v" + std::to_string(e.formVersion) + " is not a form HQ knows";
        } else if (auto sealedWhy = sealedProblem(*form, e); !sealedWhy.empty()) {
            it.rejectReason = sealedWhy;
        } else if (auto breakWhy = lineBreakProblem(form->fields, e.payload, where + ".payload");
                   !breakWhy.empty()) {
            it.rejectReason = breakWhy;
        } else {
            // The same validation the laptop ran at finalize, on what a person entered (a sealed section
            // was checked on the laptop before it was sealed).
            auto rules = form->hasSensitiveFields() ? known->sealedRules.find(e.formId, e.formVersion) : form;
            json& entered = pr.items[i].payload;  // not needed as it came any more (canonical is made)
            core::stripComputedInPlace(*form, entered);
            auto v = core::validateRecord(*rules, entered, core::ValidationMode::Final, *known->reference);
            if (!v.ok()) it.rejectReason = validationReason(e, v);
        }
        // Freed here, on the helper threads, rather than one by one at the end of the request.
        pr.items[i].payload = json();
    });
    std::vector<ReceiptItem> receiptItems;
    receiptItems.reserve(pr.items.size());
    std::string batchIdentity = pr.batchId + "\n";
    bool anyAccepted = false;
    for (std::size_t i = 0; i < incoming.size(); ++i) {
        anyAccepted = anyAccepted || !incoming[i].rejectReason;
        batchIdentity += incoming[i].hash + "\n";
        receiptItems.push_back({pr.items[i].id, pr.items[i].revision, incoming[i].hash});
    }

    PushResponse answer;
    answer.batchId = pr.batchId;
    answer.epoch = epoch;
    if (!anyAccepted) {
        // Nothing to store: the request changes nothing and the client quarantines every item.
        for (const auto& it : incoming) answer.results.push_back({ItemStatus::Rejected, 0, *it.rejectReason});
        answer.signature =
            base64Encode(sign(identity.signing.secretKey,
                              receiptString(answer.batchId, epoch, device.id, receiptItems, answer.results)));
        std::vector<hqs::ItemOutcome> outcomes;
        for (const auto& r : answer.results) outcomes.push_back({ItemStatus::Rejected, 0, r.reason});
        need(s.appendAudit(device.id, "push", pr.batchId, hqs::ingestAuditDetail(incoming, outcomes),
                           utcNow()));
        json body = answer.toJson();
        HttpError e{422, "all_rejected", "every item of the push was rejected; see results", json::object(),
                    0};
        for (auto it = body.begin(); it != body.end(); ++it) e.extra[it.key()] = it.value();
        throw e;
    }

    // One ingest at a time from this process (hq/tuning.hpp, kIngestGateWait says why).
    {
        std::unique_lock lk(ingestMutex);
        if (!ingestFree.wait_for(lk, tuning::kIngestGateWait, [&] { return !ingesting; })) {
            HttpError busy{
                503, "unavailable",
                "HQ is busy storing other pushes (this process waited " +
                    std::to_string(
                        std::chrono::duration_cast<std::chrono::seconds>(tuning::kIngestGateWait).count()) +
                    " s for its turn); nothing was written, try again",
                json::object(), kRetryAfterBusySeconds};
            throw busy;
        }
        ingesting = true;
    }
    // Gives the turn back however the store call ends.
    class Turn {
    public:
        explicit Turn(Impl& impl) : m_impl(&impl) {}
        Turn(const Turn&) = delete;
        Turn& operator=(const Turn&) = delete;
        ~Turn() { release(); }
        void release() {
            if (!m_impl) return;
            {
                std::lock_guard lk(m_impl->ingestMutex);
                m_impl->ingesting = false;
            }
            m_impl->ingestFree.notify_one();
            m_impl = nullptr;
        }

    private:
        Impl* m_impl;
    };
    Turn turn(*this);
    auto ingested = s.ingest(device.id, pr.batchId, hex(blake2b256(batchIdentity)), incoming, utcNow());
    turn.release();
    if (!ingested && ingested.error().code == ErrorCode::Conflict)
        failWith(409, "batch_reused", "batch " + pr.batchId + " was sent before with other content");
    auto outcome = need(std::move(ingested));
    if (outcome.results.size() != pr.items.size())
        failWith(500, "internal",
                 "HQ's store answered " + std::to_string(outcome.results.size()) + " results for " +
                     std::to_string(pr.items.size()) + " items");
    for (const auto& o : outcome.results) {
        if (!core::isKnown(o.status))
            failWith(500, "internal",
                     "HQ's store answered an unknown status " + std::to_string(static_cast<int>(o.status)));
        answer.results.push_back({o.status, o.status == ItemStatus::Rejected ? 0 : o.hqSeq, o.reason});
    }
    answer.signature =
        base64Encode(sign(identity.signing.secretKey,
                          receiptString(answer.batchId, epoch, device.id, receiptItems, answer.results)));
    Response r = dataAnswer(req, 200, answer.toJson());
    // The batch was answered before: these are the results recorded then, and nothing was stored now.
    if (outcome.replayed) r.headers[kHeaderReplayed] = "1";
    return r;
}

Response HqService::Impl::pull(const Request& req, bool fromBundle) {
    auto& s = store();
    const hqs::Device device = authenticate(req, s, fromBundle);
    const std::string epoch = checkResync(req, s, device);
    if (!req.body.empty()) failWith(400, "malformed", "a pull request has no body");

    auto q = req.target.find('?');
    std::string_view query =
        q == std::string::npos ? std::string_view() : std::string_view(req.target).substr(q + 1);
    std::int64_t after = 0;
    std::int64_t limit = kDefaultPullPage;
    if (auto v = queryValue(query, "after")) {
        auto n = parseInt64(*v);
        if (!n || *n < 0) failWith(400, "malformed", "'after' must be a cursor (an integer >= 0)");
        after = *n;
    }
    if (auto v = queryValue(query, "limit")) {
        auto n = parseInt64(*v);
        if (!n || *n < 1) failWith(400, "malformed", "'limit' must be an integer >= 1");
        limit = *n;
    }
    limit = std::min<std::int64_t>(limit, static_cast<std::int64_t>(limits.maxPullPage));
    // A cursor HQ never handed out (its entry is gone) means HQ was restored by copying files back; one that
    // names another entry than the laptop applied last means HQ was restored and then handed the number out
    // again (docs/protocol.md, "Resync after an HQ restore").
    std::string at;
    if (after > 0) {
        auto cursorEntry = need(s.feedEntry(after));
        if (!cursorEntry)
            failWith(409, "epoch_changed",
                     "HQ no longer holds feed entry " + std::to_string(after) + "; resync",
                     json{{"epoch", epoch}});
        at = feedEntryIdentity(cursorEntry->seq, cursorEntry->kind, cursorEntry->unitId, cursorEntry->body);
        if (auto sent = queryValue(query, "at"); sent && *sent != at)
            failWith(409, "epoch_changed",
                     "HQ's feed entry " + std::to_string(after) +
                         " is not the one this laptop applied last (HQ was restored from a backup); resync",
                     json{{"epoch", epoch}});
    }

    auto entries = need(s.feed(device.unitId, after, static_cast<int>(limit) + 1));
    PullResponse answer;
    answer.epoch = epoch;
    answer.more = entries.size() > static_cast<std::size_t>(limit);
    if (answer.more) entries.resize(static_cast<std::size_t>(limit));
    answer.next = entries.empty() ? after : entries.back().seq;
    // Reference data goes to a unit cut to its own mission (its sectors, sites and units): a mission
    // never receives another's.
    std::string mission;
    if (const json* unit = currentCatalog(s)->reference->row("units", device.unitId))
        if (auto m = unit->find("mission"); m != unit->end() && m->is_string())
            mission = m->get<std::string>();
    // The identity of the entry the cursor will point at, from the entry as stored (before any cut).
    answer.at = entries.empty() ? at
                                : feedEntryIdentity(entries.back().seq, entries.back().kind,
                                                    entries.back().unitId, entries.back().body);
    for (auto& e : entries) {
        if (e.kind == "reference" && !mission.empty()) e.body = core::referenceForMission(e.body, mission);
        answer.items.push_back({e.seq, e.kind, std::move(e.body)});
    }
    return dataAnswer(req, 200, answer.toJson());
}

Response HqService::Impl::route(const Request& req, bool fromBundle) {
    if (!fromBundle && req.target.substr(0, req.target.find('?')) == "/v1/health") return health(req);
    const std::string protocol = trim(req.header("outpost-protocol"));
    if (protocol != std::to_string(kProtocolVersion))
        failWith(426, "protocol_mismatch",
                 protocol.empty() ? "the request has no Outpost-Protocol header; HQ speaks version " +
                                        std::to_string(kProtocolVersion)
                                  : "HQ does not speak protocol version '" + protocol +
                                        "'; it speaks version " + std::to_string(kProtocolVersion),
                 json{{"versions", json::array({kProtocolVersion})}});
    if (req.body.size() > limits.maxBodyBytes)
        failWith(413, "too_large",
                 "the body is " + std::to_string(req.body.size()) + " bytes; the limit is " +
                     std::to_string(limits.maxBodyBytes));
    const std::string path = req.target.substr(0, req.target.find('?'));
    if (path == "/v1/push" && req.method == "POST") return push(req, fromBundle);
    if (path == "/v1/pull" && req.method == "GET") return pull(req, fromBundle);
    if (fromBundle)
        failWith(
            404, "not_found",
            req.method + " " + path.substr(0, 200) + " does not travel in a bundle (only push and pull do)");
    if (path == "/v1/hello" && req.method == "GET") return hello(req);
    if (path == "/v1/enroll" && req.method == "POST") return enroll(req);
    failWith(404, "not_found",
             req.method + " " + path.substr(0, 200) + " is not part of the Outpost protocol");
}

// [SECTION] HqService

HqService::HqService(std::function<Result<std::unique_ptr<storage::hq::HqStore>>()> openStore,
                     HqIdentity identity, Limits limits)
    : m_impl(std::make_unique<Impl>()) {
    m_impl->openStore = std::move(openStore);
    m_impl->identity = std::move(identity);
    m_impl->limits = limits;
    m_impl->pool = std::make_unique<StorePool>(m_impl->openStore, m_impl->identity.signing.secretKey);
    m_impl->probe =
        std::make_unique<DatabaseProbe>(m_impl->openStore, tuning::kHealthDeadline, tuning::kHealthReuse);
    m_impl->rateLimiter =
        std::make_unique<DeviceRateLimiter>(limits.deviceRequestsPerSecond, limits.deviceBurst);
}

HqService::~HqService() = default;

namespace {

// Runs one handler: every failure becomes its JSON error answer.
template <typename F>
Response guarded(F&& run) {
    try {
        return run();
    } catch (const HttpError& e) {
        return errorAnswer(e);
    } catch (const Failure& f) {
        return errorAnswer(HttpError{500, "internal", "HQ failed: " + f.error().message, json::object(), 0});
    } catch (const std::bad_alloc&) {
        return errorAnswer(
            HttpError{503, "unavailable", "HQ ran out of memory", json::object(), kRetryAfterSeconds});
    } catch (const std::exception& e) {
        return errorAnswer(
            HttpError{500, "internal", std::string("HQ failed: ") + e.what(), json::object(), 0});
    } catch (...) {
        return errorAnswer(HttpError{500, "internal", "HQ failed", json::object(), 0});
    }
}

// A store answer outside a request: an HQ failure in words, as the storage error it came from. A 4xx
// (text the store refuses to keep: a NUL character, invalid UTF-8) is the caller's bad input, as the
// handlers answer it; only what is left is HQ's own failure.
template <typename F>
auto storeCall(F&& run) -> Result<decltype(run())> {
    try {
        return run();
    } catch (const HttpError& e) {
        if (e.status == 503) return Error{ErrorDomain::Storage, ErrorCode::Io, e.message};
        if (e.status >= 400 && e.status < 500)
            return Error{ErrorDomain::Input, ErrorCode::BadInput, e.message};
        return Error{ErrorDomain::Storage, ErrorCode::Internal, e.message};
    } catch (const Failure& f) {
        return f.error();
    } catch (const std::exception& e) {
        return Error{ErrorDomain::Internal, ErrorCode::Internal, std::string("HQ failed: ") + e.what()};
    }
}

// Marks what runs on this thread as one request's use of the memory budget: its bytes go back when the
// request is answered (the parsed body lives until then).
class RequestMemory {
public:
    explicit RequestMemory(MemoryBudget& budget) : m_reservation(budget), m_outer(tl_requestMemory) {
        tl_requestMemory = &m_reservation;
    }
    ~RequestMemory() { tl_requestMemory = m_outer; }
    RequestMemory(const RequestMemory&) = delete;
    RequestMemory& operator=(const RequestMemory&) = delete;

private:
    MemoryBudget::Reservation m_reservation;
    MemoryBudget::Reservation* m_outer;
};

}  // namespace

Response HqService::handle(const Request& req) {
    StorePool::Lease lease(*m_impl->pool);
    RequestMemory memory(*m_impl->memory);
    return guarded([&] { return m_impl->route(req, false); });
}

Response HqService::handleBundle(const Request& req) {
    StorePool::Lease lease(*m_impl->pool);
    RequestMemory memory(*m_impl->memory);
    return guarded([&] { return m_impl->route(req, true); });
}

void HqService::setMemoryBudget(std::shared_ptr<MemoryBudget> budget) {
    if (budget) m_impl->memory = std::move(budget);
}

MemoryBudget& HqService::memoryBudget() const {
    return *m_impl->memory;
}

Result<std::optional<storage::hq::Device>> HqService::device(const std::string& deviceId) {
    StorePool::Lease lease(*m_impl->pool);
    return storeCall([&] { return m_impl->need(m_impl->store().device(deviceId)); });
}

Result<void> HqService::audit(const std::string& actor, const std::string& action, const std::string& subject,
                              const json& detail) {
    StorePool::Lease lease(*m_impl->pool);
    auto r = storeCall(
        [&] { return m_impl->need(m_impl->store().appendAudit(actor, action, subject, detail, utcNow())); });
    if (!r) return r.error();
    return {};
}

Result<std::string> HqService::epoch() {
    StorePool::Lease lease(*m_impl->pool);
    return storeCall([&] { return m_impl->need(m_impl->store().epoch()); });
}

void HqService::warm() {
    StorePool::Lease lease(*m_impl->pool);
    try {
        (void)m_impl->currentCatalog(m_impl->store());
    } catch (...) {
        // The first request meets the same problem and answers it properly.
    }
}

const HqIdentity& HqService::identity() const {
    return m_impl->identity;
}

const Limits& HqService::limits() const {
    return m_impl->limits;
}

}  // namespace outpost::hq
