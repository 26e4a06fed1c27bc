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
#include "core/roles.hpp"
#include "core/status.hpp"
#include "core/validate.hpp"
#include "storage/crypto.hpp"
#include "storage/sealed.hpp"

namespace outpost::storage {

using json = nlohmann::json;

constexpr int kSchemaVersion = 8;
// The migration step that adds local accounts (store_accounts.cpp): self-contained, and renumbered by
// changing this one line when another step lands before it.
constexpr int kAccountsSchemaStep = 6;
// The step that adds sealed sensitive sections (store_sealed.cpp).
constexpr int kSealedSchemaStep = 7;
// The step that keeps each queued revision's device signature, made at finalize (store_sync.cpp).
constexpr int kRevisionSignatureSchemaStep = 8;
constexpr const char* kStoreFileName = "outpost.db";

struct StoreOptions {
    std::string vfs;          // an SQLite VFS name (tests inject faults with one); empty: the default
    int keepBackups = 7;      // how many daily backups to keep
    bool autoBackup = false;  // take a backup on open when the newest is older than a day
    // Remove on open what an interrupted backup left in backups/ (outpost-*.db.partial and its journal).
    // Off for a check that reports them instead (outpostctl verify).
    bool removeBackupLeftovers = true;
    // The account signed in (its role decides what the Store returns and accepts). Empty: the store's
    // first account (whoever holds the data key can read everything anyway; signIn() names the account).
    std::string account;
    // Unix seconds standing in for the clock in the failed-passphrase delay (tests); 0: the real clock.
    std::int64_t nowForTests = 0;
};

struct InitOptions {
    std::string unitId;  // the unit this laptop reports for (must exist in the reference data)
    std::string user;    // the first account's name (recorded as author)
    core::Role role = core::Role::Commander;  // the first account's role
    KdfParams kdf = KdfParams::interactive();
};

// --- Local accounts (store_accounts.cpp) ------------------------------------------------------
// One person on this laptop: a name, a role and one passphrase key slot ("passphrase:<name>").
struct Account {
    std::string name;
    std::string displayName;
    core::Role role = core::Role::Clerk;
    std::string createdUtc;
    bool disabled = false;  // removed: its key slot is gone, the name stays as the author of its records
};

// The result of a sign-in: the data key and who unlocked it.
struct SignedIn {
    DataKey key;
    std::string account;
    int failedBefore = 0;  // wrong passphrases in a row before this one (for the audit log)
};

// The failed-passphrase delay as it stands: how many failures in a row, and how long until the next try.
struct AuthDelay {
    int failures = 0;
    std::int64_t waitSeconds = 0;
};

// The first wait after a failed passphrase, and the longest (the wait doubles between them).
constexpr std::int64_t kFirstFailureDelaySeconds = 1;
constexpr std::int64_t kMaxFailureDelaySeconds = 300;
// The wait after n failures in a row: 0 after the first (a typo), then 1, 2, 4, ... seconds, at most
// kMaxFailureDelaySeconds.
std::int64_t failureDelaySeconds(int failures);
// Account names: 1 to 32 of a-z, 0-9, '.', '-', '_', starting with a letter or digit.
bool isValidAccountName(std::string_view name);

struct RecordMeta {
    std::string id;
    int revision = 0;
    std::optional<int> parentRevision;
    std::string formId;
    int formVersion = 0;
    std::string unitId;
    std::string author;
    core::RecordStatus status = core::RecordStatus::Draft;
    std::string createdUtc;
    int createdOffsetMinutes = 0;
    std::string updatedUtc;
    std::string finalizedUtc;
    std::int64_t localSeq = 0;                           // finalize order on this laptop (0 for drafts)
    core::SyncState syncState = core::SyncState::Draft;  // Sent: HQ receipt held
};

struct Record {
    RecordMeta meta;
    json payload;
};

struct ListFilter {
    std::string formId;
    std::string unitId;
    std::optional<core::RecordStatus> status;  // none: any
    bool latestOnly = true;                    // one row per record (its newest revision)
    bool oldestFirst = false;                  // default: newest first (by id, which carries creation order)
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
    // Queued, Held (queued, but not sent before HQ's conduct-and-discipline keys arrive: its
    // confidential section waits to be sealed to them; heldReason says so) or Quarantined.
    core::OutboxState state = core::OutboxState::Queued;
    std::string lastError;
    std::string heldReason;
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
    std::string pullCursorAt;  // HQ's identity of feed entry pullCursor (docs/protocol.md, "Pull")
    bool revoked = false;      // HQ refused this device
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
    // The revision's sealed sensitive section (docs/protocol.md, "Sealed parts"): its hash is part of what
    // is signed; the part itself travels until HQ acknowledges it, then the laptop purges it.
    std::string sealedHash;  // hex BLAKE2b-256 of sealedPart; empty when the revision has none
    Bytes sealedPart;        // empty once purged
    // The device's signature over the canonical bytes (base64 Ed25519, core/revision.hpp), made when the
    // revision was finalized on an enrolled laptop; empty when it was not (finalized before enrollment,
    // or its sealed section waited for HQ's conduct keys): the sender signs it then.
    std::string signature;
};

// Where a revision's sensitive section stands on this laptop.
struct SealedSection {
    // "" (none), "waiting" (no HQ conduct key known yet), "sealed" (to HQ's conduct keys, not yet
    // acknowledged), "purged" (HQ acknowledged it; the laptop keeps only its hash)
    std::string state;
    std::string hash;
    std::vector<std::string> recipients;  // conduct key ids it was sealed to
};

// HQ's answer for one pushed item.
struct PushOutcome {
    std::int64_t outboxSeq = 0;
    core::ItemStatus status = core::ItemStatus::Rejected;
    std::int64_t hqSeq = 0;
    std::string reason;
    std::string hash;  // hex BLAKE2b-256 of the canonical bytes that were sent
};

// HQ feedback about one revision (review status and comment), as last pulled.
struct Feedback {
    std::string recordId;
    int revision = 0;
    core::ReviewStatus status = core::ReviewStatus::Received;
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
    core::ItemStatus status = core::ItemStatus::Stored;  // never Rejected
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
        std::int64_t held = 0;  // of the queued: waiting for HQ's conduct keys (not sent until they arrive)
    };
    Result<OutboxCounts> outboxCounts();
    // Draft revisions in the store (a partial index keeps this cheap at any size).
    Result<std::int64_t> draftCount();

    // PRAGMA integrity_check plus Outpost's own checks (every payload opens, every final revision
    // is in the outbox), and files an interrupted backup left in backups/. Returns the list of problems
    // (empty when all is well).
    Result<std::vector<std::string>> verify();
    // A consistent copy into dir/backups (SQLite backup API); keeps the newest keepBackups. First removes
    // what an interrupted backup left (files of a backup still running in another process are kept).
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
    // One final revision's wire members exactly as this laptop sends them (nextOutgoing's columns), in the
    // outbox or not (outboxSeq 0 once it left): what HQ's receipt for it is checked against. The payload is
    // parsed only when parsePayload; the sealed part itself is not read (its hash is what was signed).
    // NotFound when the laptop does not hold the revision; Conflict when it is a draft.
    Result<OutgoingItem> sentRevision(const std::string& recordId, int revision, bool parsePayload = false);
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
    // at: HQ's identity of the entry the new cursor points at (sent back with the cursor; "" when unknown).
    Result<void> applyPull(const std::vector<PulledEntry>& entries, std::int64_t newCursor,
                           const std::string& at = {});
    Result<std::vector<Feedback>> feedback(const std::string& recordId = {});
    // The sealed sensitive section of one revision (store_sealed.cpp).
    Result<SealedSection> sealedSection(const std::string& id, int revision);
    // HQ's conduct keys in use, as last pulled (empty before the first list arrives).
    Result<std::vector<ConductKey>> conductKeys();
    // Final revisions whose sensitive section waits for HQ's conduct keys (they are not sent until then).
    Result<std::int64_t> waitingSealedCount();
    // HQ changed epoch (restored from a backup): every final revision with a receipt goes back into
    // the outbox, receipts are cleared, the pull cursor restarts at 0, the new epoch is stored.
    // One transaction. Duplicates at HQ are harmless, so this is always safe.
    Result<void> beginResync(const std::string& newEpoch);

    // --- Accounts and sign-in (store_accounts.cpp) ----------------------------------------------
    // The accounts as listed on the unlock screen (no key needed: names and roles are not sealed).
    static Result<std::vector<Account>> listAccounts(const std::string& dir, const StoreOptions& o = {});
    // Unlocks with one account's passphrase (account empty: whichever account's passphrase it is).
    // While the failed-passphrase delay runs it refuses at once (Auth, Busy, "wait N s") without trying
    // the passphrase; a wrong passphrase counts one more failure (kept in the store file), a right one
    // clears the count. WrongKey for a wrong passphrase, an unknown or a removed account alike.
    static Result<SignedIn> signIn(const std::string& dir, std::string_view account,
                                   std::string_view passphrase, const StoreOptions& o = {});
    static Result<AuthDelay> authDelay(const std::string& dir, const StoreOptions& o = {});

    const Account& account() const { return m_account; }
    core::Role role() const { return m_account.role; }
    Result<std::vector<Account>> accounts();
    // The commander only. Adds an account with its own key slot (the data is not re-encrypted); a
    // removed account's name can be added again.
    Result<void> addAccount(const Account& a, std::string_view passphrase,
                            KdfParams kdf = KdfParams::interactive());
    // The commander only; never the signed-in account itself. Deletes the account's key slot and marks it
    // removed (its records keep its name as author).
    Result<void> removeAccount(const std::string& name);
    // The commander only; the last active commander keeps the role.
    Result<void> setRole(const std::string& name, core::Role role);
    // The signed-in account's own passphrase: the old one must fit.
    Result<void> changePassphrase(std::string_view oldPassphrase, std::string_view newPassphrase,
                                  KdfParams kdf = KdfParams::interactive());
    // Adds (or replaces) the "recovery" key slot: the data key sealed (crypto_box_seal) to HQ's
    // X25519 recovery public key (32 bytes). Done at enrollment.
    Result<void> setRecoveryKey(const Bytes& hqRecoveryPublicKey);
    Result<bool> hasRecoverySlot();

    // --- Recovery of a lost passphrase through HQ (docs/operations.md) ----------------------------
    // Writes nothing but the pending ephemeral secret key (STORE/recovery-pending.key, mode 0600) and
    // returns the request text for HQ. NotFound when the store has no recovery slot.
    static Result<std::string> recoveryRequest(const std::string& dir, const StoreOptions& o = {});
    // Opens HQ's response with the pending key, checks the data key against the store, and gives the
    // account (an existing one, removed or not) a new passphrase slot; clears the failure count and
    // deletes the pending key. Nothing changes on any error.
    static Result<void> recoveryComplete(const std::string& dir, const std::string& responseText,
                                         const std::string& account, std::string_view newPassphrase,
                                         const StoreOptions& o = {},
                                         KdfParams kdf = KdfParams::interactive());

    struct Impl;

private:
    explicit Store(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
    core::FormRegistry m_forms;
    core::ReferenceData m_ref;
    std::string m_unit;
    std::string m_user;
    Account m_account;
    // Role checks at the store boundary (store_accounts.cpp): throw Failure(Auth) naming role and action.
    void requireRight(std::string_view formId, core::FormAction a) const;
    void requireManager(std::string_view action) const;
    // Hides what the role may not read: sensitive fields out of the payload.
    json visiblePayload(const std::string& formId, int formVersion, json payload) const;
    // For a save by a role without the sensitive right: sensitive values it sends are written (it cannot
    // read them back), the stored ones it did not send are kept.
    json withHiddenValues(const std::string& formId, int formVersion, const json& input,
                          const json& stored) const;
    std::string readableFormsJson() const;  // a JSON array of the form ids this role may read
    bool hidesSensitive(const std::string& formId) const;
};

// The default store folder: $OUTPOST_STORE, else $XDG_DATA_HOME/outpost, else ~/.local/share/outpost.
std::string defaultStoreDir();

}  // namespace outpost::storage
