// The Outpost sync protocol, version 2: the pieces both ends share (docs/protocol.md is the spec).
//
// Transport-independent: canonical bytes and hashes of a record revision, request signatures,
// receipt signatures, zstd framing with size limits, enrollment codes, and the JSON messages.
// No HTTP here (sync/http_*.cpp) and no SQL (storage/).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/json_depth.hpp"
#include "core/status.hpp"
#include "storage/crypto.hpp"

namespace outpost::sync {

using json = nlohmann::json;
using Bytes = std::vector<unsigned char>;

// Version 2: every envelope carries the device's signature over its canonical bytes ("sig"); HQ
// stores nothing unsigned. Version 1 clients get 426 (upgrade needed).
constexpr int kProtocolVersion = 2;
constexpr const char* kProtocolName = "outpost/2";

// Limits both ends enforce (HQ answers 413 above them; the client never builds bigger requests).
struct Limits {
    std::size_t maxBodyBytes = 8u << 20;           // a request body as sent (compressed)
    std::size_t maxUncompressedBytes = 64u << 20;  // a body after zstd
    std::size_t maxItems = 5000;                   // items in one push
    std::size_t maxJsonDepth = 64;
    std::size_t maxPullPage = 2000;
    // Requests per device (push and pull, counted once the signature verifies): a token bucket refilled
    // at deviceRequestsPerSecond and holding deviceBurst. A sync pass of 20,000 reports makes about 15
    // requests; a device far beyond this is broken or cloned and gets 429 with Retry-After. 0: no limit.
    double deviceRequestsPerSecond = 20;
    double deviceBurst = 60;
};

// --- Encoding helpers -------------------------------------------------------------------------
// The protocol's names for the one copy of each encoder and hash, in storage/crypto.hpp.
inline std::string base64Encode(const Bytes& b) {  // standard alphabet, padded
    return storage::toBase64(b);
}
inline std::string base64UrlEncode(const Bytes& b) {  // URL-safe, no padding
    return storage::toBase64Url(b);
}
inline std::optional<Bytes> base64Decode(std::string_view s) {  // accepts both alphabets, padding optional
    return storage::fromAnyBase64(s);
}
inline std::string hex(const Bytes& b) {
    return storage::toHex(b);
}
using storage::blake2b256;  // libsodium crypto_generichash, 32 bytes
Bytes randomBytes(std::size_t n);

// zstd, one frame. decompress throws Failure(Protocol, BadInput) on a corrupt frame and on output
// above maxOut (a "zip bomb" cannot make it allocate more).
std::string zstdCompress(std::string_view data, int level = 9);
std::string zstdDecompress(std::string_view frame, std::size_t maxOut);

// True when the JSON text nests objects and arrays deeper than maxDepth (strings skipped). A linear scan
// that never recurses, for any text, valid JSON or not (core/json_depth.hpp).
using core::nestedDeeperThan;
// Parses JSON, refusing nesting deeper than maxDepth and anything that is not an object.
// Throws Failure(Protocol, BadInput) naming what is wrong.
json parseObject(std::string_view text, std::size_t maxDepth);

// --- Keys and signatures (Ed25519) -------------------------------------------------------------
struct SigningKeyPair {
    Bytes publicKey;  // 32 bytes
    Bytes secretKey;  // 64 bytes (libsodium layout)
    static SigningKeyPair generate();
};
// True when key is an Ed25519 public key a device may enroll with: 32 bytes encoding a point on the
// curve that is not of small order (libsodium's crypto_core_ed25519_is_valid_point). The all-zero key
// and the other small-order points are refused: signatures under them prove nothing.
bool isSigningPublicKey(const Bytes& key);
using storage::sign;    // 64-byte detached signature (storage/crypto.hpp)
using storage::verify;  // false for keys or signatures of the wrong length

// --- Record revisions on the wire --------------------------------------------------------------
// One final revision as pushed. Field names on the wire are in the comments.
struct Envelope {
    std::string id;             // "id": the record's UUID (made by the device)
    int revision = 0;           // "rev"
    std::optional<int> parent;  // "parent": the revision it amends
    std::string formId;         // "form"
    int formVersion = 0;        // "fv"
    std::string unitId;         // "unit"
    std::string author;         // "author"
    std::string createdUtc;     // "created"
    int createdOffset = 0;      // "offset": minutes east of UTC on the device
    std::string finalizedUtc;   // "final": device clock, informative only (never used to order)
    json payload;               // "payload": the normalized record (computed values included)
    std::string signature;      // "sig": base64 Ed25519 by the device over revisionSigningString();
                                // not part of the canonical bytes (it signs them)
    std::string sealedHash;     // "sealed": hex BLAKE2b-256 of the sealed sensitive section, when the
                                // revision has one (part of the canonical bytes, so it is signed)
    std::string sealedPart;     // "sealed_part": that section, base64 (storage/sealed.hpp); not part of
                                // the canonical bytes, so a laptop that purged it still sends the same
                                // revision; HQ checks it against "sealed"

    json toJson() const;
    // Throws Failure(Protocol, BadInput) naming the missing or mistyped member.
    static Envelope fromJson(const json& j);
    static Envelope fromJson(json&& j);  // the same, moving the payload out of j
    // The canonical bytes: toJson() dumped with keys sorted, no whitespace, UTF-8 as is.
    std::string canonical() const;
    // BLAKE2b-256 of canonical(), lower-case hex: the identity of the bytes.
    std::string hash() const;
    // canonical() with the payload given as its own canonical JSON text (as the field store keeps it),
    // so the payload need not be parsed or copied. Equal to canonical() for payloadText == payload.dump().
    std::string canonicalWithPayloadText(std::string_view payloadText) const;
    // Why the envelope's members are not in their documented formats (docs/protocol.md, "Member
    // formats"), naming the first bad member as "<where>.<member>: ..." (where: "items[3]"); "" when
    // all are. Decoding (fromJson) checks the members' types; this checks what they hold.
    std::string formatProblem(const std::string& where) const;
};

// What the device signs for one revision: a context line, then the envelope's canonical bytes
// (which hold record id, revision, parent, form and version, unit, author, times and the payload).
std::string revisionSigningString(std::string_view canonical);
// base64 Ed25519 signature of revisionSigningString(canonical) with the device's secret key.
std::string signRevision(const Bytes& secretKey, std::string_view canonical);
// Empty when the signature verifies with publicKey; otherwise why not ("missing", "not base64", ...).
std::string revisionSignatureProblem(const Bytes& publicKey, std::string_view canonical,
                                     std::string_view signatureBase64);

// --- Requests ----------------------------------------------------------------------------------
// Every authenticated request carries these headers (names are case-insensitive on the wire):
//   Outpost-Protocol: 2
//   Outpost-Device: <device id>
//   Outpost-Nonce: <16 random bytes, base64url>
//   Outpost-Signature: <Ed25519 over signingString(), base64>
// and may carry Outpost-Epoch and Outpost-Last-Receipt (see docs/protocol.md, "Resync").
constexpr const char* kHeaderProtocol = "Outpost-Protocol";
constexpr const char* kHeaderDevice = "Outpost-Device";
constexpr const char* kHeaderNonce = "Outpost-Nonce";
constexpr const char* kHeaderSignature = "Outpost-Signature";
constexpr const char* kHeaderEpoch = "Outpost-Epoch";
constexpr const char* kHeaderLastReceipt = "Outpost-Last-Receipt";
// On a push answer: the batch was answered before (the results recorded then); nothing was stored now.
constexpr const char* kHeaderReplayed = "Outpost-Replayed";

// "outpost/2\n<METHOD>\n<path?query>\n<device>\n<nonce>\n<hex BLAKE2b-256 of the body as sent>"
std::string signingString(std::string_view method, std::string_view target, std::string_view device,
                          std::string_view nonce, std::string_view body);
std::string newNonce();  // 16 random bytes, base64url (22 characters)
// True for what newNonce() makes: 22 base64url characters encoding exactly 16 bytes (the last
// character carries 2 bits, so it is one of A, Q, g, w).
bool isNonce(std::string_view nonce);
// Why a push's batch id is not what a laptop makes (a UUIDv7, core/formats.hpp), or "".
std::string batchIdProblem(std::string_view batchId);

struct PushRequest {
    std::string batchId;  // "batch": idempotency key, a UUID made by the device per batch
    std::vector<Envelope> items;
    json toJson() const;
    static PushRequest fromJson(const json& j);  // throws Failure(Protocol, BadInput)
    static PushRequest fromJson(json&& j);       // the same, moving the payloads out of j
};

// A push body in the shape Outpost's client writes it - {"batch":"<id>","items":[{...},{...}]}, no
// whitespace, the batch id without escapes - cut into the batch id and each item's JSON text without
// parsing the items, so they can be parsed apart (and at once). Nullopt for any other text, valid or
// not: the caller then parses it whole. When every item's text is a valid JSON object the body is valid
// JSON with exactly these members; when one is not, the body is not valid JSON.
struct PushBodyParts {
    std::string batchId;
    std::vector<std::string_view> items;  // views into the text given
};
std::optional<PushBodyParts> splitPushBody(std::string_view text);
// One item's text as split above, parsed; nullopt when it is not valid JSON.
std::optional<json> parseItemText(std::string_view text);

// A push result's "s": core::toText() writes it, core::fromText() reads it.
using core::ItemStatus;

struct ItemResult {
    ItemStatus status = ItemStatus::Rejected;
    std::int64_t hqSeq = 0;  // "q": HQ's ingest sequence for stored / duplicate / conflict
    std::string reason;      // "r": why it was rejected or what conflicts
};

// The answer to a push: one result per item, in the items' order, and HQ's signature over the receipt.
struct PushResponse {
    std::string batchId;
    std::string epoch;
    std::vector<ItemResult> results;
    std::string signature;  // "sig": base64 Ed25519 by HQ over receiptString()
    json toJson() const;
    static PushResponse fromJson(const json& j);
};

// What HQ signs for a push: the batch, the epoch, the device and, per item, id, revision, hash,
// status and HQ sequence. The client rebuilds it from its own items and verifies it.
std::string receiptString(const std::string& batchId, const std::string& epoch, const std::string& device,
                          const std::vector<Envelope>& items, const std::vector<ItemResult>& results);
// The same from each item's id, revision and hash, when the hashes are known already.
struct ReceiptItem {
    std::string id;
    int revision = 0;
    std::string hash;
};
std::string receiptString(const std::string& batchId, const std::string& epoch, const std::string& device,
                          const std::vector<ReceiptItem>& items, const std::vector<ItemResult>& results);

// One entry of the pull feed.
struct FeedItem {
    std::int64_t seq = 0;  // "q"
    std::string kind;      // "form", "reference", "feedback"
    json body;
};

struct PullResponse {
    std::string epoch;
    std::int64_t next = 0;  // the cursor to send next time (the last item's seq, or the request's)
    bool more = false;
    std::vector<FeedItem> items;
    std::string at;  // "at": feedEntryIdentity() of entry `next` ("" when next is 0); the laptop sends it
                     // back with its cursor
    json toJson() const;
    static PullResponse fromJson(const json& j);
};

// What identifies a feed entry beyond its number (which an HQ restored from a backup, without a new epoch,
// may hand out again for another entry): 32 lower-case hex characters, the first 16 bytes of BLAKE2b-256 of
// "outpost feed entry\n<seq>\n<kind>\n<unit or empty>\n<body as canonical JSON>".
std::string feedEntryIdentity(std::int64_t seq, std::string_view kind, std::string_view unitId,
                              const json& body);

// An error body: {"error": {"code": "...", "message": "..."}} (plus optional members).
json errorBody(std::string_view code, std::string_view message);

// --- Enrollment codes --------------------------------------------------------------------------
// "OP1.<secret>.<pin>": the one-time secret (base32, 26 characters) and HQ's TLS public-key pin
// (SHA-256 of the SubjectPublicKeyInfo, base64url). The pin is what makes enrollment safe on a
// hostile network: the device talks only to the HQ whose key was printed with the code.
struct EnrollmentCode {
    std::string secret;
    std::string pin;  // base64url SHA-256
    std::string text() const;
    static EnrollmentCode parse(std::string_view text);  // throws Failure(Input, BadInput)
    static EnrollmentCode generate(std::string pin);
    std::string secretHash() const;  // what HQ stores: hex BLAKE2b-256 of the secret
};
// The pin in libcurl's CURLOPT_PINNEDPUBLICKEY form: "sha256//<standard base64>".
std::string curlPin(std::string_view pinBase64Url);

}  // namespace outpost::sync
