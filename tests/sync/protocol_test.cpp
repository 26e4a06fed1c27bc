// The shared protocol pieces: canonical bytes, hashes, signatures, bounded decoding, messages.
#include <catch2/catch.hpp>
#include <limits>

#include "core/time.hpp"
#include "core/uuid.hpp"
#include "sync/protocol.hpp"

using namespace outpost;
using namespace outpost::sync;

namespace {

Envelope sampleEnvelope() {
    Envelope e;
    e.id = "0193a3c2-7d1e-7000-8000-000000000001";
    e.revision = 2;
    e.parent = 1;
    e.formId = "readiness";
    e.formVersion = 1;
    e.unitId = "BANBAT-1";
    e.author = "maj.rahman";
    e.createdUtc = "2026-11-20T08:00:00.000Z";
    e.createdOffset = 60;
    e.finalizedUtc = "2026-11-20T09:00:00.000Z";
    e.payload = json{{"zeta", 1}, {"alpha", "Équipe \"A\"\n"}, {"ratio", 0.1}, {"list", {3, 2, 1}}};
    return e;
}

}  // namespace

TEST_CASE("canonical bytes sort keys, keep UTF-8 and round-trip through the wire form") {
    Envelope e = sampleEnvelope();
    std::string c = e.canonical();
    CHECK(c.find("\"alpha\":\"Équipe \\\"A\\\"\\n\"") != std::string::npos);
    CHECK(c.find("\"alpha\"") < c.find("\"zeta\""));
    CHECK(c.find(' ') ==
          c.find("\"Équipe") + std::string("\"Équipe").size());           // the only space is in the string
    Envelope back = Envelope::fromJson(json::parse(e.toJson().dump(2)));  // whitespace on the wire is fine
    CHECK(back.canonical() == c);
    CHECK(back.hash() == e.hash());
    CHECK(e.hash().size() == 64);
    Envelope other = e;
    other.payload["zeta"] = 2;
    CHECK(other.hash() != e.hash());
}

TEST_CASE("the canonical writer gives exactly the sorted JSON dump") {
    Envelope e = sampleEnvelope();
    CHECK(e.canonical() == e.toJson().dump());
    e.parent.reset();
    e.author = "l'équipe \"cdt\"\t\u0001";
    e.payload = json::object();
    CHECK(e.canonical() == e.toJson().dump());
    CHECK(e.canonicalWithPayloadText(e.payload.dump()) == e.canonical());
    json moved = PushRequest{"b", {sampleEnvelope()}}.toJson();
    auto pr = PushRequest::fromJson(std::move(moved));
    REQUIRE(pr.items.size() == 1);
    CHECK(pr.items[0].hash() == sampleEnvelope().hash());
    CHECK_THROWS_WITH(PushRequest::fromJson(json{{"batch", "b"}}), Catch::Contains("\"items\""));
}

TEST_CASE("envelope decoding names what is wrong") {
    json good = sampleEnvelope().toJson();
    auto errorOf = [](const json& j) {
        try {
            Envelope::fromJson(j);
        } catch (const Failure& f) {
            return std::string(f.what());
        }
        return std::string();
    };
    CHECK(errorOf(good).empty());
    json j = good;
    j.erase("rev");
    CHECK_THAT(errorOf(j), Catch::Contains("\"rev\""));
    j = good;
    j["rev"] = "2";
    CHECK_THAT(errorOf(j), Catch::Contains("must be an integer"));
    j = good;
    j["parent"] = 5;
    CHECK_THAT(errorOf(j), Catch::Contains("lower than"));
    j = good;
    j["payload"] = json::array();
    CHECK_THAT(errorOf(j), Catch::Contains("payload"));
    j = good;
    j["extra"] = 1;
    CHECK_THAT(errorOf(j), Catch::Contains("unknown member \"extra\""));
    CHECK_THAT(errorOf(json::array()), Catch::Contains("not a JSON object"));
}

TEST_CASE("request signatures bind method, target, device, nonce and body") {
    auto keys = SigningKeyPair::generate();
    std::string nonce = newNonce();
    CHECK(nonce.size() == 22);
    CHECK(newNonce() != nonce);
    std::string s = signingString("POST", "/v1/push", "dev-1", nonce, "body");
    Bytes sig = sign(keys.secretKey, s);
    CHECK(verify(keys.publicKey, s, sig));
    CHECK_FALSE(verify(keys.publicKey, signingString("POST", "/v1/push", "dev-1", nonce, "body!"), sig));
    CHECK_FALSE(verify(keys.publicKey, signingString("POST", "/v1/pull", "dev-1", nonce, "body"), sig));
    CHECK_FALSE(verify(keys.publicKey, signingString("POST", "/v1/push", "dev-2", nonce, "body"), sig));
    CHECK_FALSE(verify(SigningKeyPair::generate().publicKey, s, sig));
    Bytes cut(sig.begin(), sig.end() - 1);
    CHECK_FALSE(verify(keys.publicKey, s, cut));
}

TEST_CASE("receipts are verified against the items the device sent") {
    auto hqKeys = SigningKeyPair::generate();
    std::vector<Envelope> items{sampleEnvelope()};
    std::vector<ItemResult> results{{ItemStatus::Stored, 41, ""}};
    std::string r = receiptString("b-1", "epoch-1", "dev-1", items, results);
    Bytes sig = sign(hqKeys.secretKey, r);
    CHECK(verify(hqKeys.publicKey, r, sig));
    results[0].status = ItemStatus::Duplicate;
    CHECK_FALSE(verify(hqKeys.publicKey, receiptString("b-1", "epoch-1", "dev-1", items, results), sig));
    results[0].status = ItemStatus::Stored;
    items[0].payload["zeta"] = 9;  // HQ signed other bytes than these
    CHECK_FALSE(verify(hqKeys.publicKey, receiptString("b-1", "epoch-1", "dev-1", items, results), sig));
    CHECK_THROWS_AS(receiptString("b-1", "e", "d", items, {}), Failure);
}

TEST_CASE("zstd decoding refuses corrupt, truncated and oversized frames") {
    std::string text(100000, 'x');
    std::string frame = zstdCompress(text);
    CHECK(frame.size() < 200);
    CHECK(zstdDecompress(frame, text.size()) == text);
    CHECK_THROWS_WITH(zstdDecompress(frame, text.size() - 1), Catch::Contains("larger than"));
    CHECK_THROWS_WITH(zstdDecompress(frame.substr(0, frame.size() - 3), text.size()),
                      Catch::Contains("truncated"));
    CHECK_THROWS_WITH(zstdDecompress("not zstd at all", 1000), Catch::Contains("zstd"));
    CHECK_THROWS_WITH(zstdDecompress("", 1000), Catch::Contains("empty"));
    // A small frame that would expand to 1 GiB stops at the limit.
    std::string bomb = zstdCompress(std::string(64u << 20, '\0'), 19);
    CHECK_THROWS_WITH(zstdDecompress(bomb, 1u << 20), Catch::Contains("larger than"));
}

TEST_CASE("JSON bodies are bounded in depth and must be objects") {
    CHECK(parseObject(R"({"a":[{"b":"[[[["}]})", 3)["a"][0]["b"] == "[[[[");
    CHECK_THROWS_WITH(parseObject(std::string(100, '[') + std::string(100, ']'), 64),
                      Catch::Contains("deeper"));
    CHECK_THROWS_WITH(parseObject("[1]", 64), Catch::Contains("object"));
    CHECK_THROWS_WITH(parseObject("{\"a\":", 64), Catch::Contains("not valid JSON"));
    CHECK_THROWS_WITH(parseObject("{\"a\":\"\xff\"}", 64), Catch::Contains("not valid JSON"));
}

TEST_CASE("push and pull messages round-trip and refuse nonsense") {
    PushRequest req{"batch-1", {sampleEnvelope()}};
    auto back = PushRequest::fromJson(json::parse(req.toJson().dump()));
    REQUIRE(back.items.size() == 1);
    CHECK(back.items[0].hash() == req.items[0].hash());

    PushResponse resp{
        "batch-1", "ep", {{ItemStatus::Stored, 5, ""}, {ItemStatus::Rejected, 0, "unknown form"}}, "c2ln"};
    auto r2 = PushResponse::fromJson(resp.toJson());
    REQUIRE(r2.results.size() == 2);
    CHECK(r2.results[1].reason == "unknown form");
    CHECK_THROWS_AS(PushResponse::fromJson(
                        json{{"batch", "b"}, {"epoch", "e"}, {"sig", "x"}, {"results", {{{"s", "stored"}}}}}),
                    Failure);  // a stored item without its sequence
    CHECK_THROWS_AS(PushResponse::fromJson(json::parse("{\"status\":\"ok\"}")),
                    Failure);  // a captive portal's 200

    PullResponse pull{"ep", 9, false, {{7, "form", json::object()}, {9, "feedback", json{{"record", "r"}}}}};
    auto p2 = PullResponse::fromJson(pull.toJson());
    CHECK(p2.items.size() == 2);
    json unordered = pull.toJson();
    std::swap(unordered["items"][0], unordered["items"][1]);
    CHECK_THROWS_WITH(PullResponse::fromJson(unordered), Catch::Contains("increasing"));
}

TEST_CASE("enrollment codes carry a secret and the TLS pin") {
    std::string pin = base64UrlEncode(blake2b256("a public key"));
    auto code = EnrollmentCode::generate(pin);
    CHECK(code.secret.size() == 26);
    auto parsed = EnrollmentCode::parse("  " + code.text() + "\n");
    CHECK(parsed.secret == code.secret);
    CHECK(parsed.pin == pin);
    CHECK(parsed.secretHash() == code.secretHash());
    CHECK(curlPin(pin).rfind("sha256//", 0) == 0);
    CHECK_THROWS_WITH(EnrollmentCode::parse("XX1.abc.def"), Catch::Contains("OP1."));
    CHECK_THROWS_WITH(EnrollmentCode::parse("OP1." + code.secret), Catch::Contains("pin"));
    CHECK_THROWS_WITH(EnrollmentCode::parse("OP1.short." + pin), Catch::Contains("26"));
    CHECK_THROWS_WITH(EnrollmentCode::parse("OP1." + code.secret + ".!!"), Catch::Contains("pin"));
    CHECK(base64Decode("@@@") == std::nullopt);
}

TEST_CASE(
    "a push body in the client's shape is cut into its items and any other text is left to the "
    "whole parse") {
    PushRequest req{"batch-1", {sampleEnvelope(), sampleEnvelope()}};
    req.items[1].id = "second";
    const std::string text = req.toJson().dump();
    auto parts = splitPushBody(text);
    REQUIRE(parts);
    CHECK(parts->batchId == "batch-1");
    REQUIRE(parts->items.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        auto item = parseItemText(parts->items[i]);
        REQUIRE(item);
        CHECK(Envelope::fromJson(std::move(*item)).hash() == req.items[i].hash());
    }
    // Brackets and quotes inside strings do not cut an item.
    auto tricky = splitPushBody(R"({"batch":"b","items":[{"a":"}],{\"x"},{"b":["]"]}]})");
    REQUIRE(tricky);
    REQUIRE(tricky->items.size() == 2);
    CHECK(tricky->items[0] == R"({"a":"}],{\"x"})");
    CHECK(parseItemText(tricky->items[1]).value()["b"][0] == "]");
    CHECK(splitPushBody(R"({"batch":"b","items":[]})").value().items.empty());

    // Other shapes (valid JSON or not) go to the whole-body parse.
    for (const char* other : {R"({"batch": "b","items":[{}]})", R"({"items":[{}],"batch":"b"})",
                              R"({"batch":"b\u0041","items":[{}]})", R"({"batch":"b","items":[{}]} )",
                              R"({"batch":"b","items":[{}],"more":1})", R"({"batch":"b","items":[1]})",
                              R"({"batch":"b","items":[{}, {}]})", R"({"batch":"b","items":[{"a":1})",
                              R"({"batch":"b","items":[{}]}})", R"({"batch":"b)", "", "[]"})
        CHECK_FALSE(splitPushBody(other));
    // An item that is not valid JSON is cut as it stands, and its parse says so.
    auto broken = splitPushBody(R"({"batch":"b","items":[{"a":1,},{"a":"\xff"}]})");
    REQUIRE(broken);
    REQUIRE(broken->items.size() == 2);
    CHECK_FALSE(parseItemText(broken->items[0]));
    CHECK_FALSE(parseItemText(broken->items[1]));
}

TEST_CASE("the canonical number rule: 50 and 50.0 differ, 2^53+1 is exact, what a laptop writes passes",
          "[formats]") {
    Envelope e = sampleEnvelope();
    CHECK(e.formatProblem("items[0]").empty());
    // An integer is written as one, a double keeps its fraction: two spellings, two hashes.
    e.payload = json{{"n", 50}};
    Envelope f = e;
    f.payload = json{{"n", 50.0}};
    CHECK(e.canonical().find("\"n\":50}") != std::string::npos);
    CHECK(f.canonical().find("\"n\":50.0}") != std::string::npos);
    CHECK(e.hash() != f.hash());
    CHECK(e.formatProblem("items[0]").empty());
    CHECK(f.formatProblem("items[0]").empty());
    // 5e1 on the wire is the double 50.0: the canonical bytes write it as 50.0.
    Envelope g =
        Envelope::fromJson(json::parse(R"({"id":"0193a3c2-7d1e-7000-8000-000000000001","rev":1,)"
                                       R"("form":"f","fv":1,"unit":"U","author":"a",)"
                                       R"("created":"2026-11-20T08:00:00.000Z","offset":0,)"
                                       R"("final":"2026-11-20T08:00:00.000Z","payload":{"n":5e1}})"));
    CHECK(g.canonical().find("\"n\":50.0}") != std::string::npos);
    // 2^53 + 1 travels exactly (no rounding to 2^53), in and out of the wire form.
    e.payload = json{{"n", std::int64_t{9007199254740993}}};
    CHECK(e.canonical().find("\"n\":9007199254740993}") != std::string::npos);
    Envelope back = Envelope::fromJson(json::parse(e.toJson().dump()));
    CHECK(back.hash() == e.hash());
    CHECK(back.formatProblem("items[0]").empty());
    // A number too large for a double never decodes (the JSON parser refuses it); one made in memory is
    // refused by the rule, naming where it is.
    CHECK_THROWS(json::parse(R"({"r":[1,-1e400]})"));
    e.payload = json{{"r", json::array({1, -std::numeric_limits<double>::infinity()})}};
    CHECK(e.formatProblem("items[4]").rfind("items[4].payload.r[1]: a number too large", 0) == 0);
}

TEST_CASE("member formats: ids, times, authors, nonces and batch ids as laptops make them", "[formats]") {
    for (int i = 0; i < 100; ++i) {
        CHECK(batchIdProblem(core::newUuidV7()).empty());
        CHECK(isNonce(newNonce()));
    }
    CHECK_FALSE(batchIdProblem("b-1").empty());
    CHECK_FALSE(isNonce("AAAAAAAAAAAAAAAAAAAAAB"));  // 22 characters, but not 16 bytes
    CHECK_FALSE(isNonce("AAAAAAAAAAAAAAAAAAAA+A"));
    Envelope e = sampleEnvelope();
    e.id = core::newUuidV7();
    e.createdUtc = core::nowTimestamp().utc;
    CHECK(e.formatProblem("items[0]").empty());
    e.finalizedUtc = "2026-11-20T09:00:00.5Z";
    CHECK(e.formatProblem("items[0]").empty());
    e.finalizedUtc = "2026-11-20T09:00:00.1234Z";
    CHECK(e.formatProblem("items[0]").rfind("items[0].final:", 0) == 0);
    e.finalizedUtc = "2026-02-29T09:00:00Z";  // not a leap year
    CHECK(e.formatProblem("items[0]").rfind("items[0].final:", 0) == 0);
    e = sampleEnvelope();
    e.unitId = "BANBAT\x1b[1m";
    CHECK(e.formatProblem("items[2]") == "items[2].unit: holds a control character or is not UTF-8");
    e = sampleEnvelope();
    e.payload["alpha"] = "tab\tand\nline are text; \x7f is not";
    CHECK(e.formatProblem("items[0]").rfind("items[0].payload.alpha:", 0) == 0);
    // Public keys: a generated one is usable; all-zero and a small-order point are not.
    CHECK(isSigningPublicKey(SigningKeyPair::generate().publicKey));
    CHECK_FALSE(isSigningPublicKey(Bytes(32, 0)));
    Bytes identity(32, 0);
    identity[0] = 1;
    CHECK_FALSE(isSigningPublicKey(identity));
    CHECK_FALSE(isSigningPublicKey(Bytes(31, 1)));
}
