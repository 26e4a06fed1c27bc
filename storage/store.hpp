// The field store: encrypted records, drafts, revisions, the outbox, search and derived figures.
//
// Contract: a Store is used from one thread at a time (give each thread its own Store).
// Every public method returns a Result; none throws. Every multi-statement write is one transaction:
// a failure (disk full, I/O error, crash) leaves the store exactly as it was before the call.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/derived.hpp"
#include "core/error.hpp"
#include "core/form.hpp"
#include "core/refdata.hpp"
#include "core/validate.hpp"
#include "storage/crypto.hpp"

namespace outpost::storage {

using json = nlohmann::json;

constexpr int kSchemaVersion = 5;
constexpr const char* kStoreFileName = "outpost.db";

struct StoreOptions {
    std::string vfs;          // an SQLite VFS name (tests inject faults with one); empty: the default
    int keepBackups = 7;      // how many daily backups to keep
    bool autoBackup = false;  // take a backup on open when the newest is older than a day
};

struct InitOptions {
    std::string unitId;  // the unit this laptop reports for (must exist in the reference data)
    std::string user;    // the account name recorded as author
    KdfParams kdf = KdfParams::interactive();
};

struct RecordMeta {
    std::string id;
    int revision = 0;
    std::optional<int> parentRevision;
    std::string formId;
    int formVersion = 0;
    std::string unitId;
    std::string author;
    std::string status;  // "draft" or "final"
    std::string createdUtc;
    int createdOffsetMinutes = 0;
    std::string updatedUtc;
    std::string finalizedUtc;
    std::int64_t localSeq = 0;  // finalize order on this laptop (0 for drafts)
    std::string syncState;      // "draft", "queued", "quarantined", "sent" (HQ receipt held)
};

struct Record {
    RecordMeta meta;
    json payload;
};

struct ListFilter {
    std::string formId;
    std::string unitId;
    std::string status;        // "", "draft", "final"
    bool latestOnly = true;    // one row per record (its newest revision)
    bool oldestFirst = false;  // default: newest first (by id, which carries creation order)
    int limit = 1000;
    int offset = 0;
};

struct OutboxItem {
    std::int64_t seq = 0;
    std::string recordId;
    int revision = 0;
    std::string formId;
    int priority = 0;
    std::string enqueuedUtc;
    int attempts = 0;
    std::string state;
    std::string lastError;
};

struct Saved {
    RecordMeta meta;
    core::ValidationResult validation;  // warnings (and, for drafts, problems left to fix)
};

struct StoreInfo {
    std::string dir;
    int schemaVersion = 0;
    std::string unitId;
    std::string user;
    std::int64_t records = 0, drafts = 0, finals = 0, outbox = 0;
};

// --- Sync with HQ (docs/protocol.md) ---------------------------------------------------------
// What enrollment left on this laptop. The device's secret signing key is kept sealed with the
// data key (never in plaintext on disk); everything here is also in the encrypted store.
struct SyncConfig {
    std::string hqUrl;  // "https://host:port"
    std::string pin;    // HQ's TLS public-key pin (base64url SHA-256 of the SPKI)
    std::string deviceId;
    std::string hqId;
    std::string hqSignKey;  // HQ's Ed25519 public key (base64): verifies receipts
    std::string epoch;      // HQ's epoch when last seen
    std::int64_t pullCursor = 0;
    bool revoked = false;  // HQ refused this device
    std::string lastSyncUtc;
    std::string lastError;
};

// One queued final revision, ready for the wire: the envelope members and the decrypted payload.
struct OutgoingItem {
    std::int64_t outboxSeq = 0;
    std::string recordId;
    int revision = 0;
    std::optional<int> parent;
    std::string formId;
    int formVersion = 0;
    std::string unitId;
    std::string author;
    std::string createdUtc;
    int createdOffset = 0;
    std::string finalizedUtc;
    int priority = 0;
    json payload;             // parsed (empty when nextOutgoing was asked not to parse)
    std::string payloadText;  // the payload's canonical JSON text, as stored
};

// HQ's answer for one pushed item.
struct PushOutcome {
    std::int64_t outboxSeq = 0;
    std::string status;  // "stored", "duplicate", "conflict", "rejected"
    std::int64_t hqSeq = 0;
    std::string reason;
    std::string hash;  // hex BLAKE2b-256 of the canonical bytes that were sent
};

// HQ feedback about one revision (review status and comment), as last pulled.
struct Feedback {
    std::string recordId;
    int revision = 0;
    std::string status;  // "received", "accepted", "returned"
    std::string comment;
    std::string by;
    std::string atUtc;  // HQ clock
    std::int64_t feedSeq = 0;
};

// One entry of a pulled page (mirrors sync::FeedItem without depending on sync/).
struct PulledEntry {
    std::int64_t seq = 0;
    std::string kind;  // "form", "reference", "feedback"
    json body;
};

// What a receipt says about a revision on this laptop.
struct ReceiptInfo {
    std::string recordId;
    int revision = 0;
    std::string status;  // "stored", "duplicate", "conflict"
    std::int64_t hqSeq = 0;
    std::string hash;
    std::string receivedUtc;  // local clock when the receipt arrived
    std::string batchId;
};

// One entry of the laptop's audit log (storage/store_audit.cpp; docs/security.md, "Audit logs").
struct AuditRecord {
    std::int64_t seq = 0;  // 1, 2, 3 ... without gaps
    std::string atUtc;     // this laptop's clock
    std::string actor;     // the account that did it
    std::string action;    // "create", "finalize", "amend", "discard", "sync", "export", ...
    std::string subject;   // "<record id> r<revision>", a batch id, a form id ...
    std::string detail;    // a small JSON object: counts, codes, ids; never text a user typed
    std::string prevHash;  // the previous entry's hash ("" for the first)
    std::string hash;      // hex BLAKE2b-256(prevHash || canonical entry)
    std::string mac;       // keyed BLAKE2b under the store's audit subkey over the hash
};

// What verifyAudit() found: problems is empty when the log is whole; otherwise its first line names
// the first bad entry (firstBad).
struct AuditVerdict {
    std::int64_t entries = 0;
    std::int64_t firstBad = 0;
    std::vector<std::string> problems;
};

class Store {
public:
    // Creates a new store in dir (made if missing), protected by the passphrase. Fails if one exists.
    static Result<void> create(const std::string& dir, std::string_view passphrase, const InitOptions& opts);
    static Result<void> createWithKey(const std::string& dir, const DataKey& key, const InitOptions& opts);
    // Derives the data key from the passphrase (Argon2id). WrongKey when it does not fit.
    static Result<DataKey> unlock(const std::string& dir, std::string_view passphrase,
                                  const StoreOptions& o = {});
    // Opens an unlocked store, migrating its schema when older. WrongKey when the key does not fit.
    static Result<std::unique_ptr<Store>> open(const std::string& dir, const DataKey& key,
                                               const StoreOptions& o = {});
    ~Store();

    const core::FormRegistry& forms() const { return m_forms; }
    const core::ReferenceData& reference() const { return m_ref; }
    StoreInfo info();
    const std::string& unitId() const { return m_unit; }
    const std::string& user() const { return m_user; }

    // Creates a draft. Refuses malformed values (every problem listed); missing values are fine.
    Result<Saved> createDraft(const std::string& formId, const json& payload, const std::string& author = {});
    // Replaces the draft's payload (the latest revision must be a draft).
    Result<Saved> saveDraft(const std::string& id, const json& payload);
    // Validates completely, then in one transaction: freezes the revision, queues it for HQ,
    // indexes it and records its facts.
    Result<Saved> finalize(const std::string& id);
    // Starts a new draft revision from the latest final one.
    Result<Saved> amend(const std::string& id);
    // Deletes a draft revision (never a final one).
    Result<void> discardDraft(const std::string& id);

    Result<Record> get(const std::string& id, std::optional<int> revision = std::nullopt);
    Result<std::vector<RecordMeta>> history(const std::string& id);
    Result<std::vector<RecordMeta>> list(const ListFilter& f);
    Result<std::int64_t> count(const ListFilter& f);
    // Words (accents and case folded); every word must match (a word of 3+ letters also matches as a prefix).
    Result<std::vector<RecordMeta>> search(const std::string& text, int limit = 200);

    Result<std::vector<core::GapCell>> trainingGaps(const std::vector<std::string>& units,
                                                    std::string_view today = {});
    Result<core::ReadinessSummary> readiness(const std::string& unitId);
    Result<std::vector<OutboxItem>> outbox();
    // How many outbox items are queued and quarantined, without reading them (one indexed count).
    struct OutboxCounts {
        std::int64_t queued = 0, quarantined = 0;
    };
    Result<OutboxCounts> outboxCounts();
    // Draft revisions in the store (a partial index keeps this cheap at any size).
    Result<std::int64_t> draftCount();

    // PRAGMA integrity_check plus Outpost's own checks (every payload opens, every final revision
    // is in the outbox). Returns the list of problems (empty when all is well).
    Result<std::vector<std::string>> verify();
    // A consistent copy into dir/backups (SQLite backup API); keeps the newest keepBackups.
    Result<std::string> backup();

    // Installs a form definition (a new form, or a new version of one). Refuses a broken definition
    // and a different definition under an existing id and version.
    Result<void> installForm(const json& definition, const std::string& source = "hq");

    // Bulk import: many drafts finalized in one transaction (for imports and benchmarks).
    Result<std::vector<std::string>> importFinal(const std::string& formId, const std::vector<json>& payloads,
                                                 const std::string& author = {});

    // --- Audit log (store_audit.cpp) ------------------------------------------------------------
    // Appends one entry in its own transaction; the store's own writes (create, finalize, amend,
    // discard, import, form install, sync, enrollment, revocation, resync) append theirs in their own
    // transaction. For what happens above the store: export, bundle export and import, unlock, role
    // changes. The subject and detail must not hold text a user typed (they are not sealed). actor
    // empty: the store's user. Returns the entry's sequence number.
    Result<std::int64_t> appendAudit(const std::string& action, const std::string& subject,
                                     const json& detail = json::object(), const std::string& actor = {});
    // Entries after `after`, oldest first, at most limit.
    Result<std::vector<AuditRecord>> auditLog(std::int64_t after = 0, int limit = 1000);
    // Walks the whole chain: sequence, links, hashes, MACs, and the anchored head (count and newest hash).
    Result<AuditVerdict> verifyAudit();

    // --- Sync with HQ ------------------------------------------------------------------------
    // Enrollment result (config and the device's 64-byte Ed25519 secret key, sealed with the data key).
    Result<void> saveEnrollment(const SyncConfig& cfg, const std::vector<unsigned char>& deviceSecretKey);
    Result<std::optional<SyncConfig>> syncConfig();
    Result<std::vector<unsigned char>> deviceSecretKey();  // NotFound when not enrolled
    Result<void> setSyncStatus(const std::string& lastSyncUtc, const std::string& lastError);
    Result<void> markRevoked();
    // Up to maxItems queued (not quarantined) revisions in sync order (priority, then outbox order),
    // skipping outbox seqs listed in exclude (batches already in flight).
    // parsePayload false: only payloadText is filled (the sync engine sends the text as it is).
    Result<std::vector<OutgoingItem>> nextOutgoing(int maxItems,
                                                   const std::vector<std::int64_t>& exclude = {},
                                                   bool parsePayload = true);
    // Applies HQ's answer to one batch in one transaction: stored/duplicate/conflict leave the outbox
    // and get a receipt (with the batch's signed receipt document); rejected items are quarantined
    // with their reason. Items not in the outbox any more are ignored (a late duplicate answer).
    Result<void> applyPushOutcomes(const std::string& batchId, const std::vector<PushOutcome>& outcomes,
                                   const std::string& signedReceipt);
    // A failed attempt (network, 5xx): attempts + 1 and the error, on each listed outbox row.
    Result<void> notePushFailure(const std::vector<std::int64_t>& outboxSeqs, const std::string& error);
    // Puts a quarantined item back in the queue (after the form or reference data was fixed).
    Result<void> requeue(std::int64_t outboxSeq);
    // The highest receipt (for the Outpost-Last-Receipt check), if any.
    Result<std::optional<ReceiptInfo>> lastReceipt();
    Result<std::optional<ReceiptInfo>> receipt(const std::string& recordId, int revision);
    Result<std::int64_t> receiptCount();
    // Applies one pulled page and the new cursor in one transaction: forms are installed, the
    // reference document replaced, feedback upserted. A bad entry fails the whole page (nothing applied).
    Result<void> applyPull(const std::vector<PulledEntry>& entries, std::int64_t newCursor);
    Result<std::vector<Feedback>> feedback(const std::string& recordId = {});
    // HQ changed epoch (restored from a backup): every final revision with a receipt goes back into
    // the outbox, receipts are cleared, the pull cursor restarts at 0, the new epoch is stored.
    // One transaction. Duplicates at HQ are harmless, so this is always safe.
    Result<void> beginResync(const std::string& newEpoch);

    struct Impl;

private:
    explicit Store(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
    core::FormRegistry m_forms;
    core::ReferenceData m_ref;
    std::string m_unit;
    std::string m_user;
};

// The default store folder: $OUTPOST_STORE, else $XDG_DATA_HOME/outpost, else ~/.local/share/outpost.
std::string defaultStoreDir();

}  // namespace outpost::storage
