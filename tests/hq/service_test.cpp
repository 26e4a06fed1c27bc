// HQ's protocol handlers in-process over an SQLite HqStore: every bad request of docs/protocol.md
// gets its status and JSON error and changes nothing; pushes, receipts, pulls and feedback work.
#include <zstd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "core/builtin.hpp"
#include "core/time.hpp"
#include "core/uuid.hpp"
#include "hq/bundle_import.hpp"
#include "hq/rate_limiter.hpp"
#include "hq/service.hpp"
#include "storage/hq/store.hpp"
#include "support/test_support.hpp"
#include "sync/protocol.hpp"

using namespace outpost;
using namespace outpost::sync;
using namespace outpost::hq;
namespace hqs = outpost::storage::hq;

namespace {

const std::string kUnit = "MINUSCA-RWABATT-1";
const std::string kOtherUnit = "MINUSCA-PAKBATT-1";

struct TestDevice {
    std::string id;
    std::string unit;
    SigningKeyPair keys;
};

// What a bad request must leave untouched.
struct Snapshot {
    std::int64_t reports = 0;
    hqs::Heads heads;
    std::size_t conflicts = 0;
    std::size_t devices = 0;
    bool operator==(const Snapshot& o) const {
        return reports == o.reports && heads.reports == o.heads.reports && heads.feed == o.heads.feed &&
               conflicts == o.conflicts && devices == o.devices;
    }
};

// A valid training-gap report for unit: the simplest built-in form (no computed values).
json gapPayload(const std::string& unit, const std::string& description = "Map reading below standard") {
    return json{{"unit", unit},
                {"description", description},
                {"source", "evaluation"},
                {"identified_date", "2025-01-10"},
                {"severity", "minor"},
                {"personnel_affected", 12},
                {"remedy", "in_mission_course"},
                {"target_date", "2025-03-01"},
                {"status", "open"}};
}

Envelope gapEnvelope(const std::string& unit, const std::string& id = core::newUuidV7(), int rev = 1) {
    Envelope e;
    e.id = id;
    e.revision = rev;
    e.formId = "training-gap";
    e.formVersion = 1;
    e.unitId = unit;
    e.author = "capt.uwase";
    e.createdUtc = "2025-01-10T08:00:00.000Z";
    e.createdOffset = 60;
    e.finalizedUtc = "2025-01-10T09:00:00.000Z";
    e.payload = gapPayload(unit);
    return e;
}

json bodyOf(const Response& r) {
    std::string text = r.body;
    auto enc = r.headers.find("Content-Encoding");
    if (enc != r.headers.end() && enc->second == "zstd") text = zstdDecompress(text, 64u << 20);
    return json::parse(text);
}

std::string errorCode(const Response& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("error")) return "(no error body: " + r.body.substr(0, 200) + ")";
    return j["error"].value("code", "");
}

// A zstd frame that does not declare its size, so only decoding it finds out how big it is.
std::string streamedFrame(const std::string& data) {
    ZSTD_CCtx* c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
    std::string out(ZSTD_compressBound(data.size()) + 64, '\0');
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    ZSTD_inBuffer ib{data.data(), data.size(), 0};
    std::size_t left = 0;
    do {
        left = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
    } while (left != 0 && !ZSTD_isError(left));
    ZSTD_freeCCtx(c);
    out.resize(ob.pos);
    return out;
}

struct HqFixture {
    test::TempDir dir;
    HqIdentity identity;
    Limits limits;
    std::unique_ptr<HqService> service;
    std::unique_ptr<hqs::HqStore> store;  // the test's own connection, as an HQ admin would have

    explicit HqFixture(Limits l = smallLimits()) : limits(l) {
        identity.hqId = "hq-test";
        identity.signing = SigningKeyPair::generate();
        identity.tlsPin = "pin";
        std::string location = dir.path();
        service =
            std::make_unique<HqService>([location] { return hqs::openHqStore(location); }, identity, limits);
        store = hqs::openHqStore(location).value();
        store->setAuditKey(identity.signing.secretKey);
    }

    static Limits smallLimits() {
        Limits l;
        l.maxBodyBytes = 256 * 1024;
        l.maxUncompressedBytes = 1024 * 1024;
        l.maxItems = 20;
        l.maxPullPage = 3;
        return l;
    }

    Request base(const std::string& method, const std::string& target, std::string body = {}) {
        Request r;
        r.method = method;
        r.target = target;
        r.body = std::move(body);
        r.headers["outpost-protocol"] = "2";
        return r;
    }

    std::string newCode(const std::string& unit, const std::string& expires = "2999-01-01T00:00:00.000Z") {
        auto code = EnrollmentCode::generate("pin");
        REQUIRE(store->addEnrollment(code.secretHash(), unit, expires).ok());
        return code.secret;
    }

    Response enrollRequest(const std::string& secret, const std::string& publicKey,
                           const std::string& name = "lap") {
        json body = {{"code", secret}, {"public_key", publicKey}, {"name", name}};
        return service->handle(base("POST", "/v1/enroll", body.dump()));
    }

    TestDevice enroll(const std::string& unit) {
        TestDevice d;
        d.unit = unit;
        d.keys = SigningKeyPair::generate();
        auto r = enrollRequest(newCode(unit), base64Encode(d.keys.publicKey));
        INFO(r.body);
        REQUIRE(r.status == 200);
        auto j = bodyOf(r);
        d.id = j.at("device_id").get<std::string>();
        CHECK(j.at("unit_id") == unit);
        CHECK(j.at("hq_id") == "hq-test");
        CHECK(j.at("hq_sign_key") == base64Encode(identity.signing.publicKey));
        CHECK(j.at("epoch") == store->epoch().value());
        return d;
    }

    // Signs the request as the device does (the signature covers the body as sent).
    void sign(Request& r, const TestDevice& d, const std::string& nonce = newNonce()) {
        r.headers["outpost-device"] = d.id;
        r.headers["outpost-nonce"] = nonce;
        r.headers["outpost-signature"] = base64Encode(
            sync::sign(d.keys.secretKey, signingString(r.method, r.target, d.id, nonce, r.body)));
    }

    // Items without "sig" are signed with the device's key, as the laptop does; a test that wants an
    // unsigned or foreign-signed item builds the body itself (rawPushRequest).
    Request pushRequest(const TestDevice& d, json body) {
        if (auto it = body.find("items"); it != body.end() && it->is_array())
            for (auto& item : *it) {
                if (!item.is_object() || item.contains("sig")) continue;
                try {
                    item["sig"] = signRevision(d.keys.secretKey, Envelope::fromJson(item).canonical());
                } catch (const Failure&) {
                    // A malformed item stays as the test wrote it.
                }
            }
        return rawPushRequest(d, body);
    }

    // A batch whose items are signed by the device, for tests that build the request themselves.
    static PushRequest signedBatch(const TestDevice& d, std::vector<Envelope> items) {
        PushRequest p;
        p.batchId = core::newUuidV7();
        for (auto& e : items) e.signature = signRevision(d.keys.secretKey, e.canonical());
        p.items = std::move(items);
        return p;
    }

    Request rawPushRequest(const TestDevice& d, const json& body) {
        Request r = base("POST", "/v1/push", zstdCompress(body.dump()));
        r.headers["content-encoding"] = "zstd";
        sign(r, d);
        return r;
    }

    Request pushRequest(const TestDevice& d, const PushRequest& p) { return pushRequest(d, p.toJson()); }

    Response pull(const TestDevice& d, std::int64_t after, int limit, const std::string& at = {}) {
        Request r = base("GET", "/v1/pull?after=" + std::to_string(after) +
                                    "&limit=" + std::to_string(limit) + (at.empty() ? "" : "&at=" + at));
        sign(r, d);
        return service->handle(r);
    }

    Snapshot snapshot() {
        Snapshot s;
        s.reports = store->reportCount().value();
        s.heads = store->heads().value();
        s.conflicts = store->conflicts().value().size();
        s.devices = store->devices().value().size();
        return s;
    }

    // The receipt must verify with HQ's key over what the device sent and the statuses it got.
    bool receiptVerifies(const TestDevice& d, const PushRequest& p, const json& answer) {
        auto resp = PushResponse::fromJson(answer);
        auto sig = base64Decode(resp.signature);
        return sig && resp.batchId == p.batchId &&
               verify(identity.signing.publicKey,
                      receiptString(p.batchId, resp.epoch, d.id, p.items, resp.results), *sig);
    }
};

PushRequest batchOf(std::vector<Envelope> items) {
    PushRequest p;
    p.batchId = core::newUuidV7();
    p.items = std::move(items);
    return p;
}

}  // namespace

TEST_CASE("hello names the protocol, HQ, its epoch and limits", "[sync][hq]") {
    HqFixture hq;
    auto r = hq.service->handle(hq.base("GET", "/v1/hello"));
    REQUIRE(r.status == 200);
    auto j = bodyOf(r);
    CHECK(j["protocol"] == "outpost/2");
    CHECK(j["versions"] == json::array({2}));
    CHECK(j["hq_id"] == "hq-test");
    CHECK(j["epoch"] == hq.store->epoch().value());
    CHECK(j["limits"]["max_items"] == 20);
    CHECK(j["limits"]["max_pull_page"] == 3);
    CHECK(j["limits"]["max_body"] == 256 * 1024);
    CHECK(j["limits"]["max_uncompressed"] == 1024 * 1024);
}

TEST_CASE("a missing or foreign protocol version gets 426 with the versions HQ speaks", "[sync][hq]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    // Version 1 (envelopes without the device's signature) is refused like any other: upgrade needed.
    for (std::string version : {"", "1", "3", "2.0", "0"}) {
        Request r = hq.pushRequest(dev, batchOf({gapEnvelope(kUnit)}));
        if (version.empty())
            r.headers.erase("outpost-protocol");
        else
            r.headers["outpost-protocol"] = version;
        auto before = hq.snapshot();
        auto res = hq.service->handle(r);
        INFO(version << ": " << res.body);
        CHECK(res.status == 426);
        CHECK(errorCode(res) == "protocol_mismatch");
        CHECK(bodyOf(res)["versions"] == json::array({2}));
        CHECK(hq.snapshot() == before);
    }
    Request hello = hq.base("GET", "/v1/hello");
    hello.headers.erase("outpost-protocol");
    CHECK(hq.service->handle(hello).status == 426);
}

TEST_CASE("an unknown path or method is 404 with a JSON error", "[sync][hq]") {
    HqFixture hq;
    for (auto [method, target] : std::vector<std::pair<std::string, std::string>>{{"GET", "/v1/nothing"},
                                                                                  {"GET", "/"},
                                                                                  {"GET", "/v1/push"},
                                                                                  {"POST", "/v1/hello"},
                                                                                  {"DELETE", "/v1/pull"}}) {
        auto r = hq.service->handle(hq.base(method, target));
        INFO(method << " " << target);
        CHECK(r.status == 404);
        CHECK(errorCode(r) == "not_found");
    }
}

TEST_CASE("enrollment redeems a code once and answers what the laptop needs", "[sync][hq]") {
    HqFixture hq;
    auto secret = hq.newCode(kUnit);
    auto keys = SigningKeyPair::generate();
    auto first = hq.enrollRequest(secret, base64Encode(keys.publicKey), "field laptop 3");
    REQUIRE(first.status == 200);
    auto devices = hq.store->devices().value();
    REQUIRE(devices.size() == 1);
    CHECK(devices[0].unitId == kUnit);
    CHECK(devices[0].name == "field laptop 3");
    CHECK(devices[0].id == bodyOf(first)["device_id"]);

    auto again = hq.enrollRequest(secret, base64Encode(SigningKeyPair::generate().publicKey));
    CHECK(again.status == 410);
    CHECK(errorCode(again) == "enrollment_used");

    auto expired = hq.newCode(kUnit, "2001-01-01T00:00:00.000Z");
    auto late = hq.enrollRequest(expired, base64Encode(keys.publicKey));
    CHECK(late.status == 410);
    CHECK(errorCode(late) == "enrollment_expired");

    auto unknown = hq.enrollRequest(EnrollmentCode::generate("pin").secret, base64Encode(keys.publicKey));
    CHECK(unknown.status == 410);
    CHECK(errorCode(unknown) == "enrollment_unknown");

    // Malformed requests change nothing (the code stays usable).
    auto fresh = hq.newCode(kUnit);
    CHECK(hq.enrollRequest(fresh, "not base64!").status == 400);
    CHECK(hq.enrollRequest(fresh, base64Encode(Bytes(31, 1))).status == 400);
    CHECK(hq.enrollRequest("short", base64Encode(keys.publicKey)).status == 400);
    CHECK(hq.service->handle(hq.base("POST", "/v1/enroll", "{\"code\": 1}")).status == 400);
    CHECK(hq.service->handle(hq.base("POST", "/v1/enroll", "[]")).status == 400);
    CHECK(hq.store->devices().value().size() == 1);
    // The whole printed code is accepted as well as its secret.
    CHECK(hq.enrollRequest("OP1." + fresh + ".3DQwLP8bDInnm6bpcoEt3VegHW2i9IeHcMdanA7cnpk",
                           base64Encode(keys.publicKey))
              .status == 200);
}

TEST_CASE("a push is stored once: duplicates and conflicts are told apart, receipts verify", "[sync][hq]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    auto a = gapEnvelope(kUnit), b = gapEnvelope(kUnit), c = gapEnvelope(kUnit);
    auto first = batchOf({a, b, c});
    auto r1 = hq.service->handle(hq.pushRequest(dev, first));
    INFO(r1.body);
    REQUIRE(r1.status == 200);
    auto j1 = bodyOf(r1);
    CHECK(j1["batch"] == first.batchId);
    CHECK(j1["epoch"] == hq.store->epoch().value());
    REQUIRE(j1["results"].size() == 3);
    std::vector<std::int64_t> seqs;
    for (const auto& res : j1["results"]) {
        CHECK(res["s"] == "stored");
        seqs.push_back(res["q"].get<std::int64_t>());
    }
    CHECK(seqs[0] < seqs[1]);
    CHECK(seqs[1] < seqs[2]);
    CHECK(hq.receiptVerifies(dev, first, j1));
    CHECK(hq.store->reportCount().value() == 3);
    auto stored = hq.store->report(a.id, 1).value();
    REQUIRE(stored);
    CHECK(stored->hash == a.hash());
    CHECK(stored->canonical == a.canonical());
    CHECK(stored->deviceId == dev.id);
    CHECK(stored->reviewStatus == core::ReviewStatus::Received);

    // The same revision again in a new batch: a duplicate with the stored sequence.
    auto changed = b;
    changed.payload["description"] = "A different text under the same identity";
    auto second = batchOf({a, changed});
    auto r2 = hq.service->handle(hq.pushRequest(dev, second));
    REQUIRE(r2.status == 200);
    auto j2 = bodyOf(r2);
    CHECK(j2["results"][0]["s"] == "duplicate");
    CHECK(j2["results"][0]["q"] == seqs[0]);
    CHECK(j2["results"][1]["s"] == "conflict");
    CHECK(j2["results"][1]["q"] == seqs[1]);
    CHECK(hq.receiptVerifies(dev, second, j2));
    CHECK(hq.store->reportCount().value() == 3);
    CHECK(hq.store->report(b.id, 1).value()->hash == b.hash());  // the stored revision is untouched
    auto conflicts = hq.store->conflicts().value();
    REQUIRE(conflicts.size() == 1);
    CHECK(conflicts[0].hash == changed.hash());
    CHECK(conflicts[0].keptHash == b.hash());

    // The same batch again (a retry after a lost answer): the recorded results, nothing new.
    auto before = hq.snapshot();
    auto r3 = hq.service->handle(hq.pushRequest(dev, first));
    REQUIRE(r3.status == 200);
    auto j3 = bodyOf(r3);
    CHECK(j3["results"] == j1["results"]);
    CHECK(hq.receiptVerifies(dev, first, j3));
    CHECK(hq.snapshot() == before);

    // The same batch id with other content is refused.
    auto reused = first;
    reused.items = {gapEnvelope(kUnit)};
    auto r4 = hq.service->handle(hq.pushRequest(dev, reused));
    CHECK(r4.status == 409);
    CHECK(errorCode(r4) == "batch_reused");
    CHECK(hq.snapshot() == before);
}

TEST_CASE("answers are zstd when the device accepts zstd, plain JSON otherwise", "[sync][hq]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    auto p = batchOf({gapEnvelope(kUnit)});
    Request r = hq.pushRequest(dev, p);
    r.headers["accept-encoding"] = "gzip, zstd";
    auto res = hq.service->handle(r);
    REQUIRE(res.status == 200);
    CHECK(res.headers["Content-Encoding"] == "zstd");
    CHECK(hq.receiptVerifies(dev, p, bodyOf(res)));
    auto pulled = hq.pull(dev, 0, 10);
    CHECK(pulled.headers.count("Content-Encoding") == 0);
    CHECK(json::parse(pulled.body)["epoch"] == hq.store->epoch().value());
    // A plain JSON push body (no Content-Encoding) is accepted too.
    Request plain = hq.base("POST", "/v1/push", hq.signedBatch(dev, {gapEnvelope(kUnit)}).toJson().dump());
    hq.sign(plain, dev);
    CHECK(hq.service->handle(plain).status == 200);
}

TEST_CASE("a push in the client's compact shape and the same push written otherwise get the same answer",
          "[sync][hq]") {
    // HQ parses a compact body item by item (on several threads) and any other body whole; the two
    // must refuse the same things with the same words.
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    auto spaced = [](std::string compact) {
        // Still the same JSON, but no longer the client's shape.
        auto at = compact.find(",\"items\":[");
        if (at != std::string::npos) compact.insert(at + 1, " ");
        return compact;
    };
    auto withItem = [](const std::string& itemText) {
        return "{\"batch\":\"b-1\",\"items\":[" + itemText + "]}";
    };
    std::string many;
    {
        PushRequest p = batchOf({});
        for (int i = 0; i < 21; ++i) p.items.push_back(gapEnvelope(kUnit));
        many = p.toJson().dump();
    }
    json unknownMember = batchOf({gapEnvelope(kUnit), gapEnvelope(kUnit)}).toJson();
    unknownMember["items"][1]["extra"] = 1;
    json longBatch = batchOf({gapEnvelope(kUnit)}).toJson();
    longBatch["batch"] = std::string(65, 'b');
    std::string deepItem = "{\"x\":";
    for (int i = 0; i < 70; ++i) deepItem += "[";
    for (int i = 0; i < 70; ++i) deepItem += "]";
    deepItem += "}";
    const std::vector<std::string> bodies = {
        withItem("{\"id\":1,}"),             // an item that is not valid JSON
        withItem("{\"id\":\"\xff\"}"),       // invalid UTF-8 in an item
        withItem("{}"),                      // an item without its members
        unknownMember.dump(),                // a member no envelope has (second item)
        longBatch.dump(),                    // a batch id over 64 characters
        many,                                // more items than HQ takes
        withItem(deepItem),                  // nested too deep
        "{\"batch\":\"b-1\",\"items\":[]}",  // no items
    };
    for (const auto& compact : bodies) {
        REQUIRE(splitPushBody(compact));
        REQUIRE_FALSE(splitPushBody(spaced(compact)));
        auto post = [&](const std::string& text) {
            Request r = hq.base("POST", "/v1/push", zstdCompress(text));
            r.headers["content-encoding"] = "zstd";
            hq.sign(r, dev);
            return hq.service->handle(r);
        };
        auto a = post(compact), b = post(spaced(compact));
        INFO(compact.substr(0, 200));
        CHECK(a.status >= 400);
        CHECK(a.status == b.status);
        CHECK(bodyOf(a) == bodyOf(b));
    }
    CHECK(hq.store->reportCount().value() == 0);
}

TEST_CASE("bad requests get their 4xx and JSON error and change nothing", "[sync][hq]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    auto other = hq.enroll(kOtherUnit);
    // Something stored already, so "nothing changed" compares against a non-empty HQ.
    auto seed = batchOf({gapEnvelope(kUnit)});
    auto seeded = hq.service->handle(hq.pushRequest(dev, seed));
    REQUIRE(seeded.status == 200);
    const auto seedSeq = bodyOf(seeded)["results"][0]["q"].get<std::int64_t>();
    const auto seedId = seed.items[0].id;

    struct Case {
        std::string name;
        std::function<Request()> make;
        int status;
        std::string code;
    };
    auto zstdBody = [&](const std::string& text, const TestDevice& d) {
        Request r = hq.base("POST", "/v1/push", zstdCompress(text));
        r.headers["content-encoding"] = "zstd";
        hq.sign(r, d);
        return r;
    };
    auto rawBody = [&](std::string bytes) {
        Request r = hq.base("POST", "/v1/push", std::move(bytes));
        r.headers["content-encoding"] = "zstd";
        hq.sign(r, dev);
        return r;
    };
    std::string deep;
    for (int i = 0; i < 100; ++i) deep += "{\"a\":";
    deep += "1";
    for (int i = 0; i < 100; ++i) deep += "}";
    std::string bigItems;  // more items than max_items
    {
        PushRequest p = batchOf({});
        for (int i = 0; i < 21; ++i) p.items.push_back(gapEnvelope(kUnit));
        bigItems = p.toJson().dump();
    }

    std::vector<Case> cases = {
        {"malformed JSON", [&] { return zstdBody("{\"batch\": \"x\", \"items\": [", dev); }, 400,
         "malformed"},
        {"not an object", [&] { return zstdBody("[1,2,3]", dev); }, 400, "malformed"},
        {"a push request without items", [&] { return zstdBody("{\"batch\": \"b\"}", dev); }, 400,
         "malformed"},
        {"an empty push", [&] { return zstdBody("{\"batch\": \"b\", \"items\": []}", dev); }, 400,
         "malformed"},
        {"an envelope with an unknown member",
         [&] {
             json j = batchOf({gapEnvelope(kUnit)}).toJson();
             j["items"][0]["extra"] = 1;
             return zstdBody(j.dump(), dev);
         },
         400, "malformed"},
        {"a NUL character in an envelope (refused per item: the only item)",
         [&] {
             auto e = gapEnvelope(kUnit);
             e.author = std::string("capt.\0uwase", 11);
             return hq.pushRequest(dev, batchOf({e}));
         },
         422, "all_rejected"},
        {"a batch id that is not a UUIDv7",
         [&] {
             auto p = batchOf({gapEnvelope(kUnit)});
             p.batchId = "../../etc/passwd";
             return hq.pushRequest(dev, p);
         },
         400, "malformed"},
        {"a nonce of 22 characters that is not 16 bytes",
         [&] {
             Request r = hq.pushRequest(dev, batchOf({gapEnvelope(kUnit)}));
             hq.sign(r, dev, "AAAAAAAAAAAAAAAAAAAAAB");
             return r;
         },
         400, "malformed"},
        {"JSON nested too deep", [&] { return zstdBody(deep, dev); }, 400, "too_deep"},
        {"oversized body", [&] { return rawBody(std::string(256 * 1024 + 1, 'x')); }, 413, "too_large"},
        {"truncated zstd",
         [&] {
             std::string frame = zstdCompress(batchOf({gapEnvelope(kUnit)}).toJson().dump());
             return rawBody(frame.substr(0, frame.size() - 7));
         },
         400, "bad_encoding"},
        {"not zstd at all", [&] { return rawBody("this is not a zstd frame"); }, 400, "bad_encoding"},
        {"zip bomb (declared size)", [&] { return rawBody(zstdCompress(std::string(8u << 20, ' '))); }, 413,
         "too_large"},
        {"zip bomb (undeclared size)", [&] { return rawBody(streamedFrame(std::string(8u << 20, ' '))); },
         413, "too_large"},
        {"gzip body",
         [&] {
             Request r = hq.pushRequest(dev, batchOf({gapEnvelope(kUnit)}));
             r.headers["content-encoding"] = "gzip";
             return r;
         },
         415, "unsupported_encoding"},
        {"too many items", [&] { return zstdBody(bigItems, dev); }, 413, "too_many_items"},
        {"wrong signature",
         [&] {
             Request r = hq.pushRequest(dev, batchOf({gapEnvelope(kUnit)}));
             r.headers["outpost-signature"] =
                 base64Encode(sync::sign(other.keys.secretKey, "something else entirely"));
             return r;
         },
         401, "bad_signature"},
        {"signature over another body",
         [&] {
             Request r = hq.pushRequest(dev, batchOf({gapEnvelope(kUnit)}));
             r.body = zstdCompress(batchOf({gapEnvelope(kUnit)}).toJson().dump());
             return r;
         },
         401, "bad_signature"},
        {"no signature",
         [&] {
             Request r = hq.pushRequest(dev, batchOf({gapEnvelope(kUnit)}));
             r.headers.erase("outpost-signature");
             return r;
         },
         401, "bad_signature"},
        {"unknown device",
         [&] {
             TestDevice ghost{"0190f3c4-7b2e-7a1c-9d3e-5f6a7b8c9d0e", kUnit, SigningKeyPair::generate()};
             return hq.pushRequest(ghost, batchOf({gapEnvelope(kUnit)}));
         },
         401, "unknown_device"},
        {"no device header",
         [&] {
             Request r = hq.pushRequest(dev, batchOf({gapEnvelope(kUnit)}));
             r.headers.erase("outpost-device");
             return r;
         },
         401, "unknown_device"},
        {"another unit's record",
         [&] {
             return hq.pushRequest(dev, batchOf({gapEnvelope(kUnit), gapEnvelope(kOtherUnit)}));
         },
         403, "unit_mismatch"},
        {"a payload naming another unit",
         [&] {
             auto e = gapEnvelope(kUnit);
             e.payload["unit"] = kOtherUnit;
             return hq.pushRequest(dev, batchOf({e}));
         },
         403, "unit_mismatch"},
        {"every item of an unknown form version",
         [&] {
             auto e = gapEnvelope(kUnit);
             e.formVersion = 9;
             return hq.pushRequest(dev, batchOf({e}));
         },
         422, "all_rejected"},
        {"epoch mismatch",
         [&] {
             Request r =
                 hq.base("POST", "/v1/push", zstdCompress(batchOf({gapEnvelope(kUnit)}).toJson().dump()));
             r.headers["content-encoding"] = "zstd";
             r.headers["outpost-epoch"] = "an-epoch-from-before-the-restore";
             hq.sign(r, dev);
             return r;
         },
         409, "epoch_changed"},
        {"last receipt HQ does not hold",
         [&] {
             Request r =
                 hq.base("POST", "/v1/push", zstdCompress(batchOf({gapEnvelope(kUnit)}).toJson().dump()));
             r.headers["content-encoding"] = "zstd";
             r.headers["outpost-last-receipt"] = std::to_string(seedSeq + 1000) + ":" + seedId;
             hq.sign(r, dev);
             return r;
         },
         409, "epoch_changed"},
        {"last receipt naming another record",
         [&] {
             Request r =
                 hq.base("POST", "/v1/push", zstdCompress(batchOf({gapEnvelope(kUnit)}).toJson().dump()));
             r.headers["content-encoding"] = "zstd";
             r.headers["outpost-last-receipt"] = std::to_string(seedSeq) + ":" + core::newUuidV7();
             hq.sign(r, dev);
             return r;
         },
         409, "epoch_changed"},
        {"malformed last receipt",
         [&] {
             Request r =
                 hq.base("POST", "/v1/push", zstdCompress(batchOf({gapEnvelope(kUnit)}).toJson().dump()));
             r.headers["content-encoding"] = "zstd";
             r.headers["outpost-last-receipt"] = "twelve";
             hq.sign(r, dev);
             return r;
         },
         400, "malformed"},
    };

    for (const auto& c : cases) {
        auto before = hq.snapshot();
        auto res = hq.service->handle(c.make());
        INFO(c.name << ": " << res.status << " " << res.body.substr(0, 400));
        CHECK(res.status == c.status);
        CHECK(errorCode(res) == c.code);
        auto j = json::parse(res.body, nullptr, false);
        REQUIRE(j.is_object());
        CHECK(j["error"]["message"].is_string());
        CHECK_FALSE(j["error"]["message"].get<std::string>().empty());
        CHECK(hq.snapshot() == before);
        if (c.code == "epoch_changed") CHECK(j["epoch"] == hq.store->epoch().value());
        if (c.code == "unit_mismatch") CHECK(j["items"].size() == 1);
        if (c.code == "all_rejected") {
            REQUIRE(j["results"].size() == 1);
            CHECK(j["results"][0]["s"] == "rejected");
            CHECK_THAT(j["results"][0]["r"].get<std::string>(),
                       Catch::Contains(c.name.find("NUL") != std::string::npos ? "items[0].author"
                                                                               : "training-gap v9"));
            CHECK(j["sig"].is_string());
        }
    }

    // The right epoch and a receipt HQ holds pass.
    Request ok =
        hq.base("POST", "/v1/push", zstdCompress(hq.signedBatch(dev, {gapEnvelope(kUnit)}).toJson().dump()));
    ok.headers["content-encoding"] = "zstd";
    ok.headers["outpost-epoch"] = hq.store->epoch().value();
    ok.headers["outpost-last-receipt"] = std::to_string(seedSeq) + ":" + seedId;
    hq.sign(ok, dev);
    CHECK(hq.service->handle(ok).status == 200);
}

TEST_CASE("a replayed request is refused and changes nothing", "[sync][hq]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    Request r = hq.pushRequest(dev, batchOf({gapEnvelope(kUnit)}));
    REQUIRE(hq.service->handle(r).status == 200);
    auto before = hq.snapshot();
    auto again = hq.service->handle(r);
    CHECK(again.status == 409);
    CHECK(errorCode(again) == "replayed");
    CHECK(hq.snapshot() == before);
    // A pull captured and replayed too.
    Request p = hq.base("GET", "/v1/pull?after=0&limit=10");
    hq.sign(p, dev);
    CHECK(hq.service->handle(p).status == 200);
    CHECK(errorCode(hq.service->handle(p)) == "replayed");
    // A nonce that is not 16 bytes of base64url is refused, signed or not.
    Request badNonce = hq.pushRequest(dev, batchOf({gapEnvelope(kUnit)}));
    hq.sign(badNonce, dev, "short");
    CHECK(hq.service->handle(badNonce).status == 400);
    CHECK(hq.snapshot() == before);
}

TEST_CASE("a revoked device is refused before anything else", "[sync][hq]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    REQUIRE(hq.store->revoke(dev.id).ok());
    auto before = hq.snapshot();
    auto r = hq.service->handle(hq.pushRequest(dev, batchOf({gapEnvelope(kUnit)})));
    CHECK(r.status == 403);
    CHECK(errorCode(r) == "revoked");
    auto p = hq.pull(dev, 0, 10);
    CHECK(p.status == 403);
    CHECK(errorCode(p) == "revoked");
    CHECK(hq.snapshot() == before);
}

TEST_CASE("items are re-validated at HQ: a failing one is rejected with its reason, the rest stored",
          "[sync][hq]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    auto good = gapEnvelope(kUnit);
    auto invalid = gapEnvelope(kUnit);
    invalid.payload["personnel_affected"] = 0;  // min 1
    invalid.payload.erase("severity");          // required
    auto unknownForm = gapEnvelope(kUnit);
    unknownForm.formId = "no-such-form";
    auto p = batchOf({good, invalid, unknownForm});
    auto r = hq.service->handle(hq.pushRequest(dev, p));
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto j = bodyOf(r);
    CHECK(j["results"][0]["s"] == "stored");
    CHECK(j["results"][1]["s"] == "rejected");
    CHECK(j["results"][1].value("q", 0) == 0);
    CHECK_THAT(j["results"][1]["r"].get<std::string>(), Catch::Contains("personnel_affected"));
    CHECK_THAT(j["results"][1]["r"].get<std::string>(), Catch::Contains("severity"));
    CHECK(j["results"][2]["s"] == "rejected");
    CHECK_THAT(j["results"][2]["r"].get<std::string>(),
               Catch::Contains("no-such-form v1 is not a form HQ knows"));
    CHECK(hq.receiptVerifies(dev, p, j));
    CHECK(hq.store->reportCount().value() == 1);
    CHECK_FALSE(hq.store->report(invalid.id, 1).value().has_value());
}

TEST_CASE("a form pushed at HQ is accepted at once, on every thread", "[sync][hq]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    auto e = gapEnvelope(kUnit);
    e.formVersion = 2;
    auto r1 = hq.service->handle(hq.pushRequest(dev, batchOf({e})));
    CHECK(r1.status == 422);
    auto def = json::parse(test::readFile(test::sourcePath("core/forms/training-gap.json")));
    def["version"] = 2;
    REQUIRE(hq.store->putForm("training-gap", 2, def, "2026-01-01T00:00:00.000Z").ok());
    std::thread other([&] {
        auto r = hq.service->handle(hq.pushRequest(dev, batchOf({e})));
        CHECK(r.status == 200);
    });
    other.join();
    auto r2 = hq.service->handle(hq.pushRequest(dev, batchOf({e})));
    REQUIRE(r2.status == 200);
    CHECK(bodyOf(r2)["results"][0]["s"] == "duplicate");
}

TEST_CASE("pull pages through the feed with a cursor, capped at max_pull_page", "[sync][hq]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    const std::string now = "2026-01-01T00:00:00.000Z";
    for (int v = 2; v <= 6; ++v) {
        auto def = json::parse(test::readFile(test::sourcePath("core/forms/training-gap.json")));
        def["version"] = v;
        REQUIRE(hq.store->putForm("training-gap", v, def, now).ok());
    }
    // HQ's reference data covers two missions; the device's unit is in MINUSCA.
    json ref = json::parse(core::demoReferenceSource());
    ref["missions"].push_back({{"id", "MINUSMA"}, {"name", "Other mission"}, {"languages", {"fr"}}});
    ref["sectors"].push_back({{"id", "MINUSMA-NORTH"}, {"mission", "MINUSMA"}, {"name", "North"}});
    json otherUnit = ref["units"][0];
    otherUnit["id"] = "MINUSMA-OTHER-1";
    otherUnit["mission"] = "MINUSMA";
    ref["units"].push_back(otherUnit);
    REQUIRE(hq.store->putReference(ref, now).ok());

    std::vector<FeedItem> all;
    std::int64_t cursor = 0;
    int pages = 0;
    while (true) {
        auto r = hq.pull(dev, cursor, 1000);  // asks for more than HQ gives in one page
        INFO(r.body.substr(0, 300));
        REQUIRE(r.status == 200);
        auto page = PullResponse::fromJson(bodyOf(r));
        CHECK(page.epoch == hq.store->epoch().value());
        CHECK(page.items.size() <= 3);
        ++pages;
        for (auto& it : page.items) all.push_back(it);
        CHECK(page.next >= cursor);
        cursor = page.next;
        if (!page.more) break;
        REQUIRE(pages < 10);
    }
    CHECK(pages == 2);
    REQUIRE(all.size() == 6);
    for (std::size_t i = 0; i < 5; ++i) {
        CHECK(all[i].kind == "form");
        CHECK(all[i].body["version"] == static_cast<int>(i) + 2);
    }
    CHECK(all[5].kind == "reference");
    CHECK(all[5].body.contains("units"));
    // Only the device's mission travels: its own units, sectors and the mission itself.
    CHECK(all[5].body["missions"].size() == 1);
    CHECK(all[5].body["units"].size() == ref["units"].size() - 1);
    for (const auto& u : all[5].body["units"]) CHECK(u["mission"] == "MINUSCA");
    for (const auto& sct : all[5].body["sectors"]) CHECK(sct["mission"] == "MINUSCA");
    // At the end: an empty page that keeps the cursor.
    auto end = PullResponse::fromJson(bodyOf(hq.pull(dev, cursor, 10)));
    CHECK(end.items.empty());
    CHECK(end.next == cursor);
    CHECK_FALSE(end.more);
    // A small limit is honoured.
    auto two = PullResponse::fromJson(bodyOf(hq.pull(dev, 0, 2)));
    CHECK(two.items.size() == 2);
    CHECK(two.more);
    CHECK(two.next == two.items.back().seq);
    // Bad cursors and limits.
    auto before = hq.snapshot();
    CHECK(errorCode(hq.pull(dev, cursor + 1000, 10)) == "epoch_changed");
    CHECK(hq.pull(dev, 0, 0).status == 400);
    Request junk = hq.base("GET", "/v1/pull?after=abc");
    hq.sign(junk, dev);
    CHECK(errorCode(hq.service->handle(junk)) == "malformed");
    CHECK(hq.snapshot() == before);
}

TEST_CASE("review feedback reaches the reviewed unit's devices only", "[sync][hq]") {
    HqFixture hq;
    auto mine = hq.enroll(kUnit);
    auto theirs = hq.enroll(kOtherUnit);
    auto e = gapEnvelope(kUnit);
    REQUIRE(hq.service->handle(hq.pushRequest(mine, batchOf({e}))).status == 200);
    auto start = hq.store->heads().value().feed;
    auto entry = hq.store->review(e.id, 1, core::ReviewStatus::Returned, "Give the course code", "maj.dupont",
                                  "2026-01-02T10:00:00.000Z");
    REQUIRE(entry.ok());
    CHECK(hq.store->report(e.id, 1).value()->reviewStatus == core::ReviewStatus::Returned);

    auto page = PullResponse::fromJson(bodyOf(hq.pull(mine, start, 10)));
    REQUIRE(page.items.size() == 1);
    CHECK(page.items[0].kind == "feedback");
    CHECK(page.items[0].seq == entry.value().seq);
    CHECK(page.items[0].body["record"] == e.id);
    CHECK(page.items[0].body["rev"] == 1);
    CHECK(page.items[0].body["status"] == "returned");
    CHECK(page.items[0].body["comment"] == "Give the course code");
    CHECK(page.items[0].body["by"] == "maj.dupont");

    auto other = PullResponse::fromJson(bodyOf(hq.pull(theirs, start, 10)));
    CHECK(other.items.empty());
    CHECK(other.next == start);
}

TEST_CASE("a store that cannot be opened is 503 with Retry-After, never an exception", "[sync][hq]") {
    HqIdentity id{"hq-test", SigningKeyPair::generate(), "pin"};
    HqService broken(
        []() -> Result<std::unique_ptr<hqs::HqStore>> {
            return Error{ErrorDomain::Storage, ErrorCode::Io, "the database server does not answer"};
        },
        id);
    Request r;
    r.method = "GET";
    r.target = "/v1/hello";
    r.headers["outpost-protocol"] = "2";
    auto res = broken.handle(r);
    CHECK(res.status == 503);
    CHECK(errorCode(res) == "unavailable");
    CHECK(res.headers.count("Retry-After") == 1);
    CHECK_THAT(res.body, Catch::Contains("does not answer"));
}

TEST_CASE("several threads push at once through one service", "[sync][hq]") {
    HqFixture hq;
    std::vector<TestDevice> devices;
    for (int i = 0; i < 4; ++i) devices.push_back(hq.enroll(i % 2 ? kUnit : kOtherUnit));
    std::atomic<int> stored{0}, failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int b = 0; b < 5; ++b) {
                const auto& d = devices[static_cast<std::size_t>(t)];
                auto res = hq.service->handle(hq.pushRequest(
                    d, batchOf({gapEnvelope(d.unit), gapEnvelope(d.unit), gapEnvelope(d.unit)})));
                if (res.status != 200) {
                    ++failures;
                    continue;
                }
                const json answer = bodyOf(res);
                for (const auto& r : answer["results"]) stored += r["s"] == "stored" ? 1 : 0;
            }
        });
    for (auto& th : threads) th.join();
    CHECK(failures == 0);
    CHECK(stored == 60);
    CHECK(hq.store->reportCount().value() == 60);
}

TEST_CASE(
    "a device that asks too often gets 429 with Retry-After, others are not slowed, and nothing changes",
    "[sync][hq][limits]") {
    Limits l = HqFixture::smallLimits();
    l.deviceRequestsPerSecond = 2;
    l.deviceBurst = 5;
    HqFixture f(l);
    auto a = f.enroll(kUnit);
    auto b = f.enroll(kUnit);
    const Snapshot before = f.snapshot();
    int ok = 0;
    Response limited;
    for (int i = 0; i < 12; ++i) {
        Response r = f.pull(a, 0, 3);
        if (r.status == 200) {
            ++ok;
        } else {
            limited = r;
            break;
        }
    }
    // The burst goes through (a refill may add one while the loop runs), then 429 with a JSON error.
    CHECK(ok >= 5);
    CHECK(ok <= 6);
    REQUIRE(limited.status == 429);
    auto j = bodyOf(limited);
    CHECK(j.at("error").at("code") == "rate_limited");
    CHECK_THAT(j.at("error").at("message").get<std::string>(), Catch::Contains(a.id));
    CHECK(j.at("retry_after").get<int>() >= 1);
    CHECK(limited.headers.at("Retry-After") == std::to_string(j.at("retry_after").get<int>()));
    // Another device of the same unit is not slowed by it.
    CHECK(f.pull(b, 0, 3).status == 200);
    // A bad signature is not counted against the device it names (it is refused before the bucket).
    Request forged = f.base("GET", "/v1/pull?after=0&limit=3");
    f.sign(forged, b);
    forged.headers["outpost-device"] = a.id;
    CHECK(f.service->handle(forged).status == 401);
    // Once the bucket refills, the device is served again.
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    CHECK(f.pull(a, 0, 3).status == 200);
    CHECK(f.snapshot() == before);
}

TEST_CASE("HQ stores only revisions signed by the enrolled device's key", "[sync][hq][signature]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    auto other = hq.enroll(kUnit);
    auto signedBy = [](const TestDevice& d, Envelope e) {
        e.signature = signRevision(d.keys.secretKey, e.canonical());
        return e;
    };
    // One bad item alone: 422, every item rejected with the reason, nothing stored.
    auto refused = [&](const Envelope& e, const std::string& reason) {
        auto before = hq.snapshot();
        auto res = hq.service->handle(hq.rawPushRequest(dev, batchOf({e}).toJson()));
        INFO(res.body);
        CHECK(res.status == 422);
        auto j = bodyOf(res);
        REQUIRE(j["results"].size() == 1);
        CHECK(j["results"][0]["s"] == "rejected");
        CHECK_THAT(j["results"][0]["r"].get<std::string>(), Catch::Contains(reason));
        CHECK(hq.snapshot() == before);
        CHECK_FALSE(hq.store->report(e.id, e.revision).value().has_value());
    };

    SECTION("a missing signature") {
        refused(gapEnvelope(kUnit), "not signed");
    }
    SECTION("a forged signature") {
        Envelope e = gapEnvelope(kUnit);
        e.signature = base64Encode(randomBytes(64));
        refused(e, "does not verify");
    }
    SECTION("a signature that is not a signature") {
        Envelope e = gapEnvelope(kUnit);
        e.signature = "bm90IGEgc2lnbmF0dXJl";
        refused(e, "not a base64 Ed25519 signature");
    }
    SECTION("an altered payload with the original signature") {
        Envelope e = signedBy(dev, gapEnvelope(kUnit));
        e.payload["notes"] = "changed after signing";
        refused(e, "does not verify");
    }
    SECTION("an altered author with the original signature") {
        Envelope e = signedBy(dev, gapEnvelope(kUnit));
        e.author = "somebody.else";
        refused(e, "does not verify");
    }
    SECTION("a signature by another device's key") {
        refused(signedBy(other, gapEnvelope(kUnit)), "does not verify");
    }
    SECTION("a bad item among good ones is rejected alone; the good ones keep their signature") {
        Envelope good = signedBy(dev, gapEnvelope(kUnit));
        Envelope bad = signedBy(other, gapEnvelope(kUnit));
        auto p = batchOf({good, bad});
        auto res = hq.service->handle(hq.rawPushRequest(dev, p.toJson()));
        INFO(res.body);
        REQUIRE(res.status == 200);
        auto j = bodyOf(res);
        CHECK(j["results"][0]["s"] == "stored");
        CHECK(j["results"][1]["s"] == "rejected");
        CHECK(hq.receiptVerifies(dev, p, j));
        auto stored = hq.store->report(good.id, good.revision).value();
        REQUIRE(stored.has_value());
        CHECK(stored->signature == good.signature);
        CHECK(revisionSignatureProblem(dev.keys.publicKey, stored->canonical, stored->signature).empty());
        CHECK_FALSE(hq.store->report(bad.id, bad.revision).value().has_value());
    }
}

TEST_CASE("a large batch's items are checked side by side and answered in their order, from several pushes",
          "[sync][hq][signature]") {
    Limits l;
    l.maxItems = 400;
    l.deviceRequestsPerSecond = 0;
    HqFixture hq(l);
    std::vector<TestDevice> devices;
    for (int i = 0; i < 3; ++i) devices.push_back(hq.enroll(kUnit));
    // Item i of each batch: forged (another device's key) when i % 7 == 3, invalid when i % 11 == 5,
    // otherwise good.
    auto expected = [](std::size_t i) { return i % 7 == 3 || i % 11 == 5 ? "rejected" : "stored"; };
    const std::size_t n = 300;
    std::vector<PushRequest> batches;
    for (std::size_t d = 0; d < devices.size(); ++d) {
        const TestDevice& forger = devices[(d + 1) % devices.size()];
        std::vector<Envelope> items;
        for (std::size_t i = 0; i < n; ++i) {
            Envelope e = gapEnvelope(kUnit);
            e.payload["description"] = "item " + std::to_string(i);
            if (i % 11 == 5) e.payload["personnel_affected"] = 0;
            e.signature = signRevision((i % 7 == 3 ? forger : devices[d]).keys.secretKey, e.canonical());
            items.push_back(std::move(e));
        }
        batches.push_back(batchOf(std::move(items)));
    }
    std::vector<Response> answers(devices.size());
    std::vector<std::thread> threads;
    for (std::size_t d = 0; d < devices.size(); ++d)
        threads.emplace_back(
            [&, d] { answers[d] = hq.service->handle(hq.rawPushRequest(devices[d], batches[d].toJson())); });
    for (auto& t : threads) t.join();
    std::int64_t stored = 0;
    for (std::size_t d = 0; d < devices.size(); ++d) {
        INFO("device " << d);
        REQUIRE(answers[d].status == 200);
        auto j = bodyOf(answers[d]);
        REQUIRE(j["results"].size() == n);
        for (std::size_t i = 0; i < n; ++i) {
            INFO("item " << i);
            const auto& r = j["results"][i];
            CHECK(r["s"] == expected(i));
            if (i % 7 == 3) CHECK_THAT(r["r"].get<std::string>(), Catch::Contains("does not verify"));
            if (i % 7 != 3 && i % 11 == 5)
                CHECK_THAT(r["r"].get<std::string>(), Catch::Contains("personnel_affected"));
            if (r["s"] == "stored") ++stored;
        }
        CHECK(hq.receiptVerifies(devices[d], batches[d], j));
    }
    CHECK(hq.store->reportCount().value() == stored);
    for (std::size_t i = 0; i < n; ++i)
        CHECK(hq.store->report(batches[0].items[i].id, 1).value().has_value() ==
              (std::string(expected(i)) == "stored"));
}

TEST_CASE("HQ's audit log records pushes, rejected ones included, signed with HQ's key",
          "[sync][hq][audit]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    auto good = batchOf({gapEnvelope(kUnit), gapEnvelope(kUnit)});
    REQUIRE(hq.service->handle(hq.pushRequest(dev, good)).status == 200);
    auto unsignedBatch = batchOf({gapEnvelope(kUnit)});
    REQUIRE(hq.service->handle(hq.rawPushRequest(dev, unsignedBatch.toJson())).status == 422);
    auto entries = hq.store->audit(0, 100).value();
    REQUIRE(entries.size() == 4);  // code, enroll, push, push (all rejected)
    CHECK(entries[2].action == "push");
    CHECK(entries[2].actor == dev.id);
    CHECK(entries[2].subject == good.batchId);
    CHECK(json::parse(entries[2].detail)["stored"] == 2);
    CHECK(entries[3].subject == unsignedBatch.batchId);
    CHECK(json::parse(entries[3].detail)["rejected"] == 1);
    auto c = hqs::verifyAudit(*hq.store, hq.identity.signing.publicKey).value();
    CHECK(c.problems.empty());
    CHECK(c.entries == 4);
}

TEST_CASE("sensitive values in the clear, or a sealed part that is not the signed one, are rejected",
          "[sync][hq][sealed]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    const json sea = json::parse(test::readFile(test::sourcePath("examples/incident-sea.json")));
    auto incident = [&](json payload) {
        Envelope e = gapEnvelope(kUnit);
        e.formId = "incident";
        payload["unit"] = kUnit;
        e.payload = std::move(payload);
        return e;
    };
    // A laptop that did not seal: the SEA section in the payload.
    auto clear = incident(sea);
    // A sealed part whose bytes are not the ones the signed hash names.
    json publicPart = sea;
    for (const char* f :
         {"victim_reference", "sea_type", "victims_count", "victim_age_group", "paternity_claim",
          "victim_assistance", "victim_assistance_date", "consent_recorded", "sea_notes"})
        publicPart.erase(f);
    auto mismatched = incident(publicPart);
    Bytes some(600, 0x41);
    mismatched.sealedPart = base64Encode(some);
    mismatched.sealedHash = std::string(64, 'a');
    // Bytes that hash right but are no sealed part.
    auto garbage = incident(publicPart);
    garbage.sealedPart = base64Encode(some);
    garbage.sealedHash = hex(blake2b256(std::string(600, 'A')));
    // A hash on a form without a sensitive section.
    auto noSection = gapEnvelope(kUnit);
    noSection.sealedHash = std::string(64, 'b');
    auto p = batchOf({clear, mismatched, garbage, noSection, gapEnvelope(kUnit)});
    auto r = hq.service->handle(hq.pushRequest(dev, p));
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto j = bodyOf(r);
    for (int i = 0; i < 4; ++i) CHECK(j["results"][i]["s"] == "rejected");
    CHECK_THAT(j["results"][0]["r"].get<std::string>(),
               Catch::Contains("victim_reference") && Catch::Contains("arrived in the clear"));
    CHECK_THAT(j["results"][1]["r"].get<std::string>(), Catch::Contains("does not match the signed hash"));
    CHECK_THAT(j["results"][2]["r"].get<std::string>(), Catch::Contains("sealed part is malformed"));
    CHECK_THAT(j["results"][3]["r"].get<std::string>(), Catch::Contains("no sensitive section"));
    CHECK(j["results"][4]["s"] == "stored");
    CHECK(hq.store->reportCount().value() == 1);
}

TEST_CASE("a cursor that names another entry than the one the laptop applied is a resync (409)",
          "[sync][hq]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    const std::string now = "2026-01-01T00:00:00.000Z";
    auto def = json::parse(test::readFile(test::sourcePath("core/forms/training-gap.json")));
    def["version"] = 2;
    REQUIRE(hq.store->putForm("training-gap", 2, def, now).ok());
    auto r = hq.pull(dev, 0, 100);
    REQUIRE(r.status == 200);
    auto page = PullResponse::fromJson(bodyOf(r));
    REQUIRE(page.next > 0);
    REQUIRE(page.at.size() == 32);
    auto entry = hq.store->feedEntry(page.next).value();
    REQUIRE(entry.has_value());
    CHECK(page.at == feedEntryIdentity(entry->seq, entry->kind, entry->unitId, entry->body));
    // The same entry: a page after it, carrying the same identity when nothing is new.
    auto same = hq.pull(dev, page.next, 100, page.at);
    REQUIRE(same.status == 200);
    CHECK(PullResponse::fromJson(bodyOf(same)).at == page.at);
    // Another identity under that number: HQ was restored and handed it out again.
    auto other = hq.pull(dev, page.next, 100, std::string(32, '0'));
    CHECK(other.status == 409);
    CHECK(errorCode(other) == "epoch_changed");
    CHECK_THAT(other.body, Catch::Contains("is not the one this laptop applied last"));
    // Without an identity (a laptop from before it existed) the number alone is checked.
    CHECK(hq.pull(dev, page.next, 100).status == 200);
}

TEST_CASE("HQ's store calls outside a request give text the store refuses as bad input, not as an HQ failure",
          "[sync][hq]") {
    // importBundle asks HQ for a bundle's device and writes its audit entry through these calls; a NUL
    // character in an id used to come back as an internal failure (the bundle_content fuzz target).
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    auto found = hq.service->device(std::string("dev\0ice", 7));
    REQUIRE_FALSE(found.ok());
    CHECK(found.error().domain == ErrorDomain::Input);
    CHECK(found.error().code == ErrorCode::BadInput);
    CHECK_THAT(found.error().message, Catch::Contains("NUL character"));
    auto audited = hq.service->audit(dev.id, "bundle import", std::string("bun\0dle", 7), json::object());
    REQUIRE_FALSE(audited.ok());
    CHECK(audited.error().domain == ErrorDomain::Input);
    CHECK(audited.error().code == ErrorCode::BadInput);
    // A store that cannot be reached is still HQ's trouble, not the caller's.
    HqService down(
        []() -> Result<std::unique_ptr<hqs::HqStore>> {
            return Error{ErrorDomain::Storage, ErrorCode::Io, "the database is down"};
        },
        hq.identity);
    auto lost = down.device(dev.id);
    REQUIRE_FALSE(lost.ok());
    CHECK(lost.error().domain == ErrorDomain::Storage);
    CHECK(lost.error().code == ErrorCode::Io);
    // A device HQ knows is still found.
    auto known = hq.service->device(dev.id);
    REQUIRE(known.ok());
    CHECK(known.value().has_value());
}

TEST_CASE(
    "members out of their formats are refused per item, naming the member, and nothing of them is stored",
    "[sync][hq][formats]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    struct Case {
        std::string name;
        std::function<void(json&)> spoil;
        std::string reason;  // the start of the rejected item's reason
    };
    const std::vector<Case> cases = {
        {"a path as record id", [](json& e) { e["id"] = "../../../../etc/passwd"; },
         "items[1].id: not a UUID"},
        {"SQL as record id", [](json& e) { e["id"] = "x'); DROP TABLE report; --"; },
         "items[1].id: not a UUID"},
        {"terminal escapes in the record id",
         [](json& e) { e["id"] = "0190f3c4-7b2e-7a1c-9d3e-\x1b[2J\x07\r00000"; }, "items[1].id: not a UUID"},
        {"an upper-case UUID", [](json& e) { e["id"] = "0190F3C4-7B2E-7A1C-9D3E-5F6A7B8C9D0E"; },
         "items[1].id: not a UUID"},
        {"a UUID of version 4", [](json& e) { e["id"] = "0190f3c4-7b2e-4a1c-9d3e-5f6a7b8c9d0e"; },
         "items[1].id: not a UUID"},
        {"a UUID of another variant", [](json& e) { e["id"] = "0190f3c4-7b2e-7a1c-cd3e-5f6a7b8c9d0e"; },
         "items[1].id: not a UUID"},
        {"a word as creation time", [](json& e) { e["created"] = "yesterday"; },
         "items[1].created: not a UTC time"},
        {"a time with an offset", [](json& e) { e["final"] = "2025-01-10T09:00:00+02:00"; },
         "items[1].final: not a UTC time"},
        {"a time without seconds", [](json& e) { e["final"] = "2025-01-10T09:00Z"; },
         "items[1].final: not a UTC time"},
        {"month 13", [](json& e) { e["created"] = "2025-13-10T08:00:00.000Z"; },
         "items[1].created: not a UTC time"},
        {"a year out of range", [](json& e) { e["created"] = "9999-01-10T08:00:00.000Z"; },
         "items[1].created: not a UTC time"},
        {"a name with a space as author", [](json& e) { e["author"] = "Jane Doe"; },
         "items[1].author: not an account name"},
        {"a BEL in the author", [](json& e) { e["author"] = "capt\x07"; },
         "items[1].author: not an account name"},
        {"ESC in the form id", [](json& e) { e["form"] = "training-gap\x1b[31m"; },
         "items[1].form: holds a control character"},
        {"ESC and BEL in a multiline text",
         [](json& e) { e["payload"]["description"] = "fine\x1b]0;owned\x07 text"; },
         "items[1].payload.description: holds a control character"},
        {"a carriage return in a multiline text", [](json& e) { e["payload"]["description"] = "a\rb"; },
         "items[1].payload.description: holds a control character"},
        {"a NUL in a text", [](json& e) { e["payload"]["description"] = std::string("a\0b", 3); },
         "items[1].payload.description: holds a control character"},
        {"C1 control (U+009B, CSI) in a text",
         [](json& e) {
             e["payload"]["description"] =
                 "a\xc2\x9b"
                 "31mb";
         },
         "items[1].payload.description: holds a control character"},
        {"a line break in a one-line field", [](json& e) { e["payload"]["remedy"] = "in_mission_course\n"; },
         "items[1].payload.remedy: holds a tab or a line break"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        auto good = gapEnvelope(kUnit);
        json item = gapEnvelope(kUnit).toJson();
        c.spoil(item);
        json body = batchOf({good}).toJson();
        body["items"].push_back(item);
        const auto before = hq.store->reportCount().value();
        auto r = hq.service->handle(hq.pushRequest(dev, body));
        INFO(r.body.substr(0, 400));
        REQUIRE(r.status == 200);
        auto j = bodyOf(r);
        CHECK(j["results"][0]["s"] == "stored");
        CHECK(j["results"][1]["s"] == "rejected");
        CHECK(j["results"][1]["r"].get<std::string>().rfind(c.reason, 0) == 0);
        CHECK(hq.store->reportCount().value() == before + 1);
    }
    // What a laptop writes is accepted: an id from newUuidV7, times from nowTimestamp, an account name,
    // an empty author (the protocol allows it), tabs and line breaks in multiline text.
    auto e = gapEnvelope(kUnit);
    e.createdUtc = core::nowTimestamp().utc;
    e.finalizedUtc = "2025-01-10T09:00:00Z";
    e.author = "";
    e.payload["description"] = "line one\n\tline two";
    auto ok = hq.service->handle(hq.pushRequest(dev, batchOf({e})));
    INFO(ok.body.substr(0, 400));
    REQUIRE(ok.status == 200);
    CHECK(bodyOf(ok)["results"][0]["s"] == "stored");
}

TEST_CASE(
    "numbers follow the canonical rule: 50 and 50.0 are two spellings kept apart, a number too large "
    "to hold is refused",
    "[sync][hq][formats]") {
    HqFixture hq;
    auto dev = hq.enroll(kUnit);
    // personnel_affected is an integer field: the validator wants a JSON integer, so 12.0 is refused there
    // by the form (not by the number rule) while 12 is stored.
    auto asInteger = gapEnvelope(kUnit);
    auto asFraction = gapEnvelope(kUnit);
    asFraction.payload["personnel_affected"] = 12.0;
    CHECK(asInteger.canonical().find("\"personnel_affected\":12,") != std::string::npos);
    CHECK(asFraction.canonical().find("\"personnel_affected\":12.0,") != std::string::npos);
    auto r = hq.service->handle(hq.pushRequest(dev, batchOf({asInteger, asFraction})));
    REQUIRE(r.status == 200);
    auto j = bodyOf(r);
    CHECK(j["results"][0]["s"] == "stored");
    CHECK(j["results"][1]["s"] == "rejected");
    CHECK(j["results"][1]["r"].get<std::string>().find("personnel_affected") != std::string::npos);

    // A number too large for a double (it would be written back as null) is refused.
    auto inf = gapEnvelope(kUnit);
    json body = batchOf({gapEnvelope(kUnit)}).toJson();
    json item = inf.toJson();
    std::string text = body.dump();
    std::string itemText = item.dump();
    const std::string from = "\"personnel_affected\":12";
    itemText.replace(itemText.find(from), from.size(), "\"personnel_affected\":1e400");
    text.insert(text.size() - 2, "," + itemText);
    Request req = hq.base("POST", "/v1/push", zstdCompress(text));
    req.headers["content-encoding"] = "zstd";
    hq.sign(req, dev);
    auto ri = hq.service->handle(req);
    // The JSON parser refuses it: the body is not JSON HQ can read, so the whole request is refused.
    CHECK(ri.status == 400);
    CHECK(errorCode(ri) == "malformed");
}

TEST_CASE("record ids are scoped by unit: another unit's device learns nothing and cannot squat an id",
          "[sync][hq][unit]") {
    HqFixture hq;
    auto mine = hq.enroll(kUnit);
    auto theirs = hq.enroll(kOtherUnit);

    // An envelope naming another unit than the device's is refused from the request alone.
    auto foreign = hq.service->handle(hq.pushRequest(theirs, batchOf({gapEnvelope(kUnit)})));
    CHECK(foreign.status == 403);
    CHECK(errorCode(foreign) == "unit_mismatch");

    // The other unit's device pushes, under its own unit, an id that this unit holds, and an id nobody
    // holds: the two answers are alike (stored, a fresh sequence, no hash, no reason).
    auto held = gapEnvelope(kUnit);
    REQUIRE(hq.service->handle(hq.pushRequest(mine, batchOf({held}))).status == 200);
    const auto heldSeq = hq.store->report(held.id, 1).value()->hqSeq;
    auto probe = gapEnvelope(kOtherUnit, held.id);
    probe.payload["description"] = "probing";
    auto fresh = gapEnvelope(kOtherUnit);
    fresh.payload["description"] = "probing";
    auto r = hq.service->handle(hq.pushRequest(theirs, batchOf({probe, fresh})));
    REQUIRE(r.status == 200);
    auto j = bodyOf(r);
    for (int i : {0, 1}) {
        CHECK(j["results"][i]["s"] == "stored");
        CHECK_FALSE(j["results"][i].contains("r"));
        CHECK(j["results"][i]["q"].get<std::int64_t>() > heldSeq);
    }
    CHECK(r.body.find(held.hash()) == std::string::npos);
    CHECK(hq.store->conflicts().value().empty());
    // This unit's report is untouched, and both units' reports are found by unit.
    CHECK(hq.store->report(held.id, 1, kUnit).value()->hash == held.hash());
    CHECK(hq.store->report(held.id, 1, kOtherUnit).value()->hash == probe.hash());
    auto ambiguous = hq.store->report(held.id, 1);
    REQUIRE_FALSE(ambiguous.ok());
    CHECK(ambiguous.error().code == ErrorCode::Conflict);

    // Squatting: the other unit pushes an id first; this unit's real report with that id still arrives.
    auto later = gapEnvelope(kUnit);
    auto squat = gapEnvelope(kOtherUnit, later.id);
    REQUIRE(hq.service->handle(hq.pushRequest(theirs, batchOf({squat}))).status == 200);
    auto real = hq.service->handle(hq.pushRequest(mine, batchOf({later})));
    REQUIRE(real.status == 200);
    CHECK(bodyOf(real)["results"][0]["s"] == "stored");
    CHECK(hq.store->report(later.id, 1, kUnit).value()->hash == later.hash());
    // A second push of it is a duplicate of its own unit's report, never a conflict with the squatter's.
    auto again = hq.service->handle(hq.pushRequest(mine, batchOf({later})));
    REQUIRE(again.status == 200);
    CHECK(bodyOf(again)["results"][0]["s"] == "duplicate");
    CHECK(hq.store->conflicts().value().empty());

    // A last receipt naming another unit's report gets the answer of one naming no report at all.
    auto withReceipt = [&](const TestDevice& d, const std::string& receipt) {
        Request req = hq.base("GET", "/v1/pull?after=0&limit=1");
        req.headers["outpost-last-receipt"] = receipt;
        hq.sign(req, d);
        return hq.service->handle(req);
    };
    auto othersReceipt = withReceipt(theirs, std::to_string(heldSeq) + ":" + held.id);
    auto noReceipt = withReceipt(theirs, "999999:" + held.id);
    CHECK(othersReceipt.status == 409);
    CHECK(othersReceipt.status == noReceipt.status);
    CHECK(errorCode(othersReceipt) == errorCode(noReceipt));
    CHECK(withReceipt(mine, std::to_string(heldSeq) + ":" + held.id).status == 200);
}

TEST_CASE("enrollment refuses Ed25519 keys that are not usable: all-zero and small-order points",
          "[sync][hq][enroll]") {
    HqFixture hq;
    auto secret = hq.newCode(kUnit);
    Bytes zero(32, 0);
    // The identity point (0, 1), of order 1, and a point of order 8: both small order.
    Bytes identityPoint(32, 0);
    identityPoint[0] = 1;
    const unsigned char order8[32] = {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
                                      0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
                                      0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a};
    for (const Bytes& key : {zero, identityPoint, Bytes(order8, order8 + 32)}) {
        auto r = hq.enrollRequest(secret, base64Encode(key));
        INFO(r.body);
        CHECK(r.status == 400);
        CHECK(errorCode(r) == "malformed");
        CHECK(r.body.find("small order") != std::string::npos);
    }
    // A device name with a C1 control (U+009B, CSI) or ESC is refused as well.
    for (const std::string name : {"lap\xc2\x9b"
                                   "2J",
                                   "lap\x1b"}) {
        auto r = hq.enrollRequest(secret, base64Encode(SigningKeyPair::generate().publicKey), name);
        CHECK(r.status == 400);
    }
    CHECK(hq.store->devices().value().empty());
    // The code is still usable with a real key.
    CHECK(hq.enrollRequest(secret, base64Encode(SigningKeyPair::generate().publicKey)).status == 200);
}

TEST_CASE("enrollment attempts are throttled per address: 300 guesses get 429, another address still enrolls",
          "[sync][hq][enroll]") {
    HqFixture hq;
    auto guess = [&](const std::string& address, const std::string& secret) {
        json body = {{"code", secret},
                     {"public_key", base64Encode(SigningKeyPair::generate().publicKey)},
                     {"name", "lap"}};
        Request r = hq.base("POST", "/v1/enroll", body.dump());
        r.remoteAddress = address;
        return hq.service->handle(r);
    };
    int unknown = 0, limited = 0;
    for (int i = 0; i < 300; ++i) {
        auto r = guess("203.0.113.7", EnrollmentCode::generate("pin").secret);
        if (r.status == 410) ++unknown;
        if (r.status == 429) {
            ++limited;
            CHECK(errorCode(r) == "rate_limited");
            CHECK(std::stoi(r.headers.at("Retry-After")) >= 1);
        }
    }
    CHECK(unknown == 10);  // the burst
    CHECK(limited == 290);
    // A real code from that address now waits too; from another address it enrolls at once.
    auto secret = hq.newCode(kUnit);
    CHECK(guess("203.0.113.7", secret).status == 429);
    CHECK(guess("198.51.100.20", secret).status == 200);
    // An IPv6 host counts by its /64: another address in the same /64 shares the bucket.
    for (int i = 0; i < 10; ++i) guess("2001:db8:1:2::" + std::to_string(i + 1), "x");
    CHECK(guess("2001:db8:1:2:ffff::1", EnrollmentCode::generate("pin").secret).status == 429);
    CHECK(guess("2001:db8:1:3:ffff::1", EnrollmentCode::generate("pin").secret).status == 410);
    // A request no network carried (in-process) has no address and is not counted.
    for (int i = 0; i < 20; ++i) CHECK(guess("", EnrollmentCode::generate("pin").secret).status == 410);
}

TEST_CASE(
    "enrollments that succeed use up none of the address's allowance: a room of laptops behind one "
    "address enrolls, guesses from it are still throttled",
    "[sync][hq][enroll]") {
    HqFixture hq;
    auto attempt = [&](const std::string& secret) {
        json body = {{"code", secret},
                     {"public_key", base64Encode(SigningKeyPair::generate().publicKey)},
                     {"name", "lap"}};
        Request r = hq.base("POST", "/v1/enroll", body.dump());
        r.remoteAddress = "192.0.2.44";
        return hq.service->handle(r).status;
    };
    int enrolled = 0;
    for (int i = 0; i < 25; ++i) enrolled += attempt(hq.newCode(kUnit)) == 200 ? 1 : 0;
    CHECK(enrolled == 25);
    int unknown = 0, limited = 0;
    for (int i = 0; i < 15; ++i) {
        const int status = attempt(EnrollmentCode::generate("pin").secret);
        unknown += status == 410 ? 1 : 0;
        limited += status == 429 ? 1 : 0;
    }
    CHECK(unknown == 10);
    CHECK(limited == 5);
}

TEST_CASE(
    "the address table of a rate limiter stays bounded: refilled buckets go, busy ones make new keys wait",
    "[hq][enroll]") {
    DeviceRateLimiter limiter(1000.0, 2.0, 3);
    for (const char* k : {"a", "b", "c"}) {
        CHECK_FALSE(limiter.take(k));
        CHECK_FALSE(limiter.take(k));
    }
    CHECK(limiter.keys() == 3);
    // All three are empty: a fourth key waits rather than growing the table or emptying it.
    auto wait = limiter.take("d");
    REQUIRE(wait);
    CHECK(*wait > 0);
    CHECK(limiter.keys() == 3);
    // Once they have refilled they are forgotten, and the new key gets its bucket.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK_FALSE(limiter.take("d"));
    CHECK(limiter.keys() == 1);
}
