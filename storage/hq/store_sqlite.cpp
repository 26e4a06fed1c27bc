// HQ's store on SQLite: one file (DIR/hq.db) for an HQ that runs on one machine.
//
// WAL with synchronous=FULL: a committed batch survives a power cut. Writers take the lock at BEGIN
// (BEGIN IMMEDIATE), so HQ's sequence numbers are handed out in commit order and several processes
// or threads on the same folder wait for each other instead of failing.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "core/time.hpp"
#include "storage/crypto.hpp"
#include "storage/hq/store.hpp"
#include "storage/hq/store_detail.hpp"
#include "storage/sqlite.hpp"

namespace outpost::storage::hq {

namespace {

namespace fs = std::filesystem;
using namespace detail;

constexpr const char* kFileName = "hq.db";
constexpr int kSchemaVersion = 4;
constexpr int kBusyTimeoutMs = 30000;

constexpr const char* kSchemaV1 = R"SQL(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
CREATE TABLE device (
  id           TEXT PRIMARY KEY,
  unit_id      TEXT NOT NULL,
  name         TEXT NOT NULL,
  public_key   TEXT NOT NULL,
  enrolled_utc TEXT NOT NULL,
  revoked      INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT;
CREATE TABLE enrollment (
  secret_hash TEXT PRIMARY KEY,
  unit_id     TEXT NOT NULL,
  expires_utc TEXT NOT NULL,
  used_by     TEXT REFERENCES device(id),
  used_utc    TEXT
) STRICT;
CREATE TABLE nonce (
  device_id TEXT NOT NULL REFERENCES device(id),
  nonce     TEXT NOT NULL,
  PRIMARY KEY (device_id, nonce)
) STRICT, WITHOUT ROWID;
CREATE TABLE batch (
  device_id    TEXT NOT NULL REFERENCES device(id),
  batch_id     TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  results      TEXT NOT NULL,
  received_utc TEXT NOT NULL,
  PRIMARY KEY (device_id, batch_id)
) STRICT, WITHOUT ROWID;
CREATE TABLE report (
  hq_seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  record_id       TEXT NOT NULL,
  revision        INTEGER NOT NULL CHECK (revision >= 1),
  parent_revision INTEGER,
  form_id         TEXT NOT NULL,
  form_version    INTEGER NOT NULL,
  unit_id         TEXT NOT NULL,
  device_id       TEXT NOT NULL REFERENCES device(id),
  author          TEXT NOT NULL,
  created_utc     TEXT NOT NULL,
  created_offset  INTEGER NOT NULL,
  finalized_utc   TEXT NOT NULL,
  received_utc    TEXT NOT NULL,
  hash            TEXT NOT NULL,
  canonical       TEXT NOT NULL,
  review_status   TEXT NOT NULL DEFAULT 'received'
                  CHECK (review_status IN ('received', 'accepted', 'returned')),
  review_comment  TEXT NOT NULL DEFAULT '',
  review_by       TEXT,
  review_utc      TEXT,
  UNIQUE (record_id, revision)
) STRICT;
CREATE INDEX report_unit ON report (unit_id, hq_seq);
CREATE INDEX report_form ON report (form_id, hq_seq);
CREATE TABLE conflict (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  record_id    TEXT NOT NULL,
  revision     INTEGER NOT NULL,
  device_id    TEXT NOT NULL REFERENCES device(id),
  hash         TEXT NOT NULL,
  kept_hash    TEXT NOT NULL,
  canonical    TEXT NOT NULL,
  received_utc TEXT NOT NULL,
  UNIQUE (record_id, revision, hash)
) STRICT;
CREATE TABLE form_def (
  form_id    TEXT NOT NULL,
  version    INTEGER NOT NULL,
  definition TEXT NOT NULL,
  put_utc    TEXT NOT NULL,
  PRIMARY KEY (form_id, version)
) STRICT;
CREATE TABLE reference (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  document TEXT NOT NULL,
  put_utc  TEXT NOT NULL
) STRICT;
CREATE TABLE feed (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  unit_id     TEXT,
  kind        TEXT NOT NULL,
  body        TEXT NOT NULL,
  created_utc TEXT NOT NULL
) STRICT;
)SQL";

// Version 2: the device's signature on each report, and the audit log (its signed head is the meta row
// 'audit_head').
constexpr const char* kSchemaV2 = R"SQL(
ALTER TABLE report ADD COLUMN signature TEXT NOT NULL DEFAULT '';
CREATE TABLE audit (
  seq       INTEGER PRIMARY KEY,
  at_utc    TEXT NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  subject   TEXT NOT NULL,
  detail    TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL,
  signature TEXT NOT NULL
) STRICT;
)SQL";

// Version 3: sealed sensitive sections with their reports, and the conduct keys they are sealed to.
constexpr const char* kSchemaV3 = R"SQL(
ALTER TABLE report ADD COLUMN sealed TEXT NOT NULL DEFAULT '';
CREATE TABLE conduct_keys (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  version  INTEGER NOT NULL UNIQUE,
  document TEXT NOT NULL,
  put_utc  TEXT NOT NULL
) STRICT;
)SQL";

// Version 4: record ids are scoped by unit (docs/protocol.md, "Record ids are scoped by unit"): a report is
// (unit_id, record_id, revision). SQLite cannot drop a table's UNIQUE constraint, so the table is copied.
constexpr const char* kSchemaV4 = R"SQL(
CREATE TABLE report_v4 (
  hq_seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  record_id       TEXT NOT NULL,
  revision        INTEGER NOT NULL CHECK (revision >= 1),
  parent_revision INTEGER,
  form_id         TEXT NOT NULL,
  form_version    INTEGER NOT NULL,
  unit_id         TEXT NOT NULL,
  device_id       TEXT NOT NULL REFERENCES device(id),
  author          TEXT NOT NULL,
  created_utc     TEXT NOT NULL,
  created_offset  INTEGER NOT NULL,
  finalized_utc   TEXT NOT NULL,
  received_utc    TEXT NOT NULL,
  hash            TEXT NOT NULL,
  canonical       TEXT NOT NULL,
  review_status   TEXT NOT NULL DEFAULT 'received'
                  CHECK (review_status IN ('received', 'accepted', 'returned')),
  review_comment  TEXT NOT NULL DEFAULT '',
  review_by       TEXT,
  review_utc      TEXT,
  signature       TEXT NOT NULL DEFAULT '',
  sealed          TEXT NOT NULL DEFAULT '',
  UNIQUE (unit_id, record_id, revision)
) STRICT;
INSERT INTO report_v4 (hq_seq, record_id, revision, parent_revision, form_id, form_version, unit_id,
  device_id, author, created_utc, created_offset, finalized_utc, received_utc, hash, canonical,
  review_status, review_comment, review_by, review_utc, signature, sealed)
SELECT hq_seq, record_id, revision, parent_revision, form_id, form_version, unit_id,
  device_id, author, created_utc, created_offset, finalized_utc, received_utc, hash, canonical,
  review_status, review_comment, review_by, review_utc, signature, sealed FROM report;
DROP TABLE report;
ALTER TABLE report_v4 RENAME TO report;
CREATE INDEX report_unit ON report (unit_id, hq_seq);
CREATE INDEX report_form ON report (form_id, hq_seq);
CREATE INDEX report_record ON report (record_id, revision);
)SQL";

constexpr const char* kReportColumns =
    "hq_seq, record_id, revision, parent_revision, form_id, form_version, unit_id, device_id, author, "
    "created_utc, created_offset, finalized_utc, received_utc, hash, canonical, review_status, "
    "review_comment, signature, sealed";

// Resets a statement when the scope ends, so no read stays open past the method that ran it.
class Reset {
public:
    explicit Reset(Stmt& s) : m_s(s) {}
    ~Reset() { m_s.reset(); }
    Reset(const Reset&) = delete;
    Reset& operator=(const Reset&) = delete;

private:
    Stmt& m_s;
};

// A read transaction (one snapshot for several statements); ends with the scope.
class ReadTx {
public:
    explicit ReadTx(Db& db) : m_db(db) { m_db.exec("BEGIN"); }
    ~ReadTx() { sqlite3_exec(m_db.handle(), "ROLLBACK", nullptr, nullptr, nullptr); }
    ReadTx(const ReadTx&) = delete;
    ReadTx& operator=(const ReadTx&) = delete;

private:
    Db& m_db;
};

Device readDevice(const Stmt& st) {
    Device d;
    d.id = st.text(0);
    d.unitId = st.text(1);
    d.name = st.text(2);
    d.publicKey = st.text(3);
    d.enrolledUtc = st.text(4);
    d.revoked = st.int64(5) != 0;
    return d;
}

Report readReport(const Stmt& st) {
    Report r;
    r.hqSeq = st.int64(0);
    r.recordId = st.text(1);
    r.revision = static_cast<int>(st.int64(2));
    if (!st.isNull(3)) r.parent = static_cast<int>(st.int64(3));
    r.formId = st.text(4);
    r.formVersion = static_cast<int>(st.int64(5));
    r.unitId = st.text(6);
    r.deviceId = st.text(7);
    r.author = st.text(8);
    r.createdUtc = st.text(9);
    r.createdOffset = static_cast<int>(st.int64(10));
    r.finalizedUtc = st.text(11);
    r.receivedUtc = st.text(12);
    r.hash = st.text(13);
    r.canonical = st.text(14);
    r.reviewStatus =
        core::requireText<core::ReviewStatus>(st.text(15), ErrorDomain::Storage, ErrorCode::Corrupt);
    r.reviewComment = st.text(16);
    r.signature = st.text(17);
    r.sealedPart = st.text(18);
    return r;
}

FeedEntry readFeed(const Stmt& st) {
    FeedEntry e;
    e.seq = st.int64(0);
    e.unitId = st.isNull(1) ? std::string() : st.text(1);
    e.kind = st.text(2);
    e.body = parseStored(st.text(3), "feed entry");
    return e;
}

// Writers of one HQ file within this process queue on a mutex before BEGIN IMMEDIATE. Without it they
// meet in SQLite's busy handler, which sleeps up to 100 ms between tries: with a dozen request threads
// that sleeping, not the disk, limited ingest. Other processes on the same file still use the busy timeout.
std::mutex& writerMutex(const std::string& path) {
    static std::mutex guard;
    static std::map<std::string, std::unique_ptr<std::mutex>> byPath;
    std::lock_guard lock(guard);
    auto& m = byPath[path];
    if (!m) m = std::make_unique<std::mutex>();
    return *m;
}

// A write transaction taken in turn with this process's other writers of the same file.
class WriteTx {
public:
    WriteTx(std::mutex& m, Db& db) : m_lock(m), m_tx(db) {}
    void commit() { m_tx.commit(); }

private:
    std::unique_lock<std::mutex> m_lock;
    Transaction m_tx;
};

class SqliteHqStore final : public HqStore {
public:
    explicit SqliteHqStore(const std::string& dir)
        : m_db((fs::path(dir) / kFileName).string(), true),
          m_writer(writerMutex(fs::weakly_canonical(fs::path(dir) / kFileName).string())) {
        sqlite3_busy_timeout(m_db.handle(), kBusyTimeoutMs);
        m_db.exec("PRAGMA journal_mode = WAL");
        m_db.exec("PRAGMA synchronous = FULL");
        m_db.exec("PRAGMA foreign_keys = ON");
        m_db.exec("PRAGMA temp_store = MEMORY");
        migrate();
        m_findReport = std::make_unique<Stmt>(
            m_db, "SELECT hash, hq_seq FROM report WHERE unit_id = ? AND record_id = ? AND revision = ?");
        m_insertReport = std::make_unique<Stmt>(
            m_db,
            "INSERT INTO report(hq_seq, record_id, revision, parent_revision, form_id, form_version, "
            "unit_id, "
            "device_id, author, created_utc, created_offset, finalized_utc, received_utc, hash, canonical, "
            "signature, sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        m_insertConflict = std::make_unique<Stmt>(
            m_db,
            "INSERT INTO conflict(record_id, revision, device_id, hash, kept_hash, canonical, received_utc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (record_id, revision, hash) DO NOTHING");
        m_findBatch = std::make_unique<Stmt>(
            m_db, "SELECT request_hash, results FROM batch WHERE device_id = ? AND batch_id = ?");
        m_insertBatch = std::make_unique<Stmt>(m_db,
                                               "INSERT INTO batch(device_id, batch_id, request_hash, "
                                               "results, received_utc) VALUES (?, ?, ?, ?, ?)");
        m_findDevice = std::make_unique<Stmt>(m_db, "SELECT 1 FROM device WHERE id = ?");
        m_insertNonce = std::make_unique<Stmt>(
            m_db, "INSERT INTO nonce(device_id, nonce) VALUES (?, ?) ON CONFLICT DO NOTHING");
    }

    ~SqliteHqStore() override {
        // Statements go before the connection they belong to.
        m_findReport.reset();
        m_insertReport.reset();
        m_insertConflict.reset();
        m_findBatch.reset();
        m_insertBatch.reset();
        m_findDevice.reset();
        m_insertNonce.reset();
    }

    Result<std::string> epoch() override {
        return tryCatch([&] { return metaValue("epoch"); });
    }

    Result<std::string> rotateEpoch() override {
        return tryCatch([&] {
            WriteTx tx(m_writer, m_db);
            std::string e = newEpochId();
            Stmt st(m_db, "UPDATE meta SET value = ? WHERE key = 'epoch'");
            st.bind(1, e).run();
            appendAuditTx(m_auditActor, "restore", e, json{{"epoch", e}}, core::nowTimestamp().utc);
            tx.commit();
            return e;
        });
    }

    Result<Heads> heads() override {
        return tryCatch([&] {
            Heads h;
            Stmt st(m_db,
                    "SELECT (SELECT coalesce(max(hq_seq), 0) FROM report), (SELECT coalesce(max(seq), 0) "
                    "FROM feed)");
            Reset r(st);
            st.step();
            h.reports = st.int64(0);
            h.feed = st.int64(1);
            return h;
        });
    }

    Result<void> addEnrollment(const std::string& secretHash, const std::string& unitId,
                               const std::string& expiresUtc) override {
        return tryCatch([&] {
            checkEnrollment(secretHash, unitId, expiresUtc);
            WriteTx tx(m_writer, m_db);
            Stmt st(m_db,
                    "INSERT INTO enrollment(secret_hash, unit_id, expires_utc) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING");
            st.bind(1, secretHash).bind(2, unitId).bind(3, expiresUtc).run();
            if (m_db.changes() == 0) throw enrollmentExists();
            appendAuditTx(m_auditActor, "enrollment code", unitId, json{{"expires", expiresUtc}},
                          core::nowTimestamp().utc);
            tx.commit();
        });
    }

    Result<Device> redeemEnrollment(const std::string& secretHash, const std::string& deviceName,
                                    const std::string& publicKey, const std::string& nowUtc) override {
        return tryCatch([&] {
            checkText(secretHash, "the enrollment secret hash");
            checkText(deviceName, "the device name");
            checkText(publicKey, "the public key");
            checkText(nowUtc, "the time");
            WriteTx tx(m_writer, m_db);
            Device d;
            {
                Stmt st(
                    m_db,
                    "SELECT unit_id, expires_utc, used_by IS NOT NULL FROM enrollment WHERE secret_hash = ?");
                st.bind(1, secretHash);
                bool found = st.step();
                checkRedeemable(found, found && st.int64(2) != 0, found ? st.text(1) : std::string(), nowUtc);
                d.unitId = st.text(0);
            }
            d.id = newDeviceId();
            d.name = deviceName;
            d.publicKey = publicKey;
            d.enrolledUtc = nowUtc;
            Stmt ins(m_db,
                     "INSERT INTO device(id, unit_id, name, public_key, enrolled_utc, revoked) VALUES (?, ?, "
                     "?, ?, ?, 0)");
            ins.bind(1, d.id)
                .bind(2, d.unitId)
                .bind(3, d.name)
                .bind(4, d.publicKey)
                .bind(5, d.enrolledUtc)
                .run();
            Stmt use(m_db, "UPDATE enrollment SET used_by = ?, used_utc = ? WHERE secret_hash = ?");
            use.bind(1, d.id).bind(2, nowUtc).bind(3, secretHash).run();
            appendAuditTx(d.id, "enroll", d.id, json{{"unit", d.unitId}, {"name", d.name}}, nowUtc);
            tx.commit();
            return d;
        });
    }

    Result<std::optional<Device>> device(const std::string& deviceId) override {
        return tryCatch([&]() -> std::optional<Device> {
            checkText(deviceId, "the device id");
            Stmt st(m_db,
                    "SELECT id, unit_id, name, public_key, enrolled_utc, revoked FROM device WHERE id = ?");
            st.bind(1, deviceId);
            if (!st.step()) return std::nullopt;
            return readDevice(st);
        });
    }

    Result<std::vector<Device>> devices() override {
        return tryCatch([&] {
            std::vector<Device> out;
            Stmt st(m_db,
                    "SELECT id, unit_id, name, public_key, enrolled_utc, revoked FROM device ORDER BY "
                    "enrolled_utc, id");
            while (st.step()) out.push_back(readDevice(st));
            return out;
        });
    }

    Result<void> revoke(const std::string& deviceId) override {
        return tryCatch([&] {
            checkText(deviceId, "the device id");
            WriteTx tx(m_writer, m_db);
            Stmt st(m_db, "UPDATE device SET revoked = 1 WHERE id = ?");
            st.bind(1, deviceId).run();
            if (m_db.changes() == 0) throwUnknownDevice(deviceId);
            appendAuditTx(m_auditActor, "revoke", deviceId, json::object(), core::nowTimestamp().utc);
            tx.commit();
        });
    }

    Result<bool> useNonce(const std::string& deviceId, const std::string& nonce) override {
        return tryCatch([&] {
            checkText(deviceId, "the device id");
            checkText(nonce, "the nonce");
            WriteTx tx(m_writer, m_db);
            requireDevice(deviceId);
            m_insertNonce->bind(1, deviceId).bind(2, nonce).run();
            bool fresh = m_db.changes() > 0;
            tx.commit();
            return fresh;
        });
    }

    Result<BatchOutcome> ingest(const std::string& deviceId, const std::string& batchId,
                                const std::string& requestHash, const std::vector<IncomingItem>& items,
                                const std::string& nowUtc) override {
        return tryCatch([&] {
            checkIngest(deviceId, batchId, requestHash, items, nowUtc);
            WriteTx tx(m_writer, m_db);
            requireDevice(deviceId);
            BatchOutcome out;
            {
                Stmt& fb = *m_findBatch;
                Reset r(fb);
                fb.bind(1, deviceId).bind(2, batchId);
                if (fb.step()) {
                    if (fb.text(0) != requestHash) throwBatchReused(batchId);
                    out.replayed = true;
                    out.results = resultsFromText(fb.text(1));
                    return out;
                }
            }
            std::int64_t next = 1;
            {
                Stmt st(m_db,
                        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'report'), 0) + 1");
                st.step();
                next = st.int64(0);
            }
            std::vector<std::size_t> toStore;
            std::vector<std::pair<std::size_t, std::string>> toConflict;
            out.results = planIngest(
                items,
                [&](const IncomingItem& it) -> Existing {
                    Stmt& f = *m_findReport;
                    Reset r(f);
                    f.bind(1, it.unitId).bind(2, it.recordId).bind(3, it.revision);
                    if (!f.step()) return std::nullopt;
                    return std::make_pair(f.text(0), f.int64(1));
                },
                next, toStore, toConflict);
            Stmt& ins = *m_insertReport;
            for (std::size_t i : toStore) {
                const auto& it = items[i];
                Reset r(ins);
                ins.bind(1, out.results[i].hqSeq).bind(2, it.recordId).bind(3, it.revision);
                if (it.parent)
                    ins.bind(4, *it.parent);
                else
                    ins.bindNull(4);
                ins.bind(5, it.formId).bind(6, it.formVersion).bind(7, it.unitId).bind(8, deviceId);
                ins.bind(9, it.author)
                    .bind(10, it.createdUtc)
                    .bind(11, it.createdOffset)
                    .bind(12, it.finalizedUtc);
                ins.bind(13, nowUtc).bind(14, it.hash).bind(15, it.canonical).bind(16, it.signature);
                ins.bind(17, it.sealedPart).run();
            }
            Stmt& con = *m_insertConflict;
            for (const auto& [i, keptHash] : toConflict) {
                const auto& it = items[i];
                Reset r(con);
                con.bind(1, it.recordId).bind(2, it.revision).bind(3, deviceId).bind(4, it.hash);
                con.bind(5, keptHash).bind(6, it.canonical).bind(7, nowUtc).run();
            }
            {
                Stmt& ib = *m_insertBatch;
                Reset r(ib);
                ib.bind(1, deviceId)
                    .bind(2, batchId)
                    .bind(3, requestHash)
                    .bind(4, resultsToText(out.results));
                ib.bind(5, nowUtc).run();
            }
            appendAuditTx(deviceId, "push", batchId, ingestAuditDetail(items, out.results), nowUtc);
            tx.commit();
            return out;
        });
    }

    Result<bool> hasReport(std::int64_t hqSeq, const std::string& recordId,
                           const std::string& unitId) override {
        return tryCatch([&] {
            checkText(recordId, "the record id");
            checkText(unitId, "the unit");
            Stmt st(m_db, "SELECT 1 FROM report WHERE hq_seq = ? AND record_id = ? AND unit_id = ?");
            st.bind(1, hqSeq).bind(2, recordId).bind(3, unitId);
            return st.step();
        });
    }

    Result<std::vector<Report>> reports(const ReportFilter& f) override {
        return tryCatch([&] {
            std::vector<Report> out;
            if (f.limit <= 0) return out;
            checkText(f.unitId, "the unit");
            checkText(f.formId, "the form id");
            std::string sql = std::string("SELECT ") + kReportColumns + " FROM report WHERE hq_seq > ?";
            if (!f.unitId.empty()) sql += " AND unit_id = ?";
            if (!f.formId.empty()) sql += " AND form_id = ?";
            sql += " ORDER BY hq_seq LIMIT ?";
            Stmt st(m_db, sql.c_str());
            int i = 1;
            st.bind(i++, f.afterSeq);
            if (!f.unitId.empty()) st.bind(i++, f.unitId);
            if (!f.formId.empty()) st.bind(i++, f.formId);
            st.bind(i, f.limit);
            while (st.step()) out.push_back(readReport(st));
            return out;
        });
    }

    Result<std::optional<Report>> report(const std::string& recordId, std::optional<int> revision,
                                         const std::string& unitId) override {
        return tryCatch([&]() -> std::optional<Report> {
            checkText(recordId, "the record id");
            checkText(unitId, "the unit");
            ReadTx tx(m_db);
            const std::string unit = unitOfRecord(recordId, unitId, unitsHolding(recordId));
            std::string sql = std::string("SELECT ") + kReportColumns +
                              " FROM report WHERE unit_id = ? AND record_id = ?" +
                              (revision ? " AND revision = ?" : " ORDER BY revision DESC LIMIT 1");
            Stmt st(m_db, sql.c_str());
            st.bind(1, unit).bind(2, recordId);
            if (revision) st.bind(3, *revision);
            if (!st.step()) return std::nullopt;
            return readReport(st);
        });
    }

    Result<std::int64_t> reportCount() override {
        return tryCatch([&] {
            Stmt st(m_db, "SELECT count(*) FROM report");
            st.step();
            return st.int64(0);
        });
    }

    Result<std::vector<Conflict>> conflicts() override {
        return tryCatch([&] {
            std::vector<Conflict> out;
            Stmt st(m_db,
                    "SELECT id, record_id, revision, device_id, hash, kept_hash, canonical, received_utc "
                    "FROM conflict "
                    "ORDER BY id");
            while (st.step()) {
                Conflict c;
                c.id = st.int64(0);
                c.recordId = st.text(1);
                c.revision = static_cast<int>(st.int64(2));
                c.deviceId = st.text(3);
                c.hash = st.text(4);
                c.keptHash = st.text(5);
                c.canonical = st.text(6);
                c.receivedUtc = st.text(7);
                out.push_back(std::move(c));
            }
            return out;
        });
    }

    Result<FeedEntry> review(const std::string& recordId, int revision, core::ReviewStatus review,
                             const std::string& comment, const std::string& by, const std::string& nowUtc,
                             const std::string& unitId) override {
        return tryCatch([&] {
            checkReview(recordId, review, comment, by, nowUtc);
            checkText(unitId, "the unit");
            const std::string status(core::toText(review));
            WriteTx tx(m_writer, m_db);
            std::string unit = unitOfRecord(recordId, unitId, unitsHolding(recordId));
            {
                Stmt st(
                    m_db,
                    "UPDATE report SET review_status = ?, review_comment = ?, review_by = ?, review_utc = ? "
                    "WHERE unit_id = ? AND record_id = ? AND revision = ? RETURNING unit_id");
                st.bind(1, status)
                    .bind(2, comment)
                    .bind(3, by)
                    .bind(4, nowUtc)
                    .bind(5, unit)
                    .bind(6, recordId)
                    .bind(7, revision);
                if (!st.step()) throwUnknownReport(recordId, revision);
                unit = st.text(0);
                while (st.step()) {
                }
            }
            FeedEntry e = insertFeed(unit, "feedback",
                                     feedbackBody(recordId, revision, status, comment, by, nowUtc), nowUtc);
            appendAuditTx(by, "review", recordId + " r" + std::to_string(revision), json{{"status", status}},
                          nowUtc);
            tx.commit();
            return e;
        });
    }

    Result<void> putForm(const std::string& formId, int version, const json& definition,
                         const std::string& nowUtc) override {
        return tryCatch([&] {
            checkForm(formId, version, definition);
            checkText(nowUtc, "the time");
            std::string text = jsonText(definition, "the form definition");
            WriteTx tx(m_writer, m_db);
            std::optional<std::string> existing;
            {
                Stmt st(m_db, "SELECT definition FROM form_def WHERE form_id = ? AND version = ?");
                st.bind(1, formId).bind(2, version);
                if (st.step()) existing = st.text(0);
            }
            if (formAlreadyStored(existing, formId, version, text)) return;
            Stmt ins(m_db, "INSERT INTO form_def(form_id, version, definition, put_utc) VALUES (?, ?, ?, ?)");
            ins.bind(1, formId).bind(2, version).bind(3, text).bind(4, nowUtc).run();
            insertFeed("", "form", definition, nowUtc);
            appendAuditTx(m_auditActor, "forms push", formId + " v" + std::to_string(version), json::object(),
                          nowUtc);
            tx.commit();
        });
    }

    Result<std::vector<json>> forms() override {
        return tryCatch([&] {
            std::vector<json> out;
            Stmt st(m_db, "SELECT definition FROM form_def ORDER BY form_id, version");
            while (st.step()) out.push_back(parseStored(st.text(0), "form definition"));
            return out;
        });
    }

    Result<void> putReference(const json& document, const std::string& nowUtc) override {
        return tryCatch([&] {
            checkText(nowUtc, "the time");
            if (!document.is_object()) throw badInput("reference data must be a JSON object");
            std::string text = jsonText(document, "the reference data");
            WriteTx tx(m_writer, m_db);
            Stmt ins(m_db, "INSERT INTO reference(document, put_utc) VALUES (?, ?)");
            ins.bind(1, text).bind(2, nowUtc).run();
            insertFeed("", "reference", document, nowUtc);
            appendAuditTx(m_auditActor, "reference push", "reference",
                          json{{"hash", blake2b256Hex(text)}, {"version", document.value("version", json())}},
                          nowUtc);
            tx.commit();
        });
    }

    Result<std::optional<json>> reference() override {
        return tryCatch([&]() -> std::optional<json> {
            Stmt st(m_db, "SELECT document FROM reference ORDER BY id DESC LIMIT 1");
            if (!st.step()) return std::nullopt;
            return parseStored(st.text(0), "reference document");
        });
    }

    Result<void> putConductKeys(const json& doc, const std::string& action, const std::string& subject,
                                const std::string& nowUtc) override {
        return tryCatch([&] {
            checkText(nowUtc, "the time");
            std::int64_t version = conductKeysVersion(doc);
            std::string text = jsonText(doc, "the conduct key list");
            WriteTx tx(m_writer, m_db);
            {
                Stmt st(m_db, "SELECT coalesce(max(version), 0) FROM conduct_keys");
                st.step();
                if (st.int64(0) + 1 != version) throwConductKeysChanged(st.int64(0), version);
            }
            Stmt ins(m_db, "INSERT INTO conduct_keys(version, document, put_utc) VALUES (?, ?, ?)");
            ins.bind(1, version).bind(2, text).bind(3, nowUtc).run();
            insertFeed("", "conduct-keys", doc, nowUtc);
            appendAuditTx(m_auditActor, action, subject, json{{"version", version}}, nowUtc);
            tx.commit();
        });
    }

    Result<std::optional<json>> conductKeys() override {
        return tryCatch([&]() -> std::optional<json> {
            Stmt st(m_db, "SELECT document FROM conduct_keys ORDER BY version DESC LIMIT 1");
            if (!st.step()) return std::nullopt;
            return parseStored(st.text(0), "conduct key list");
        });
    }

    Result<FeedEntry> appendFeed(const std::string& unitId, const std::string& kind, const json& body,
                                 const std::string& nowUtc) override {
        return tryCatch([&] {
            checkFeedEntry(unitId, kind, nowUtc);
            WriteTx tx(m_writer, m_db);
            FeedEntry e = insertFeed(unitId, kind, body, nowUtc);
            tx.commit();
            return e;
        });
    }

    Result<std::vector<FeedEntry>> feed(const std::string& unitId, std::int64_t after, int limit) override {
        return tryCatch([&] {
            std::vector<FeedEntry> out;
            if (limit <= 0) return out;
            checkText(unitId, "the unit");
            Stmt st(m_db,
                    "SELECT seq, unit_id, kind, body FROM feed WHERE seq > ? AND (unit_id IS NULL OR unit_id "
                    "= ?) "
                    "ORDER BY seq LIMIT ?");
            st.bind(1, after).bind(2, unitId).bind(3, limit);
            while (st.step()) out.push_back(readFeed(st));
            return out;
        });
    }

    Result<std::optional<FeedEntry>> feedEntry(std::int64_t seq) override {
        return tryCatch([&]() -> std::optional<FeedEntry> {
            Stmt st(m_db, "SELECT seq, unit_id, kind, body FROM feed WHERE seq = ?");
            st.bind(1, seq);
            if (!st.step()) return std::nullopt;
            return readFeed(st);
        });
    }

    Result<AuditEntry> appendAudit(const std::string& actor, const std::string& action,
                                   const std::string& subject, const json& detail,
                                   const std::string& nowUtc) override {
        return tryCatch([&] {
            WriteTx tx(m_writer, m_db);
            AuditEntry e = appendAuditTx(actor, action, subject, detail, nowUtc);
            tx.commit();
            return e;
        });
    }

    Result<std::vector<AuditEntry>> audit(std::int64_t after, int limit) override {
        return tryCatch([&] {
            std::vector<AuditEntry> out;
            Stmt st(
                m_db,
                "SELECT seq, at_utc, actor, action, subject, detail, prev_hash, hash, signature FROM audit "
                "WHERE seq > ? ORDER BY seq LIMIT ?");
            st.bind(1, after).bind(2, limit);
            while (st.step())
                out.push_back(AuditEntry{st.int64(0), st.text(1), st.text(2), st.text(3), st.text(4),
                                         st.text(5), st.text(6), st.text(7), st.text(8)});
            return out;
        });
    }

    Result<AuditHead> auditHead() override {
        return tryCatch([&] { return readAuditHead(); });
    }

    // One writer hands out every number in order, without gaps: nothing is ever void here.
    Result<std::vector<VoidRange>> voidRanges() override { return std::vector<VoidRange>{}; }

    Result<std::vector<std::string>> verify() override {
        return tryCatch([&] {
            std::vector<std::string> problems;
            ReadTx tx(m_db);
            {
                Stmt st(m_db, "PRAGMA integrity_check");
                while (st.step())
                    if (st.text(0) != "ok") problems.push_back("integrity_check: " + st.text(0));
            }
            {
                Stmt st(m_db, "PRAGMA foreign_key_check");
                while (st.step())
                    problems.push_back("foreign_key_check: table " + st.text(0) + " row " + st.text(1));
            }
            {
                Stmt st(m_db,
                        "SELECT record_id, revision, count(*) FROM report GROUP BY unit_id, record_id, "
                        "revision HAVING count(*) > 1");
                while (st.step())
                    problems.push_back("report " + st.text(0) + " revision " + st.text(1) + " is stored " +
                                       st.text(2) + " times");
            }
            {
                Stmt st(m_db, "SELECT hq_seq, hash, canonical FROM report ORDER BY hq_seq");
                while (st.step())
                    if (auto p = hashProblem("report", st.int64(0), st.text(1), st.text(2)))
                        problems.push_back(*p);
            }
            {
                Stmt st(m_db, "SELECT id, hash, canonical FROM conflict ORDER BY id");
                while (st.step())
                    if (auto p = hashProblem("conflict", st.int64(0), st.text(1), st.text(2)))
                        problems.push_back(*p);
            }
            {
                Stmt st(m_db,
                        "SELECT c.id FROM conflict c WHERE NOT EXISTS (SELECT 1 FROM report r "
                        "WHERE r.record_id = c.record_id AND r.revision = c.revision) ORDER BY c.id");
                while (st.step())
                    problems.push_back("conflict " + st.text(0) + " names a report HQ does not hold");
            }
            {
                Stmt st(m_db, "SELECT count(*) FROM meta WHERE key = 'epoch'");
                st.step();
                if (st.int64(0) != 1) problems.push_back("the store has no epoch");
            }
            return problems;
        });
    }

private:
    // The units holding a report with this record id (more than one when units chose the same id).
    std::vector<std::string> unitsHolding(const std::string& recordId) {
        std::vector<std::string> units;
        Stmt st(m_db, "SELECT DISTINCT unit_id FROM report WHERE record_id = ? ORDER BY unit_id");
        st.bind(1, recordId);
        while (st.step()) units.push_back(st.text(0));
        return units;
    }

    void migrate() {
        WriteTx tx(m_writer, m_db);
        int v = 0;
        {
            Stmt st(m_db, "PRAGMA user_version");
            st.step();
            v = static_cast<int>(st.int64(0));
        }
        if (v > kSchemaVersion)
            throw Failure(ErrorDomain::Storage, ErrorCode::Conflict,
                          "this HQ store was written by a newer outpost-hq (schema " + std::to_string(v) +
                              "); install the newer version to open it");
        if (v == kSchemaVersion) {
            tx.commit();
            return;
        }
        if (v < 1) {
            m_db.exec(kSchemaV1);
            Stmt st(m_db, "INSERT INTO meta(key, value) VALUES ('epoch', ?)");
            st.bind(1, newEpochId()).run();
        }
        if (v < 2) m_db.exec(kSchemaV2);
        if (v < 3) m_db.exec(kSchemaV3);
        if (v < 4) m_db.exec(kSchemaV4);
        m_db.exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
        tx.commit();
    }

    std::string metaValue(const char* key) {
        Stmt st(m_db, "SELECT value FROM meta WHERE key = ?");
        st.bind(1, key);
        if (!st.step())
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                          std::string("the HQ store has no ") + key);
        return st.text(0);
    }

    AuditHead readAuditHead() {
        Stmt st(m_db, "SELECT value FROM meta WHERE key = 'audit_head'");
        std::optional<std::string> text;
        if (st.step()) text = st.text(0);
        return auditHeadFrom(text);
    }

    // Inside the caller's write transaction (which serializes appends): the next entry after the
    // signed head, and the new signed head.
    AuditEntry appendAuditTx(const std::string& actor, const std::string& action, const std::string& subject,
                             const json& detail, const std::string& nowUtc) {
        AuditEntry e = makeAuditEntry(readAuditHead(), actor, action, subject, detail, nowUtc, m_auditKey);
        Stmt ins(m_db,
                 "INSERT INTO audit(seq, at_utc, actor, action, subject, detail, prev_hash, hash, signature) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        ins.bind(1, e.seq).bind(2, e.atUtc).bind(3, e.actor).bind(4, e.action).bind(5, e.subject);
        ins.bind(6, e.detail).bind(7, e.prevHash).bind(8, e.hash).bind(9, e.signature).run();
        Stmt head(m_db,
                  "INSERT INTO meta(key, value) VALUES ('audit_head', ?) "
                  "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
        head.bind(1, auditHeadText(headAfter(e, m_auditKey))).run();
        return e;
    }

    void requireDevice(const std::string& deviceId) {
        Stmt& st = *m_findDevice;
        Reset r(st);
        st.bind(1, deviceId);
        if (!st.step()) throwUnknownDevice(deviceId);
    }

    // Inside the caller's transaction.
    FeedEntry insertFeed(const std::string& unitId, const std::string& kind, const json& body,
                         const std::string& nowUtc) {
        FeedEntry e;
        e.unitId = unitId;
        e.kind = kind;
        e.body = body;
        Stmt st(m_db, "INSERT INTO feed(unit_id, kind, body, created_utc) VALUES (?, ?, ?, ?)");
        if (unitId.empty())
            st.bindNull(1);
        else
            st.bind(1, unitId);
        st.bind(2, kind).bind(3, jsonText(body, "the feed entry")).bind(4, nowUtc).run();
        e.seq = m_db.lastInsertRowid();
        return e;
    }

    Db m_db;
    std::mutex& m_writer;
    std::unique_ptr<Stmt> m_findReport, m_insertReport, m_insertConflict, m_findBatch, m_insertBatch,
        m_findDevice, m_insertNonce;
};

}  // namespace

Result<std::unique_ptr<HqStore>> openSqliteHqStore(const std::string& dir) {
    return tryCatch([&]() -> std::unique_ptr<HqStore> {
        // A new folder is made 0700 from the start: HQ's reports are nobody else's to read.
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
            fs::path leaf = fs::path(dir);
            if (!leaf.has_filename()) leaf = leaf.parent_path();  // "DIR/"
            fs::path parent = leaf.parent_path();
            if (!parent.empty()) fs::create_directories(parent, ec);
            if (ec || (::mkdir(leaf.c_str(), 0700) != 0 && errno != EEXIST))
                throw Failure(
                    ErrorDomain::Storage, ErrorCode::Io,
                    "cannot create the folder " + dir + ": " + (ec ? ec.message() : std::strerror(errno)));
        }
        return std::make_unique<SqliteHqStore>(dir);
    });
}

}  // namespace outpost::storage::hq
