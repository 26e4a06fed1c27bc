// HQ's store: devices, enrollment codes, received reports, conflicts, push batches, the pull feed.
//
// Two backends with identical behaviour: SQLite (a folder, one machine) and PostgreSQL (several
// stateless outpost-hq processes behind a load balancer). Every method is one transaction; a
// failure (disk full, lost connection) leaves the store as it was. Results never throw.
// Thread-safety: an HqStore is used by one thread at a time; open one per server thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/status.hpp"

namespace outpost::storage::hq {

using json = nlohmann::json;

struct Device {
    std::string id;
    std::string unitId;
    std::string name;
    std::string publicKey;  // Ed25519, base64
    std::string enrolledUtc;
    bool revoked = false;
};

// One final revision as HQ received it. The caller (hq::HqService) has already decoded,
// re-validated and authorised it; the store only decides stored / duplicate / conflict.
struct IncomingItem {
    std::string recordId;
    int revision = 0;
    std::optional<int> parent;
    std::string formId;
    int formVersion = 0;
    std::string unitId;
    std::string author;
    std::string createdUtc;
    int createdOffset = 0;
    std::string finalizedUtc;  // device clock: shown, never used to order
    std::string hash;          // hex BLAKE2b-256 of canonical
    std::string canonical;     // the envelope's canonical JSON
    std::string signature;     // the device's Ed25519 signature over it (base64), checked by the caller
    std::string sealedPart;    // the sealed sensitive section (base64), checked against the canonical
                               // "sealed" hash by the caller; empty when there is none or the laptop
                               // purged it after an earlier receipt
    // Set by the caller when the item failed validation: the store records nothing for it and
    // reports it back as rejected with this reason (so results stay aligned with items).
    std::optional<std::string> rejectReason;
};

struct ItemOutcome {
    core::ItemStatus status = core::ItemStatus::Rejected;
    std::int64_t hqSeq = 0;  // stored/duplicate: the report's sequence; conflict: the kept one's
    std::string reason;
};

struct BatchOutcome {
    bool replayed = false;  // the batch id was seen before: these are the results recorded then
    std::vector<ItemOutcome> results;
};

struct Report {
    std::int64_t hqSeq = 0;  // HQ's ingest order (the only order HQ uses)
    std::string recordId;
    int revision = 0;
    std::optional<int> parent;
    std::string formId;
    int formVersion = 0;
    std::string unitId;
    std::string deviceId;
    std::string author;
    std::string createdUtc;
    int createdOffset = 0;
    std::string finalizedUtc;
    std::string receivedUtc;  // HQ clock
    std::string hash;
    std::string canonical;
    std::string signature;   // the device's signature over canonical (base64); empty before protocol 2
    std::string sealedPart;  // the sealed sensitive section (base64), "" when none was received
    core::ReviewStatus reviewStatus = core::ReviewStatus::Received;
    std::string reviewComment;
};

struct Conflict {
    std::int64_t id = 0;
    std::string recordId;
    int revision = 0;
    std::string deviceId;
    std::string hash;       // the rejected bytes' hash
    std::string keptHash;   // the stored revision's hash
    std::string canonical;  // the other bytes, kept for HQ staff to see
    std::string receivedUtc;
};

struct ReportFilter {
    std::string unitId;
    std::string formId;
    std::int64_t afterSeq = 0;
    int limit = 1000;
};

struct FeedEntry {
    std::int64_t seq = 0;
    std::string unitId;  // empty: for every unit
    std::string kind;    // "form", "reference", "feedback"
    json body;
};

// One entry of HQ's audit log (docs/security.md, "Audit logs"). The log is a hash chain: hash =
// BLAKE2b-256(prevHash || canonical entry), and each entry's hash is signed with HQ's Ed25519 key, which
// lives in a file outside the database (hq-signing.key). The head (count and newest hash) is signed
// too, so deleting the newest entries is detected as well.
struct AuditEntry {
    std::int64_t seq = 0;   // 1, 2, 3 ... without gaps
    std::string atUtc;      // HQ clock
    std::string actor;      // a device id, or the admin who ran the command
    std::string action;     // "enroll", "push", "review", ...
    std::string subject;    // a device id, a batch id, "record-id r2" ...
    std::string detail;     // a small JSON object (counts, ids, statuses)
    std::string prevHash;   // the previous entry's hash ("" for the first)
    std::string hash;       // hex BLAKE2b-256(prevHash || canonical)
    std::string signature;  // base64 Ed25519 by HQ's key over auditEntrySigningString(hash); "" if unsigned
};

// The newest entry as the store anchored it, signed by HQ's key.
struct AuditHead {
    std::int64_t count = 0;
    std::string hash;
    std::string signature;
};

struct Heads {
    std::int64_t reports = 0;  // highest hqSeq
    std::int64_t feed = 0;     // highest feed seq
};

// Numbers HQ gave out that no report will ever carry (PostgreSQL only): a push that reserved numbers
// and then failed, or whose process died holding them. first..last, both included.
struct VoidRange {
    std::int64_t first = 0;
    std::int64_t last = 0;
    std::string why;
    std::string recordedUtc;
};

// Where the last ingest() on this store spent the time its rows were locked (PostgreSQL; zeros for a
// SQLite store, and for a push that stored nothing new or was replayed).
struct IngestTiming {
    std::int64_t items = 0;                      // numbers reserved: the reports it stored
    std::chrono::microseconds reserve{0};        // the reservation statement (the report counter row)
    std::chrono::microseconds auditToCommit{0};  // the audit append to the end of COMMIT (the audit row)
    std::chrono::microseconds total{0};          // the whole call
};

class HqStore {
public:
    virtual ~HqStore() = default;

    // HQ's Ed25519 secret key (64 bytes, libsodium layout): every audit entry and the audit head are
    // signed with it. Set it right after opening; without it entries are written unsigned and
    // verifyAudit() reports them. The actor is who the audited admin writes are attributed to.
    void setAuditKey(std::vector<unsigned char> secretKey) { m_auditKey = std::move(secretKey); }
    void setAuditActor(std::string actor) { m_auditActor = std::move(actor); }
    const std::string& auditActor() const { return m_auditActor; }

    // Appends one entry in its own transaction (for what the store does not audit by itself: bundle
    // imports, exports, backups). The audited writes (enrollment, revocation, ingest, review, forms,
    // reference data, epoch rotation) append theirs in their own transaction.
    virtual Result<AuditEntry> appendAudit(const std::string& actor, const std::string& action,
                                           const std::string& subject, const json& detail,
                                           const std::string& nowUtc) = 0;
    // Entries with seq > after, oldest first, at most limit.
    virtual Result<std::vector<AuditEntry>> audit(std::int64_t after, int limit) = 0;
    virtual Result<AuditHead> auditHead() = 0;

    // A random id made when the store was created and changed by rotateEpoch() (after a restore).
    virtual Result<std::string> epoch() = 0;
    virtual Result<std::string> rotateEpoch() = 0;
    virtual Result<Heads> heads() = 0;

    // Enrollment: HQ stores only the hash of the one-time secret, with the unit and an expiry (UTC).
    virtual Result<void> addEnrollment(const std::string& secretHash, const std::string& unitId,
                                       const std::string& expiresUtc) = 0;
    // Uses the code once: NotFound when unknown, Conflict when already used, State when expired.
    // (Exactly: {NotFound, NotFound}, {Auth, Conflict}, {State, Invalid}: distinct by domain and by code.)
    virtual Result<Device> redeemEnrollment(const std::string& secretHash, const std::string& deviceName,
                                            const std::string& publicKey, const std::string& nowUtc) = 0;
    virtual Result<std::optional<Device>> device(const std::string& deviceId) = 0;
    virtual Result<std::vector<Device>> devices() = 0;
    virtual Result<void> revoke(const std::string& deviceId) = 0;  // NotFound when unknown

    // Records a request nonce; false when this device used it before (a replayed request).
    virtual Result<bool> useNonce(const std::string& deviceId, const std::string& nonce) = 0;

    // Ingests one push batch in one transaction. The same (device, batchId) again with the same
    // requestHash returns the recorded results (replayed = true) and changes nothing; with another
    // requestHash: Conflict. Record ids are scoped by unit: a report is (unitId, recordId, revision), so
    // what one unit's devices push never meets another unit's reports (docs/protocol.md, "Record ids are
    // scoped by unit"). Per item: a new (unitId, recordId, revision) is stored with a new hqSeq (on
    // SQLite the next one; on PostgreSQL from numbers reserved for the batch, which a failed attempt
    // leaves recorded as void: voidRanges()) and a "received" review status; the same with the same hash is a
    // duplicate; with another hash a conflict is kept (once per distinct hash) and the stored revision is
    // untouched.
    virtual Result<BatchOutcome> ingest(const std::string& deviceId, const std::string& batchId,
                                        const std::string& requestHash,
                                        const std::vector<IncomingItem>& items,
                                        const std::string& nowUtc) = 0;
    // True when HQ holds report hqSeq and it is recordId of unitId (the device's last receipt check; a
    // device asks about its own unit's reports only).
    virtual Result<bool> hasReport(std::int64_t hqSeq, const std::string& recordId,
                                   const std::string& unitId) = 0;

    // Reports with hqSeq > f.afterSeq, lowest first. On PostgreSQL only those below the horizon, the
    // lowest number still reserved by a push in flight: a report that commits later never has a number
    // at or below one already read, so paging by the last hqSeq read misses none.
    virtual Result<std::vector<Report>> reports(const ReportFilter& f) = 0;
    // The report (the newest revision when revision is nullopt) of unitId, or of whichever unit holds
    // recordId when unitId is empty; Conflict when unitId is empty and several units hold recordId.
    virtual Result<std::optional<Report>> report(const std::string& recordId, std::optional<int> revision,
                                                 const std::string& unitId = {}) = 0;
    virtual Result<std::int64_t> reportCount() = 0;
    virtual Result<std::vector<Conflict>> conflicts() = 0;
    // Sets a report's review status and appends a "feedback" feed entry for its unit, in one transaction.
    // unitId as for report(): empty names whichever unit holds recordId (Conflict when several do).
    virtual Result<FeedEntry> review(const std::string& recordId, int revision, core::ReviewStatus status,
                                     const std::string& comment, const std::string& by,
                                     const std::string& nowUtc, const std::string& unitId = {}) = 0;

    // Form definitions and reference data pushed by HQ staff (the built-in ones are not stored).
    // Each also appends a feed entry (for every unit) in the same transaction.
    virtual Result<void> putForm(const std::string& formId, int version, const json& definition,
                                 const std::string& nowUtc) = 0;
    virtual Result<std::vector<json>> forms() = 0;
    virtual Result<void> putReference(const json& document, const std::string& nowUtc) = 0;
    virtual Result<std::optional<json>> reference() = 0;
    // HQ's conduct-and-discipline keys: each change stores the whole signed list (the document
    // storage::signConductKeyDocument makes), appends it to the feed for every unit and audits it (action,
    // subject), in one transaction. Conflict when the list's "version" is not the stored one + 1 (another
    // admin changed it meanwhile).
    virtual Result<void> putConductKeys(const json& signedDocument, const std::string& action,
                                        const std::string& subject, const std::string& nowUtc) = 0;
    virtual Result<std::optional<json>> conductKeys() = 0;

    virtual Result<FeedEntry> appendFeed(const std::string& unitId, const std::string& kind, const json& body,
                                         const std::string& nowUtc) = 0;
    // Entries after `after` that are for every unit or for unitId, oldest first, at most limit.
    virtual Result<std::vector<FeedEntry>> feed(const std::string& unitId, std::int64_t after, int limit) = 0;
    // Feed entry seq, whichever unit it is for; nullopt when HQ holds none with that number.
    virtual Result<std::optional<FeedEntry>> feedEntry(std::int64_t seq) = 0;

    // PRAGMA integrity_check (SQLite) / a consistency query (PostgreSQL) plus: no two reports share
    // (recordId, revision), every stored hash matches its canonical bytes. Empty when all is well.
    // On PostgreSQL also: every number up to the report counter is exactly one of a report's hqSeq, a
    // void range, or a reservation still in flight.
    virtual Result<std::vector<std::string>> verify() = 0;

    // The numbers recorded as void, lowest first. A SQLite store has a single writer that hands out
    // numbers without gaps: always empty there.
    virtual Result<std::vector<VoidRange>> voidRanges() = 0;
    // The time the last ingest() held the lane's rows (see IngestTiming). Not synchronised: read it on
    // the thread that ingested.
    virtual IngestTiming lastIngestTiming() const { return {}; }

protected:
    std::vector<unsigned char> m_auditKey;
    std::string m_auditActor = "outpost-hq";
};

// What an audit entry says about a push batch: {"stored": n, "duplicate": n, "conflict": n,
// "rejected": n, "items": [[record id, revision, status], ...]}.
json ingestAuditDetail(const std::vector<IncomingItem>& items, const std::vector<ItemOutcome>& results);

// The result of checking the audit log: problems is empty when the chain is whole; otherwise its
// first line names the first bad entry.
struct AuditCheck {
    std::int64_t entries = 0;
    std::int64_t firstBad = 0;  // 0 when none
    std::vector<std::string> problems;
};
// Walks the whole log: sequence without gaps, each prevHash the previous hash, each hash recomputed,
// each signature verified with HQ's public key (32 bytes), and the chain ending exactly at the signed head.
Result<AuditCheck> verifyAudit(HqStore& store, const std::vector<unsigned char>& publicKey);

// Time limits on each session with a PostgreSQL database (a SQLite store has no sessions to bound).
// Zero: no limit. `outpost-hq serve` sets them (hq/tuning.hpp, "database sessions", gives the values
// and their reasons); the admin commands leave them unset, since an export or a verify may run one long
// statement.
struct SessionLimits {
    std::chrono::milliseconds lockWait{0};           // lock_timeout: the longest wait for a row or lock
    std::chrono::milliseconds statement{0};          // statement_timeout
    std::chrono::milliseconds idleInTransaction{0};  // idle_in_transaction_session_timeout
    std::chrono::seconds keepaliveIdle{0};           // TCP keepalives: first probe after this idle time,
    std::chrono::seconds keepaliveInterval{0};       // then one every interval,
    int keepaliveCount = 0;                          // this many unanswered and the connection is dead
    std::chrono::milliseconds tcpUserTimeout{0};     // sent data unacknowledged this long: dead
};

// "DIR" (a folder: SQLite file DIR/hq.db) or "postgresql://..." / "postgres://..." (libpq URI).
// Creates the schema when missing.
Result<std::unique_ptr<HqStore>> openHqStore(const std::string& location, const SessionLimits& limits = {});
Result<std::unique_ptr<HqStore>> openSqliteHqStore(const std::string& dir);
Result<std::unique_ptr<HqStore>> openPostgresHqStore(const std::string& uri,
                                                     const SessionLimits& limits = {});

}  // namespace outpost::storage::hq
