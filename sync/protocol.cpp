// The Outpost sync protocol, version 2: shared encodings, hashes, signatures and messages.
#include "sync/protocol.hpp"

#include "core/formats.hpp"
#include "core/revision.hpp"

#include <sodium.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>

#include "storage/crypto.hpp"

namespace outpost::sync {

namespace {

[[noreturn]] void bad(const std::string& message) {
    throw Failure(ErrorDomain::Protocol, ErrorCode::BadInput, message);
}

const json& member(const json& j, const char* name, const char* where) {
    if (!j.is_object()) bad(std::string(where) + " is not a JSON object");
    auto it = j.find(name);
    if (it == j.end()) bad(std::string(where) + " has no \"" + name + "\"");
    return *it;
}

std::string stringMember(const json& j, const char* name, const char* where, bool allowEmpty = false) {
    const json& v = member(j, name, where);
    if (!v.is_string()) bad(std::string(where) + ": \"" + name + "\" must be a string");
    auto s = v.get<std::string>();
    if (!allowEmpty && s.empty()) bad(std::string(where) + ": \"" + name + "\" is empty");
    return s;
}

std::int64_t intMember(const json& j, const char* name, const char* where) {
    const json& v = member(j, name, where);
    if (!v.is_number_integer()) bad(std::string(where) + ": \"" + name + "\" must be an integer");
    return v.get<std::int64_t>();
}

int smallInt(std::int64_t v, const char* name, const char* where, std::int64_t lo, std::int64_t hi) {
    if (v < lo || v > hi)
        bad(std::string(where) + ": \"" + name + "\" is out of range (" + std::to_string(v) + ")");
    return static_cast<int>(v);
}

constexpr const char* kBase32 = "abcdefghijklmnopqrstuvwxyz234567";

std::string base32(const Bytes& b) {
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (unsigned char c : b) {
        buffer = (buffer << 8) | c;
        bits += 8;
        while (bits >= 5) {
            out += kBase32[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) out += kBase32[(buffer << (5 - bits)) & 31];
    return out;
}

}  // namespace

// --- Encoding helpers ---------------------------------------------------------------------------

Bytes randomBytes(std::size_t n) {
    storage::ensureSodium();
    Bytes out(n);
    randombytes_buf(out.data(), n);
    return out;
}

std::string zstdCompress(std::string_view data, int level) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
    if (ZSTD_isError(n))
        throw Failure(ErrorDomain::Internal, ErrorCode::Internal,
                      std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
    out.resize(n);
    return out;
}

std::string zstdDecompress(std::string_view frame, std::size_t maxOut) {
    if (frame.empty()) bad("the body is empty (a zstd frame was expected)");
    ZSTD_DCtx* ctx = ZSTD_createDCtx();
    if (!ctx) throw Failure(ErrorDomain::Internal, ErrorCode::Internal, "zstd: out of memory");
    std::string out;
    ZSTD_inBuffer in{frame.data(), frame.size(), 0};
    std::string chunk(std::min<std::size_t>(ZSTD_DStreamOutSize(), maxOut + 1), '\0');
    size_t last = 1;
    while (true) {
        ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
        last = ZSTD_decompressStream(ctx, &ob, &in);
        if (ZSTD_isError(last)) {
            ZSTD_freeDCtx(ctx);
            bad(std::string("the body is not a valid zstd frame: ") + ZSTD_getErrorName(last));
        }
        out.append(chunk.data(), ob.pos);
        if (out.size() > maxOut) {
            ZSTD_freeDCtx(ctx);
            throw Failure(ErrorDomain::Protocol, ErrorCode::BadInput,
                          "the body is larger than " + std::to_string(maxOut) + " bytes once decompressed");
        }
        if (last == 0 && in.pos == in.size) break;
        if (in.pos == in.size && ob.pos < ob.size) {
            // All input consumed and the decoder wants more: the frame was cut short.
            ZSTD_freeDCtx(ctx);
            bad("the zstd frame is truncated");
        }
    }
    ZSTD_freeDCtx(ctx);
    return out;
}

json parseObject(std::string_view text, std::size_t maxDepth) {
    // Depth is checked before parsing so a deeply nested body cannot exhaust the parser's stack.
    if (nestedDeeperThan(text, maxDepth))
        bad("the JSON is nested deeper than " + std::to_string(maxDepth) + " levels");
    json j = json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded()) bad("the body is not valid JSON");
    if (!j.is_object()) bad("the body must be a JSON object");
    return j;
}

// --- Keys and signatures ------------------------------------------------------------------------

SigningKeyPair SigningKeyPair::generate() {
    storage::ensureSodium();
    SigningKeyPair k;
    k.publicKey.resize(crypto_sign_PUBLICKEYBYTES);
    k.secretKey.resize(crypto_sign_SECRETKEYBYTES);
    crypto_sign_keypair(k.publicKey.data(), k.secretKey.data());
    return k;
}

bool isSigningPublicKey(const Bytes& key) {
    storage::ensureSodium();
    return key.size() == crypto_sign_PUBLICKEYBYTES && crypto_core_ed25519_is_valid_point(key.data()) == 1;
}

// --- Envelopes ----------------------------------------------------------------------------------

json Envelope::toJson() const {
    json j = json::object();
    j["id"] = id;
    j["rev"] = revision;
    if (parent) j["parent"] = *parent;
    j["form"] = formId;
    j["fv"] = formVersion;
    j["unit"] = unitId;
    j["author"] = author;
    j["created"] = createdUtc;
    j["offset"] = createdOffset;
    j["final"] = finalizedUtc;
    j["payload"] = payload;
    if (!signature.empty()) j["sig"] = signature;
    if (!sealedHash.empty()) j["sealed"] = sealedHash;
    if (!sealedPart.empty()) j["sealed_part"] = sealedPart;
    return j;
}

namespace {

// Decodes everything but the payload, which the callers copy or move.
Envelope envelopeHead(const json& j);

}  // namespace

Envelope Envelope::fromJson(const json& j) {
    Envelope e = envelopeHead(j);
    e.payload = j["payload"];
    return e;
}

Envelope Envelope::fromJson(json&& j) {
    Envelope e = envelopeHead(j);
    e.payload = std::move(j["payload"]);
    return e;
}

namespace {

Envelope envelopeHead(const json& j) {
    const char* where = "an item";
    Envelope e;
    e.id = stringMember(j, "id", where);
    std::string w = "item " + e.id;
    const char* wh = w.c_str();
    if (e.id.size() > 64) bad(w.substr(0, 70) + ": the id is longer than 64 characters");
    e.revision = smallInt(intMember(j, "rev", wh), "rev", wh, 1, 1000000);
    if (auto it = j.find("parent"); it != j.end() && !it->is_null()) {
        if (!it->is_number_integer()) bad(w + ": \"parent\" must be an integer");
        e.parent = smallInt(it->get<std::int64_t>(), "parent", wh, 1, 1000000);
        if (*e.parent >= e.revision) bad(w + ": \"parent\" must be lower than \"rev\"");
    }
    e.formId = stringMember(j, "form", wh);
    e.formVersion = smallInt(intMember(j, "fv", wh), "fv", wh, 1, 1000000);
    e.unitId = stringMember(j, "unit", wh);
    e.author = stringMember(j, "author", wh, true);
    e.createdUtc = stringMember(j, "created", wh);
    e.createdOffset = smallInt(intMember(j, "offset", wh), "offset", wh, -24 * 60, 24 * 60);
    e.finalizedUtc = stringMember(j, "final", wh);
    const json& p = member(j, "payload", wh);
    if (!p.is_object()) bad(w + ": \"payload\" must be a JSON object");
    if (auto it = j.find("sig"); it != j.end()) {
        if (!it->is_string() || it->get_ref<const std::string&>().size() > 200)
            bad(w + ": \"sig\" must be a base64 signature");
        e.signature = it->get<std::string>();
    }
    if (auto it = j.find("sealed"); it != j.end()) {
        if (!it->is_string() || it->get_ref<const std::string&>().size() != 64 ||
            it->get_ref<const std::string&>().find_first_not_of("0123456789abcdef") != std::string::npos)
            bad(w + ": \"sealed\" must be the lower-case hex BLAKE2b-256 of the sealed part");
        e.sealedHash = it->get<std::string>();
    }
    if (auto it = j.find("sealed_part"); it != j.end()) {
        if (!it->is_string() || it->get_ref<const std::string&>().empty())
            bad(w + ": \"sealed_part\" must be base64");
        if (e.sealedHash.empty()) bad(w + ": \"sealed_part\" comes with its hash in \"sealed\"");
        e.sealedPart = it->get<std::string>();
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
        static const char* known[] = {"id",      "rev",    "parent",  "form",       "fv",
                                      "unit",    "author", "created", "offset",     "final",
                                      "payload", "sig",    "sealed",  "sealed_part"};
        if (std::none_of(std::begin(known), std::end(known), [&](const char* k) { return it.key() == k; }))
            bad(w + ": unknown member \"" + it.key() + "\"");
    }
    return e;
}

}  // namespace

std::string Envelope::canonical() const {
    return canonicalWithPayloadText(payload.dump(-1, ' ', false, json::error_handler_t::strict));
}

std::string Envelope::canonicalWithPayloadText(std::string_view payloadText) const {
    core::RevisionHead h;
    h.id = id;
    h.revision = revision;
    h.parent = parent;
    h.formId = formId;
    h.formVersion = formVersion;
    h.unitId = unitId;
    h.author = author;
    h.createdUtc = createdUtc;
    h.createdOffset = createdOffset;
    h.finalizedUtc = finalizedUtc;
    h.sealedHash = sealedHash;
    return core::canonicalRevision(h, payloadText);
}

std::string revisionSigningString(std::string_view canonical) {
    return core::revisionSigningString(canonical);
}

std::string signRevision(const Bytes& secretKey, std::string_view canonical) {
    return base64Encode(sign(secretKey, revisionSigningString(canonical)));
}

std::string revisionSignatureProblem(const Bytes& publicKey, std::string_view canonical,
                                     std::string_view signatureBase64) {
    if (signatureBase64.empty()) return "the revision is not signed by the device";
    auto sig = base64Decode(signatureBase64);
    if (!sig || sig->size() != 64) return "the revision's signature is not a base64 Ed25519 signature";
    if (!verify(publicKey, revisionSigningString(canonical), *sig))
        return "the revision's signature does not verify with the device's key (forged, altered or "
               "signed by another device)";
    return {};
}

std::string Envelope::formatProblem(const std::string& where) const {
    auto at = [&](const char* member, const std::string& why) { return where + "." + member + ": " + why; };
    auto plain = [&](const char* member, const std::string& text) -> std::string {
        if (core::firstControlCharacter(text, false) != std::string::npos)
            return at(member, "holds a control character or is not UTF-8");
        return {};
    };
    if (!core::isUuidV7(id)) return at("id", "not a UUID (8-4-4-4-12 lower-case hex, version 7)");
    if (formId.size() > 64) return at("form", "longer than 64 characters");
    if (auto p = plain("form", formId); !p.empty()) return p;
    if (unitId.size() > 64) return at("unit", "longer than 64 characters");
    if (auto p = plain("unit", unitId); !p.empty()) return p;
    if (!author.empty() && !core::isAccountName(author))
        return at(
            "author",
            "not an account name (1 to 32 of a-z, 0-9, '.', '-', '_', starting with a letter or digit)");
    if (!core::isUtcTimestamp(createdUtc))
        return at("created", "not a UTC time (YYYY-MM-DDTHH:MM:SS[.fff]Z, years 1900 to 2200)");
    if (!core::isUtcTimestamp(finalizedUtc))
        return at("final", "not a UTC time (YYYY-MM-DDTHH:MM:SS[.fff]Z, years 1900 to 2200)");
    if (auto p = core::textProblem(payload, where + ".payload"); !p.empty()) return p;
    if (auto p = core::numberProblem(payload, where + ".payload"); !p.empty()) return p;
    if (!sealedPart.empty() && !base64Decode(sealedPart)) return at("sealed_part", "not base64");
    return {};
}

std::string Envelope::hash() const {
    return hex(blake2b256(canonical()));
}

// --- Requests -----------------------------------------------------------------------------------

std::string signingString(std::string_view method, std::string_view target, std::string_view device,
                          std::string_view nonce, std::string_view body) {
    std::string s = kProtocolName;
    s += '\n';
    s.append(method);
    s += '\n';
    s.append(target);
    s += '\n';
    s.append(device);
    s += '\n';
    s.append(nonce);
    s += '\n';
    s += hex(blake2b256(body));
    return s;
}

std::string newNonce() {
    return base64UrlEncode(randomBytes(16));
}

bool isNonce(std::string_view nonce) {
    if (nonce.size() != 22) return false;
    for (char c : nonce)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    const char last = nonce.back();
    return last == 'A' || last == 'Q' || last == 'g' || last == 'w';
}

std::string batchIdProblem(std::string_view batchId) {
    if (core::isUuidV7(batchId)) return {};
    return "batch: not a UUID (8-4-4-4-12 lower-case hex, version 7)";
}

json PushRequest::toJson() const {
    json arr = json::array();
    for (const auto& e : items) arr.push_back(e.toJson());
    return json{{"batch", batchId}, {"items", std::move(arr)}};
}

PushRequest PushRequest::fromJson(json&& j) {
    PushRequest r;
    r.batchId = stringMember(j, "batch", "the push request");
    if (r.batchId.size() > 64) bad("the push request: \"batch\" is longer than 64 characters");
    member(j, "items", "the push request");
    json& items = j["items"];
    if (!items.is_array()) bad("the push request: \"items\" must be an array");
    r.items.reserve(items.size());
    for (auto& it : items) {
        Envelope e = envelopeHead(it);
        e.payload = std::move(it["payload"]);
        r.items.push_back(std::move(e));
    }
    return r;
}

std::optional<PushBodyParts> splitPushBody(std::string_view t) {
    constexpr std::string_view head = "{\"batch\":\"";
    constexpr std::string_view middle = ",\"items\":[";
    if (t.substr(0, head.size()) != head) return std::nullopt;
    std::size_t p = head.size() - 1;  // at the batch id's opening quote
    const std::size_t close = t.find('"', p + 1);
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view token = t.substr(p, close - p + 1);
    if (token.find('\\') != std::string_view::npos) return std::nullopt;
    json id = json::parse(token.begin(), token.end(), nullptr, false);
    if (id.is_discarded() || !id.is_string()) return std::nullopt;
    p = close + 1;
    if (t.substr(p, middle.size()) != middle) return std::nullopt;
    p += middle.size();
    PushBodyParts parts;
    parts.batchId = id.get<std::string>();
    if (p < t.size() && t[p] == ']') {
        ++p;
    } else {
        for (;;) {
            if (p >= t.size() || t[p] != '{') return std::nullopt;
            const std::size_t start = p;
            core::JsonDepthScanner scan;  // t[start] is '{', so depth 0 again means its closing '}'
            for (; p < t.size(); ++p)
                if (scan.step(t[p]) == 0) break;
            if (p >= t.size()) return std::nullopt;
            ++p;
            parts.items.push_back(t.substr(start, p - start));
            if (p < t.size() && t[p] == ',') {
                ++p;
                continue;
            }
            if (p < t.size() && t[p] == ']') {
                ++p;
                break;
            }
            return std::nullopt;
        }
    }
    if (t.substr(p) != "}") return std::nullopt;
    return parts;
}

std::optional<json> parseItemText(std::string_view text) {
    json j = json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
}

PushRequest PushRequest::fromJson(const json& j) {
    PushRequest r;
    r.batchId = stringMember(j, "batch", "the push request");
    if (r.batchId.size() > 64) bad("the push request: \"batch\" is longer than 64 characters");
    const json& items = member(j, "items", "the push request");
    if (!items.is_array()) bad("the push request: \"items\" must be an array");
    r.items.reserve(items.size());
    for (const auto& it : items) r.items.push_back(Envelope::fromJson(it));
    return r;
}

json PushResponse::toJson() const {
    json rs = json::array();
    for (const auto& r : results) {
        json o{{"s", core::toText(r.status)}};
        if (r.hqSeq) o["q"] = r.hqSeq;
        if (!r.reason.empty()) o["r"] = r.reason;
        rs.push_back(std::move(o));
    }
    return json{{"batch", batchId}, {"epoch", epoch}, {"results", std::move(rs)}, {"sig", signature}};
}

PushResponse PushResponse::fromJson(const json& j) {
    const char* where = "the push answer";
    PushResponse r;
    r.batchId = stringMember(j, "batch", where);
    r.epoch = stringMember(j, "epoch", where);
    r.signature = stringMember(j, "sig", where);
    const json& rs = member(j, "results", where);
    if (!rs.is_array()) bad("the push answer: \"results\" must be an array");
    for (const auto& o : rs) {
        ItemResult ir;
        const std::string s = stringMember(o, "s", "a push result");
        auto st = core::fromText<ItemStatus>(s);
        if (!st)
            bad("a push result: " +
                core::unknownText(core::kindOf<ItemStatus>(), s, ErrorDomain::Protocol, ErrorCode::BadInput)
                    .message);
        ir.status = *st;
        if (auto it = o.find("q"); it != o.end()) {
            if (!it->is_number_integer() || it->get<std::int64_t>() < 0)
                bad("a push result: \"q\" must be a non-negative integer");
            ir.hqSeq = it->get<std::int64_t>();
        }
        if (auto it = o.find("r"); it != o.end()) {
            if (!it->is_string()) bad("a push result: \"r\" must be a string");
            ir.reason = it->get<std::string>();
        }
        if (ir.status != ItemStatus::Rejected && ir.hqSeq <= 0) bad("a push result without its HQ sequence");
        r.results.push_back(std::move(ir));
    }
    return r;
}

std::string receiptString(const std::string& batchId, const std::string& epoch, const std::string& device,
                          const std::vector<Envelope>& items, const std::vector<ItemResult>& results) {
    std::vector<ReceiptItem> lines;
    lines.reserve(items.size());
    for (const auto& e : items) lines.push_back({e.id, e.revision, e.hash()});
    return receiptString(batchId, epoch, device, lines, results);
}

std::string receiptString(const std::string& batchId, const std::string& epoch, const std::string& device,
                          const std::vector<ReceiptItem>& items, const std::vector<ItemResult>& results) {
    if (items.size() != results.size())
        throw Failure(ErrorDomain::Protocol, ErrorCode::BadInput,
                      "the answer has " + std::to_string(results.size()) + " results for " +
                          std::to_string(items.size()) + " items");
    std::string s = std::string(kProtocolName) + " receipt\n" + batchId + "\n" + epoch + "\n" + device + "\n";
    for (std::size_t i = 0; i < items.size(); ++i) {
        s += items[i].id + " " + std::to_string(items[i].revision) + " " + items[i].hash + " " +
             std::string(core::toText(results[i].status)) + " " +
             std::to_string(results[i].status == ItemStatus::Rejected ? 0 : results[i].hqSeq) + "\n";
    }
    return s;
}

json PullResponse::toJson() const {
    json arr = json::array();
    for (const auto& it : items) arr.push_back(json{{"q", it.seq}, {"kind", it.kind}, {"body", it.body}});
    json j = {{"epoch", epoch}, {"next", next}, {"more", more}, {"items", std::move(arr)}};
    if (!at.empty()) j["at"] = at;
    return j;
}

std::string feedEntryIdentity(std::int64_t seq, std::string_view kind, std::string_view unitId,
                              const json& body) {
    std::string s = "outpost feed entry\n" + std::to_string(seq) + "\n";
    s.append(kind);
    s += '\n';
    s.append(unitId);
    s += '\n';
    s += body.dump(-1, ' ', false, json::error_handler_t::replace);
    Bytes h = blake2b256(s);
    h.resize(16);
    return hex(h);
}

PullResponse PullResponse::fromJson(const json& j) {
    const char* where = "the pull answer";
    PullResponse r;
    r.epoch = stringMember(j, "epoch", where);
    r.next = intMember(j, "next", where);
    if (auto it = j.find("at"); it != j.end()) {
        if (!it->is_string() || it->get_ref<const std::string&>().size() != 32 ||
            it->get_ref<const std::string&>().find_first_not_of("0123456789abcdef") != std::string::npos)
            bad("the pull answer: \"at\" must be a feed entry's identity (32 hex characters)");
        r.at = it->get<std::string>();
    }
    const json& more = member(j, "more", where);
    if (!more.is_boolean()) bad("the pull answer: \"more\" must be true or false");
    r.more = more.get<bool>();
    const json& items = member(j, "items", where);
    if (!items.is_array()) bad("the pull answer: \"items\" must be an array");
    std::int64_t last = 0;
    for (const auto& o : items) {
        FeedItem f;
        f.seq = intMember(o, "q", "a pull item");
        if (f.seq <= last) bad("the pull answer's items are not in increasing order");
        last = f.seq;
        f.kind = stringMember(o, "kind", "a pull item");
        const json& body = member(o, "body", "a pull item");
        if (!body.is_object()) bad("a pull item's body must be an object");
        f.body = body;
        r.items.push_back(std::move(f));
    }
    if (!r.items.empty() && r.next < r.items.back().seq) bad("the pull answer's cursor is behind its items");
    return r;
}

json errorBody(std::string_view code, std::string_view message) {
    return json{{"error", {{"code", std::string(code)}, {"message", std::string(message)}}}};
}

// --- Enrollment codes ---------------------------------------------------------------------------

std::string EnrollmentCode::text() const {
    return "OP1." + secret + "." + pin;
}

EnrollmentCode EnrollmentCode::parse(std::string_view text) {
    auto fail = [](const std::string& m) -> EnrollmentCode {
        throw Failure(ErrorDomain::Input, ErrorCode::BadInput, m);
    };
    std::string t;
    for (char c : text)
        if (!std::isspace(static_cast<unsigned char>(c))) t += c;
    if (t.rfind("OP1.", 0) != 0 && t.rfind("op1.", 0) != 0)
        return fail("an enrollment code starts with OP1. (got \"" + t.substr(0, 8) + "...\")");
    auto dot = t.find('.', 4);
    if (dot == std::string::npos) return fail("the enrollment code has no TLS pin part (OP1.<secret>.<pin>)");
    EnrollmentCode c;
    c.secret = t.substr(4, dot - 4);
    c.pin = t.substr(dot + 1);
    for (auto& ch : c.secret) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (c.secret.size() != 26 || c.secret.find_first_not_of(kBase32) != std::string::npos)
        return fail("the enrollment code's secret must be 26 letters and digits 2-7");
    auto pinBytes = base64Decode(c.pin);
    if (!pinBytes || pinBytes->size() != 32)
        return fail("the enrollment code's TLS pin is not a SHA-256 in base64url");
    return c;
}

EnrollmentCode EnrollmentCode::generate(std::string pin) {
    EnrollmentCode c;
    c.secret = base32(randomBytes(16));
    c.pin = std::move(pin);
    return c;
}

std::string EnrollmentCode::secretHash() const {
    return hex(blake2b256(secret));
}

std::string curlPin(std::string_view pinBase64Url) {
    auto b = base64Decode(pinBase64Url);
    if (!b) throw Failure(ErrorDomain::Input, ErrorCode::BadInput, "the TLS pin is not valid base64");
    return "sha256//" + base64Encode(*b);
}

}  // namespace outpost::sync
