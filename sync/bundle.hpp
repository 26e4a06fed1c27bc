// Store-and-forward bundles: the sync protocol carried on a USB stick, for sites with no network at all
// (docs/protocol.md, "Store-and-forward bundles").
//
// The laptop exports a bundle: the push requests it would send to POST /v1/push for its queued reports
// (batch id, zstd body, nonce, device id, request signature), a signed pull request from its cursor, and
// the epoch it knows, the whole signed with the device key and sealed to HQ. HQ imports it through the
// same handlers as the network (HqService::handleBundle) and makes a receipt bundle: its answers, signed
// with HQ's key and sealed to the device. The laptop imports the receipt: it checks HQ's receipt
// signatures against its own copies of the reports, then applies the outcomes and the feed page as a
// sync over the network would. Importing either file twice is harmless.
//
// No SQL here (the laptop's side goes through storage::Store) and no HTTP.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "storage/store.hpp"
#include "sync/hq_service.hpp"
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

// --- The laptop's side -------------------------------------------------------------------------
struct BundleOptions {
    int batchItems = 2000;                  // items per push at most (halved for a push over maxBodyBytes)
    std::size_t maxPushBytes = 128u << 20;  // compressed push bodies in one bundle, at most
    Limits limits;                          // what HQ accepts in one request
};

struct ExportedBundle {
    std::string file;  // the bytes to write
    std::string bundleId;
    std::int64_t reports = 0;   // revisions in the bundle
    std::int64_t batches = 0;   // push requests
    std::int64_t left = 0;      // queued revisions that did not fit (they go in the next bundle)
    std::int64_t tooLarge = 0;  // revisions larger than HQ accepts in one request (never bundled)
    std::int64_t held = 0;      // queued revisions held back for HQ's conduct keys (Store::OutboxCounts)
    std::int64_t cursor = 0;    // the pull cursor the bundle carries
};

// A bundle of the queued (not quarantined) revisions, in sync order. Reads the store only: nothing
// leaves the outbox until a receipt for it arrives, by bundle or by network.
Result<ExportedBundle> exportBundle(storage::Store& store, const BundleOptions& opts = {});

struct ReceiptApplied {
    std::string bundleId;
    std::int64_t stored = 0, duplicates = 0, conflicts = 0, rejected = 0;
    std::int64_t alreadyDone = 0;    // outcomes applied before: receipted, or quarantined already
    std::int64_t failed = 0;         // revisions HQ could not take (they stay queued)
    std::int64_t pulled = 0;         // feed entries applied
    bool pullSkipped = false;        // the page was older than this laptop's cursor, or not after it
    bool pullRefused = false;        // the page has an entry this laptop cannot take: none of it applied
    bool more = false;               // HQ has more of the feed for this laptop: the next bundle brings it
    bool resynced = false;           // HQ was restored: what it acknowledged is queued again
    bool stale = false;              // made for an epoch this laptop has left: nothing was applied
    std::vector<std::string> notes;  // what a person should know, one sentence each
};

// Opens a receipt with the device key, checks HQ's signature over it and every receipt signature
// against this laptop's own copies of the revisions, and only then applies the outcomes
// (Store::applyPushOutcomes), the feed page (Store::applyPull) and, when HQ's epoch changed,
// Store::beginResync. A file that fails any check changes nothing. A feed page the store refuses (an entry
// this laptop cannot take) is no failure of the receipt: its outcomes apply, the page does not
// (pullRefused, and a note), and the cursor stays where it was.
Result<ReceiptApplied> importReceipt(storage::Store& store, std::string_view file);

// --- HQ's side ---------------------------------------------------------------------------------
struct HqBundleImport {
    std::string receiptFile;  // the receipt bundle's bytes, sealed to the device
    std::string bundleId, deviceId, unitId;
    std::int64_t pushes = 0;
    std::int64_t replayed = 0;  // pushes HQ had answered before (the bundle was imported already)
    // What this import did: stored counts the reports stored now; duplicates those HQ held already,
    // every report that a replayed push had stored included. Conflicts and rejections are HQ's answer
    // (for a replayed push, the one recorded then).
    std::int64_t stored = 0, duplicates = 0, conflicts = 0, rejected = 0;
    std::int64_t pulled = 0;  // feed entries in the receipt
    bool more = false;
    std::vector<std::string> notes;  // answers that stored nothing (unit mismatch, epoch changed, replays)
};

// Opens a bundle with HQ's key, checks the device (known, not revoked) and its signature, then runs each
// push and the pull through service.handleBundle(). A refusal that the laptop cannot act on (an unknown
// or revoked device, a bad signature, a batch id reused with other content, HQ unavailable) is an error
// and no receipt is made; pushes of the same bundle answered before it stay stored (importing the bundle
// again is harmless).
Result<HqBundleImport> importBundle(HqService& service, std::string_view file);

}  // namespace outpost::sync
