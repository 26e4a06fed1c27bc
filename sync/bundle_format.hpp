// Store-and-forward bundles, the format both ends share: the sync protocol carried on a USB stick, for
// sites with no network at all (docs/protocol.md, "Store-and-forward bundles").
//
// The laptop exports a bundle: the push requests it would send to POST /v1/push for its queued reports
// (batch id, zstd body, nonce, device id, request signature), a signed pull request from its cursor, and
// the epoch it knows, the whole signed with the device key and sealed to HQ. HQ imports it through the
// same handlers as the network (hq/bundle_import.hpp) and makes a receipt bundle: its answers, signed
// with HQ's key and sealed to the device. The laptop imports the receipt (sync/bundle.hpp).
//
// No SQL and no HTTP here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "sync/message.hpp"
#include "sync/protocol.hpp"

namespace outpost::sync {

// The first line of each file. Files are written in version 2, whose header line carries a check; files
// of version 1 (no check) are still read, and HQ answers a version 1 bundle with a version 1 receipt.
constexpr std::string_view kBundleMagic = "OUTPOST-BUNDLE/2\n";    // laptop to HQ
constexpr std::string_view kReceiptMagic = "OUTPOST-RECEIPT/2\n";  // HQ to laptop
constexpr std::string_view kBundleMagicV1 = "OUTPOST-BUNDLE/1\n";
constexpr std::string_view kReceiptMagicV1 = "OUTPOST-RECEIPT/1\n";
// What each side signs: this context line, then the zstd frame of the document.
constexpr std::string_view kBundleSigningContext = "outpost/1 bundle\n";
constexpr std::string_view kReceiptSigningContext = "outpost/1 receipt bundle\n";
// Neither end reads a larger file, nor a document that decompresses to more.
constexpr std::size_t kMaxBundleFileBytes = 256u << 20;
constexpr std::size_t kMaxBundleDocumentBytes = 512u << 20;

// --- Sealing -----------------------------------------------------------------------------------
// A bundle file is the magic line, the header line "<recipient key id> <sealed length> <check>\n", then
// the sealed box: libsodium crypto_box_seal to the recipient's X25519 public key, which is derived from
// its Ed25519 signing key (crypto_sign_ed25519_pk_to_curve25519). The key id is the first 8 bytes of the
// BLAKE2b-256 of that X25519 key, in lower-case hex. The check is the first 8 bytes, in lower-case hex,
// of the BLAKE2b-256 of the magic line and "<key id> <length>": a header damaged in copying fails it, so
// a key id that passes and is not the reader's names another recipient (no MAC: it guards against
// damage, not forgery, which the sealed box and the signature inside catch). Version 1 headers have no
// check: "<key id> <length>\n".

// Throws Failure(Crypto, BadInput) when the key is not a usable Ed25519 public key.
Bytes x25519PublicKey(const Bytes& ed25519PublicKey);
std::string recipientKeyId(const Bytes& ed25519PublicKey);

// magic: kBundleMagic or kReceiptMagic (version 2), or a version 1 magic for a version 1 file.
std::string sealBundleFile(std::string_view magic, const Bytes& recipientSignPublicKey,
                           std::string_view plaintext);
// The plaintext of a file sealed to the holder of recipientSignSecretKey (64-byte Ed25519 secret key).
// magic names the kind (kBundleMagic or kReceiptMagic); a file of either version of that kind is read.
// Throws Failure(Input, BadInput) naming what is wrong: not this kind of file (the other kind is named),
// a version this build does not read, a damaged header, sealed for another recipient, truncated, bytes
// after the end, altered.
std::string openBundleFile(std::string_view magic, const Bytes& recipientSignSecretKey,
                           std::string_view file);
// 2 or 1 for a file that starts with either version's magic line of that kind, otherwise 0.
int bundleFileVersion(std::string_view magic, std::string_view file);

// The sealed plaintext: the 64-byte Ed25519 signature over context + frame, then the frame (one zstd
// frame of the document's JSON text).
std::string signDocument(std::string_view context, const json& document, const Bytes& signSecretKey);
struct SignedDocument {
    Bytes signature;
    std::string frame;
};
SignedDocument splitSignedDocument(std::string_view plaintext);  // throws Failure(Input, BadInput)
bool verifyDocument(std::string_view context, const SignedDocument& d, const Bytes& signPublicKey);
json documentJson(const SignedDocument& d, const char* what);  // decompresses and parses; throws

// --- The laptop's bundle -----------------------------------------------------------------------
// One push request as the laptop would send it to POST /v1/push.
struct BundledPush {
    std::string nonce;      // "nonce"
    std::string signature;  // "sig": the device's request signature over signingString()
    std::string body;       // "body" (base64 in the document): the zstd frame of the push request
};

// The pull request from the laptop's cursor: GET /v1/pull?after=<after>&limit=<limit>, signed.
struct BundledPull {
    std::int64_t after = 0;  // "after"
    int limit = 0;           // "limit"
    std::string nonce;       // "nonce"
    std::string signature;   // "sig"
    std::string target() const;
};

struct DeviceBundle {
    std::string bundleId;     // "bundle": a UUID made by the laptop
    std::string deviceId;     // "device"
    std::string hqId;         // "hq_id": the HQ it is for
    std::string madeUtc;      // "made": the laptop's clock, information only
    std::string epoch;        // "epoch": HQ's epoch as the laptop knows it (sent as Outpost-Epoch)
    std::string lastReceipt;  // "last_receipt": "<hq seq>:<record id>" or empty (Outpost-Last-Receipt)
    std::vector<BundledPush> pushes;
    BundledPull pull;

    json toJson() const;
    static DeviceBundle fromJson(const json& j);  // throws Failure(Input, BadInput)
    // The requests exactly as the network would carry them, for HqService::handleBundle.
    Request pushRequest(std::size_t i) const;
    Request pullRequest() const;
};

// --- HQ's receipt ------------------------------------------------------------------------------
// One revision of a push as HQ received it: [record id, revision, hash] in the document. The hash is
// what HQ signed in the push's receipt (Envelope::hash() of the bytes it received); receipts made before
// HQ wrote it carry [record id, revision] only (hash empty).
struct ReceiptPushItem {
    std::string id;
    int revision = 0;
    std::string hash;
};

struct ReceiptPush {
    int status = 0;                      // "status": the HTTP status HQ's handler answered
    std::string batchId;                 // "batch": the push's batch id
    std::vector<ReceiptPushItem> items;  // "items": in push order
    json answer;                         // "answer": the handler's JSON answer (or error body)
};

struct ReceiptBundle {
    std::string bundleId;     // "bundle": the laptop's bundle it answers
    std::string deviceId;     // "device"
    std::string hqId;         // "hq_id"
    std::string epoch;        // "epoch": HQ's epoch when it imported the bundle
    std::string bundleEpoch;  // "bundle_epoch": the epoch the bundle carried
    std::string madeUtc;      // "made": HQ's clock
    std::vector<ReceiptPush> pushes;
    std::int64_t pullAfter = 0;  // "pull": {"after", "status", "answer"}
    int pullStatus = 0;
    json pullAnswer;

    json toJson() const;
    static ReceiptBundle fromJson(const json& j);  // throws Failure(Input, BadInput)
};

// --- Files on disk -----------------------------------------------------------------------------
// Reads a whole bundle file (at most kMaxBundleFileBytes). NotFound when it does not exist.
Result<std::string> readBundleFile(const std::string& path);
// Writes bytes to path atomically: a temporary file beside it (mode 0600), fsync, rename, fsync of the
// folder. The path is either the old file or the whole new one, never a part.
Result<void> writeBundleFile(const std::string& path, std::string_view bytes);

}  // namespace outpost::sync
