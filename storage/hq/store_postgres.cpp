// HQ's store on PostgreSQL: one database shared by several stateless outpost-hq processes.
//
// Every method is one transaction (READ COMMITTED), retried a few times on a serialization failure,
// a deadlock, a unique-key race or a connection lost before COMMIT was sent. HQ's sequences are rows
// of the counter table. The feed's is locked for the rest of the transaction that hands out a number:
// feed numbers are gap-free and become visible in order. Ingest does not hold the report counter: a
// push reserves its N numbers in one short statement of its own (on a session the process's stores
// share for reservations, autocommit), which records the range in the reservation table, and deletes
// that row as the last statement of the transaction that stores the reports, so the reports and the
// end of the reservation commit together.
// A push that fails after reserving, or whose session ended holding a reservation, leaves its numbers
// recorded in void_range. Reports therefore commit out of number order; a reader that pages by
// "after seq" reads only below the horizon, the lowest number still reserved, and never misses a
// report that commits later with a smaller number. verify() checks that every number is a report, void,
// or still reserved. Batch ingest sends its rows as one JSON parameter per statement
// (json_to_recordset), a handful of round trips per batch.
#include <libpq-fe.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>
#include <utility>

#include "core/time.hpp"
#include "storage/crypto.hpp"
#include "storage/hq/store.hpp"
#include "storage/hq/store_detail.hpp"

namespace outpost::storage::hq {

namespace {

using namespace detail;

constexpr int kSchemaVersion = 5;
constexpr int kMaxAttempts = 6;
// Pushes of the same revisions at once race on the unique keys: in each round one of them commits, and
// the others' retries find what it stored, but several such pushes can take a few rounds to settle.
constexpr int kMaxIngestAttempts = 16;
constexpr std::int64_t kSchemaLockKey = 0x6f7574706f7374;  // "outpost": serializes schema creation
constexpr int kVerifyPage = 1000;

constexpr const char* kSchemaV1 = R"SQL(
CREATE TABLE meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE counter (
  name  text PRIMARY KEY,
  value bigint NOT NULL
);
CREATE TABLE device (
  id           text PRIMARY KEY,
  unit_id      text NOT NULL,
  name         text NOT NULL,
  public_key   text NOT NULL,
  enrolled_utc text NOT NULL,
  revoked      boolean NOT NULL DEFAULT false
);
CREATE TABLE enrollment (
  secret_hash text PRIMARY KEY,
  unit_id     text NOT NULL,
  expires_utc text NOT NULL,
  used_by     text REFERENCES device(id),
  used_utc    text
);
CREATE TABLE nonce (
  device_id text NOT NULL REFERENCES device(id),
  nonce     text NOT NULL,
  PRIMARY KEY (device_id, nonce)
);
CREATE TABLE batch (
  device_id    text NOT NULL REFERENCES device(id),
  batch_id     text NOT NULL,
  request_hash text NOT NULL,
  results      text NOT NULL,
  received_utc text NOT NULL,
  PRIMARY KEY (device_id, batch_id)
);
CREATE TABLE report (
  hq_seq          bigint PRIMARY KEY,
  record_id       text NOT NULL,
  revision        integer NOT NULL CHECK (revision >= 1),
  parent_revision integer,
  form_id         text NOT NULL,
  form_version    integer NOT NULL,
  unit_id         text NOT NULL,
  device_id       text NOT NULL REFERENCES device(id),
  author          text NOT NULL,
  created_utc     text NOT NULL,
  created_offset  integer NOT NULL,
  finalized_utc   text NOT NULL,
  received_utc    text NOT NULL,
  hash            text NOT NULL,
  canonical       text NOT NULL,
  review_status   text NOT NULL DEFAULT 'received'
                  CHECK (review_status IN ('received', 'accepted', 'returned')),
  review_comment  text NOT NULL DEFAULT '',
  review_by       text,
  review_utc      text,
  UNIQUE (record_id, revision)
);
CREATE INDEX report_unit ON report (unit_id, hq_seq);
CREATE INDEX report_form ON report (form_id, hq_seq);
CREATE TABLE conflict (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  record_id    text NOT NULL,
  revision     integer NOT NULL,
  device_id    text NOT NULL REFERENCES device(id),
  hash         text NOT NULL,
  kept_hash    text NOT NULL,
  canonical    text NOT NULL,
  received_utc text NOT NULL,
  UNIQUE (record_id, revision, hash)
);
CREATE TABLE form_def (
  form_id    text NOT NULL,
  version    integer NOT NULL,
  definition text NOT NULL,
  put_utc    text NOT NULL,
  PRIMARY KEY (form_id, version)
);
CREATE TABLE reference (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  document text NOT NULL,
  put_utc  text NOT NULL
);
CREATE TABLE feed (
  seq         bigint PRIMARY KEY,
  unit_id     text,
  kind        text NOT NULL,
  body        text NOT NULL,
  created_utc text NOT NULL
);
CREATE INDEX feed_unit ON feed (unit_id, seq);
INSERT INTO counter(name, value) VALUES ('report', 0), ('feed', 0);
)SQL";

// Version 2: the device's signature on each report, and the audit log. Appends are serialized by the
// 'audit' counter row (locked FOR UPDATE in the audited write's own transaction); the signed head is
// the meta row 'audit_head'.
constexpr const char* kSchemaV2 = R"SQL(
ALTER TABLE report ADD COLUMN signature text NOT NULL DEFAULT '';
CREATE TABLE audit (
  seq       bigint PRIMARY KEY,
  at_utc    text NOT NULL,
  actor     text NOT NULL,
  action    text NOT NULL,
  subject   text NOT NULL,
  detail    text NOT NULL,
  prev_hash text NOT NULL,
  hash      text NOT NULL,
  signature text NOT NULL
);
INSERT INTO counter(name, value) VALUES ('audit', 0);
)SQL";

// Version 3: sealed sensitive sections with their reports, and the conduct keys they are sealed to.
constexpr const char* kSchemaV3 = R"SQL(
ALTER TABLE report ADD COLUMN sealed text NOT NULL DEFAULT '';
CREATE TABLE conduct_keys (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  version  bigint NOT NULL UNIQUE,
  document text NOT NULL,
  put_utc  text NOT NULL
);
)SQL";

// Version 4: record ids are scoped by unit (docs/protocol.md, "Record ids are scoped by unit"): a report is
// (unit_id, record_id, revision).
constexpr const char* kSchemaV4 = R"SQL(
ALTER TABLE report DROP CONSTRAINT IF EXISTS report_record_id_revision_key;
ALTER TABLE report ADD CONSTRAINT report_unit_record_revision_key UNIQUE (unit_id, record_id, revision);
CREATE INDEX report_record ON report (record_id, revision);
)SQL";

// Version 5: report numbers are reserved per push (the header above). A reservation names the session
// that holds it (its backend pid and start, and the process's application_name), so that one left by a
// session that ended, or whose transaction ended, can be told from one in flight.
constexpr const char* kSchemaV5 = R"SQL(
CREATE TABLE reservation (
  first        bigint PRIMARY KEY,
  last         bigint NOT NULL,
  holder_pid   integer NOT NULL,
  holder_start timestamptz NOT NULL,
  holder       text NOT NULL,
  taken        timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (first >= 1 AND last >= first)
);
CREATE TABLE void_range (
  first        bigint PRIMARY KEY,
  last         bigint NOT NULL,
  why          text NOT NULL,
  recorded_utc text NOT NULL,
  CHECK (first >= 1 AND last >= first)
);
)SQL";

// Moves every abandoned reservation to void_range: its holder session is gone, or has ended the
// transaction that took it (idle, or in a transaction that started after it was taken). A row being
// deleted by its holder's committing transaction is locked and skipped. $1: the time to record.
constexpr const char* kReapAbandoned =
    "WITH gone AS (DELETE FROM reservation r WHERE r.first IN ("
    "SELECT v.first FROM reservation v WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a "
    "WHERE a.pid = v.holder_pid AND a.backend_start = v.holder_start) "
    "OR EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = v.holder_pid AND a.backend_start = "
    "v.holder_start AND (a.state = 'idle' OR a.xact_start > v.taken)) "
    "FOR UPDATE OF v SKIP LOCKED) RETURNING r.first, r.last, r.holder, r.holder_pid) "
    "INSERT INTO void_range(first, last, why, recorded_utc) SELECT first, last, 'abandoned by ' || holder "
    "|| ' (database session ' || holder_pid || '): its transaction ended without storing the reports', "
    "$1 FROM gone";

// Where the numbers 1 .. the report counter are not exactly one of a report, a void range or a
// reservation: gaps and overlaps, in one ordered pass (the three tables' primary keys, merged).
constexpr const char* kSequenceProblems =
    "WITH s AS (SELECT hq_seq AS first, hq_seq AS last FROM report "
    "UNION ALL SELECT first, last FROM void_range UNION ALL SELECT first, last FROM reservation), "
    "o AS (SELECT first, last, max(last) OVER (ORDER BY first ROWS BETWEEN UNBOUNDED PRECEDING AND 1 "
    "PRECEDING) AS before FROM s) "
    "(SELECT false, coalesce(before, 0) + 1, first - 1 FROM o WHERE first > coalesce(before, 0) + 1 "
    "UNION ALL SELECT true, first, least(last, before) FROM o WHERE first <= before "
    "UNION ALL SELECT false, m + 1, c FROM (SELECT (SELECT value FROM counter WHERE name = 'report') AS c, "
    "greatest((SELECT max(hq_seq) FROM report), (SELECT max(last) FROM void_range), "
    "(SELECT max(last) FROM reservation), 0) AS m) t WHERE c > m) "
    "ORDER BY 2 LIMIT $1";
constexpr int kSequenceProblemLines = 100;

constexpr const char* kReportColumns =
    "hq_seq, record_id, revision, parent_revision, form_id, form_version, unit_id, device_id, author, "
    "created_utc, created_offset, finalized_utc, received_utc, hash, canonical, review_status, "
    "review_comment, signature, sealed";

// A PostgreSQL failure, classified; keeps what the retry loop needs to decide.
class PgError : public Failure {
public:
    PgError(Error e, std::string sqlstate, bool lost, std::string serverMessage = {})
        : Failure(std::move(e)),
          m_sqlstate(std::move(sqlstate)),
          m_lost(lost),
          m_serverMessage(std::move(serverMessage)) {}
    const std::string& sqlstate() const { return m_sqlstate; }
    // What libpq or the server said, as it said it (the classified message adds what it means).
    const std::string& serverMessage() const { return m_serverMessage; }
    bool connectionLost() const { return m_lost; }

private:
    std::string m_sqlstate;
    bool m_lost;
    std::string m_serverMessage;
};

Error classifyPg(const std::string& state, std::string message, bool lost) {
    // Without PostgreSQL's "ERROR:  " prefixes and its CONTEXT, HINT, DETAIL and LINE lines (tuples,
    // relations, statement positions mean nothing to the person the message reaches, a laptop's user).
    // Every other line stays: libpq says one line per address it tried to connect to.
    {
        std::string kept;
        std::size_t at = 0;
        while (at < message.size()) {
            std::size_t end = message.find('\n', at);
            if (end == std::string::npos) end = message.size();
            std::string line = message.substr(at, end - at);
            at = end + 1;
            while (!line.empty() && (line.front() == '\t' || line.front() == ' ')) line.erase(0, 1);
            if (line.empty()) continue;
            bool drop = false;
            for (const char* p : {"CONTEXT:", "HINT:", "DETAIL:", "LINE ", "^"})
                drop = drop || line.rfind(p, 0) == 0;
            if (drop) continue;
            for (const char* p : {"ERROR:  ", "FATAL:  "})
                if (line.rfind(p, 0) == 0) line.erase(0, std::strlen(p));
            kept += (kept.empty() ? "" : "; ") + line;
        }
        message = kept;
    }
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    auto starts = [&](const char* p) { return state.rfind(p, 0) == 0; };
    std::string detail = message + (state.empty() ? "" : " (SQLSTATE " + state + ")");
    if (lost || starts("08") || starts("57P"))
        return Error{
            ErrorDomain::Storage, ErrorCode::Io,
            "the connection to the HQ database was lost or refused: nothing was written - " + detail};
    if (state == "53100")
        return Error{
            ErrorDomain::Storage, ErrorCode::DiskFull,
            "the HQ database's disk is full: nothing was written; free some space and try again - " + detail};
    if (starts("58"))
        return Error{ErrorDomain::Storage, ErrorCode::Io,
                     "the HQ database reported an I/O error: nothing was written - " + detail};
    if (state == "55P03")
        return Error{ErrorDomain::Storage, ErrorCode::Busy,
                     "another HQ process has held what this change needs for longer than HQ waits (it may be "
                     "stalled); nothing was written, try again - " +
                         detail};
    if (state == "57014")
        return Error{ErrorDomain::Storage, ErrorCode::Busy,
                     "the HQ database took longer than HQ waits for one statement; nothing was written, try "
                     "again - " +
                         detail};
    if (starts("53") || state == "40001" || state == "40P01")
        return Error{ErrorDomain::Storage, ErrorCode::Busy, "the HQ database is busy; try again - " + detail};
    if (starts("XX00"))
        return Error{ErrorDomain::Storage, ErrorCode::Corrupt, "the HQ database reports damage - " + detail};
    if (starts("23"))
        return Error{ErrorDomain::Storage, ErrorCode::Conflict,
                     "the change breaks a rule of the store - " + detail};
    if (starts("22"))
        return Error{ErrorDomain::Storage, ErrorCode::BadInput, "the database refused a value - " + detail};
    return Error{ErrorDomain::Storage, ErrorCode::Internal, detail};
}

bool retriable(const PgError& e) {
    const auto& s = e.sqlstate();
    return e.connectionLost() || s == "40001" || s == "40P01" || s == "23505";
}

// One statement parameter as text; nullopt is SQL NULL.
struct Param {
    std::optional<std::string> v;
    Param(std::string s) : v(std::move(s)) {}
    Param(const char* s) : v(std::string(s)) {}
    Param(std::int64_t i) : v(std::to_string(i)) {}
    Param(int i) : v(std::to_string(i)) {}
    Param(std::nullopt_t) {}
};

class PgResult {
public:
    explicit PgResult(PGresult* r) : m_r(r) {}
    ~PgResult() { PQclear(m_r); }
    PgResult(PgResult&& o) noexcept : m_r(o.m_r) { o.m_r = nullptr; }
    PgResult(const PgResult&) = delete;
    PgResult& operator=(const PgResult&) = delete;
    PgResult& operator=(PgResult&&) = delete;

    int rows() const { return PQntuples(m_r); }
    bool isNull(int row, int col) const { return PQgetisnull(m_r, row, col) != 0; }
    std::string text(int row, int col) const {
        return std::string(PQgetvalue(m_r, row, col), static_cast<std::size_t>(PQgetlength(m_r, row, col)));
    }
    std::int64_t int64(int row, int col) const { return std::stoll(text(row, col)); }
    bool boolean(int row, int col) const { return text(row, col) == "t"; }
    std::int64_t affected() const {
        const char* n = PQcmdTuples(m_r);
        return n && *n ? std::stoll(n) : 0;
    }

private:
    PGresult* m_r;
};

void ignoreNotice(void*, const char*) {}

class Connection {
public:
    Connection(const std::string& uri, const SessionLimits& limits) : m_limits(limits) {
        // Array order matters: values from the URI override those before "dbname" (the URI is expanded
        // in its place), client_encoding is always UTF8.
        auto seconds = [](auto d) {
            return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count());
        };
        const bool keepalive = limits.keepaliveIdle.count() > 0;
        const std::string idle = seconds(limits.keepaliveIdle), interval = seconds(limits.keepaliveInterval),
                          count = std::to_string(limits.keepaliveCount),
                          userTimeout = std::to_string(limits.tcpUserTimeout.count());
        // "outpost-hq/<pid>": pg_stat_activity tells an operator which HQ process holds a session.
        const std::string application = "outpost-hq/" + std::to_string(::getpid());
        std::vector<const char*> keys{"application_name", "connect_timeout"};
        std::vector<const char*> values{application.c_str(), "10"};
        if (keepalive) {
            // A host that vanishes without closing its sockets (powered off, cut off) is noticed in
            // seconds, not after the system's two hours, by the server and by HQ.
            keys.insert(keys.end(),
                        {"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"});
            values.insert(values.end(), {"1", idle.c_str(), interval.c_str(), count.c_str()});
        }
        if (limits.tcpUserTimeout.count() > 0) {
            keys.push_back("tcp_user_timeout");
            values.push_back(userTimeout.c_str());
        }
        keys.insert(keys.end(), {"dbname", "client_encoding", nullptr});
        values.insert(values.end(), {uri.c_str(), "UTF8", nullptr});
        m_c = PQconnectdbParams(keys.data(), values.data(), 1);
        if (!m_c) throw Failure(ErrorDomain::Internal, ErrorCode::Internal, "out of memory");
        if (PQstatus(m_c) != CONNECTION_OK) {
            std::string msg = PQerrorMessage(m_c);
            PQfinish(m_c);
            m_c = nullptr;
            throw PgError(classifyPg("", "cannot connect to the HQ database: " + msg, true), "", true);
        }
        setUp();
    }
    ~Connection() {
        if (m_c) PQfinish(m_c);
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Reconnects when the server closed the connection since the last call.
    void ensure() {
        if (PQstatus(m_c) == CONNECTION_OK) return;
        PQreset(m_c);
        if (PQstatus(m_c) != CONNECTION_OK)
            throw PgError(
                classifyPg("", "cannot reconnect to the HQ database: " + std::string(PQerrorMessage(m_c)),
                           true),
                "", true);
        setUp();
    }

    PgResult exec(const char* sql, const std::vector<Param>& params = {}) {
        std::vector<const char*> values;
        values.reserve(params.size());
        for (const auto& p : params) values.push_back(p.v ? p.v->c_str() : nullptr);
        PGresult* r = PQexecParams(m_c, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                                   nullptr, 0);
        PgResult res(r);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
        fail(r);
    }

    // Several statements without parameters (schema creation).
    void execScript(const char* sql) {
        // PQexec stops at the first failing statement and returns its result.
        PGresult* r = PQexec(m_c, sql);
        PgResult res(r);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(r);
    }

    // The server process of this session (0 when not connected): it changes when ensure() reconnects.
    int backendPid() const { return PQbackendPID(m_c); }

    void rollbackQuietly() {
        if (PQstatus(m_c) != CONNECTION_OK) return;
        if (PQtransactionStatus(m_c) == PQTRANS_IDLE) return;
        PQclear(PQexec(m_c, "ROLLBACK"));
    }

private:
    [[noreturn]] void fail(PGresult* r) {
        bool lost = PQstatus(m_c) != CONNECTION_OK;
        const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
        std::string msg = r ? PQresultErrorMessage(r) : "";
        if (msg.empty()) msg = PQerrorMessage(m_c);
        std::string s = state ? state : "";
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        throw PgError(classifyPg(s, msg, lost), s, lost, msg);
    }

    void setUp() {
        PQsetNoticeProcessor(m_c, ignoreNotice, nullptr);
        PQclear(PQexec(m_c, "SET client_min_messages = warning"));
        // The session's own bounds (SessionLimits): a session waiting on a lock, running a statement or
        // left idle inside a transaction by a stalled process gives up, and what it held is released.
        auto set = [&](const char* name, std::chrono::milliseconds v) {
            if (v.count() <= 0) return;
            const std::string sql = std::string("SET ") + name + " = " + std::to_string(v.count());
            PGresult* r = PQexec(m_c, sql.c_str());
            PgResult res(r);
            if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) fail(r);
        };
        set("lock_timeout", m_limits.lockWait);
        set("statement_timeout", m_limits.statement);
        set("idle_in_transaction_session_timeout", m_limits.idleInTransaction);
    }

    SessionLimits m_limits;
    PGconn* m_c = nullptr;
};

Device readDevice(const PgResult& r, int i) {
    Device d;
    d.id = r.text(i, 0);
    d.unitId = r.text(i, 1);
    d.name = r.text(i, 2);
    d.publicKey = r.text(i, 3);
    d.enrolledUtc = r.text(i, 4);
    d.revoked = r.boolean(i, 5);
    return d;
}

Report readReport(const PgResult& r, int i) {
    Report p;
    p.hqSeq = r.int64(i, 0);
    p.recordId = r.text(i, 1);
    p.revision = static_cast<int>(r.int64(i, 2));
    if (!r.isNull(i, 3)) p.parent = static_cast<int>(r.int64(i, 3));
    p.formId = r.text(i, 4);
    p.formVersion = static_cast<int>(r.int64(i, 5));
    p.unitId = r.text(i, 6);
    p.deviceId = r.text(i, 7);
    p.author = r.text(i, 8);
    p.createdUtc = r.text(i, 9);
    p.createdOffset = static_cast<int>(r.int64(i, 10));
    p.finalizedUtc = r.text(i, 11);
    p.receivedUtc = r.text(i, 12);
    p.hash = r.text(i, 13);
    p.canonical = r.text(i, 14);
    p.reviewStatus =
        core::requireText<core::ReviewStatus>(r.text(i, 15), ErrorDomain::Storage, ErrorCode::Corrupt);
    p.reviewComment = r.text(i, 16);
    p.signature = r.text(i, 17);
    p.sealedPart = r.text(i, 18);
    return p;
}

// The session a process reserves report numbers on, shared by all its stores on one database (one
// more connection per process, not one per store); a reservation names the store's own session as its
// holder, whichever session made it. Used for one statement at a time, under its mutex.
struct Reserver {
    std::mutex mutex;
    std::unique_ptr<Connection> connection;
};

std::shared_ptr<Reserver> sharedReserver(const std::string& uri, const SessionLimits& l) {
    static std::mutex mapMutex;
    static std::map<std::string, std::weak_ptr<Reserver>> reservers;
    std::string key = uri;
    for (auto n : {l.lockWait.count(), l.statement.count(), l.idleInTransaction.count(),
                   static_cast<std::int64_t>(l.keepaliveIdle.count()),
                   static_cast<std::int64_t>(l.keepaliveInterval.count()),
                   static_cast<std::int64_t>(l.keepaliveCount), l.tcpUserTimeout.count()})
        key += "\n" + std::to_string(n);
    std::lock_guard lock(mapMutex);
    auto& slot = reservers[key];
    if (auto r = slot.lock()) return r;
    auto r = std::make_shared<Reserver>();
    slot = r;
    return r;
}

FeedEntry readFeed(const PgResult& r, int i) {
    FeedEntry e;
    e.seq = r.int64(i, 0);
    e.unitId = r.isNull(i, 1) ? std::string() : r.text(i, 1);
    e.kind = r.text(i, 2);
    e.body = parseStored(r.text(i, 3), "feed entry");
    return e;
}

class PostgresHqStore final : public HqStore {
public:
    PostgresHqStore(const std::string& uri, const SessionLimits& limits)
        : m_uri(uri), m_limits(limits), m_db(uri, limits), m_reserver(sharedReserver(uri, limits)) {
        migrate();
    }

    Result<std::string> epoch() override {
        return read([&] {
            auto r = m_db.exec("SELECT value FROM meta WHERE key = 'epoch'");
            if (r.rows() != 1)
                throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "the HQ store has no epoch");
            return r.text(0, 0);
        });
    }

    Result<std::string> rotateEpoch() override {
        return run([&] {
            std::string e = newEpochId();
            m_db.exec("UPDATE meta SET value = $1 WHERE key = 'epoch'", {e});
            appendAuditTx(m_auditActor, "restore", e, json{{"epoch", e}}, core::nowTimestamp().utc);
            return e;
        });
    }

    Result<Heads> heads() override {
        return read([&] {
            auto r = m_db.exec(
                "SELECT (SELECT coalesce(max(hq_seq), 0) FROM report), (SELECT coalesce(max(seq), 0) FROM "
                "feed)");
            return Heads{r.int64(0, 0), r.int64(0, 1)};
        });
    }

    Result<void> addEnrollment(const std::string& secretHash, const std::string& unitId,
                               const std::string& expiresUtc) override {
        return run([&] {
            checkEnrollment(secretHash, unitId, expiresUtc);
            auto r = m_db.exec(
                "INSERT INTO enrollment(secret_hash, unit_id, expires_utc) VALUES ($1, $2, $3) ON CONFLICT "
                "DO NOTHING",
                {secretHash, unitId, expiresUtc});
            if (r.affected() == 0) throw enrollmentExists();
            appendAuditTx(m_auditActor, "enrollment code", unitId, json{{"expires", expiresUtc}},
                          core::nowTimestamp().utc);
        });
    }

    Result<Device> redeemEnrollment(const std::string& secretHash, const std::string& deviceName,
                                    const std::string& publicKey, const std::string& nowUtc) override {
        return run([&] {
            checkText(secretHash, "the enrollment secret hash");
            checkText(deviceName, "the device name");
            checkText(publicKey, "the public key");
            checkText(nowUtc, "the time");
            // The row lock makes two concurrent redemptions of one code wait for each other.
            auto e = m_db.exec(
                "SELECT unit_id, expires_utc, used_by IS NOT NULL FROM enrollment WHERE secret_hash = $1 FOR "
                "UPDATE",
                {secretHash});
            bool found = e.rows() == 1;
            checkRedeemable(found, found && e.boolean(0, 2), found ? e.text(0, 1) : std::string(), nowUtc);
            Device d;
            d.id = newDeviceId();
            d.unitId = e.text(0, 0);
            d.name = deviceName;
            d.publicKey = publicKey;
            d.enrolledUtc = nowUtc;
            m_db.exec(
                "INSERT INTO device(id, unit_id, name, public_key, enrolled_utc, revoked) "
                "VALUES ($1, $2, $3, $4, $5, false)",
                {d.id, d.unitId, d.name, d.publicKey, d.enrolledUtc});
            m_db.exec("UPDATE enrollment SET used_by = $1, used_utc = $2 WHERE secret_hash = $3",
                      {d.id, nowUtc, secretHash});
            appendAuditTx(d.id, "enroll", d.id, json{{"unit", d.unitId}, {"name", d.name}}, nowUtc);
            return d;
        });
    }

    Result<std::optional<Device>> device(const std::string& deviceId) override {
        return read([&]() -> std::optional<Device> {
            checkText(deviceId, "the device id");
            auto r = m_db.exec(
                "SELECT id, unit_id, name, public_key, enrolled_utc, revoked FROM device WHERE id = $1",
                {deviceId});
            if (r.rows() == 0) return std::nullopt;
            return readDevice(r, 0);
        });
    }

    Result<std::vector<Device>> devices() override {
        return read([&] {
            auto r = m_db.exec(
                "SELECT id, unit_id, name, public_key, enrolled_utc, revoked FROM device "
                "ORDER BY enrolled_utc COLLATE \"C\", id COLLATE \"C\"");
            std::vector<Device> out;
            for (int i = 0; i < r.rows(); ++i) out.push_back(readDevice(r, i));
            return out;
        });
    }

    Result<void> revoke(const std::string& deviceId) override {
        return run([&] {
            checkText(deviceId, "the device id");
            auto r = m_db.exec("UPDATE device SET revoked = true WHERE id = $1", {deviceId});
            if (r.affected() == 0) throwUnknownDevice(deviceId);
            appendAuditTx(m_auditActor, "revoke", deviceId, json::object(), core::nowTimestamp().utc);
        });
    }

    Result<bool> useNonce(const std::string& deviceId, const std::string& nonce) override {
        return run([&] {
            checkText(deviceId, "the device id");
            checkText(nonce, "the nonce");
            requireDevice(deviceId);
            auto r = m_db.exec("INSERT INTO nonce(device_id, nonce) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                               {deviceId, nonce});
            return r.affected() > 0;
        });
    }

    Result<BatchOutcome> ingest(const std::string& deviceId, const std::string& batchId,
                                const std::string& requestHash, const std::vector<IncomingItem>& items,
                                const std::string& nowUtc) override {
        const auto started = std::chrono::steady_clock::now();
        m_timing = IngestTiming{};
        auto result = run(
            [&] {
                checkIngest(deviceId, batchId, requestHash, items, nowUtc);
                requireDevice(deviceId);
                BatchOutcome out;
                // No lock is held for the lookups: a push of the same batch or of the same revision that
                // commits meanwhile makes this one's INSERT fail on a unique key, and the retry sees it.
                auto b = m_db.exec(
                    "SELECT request_hash, results FROM batch WHERE device_id = $1 AND batch_id = $2",
                    {deviceId, batchId});
                if (b.rows() == 1) {
                    if (b.text(0, 0) != requestHash) throwBatchReused(batchId);
                    out.replayed = true;
                    out.results = resultsFromText(b.text(0, 1));
                    return out;
                }
                // What HQ holds for every (record, revision) named in the batch, in one query.
                std::map<std::tuple<std::string, std::string, int>, std::pair<std::string, std::int64_t>>
                    held;
                json keys = json::array();
                for (const auto& it : items)
                    if (!it.rejectReason)
                        keys.push_back(
                            {{"unit_id", it.unitId}, {"record_id", it.recordId}, {"revision", it.revision}});
                if (!keys.empty()) {
                    auto r = m_db.exec(
                        "SELECT r.unit_id, r.record_id, r.revision, r.hash, r.hq_seq FROM report r "
                        "JOIN json_to_recordset($1::json) AS k(unit_id text, record_id text, revision "
                        "integer) "
                        "ON r.unit_id = k.unit_id AND r.record_id = k.record_id AND r.revision = k.revision",
                        {keys.dump()});
                    for (int i = 0; i < r.rows(); ++i)
                        held[{r.text(i, 0), r.text(i, 1), static_cast<int>(r.int64(i, 2))}] = {r.text(i, 3),
                                                                                               r.int64(i, 4)};
                }
                std::vector<std::size_t> toStore;
                std::vector<std::pair<std::size_t, std::string>> toConflict;
                auto plan = [&](std::int64_t first) {
                    toStore.clear();
                    toConflict.clear();
                    out.results = planIngest(
                        items,
                        [&](const IncomingItem& it) -> Existing {
                            auto h = held.find({it.unitId, it.recordId, it.revision});
                            if (h == held.end()) return std::nullopt;
                            return h->second;
                        },
                        first, toStore, toConflict);
                };
                plan(1);  // how many numbers the batch needs
                std::int64_t base = 0;
                if (!toStore.empty()) {
                    base = reserve(static_cast<std::int64_t>(toStore.size()));
                    plan(base);
                }
                if (!toStore.empty()) {
                    json rows = json::array();
                    for (std::size_t i : toStore) {
                        const auto& it = items[i];
                        rows.push_back({{"hq_seq", out.results[i].hqSeq},
                                        {"record_id", it.recordId},
                                        {"revision", it.revision},
                                        {"parent_revision", it.parent ? json(*it.parent) : json(nullptr)},
                                        {"form_id", it.formId},
                                        {"form_version", it.formVersion},
                                        {"unit_id", it.unitId},
                                        {"author", it.author},
                                        {"created_utc", it.createdUtc},
                                        {"created_offset", it.createdOffset},
                                        {"finalized_utc", it.finalizedUtc},
                                        {"hash", it.hash},
                                        {"canonical", it.canonical},
                                        {"signature", it.signature},
                                        {"sealed", it.sealedPart}});
                    }
                    m_db.exec(
                        "INSERT INTO report(hq_seq, record_id, revision, parent_revision, form_id, "
                        "form_version, "
                        "unit_id, "
                        "device_id, author, created_utc, created_offset, finalized_utc, received_utc, hash, "
                        "canonical, signature, sealed) "
                        "SELECT x.hq_seq, x.record_id, x.revision, x.parent_revision, x.form_id, "
                        "x.form_version, "
                        "x.unit_id, $2, x.author, x.created_utc, x.created_offset, x.finalized_utc, $3, "
                        "x.hash, "
                        "x.canonical, x.signature, x.sealed FROM json_to_recordset($1::json) AS x(hq_seq "
                        "bigint, "
                        "record_id "
                        "text, revision integer, parent_revision integer, form_id text, form_version "
                        "integer, "
                        "unit_id text, author text, created_utc text, created_offset integer, finalized_utc "
                        "text, "
                        "hash text, canonical text, signature text, sealed text) "
                        // In key order: two pushes sharing revisions wait for each other's rows in one
                        // order, and the later one fails on the unique key (a retry), never in a deadlock.
                        "ORDER BY x.unit_id, x.record_id, x.revision",
                        {rows.dump(), deviceId, nowUtc});
                }
                if (!toConflict.empty()) {
                    json rows = json::array();
                    for (const auto& [i, keptHash] : toConflict) {
                        const auto& it = items[i];
                        rows.push_back({{"n", rows.size()},
                                        {"record_id", it.recordId},
                                        {"revision", it.revision},
                                        {"hash", it.hash},
                                        {"kept_hash", keptHash},
                                        {"canonical", it.canonical}});
                    }
                    m_db.exec(
                        "INSERT INTO conflict(record_id, revision, device_id, hash, kept_hash, canonical, "
                        "received_utc) "
                        "SELECT x.record_id, x.revision, $2, x.hash, x.kept_hash, x.canonical, $3 "
                        "FROM json_to_recordset($1::json) AS x(n integer, record_id text, revision integer, "
                        "hash "
                        "text, "
                        "kept_hash text, canonical text) "
                        "WHERE NOT EXISTS (SELECT 1 FROM conflict c WHERE c.record_id = x.record_id "
                        "AND c.revision = x.revision AND c.hash = x.hash) ORDER BY x.n "
                        "ON CONFLICT (record_id, revision, hash) DO NOTHING",
                        {rows.dump(), deviceId, nowUtc});
                }
                m_db.exec(
                    "INSERT INTO batch(device_id, batch_id, request_hash, results, received_utc) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    {deviceId, batchId, requestHash, resultsToText(out.results), nowUtc});
                m_auditStarted = std::chrono::steady_clock::now();
                appendAuditTx(deviceId, "push", batchId, ingestAuditDetail(items, out.results), nowUtc);
                if (base != 0) {
                    // The last statement: the reservation ends in the commit that makes its reports visible.
                    // A reservation voided meanwhile as abandoned is gone, and its numbers may not be used.
                    if (m_db.exec("DELETE FROM reservation WHERE first = $1", {base}).affected() != 1)
                        throw PgError(Error{ErrorDomain::Storage, ErrorCode::Busy,
                                            "the numbers reserved for this push were recorded as void "
                                            "meanwhile; nothing was written, try again"},
                                      "40001", false);
                }
                return out;
            },
            "BEGIN", kMaxIngestAttempts);
        m_timing.total =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
        return result;
    }

    IngestTiming lastIngestTiming() const override { return m_timing; }

    Result<std::vector<VoidRange>> voidRanges() override {
        return read([&] {
            auto r = m_db.exec("SELECT first, last, why, recorded_utc FROM void_range ORDER BY first");
            std::vector<VoidRange> out;
            for (int i = 0; i < r.rows(); ++i)
                out.push_back(VoidRange{r.int64(i, 0), r.int64(i, 1), r.text(i, 2), r.text(i, 3)});
            return out;
        });
    }

    Result<bool> hasReport(std::int64_t hqSeq, const std::string& recordId,
                           const std::string& unitId) override {
        return read([&] {
            checkText(recordId, "the record id");
            checkText(unitId, "the unit");
            return m_db.exec("SELECT 1 FROM report WHERE hq_seq = $1 AND record_id = $2 AND unit_id = $3",
                             {hqSeq, recordId, unitId})
                       .rows() > 0;
        });
    }

    Result<std::vector<Report>> reports(const ReportFilter& f) override {
        return read([&] {
            std::vector<Report> out;
            if (f.limit <= 0) return out;
            checkText(f.unitId, "the unit");
            checkText(f.formId, "the form id");
            reapAbandoned(m_db);
            // The horizon, read in the same statement (one snapshot) as the reports.
            std::string sql = std::string("SELECT ") + kReportColumns +
                              " FROM report WHERE hq_seq > $1 AND hq_seq < coalesce((SELECT min(first) FROM "
                              "reservation), 9223372036854775807)";
            std::vector<Param> params{f.afterSeq};
            if (!f.unitId.empty()) {
                params.emplace_back(f.unitId);
                sql += " AND unit_id = $" + std::to_string(params.size());
            }
            if (!f.formId.empty()) {
                params.emplace_back(f.formId);
                sql += " AND form_id = $" + std::to_string(params.size());
            }
            params.emplace_back(f.limit);
            sql += " ORDER BY hq_seq LIMIT $" + std::to_string(params.size());
            auto r = m_db.exec(sql.c_str(), params);
            for (int i = 0; i < r.rows(); ++i) out.push_back(readReport(r, i));
            return out;
        });
    }

    Result<std::optional<Report>> report(const std::string& recordId, std::optional<int> revision,
                                         const std::string& unitId) override {
        return read([&]() -> std::optional<Report> {
            checkText(recordId, "the record id");
            checkText(unitId, "the unit");
            const std::string unit = unitOfRecord(recordId, unitId, unitsHolding(recordId));
            std::string sql = std::string("SELECT ") + kReportColumns +
                              " FROM report WHERE unit_id = $1 AND record_id = $2" +
                              (revision ? " AND revision = $3" : " ORDER BY revision DESC LIMIT 1");
            std::vector<Param> params{unit, recordId};
            if (revision) params.emplace_back(*revision);
            auto r = m_db.exec(sql.c_str(), params);
            if (r.rows() == 0) return std::nullopt;
            return readReport(r, 0);
        });
    }

    Result<std::int64_t> reportCount() override {
        return read([&] { return m_db.exec("SELECT count(*) FROM report").int64(0, 0); });
    }

    Result<std::vector<Conflict>> conflicts() override {
        return read([&] {
            auto r = m_db.exec(
                "SELECT id, record_id, revision, device_id, hash, kept_hash, canonical, received_utc FROM "
                "conflict "
                "ORDER BY id");
            std::vector<Conflict> out;
            for (int i = 0; i < r.rows(); ++i) {
                Conflict c;
                c.id = r.int64(i, 0);
                c.recordId = r.text(i, 1);
                c.revision = static_cast<int>(r.int64(i, 2));
                c.deviceId = r.text(i, 3);
                c.hash = r.text(i, 4);
                c.keptHash = r.text(i, 5);
                c.canonical = r.text(i, 6);
                c.receivedUtc = r.text(i, 7);
                out.push_back(std::move(c));
            }
            return out;
        });
    }

    Result<FeedEntry> review(const std::string& recordId, int revision, core::ReviewStatus review,
                             const std::string& comment, const std::string& by, const std::string& nowUtc,
                             const std::string& unitId) override {
        return run([&] {
            checkReview(recordId, review, comment, by, nowUtc);
            checkText(unitId, "the unit");
            const std::string status(core::toText(review));
            auto seq = lockFeed();
            const std::string unit = unitOfRecord(recordId, unitId, unitsHolding(recordId));
            auto r = m_db.exec(
                "UPDATE report SET review_status = $1, review_comment = $2, review_by = $3, review_utc = $4 "
                "WHERE unit_id = $5 AND record_id = $6 AND revision = $7 RETURNING unit_id",
                {status, comment, by, nowUtc, unit, recordId, revision});
            if (r.rows() == 0) throwUnknownReport(recordId, revision);
            FeedEntry e = insertFeed(seq, r.text(0, 0), "feedback",
                                     feedbackBody(recordId, revision, status, comment, by, nowUtc), nowUtc);
            appendAuditTx(by, "review", recordId + " r" + std::to_string(revision), json{{"status", status}},
                          nowUtc);
            return e;
        });
    }

    Result<void> putForm(const std::string& formId, int version, const json& definition,
                         const std::string& nowUtc) override {
        return run([&] {
            checkForm(formId, version, definition);
            checkText(nowUtc, "the time");
            std::string text = jsonText(definition, "the form definition");
            auto seq = lockFeed();
            auto r = m_db.exec("SELECT definition FROM form_def WHERE form_id = $1 AND version = $2",
                               {formId, version});
            std::optional<std::string> existing;
            if (r.rows() == 1) existing = r.text(0, 0);
            if (formAlreadyStored(existing, formId, version, text)) return;
            m_db.exec("INSERT INTO form_def(form_id, version, definition, put_utc) VALUES ($1, $2, $3, $4)",
                      {formId, version, text, nowUtc});
            insertFeed(seq, "", "form", definition, nowUtc);
            appendAuditTx(m_auditActor, "forms push", formId + " v" + std::to_string(version), json::object(),
                          nowUtc);
        });
    }

    Result<std::vector<json>> forms() override {
        return read([&] {
            auto r = m_db.exec("SELECT definition FROM form_def ORDER BY form_id COLLATE \"C\", version");
            std::vector<json> out;
            for (int i = 0; i < r.rows(); ++i) out.push_back(parseStored(r.text(i, 0), "form definition"));
            return out;
        });
    }

    Result<void> putReference(const json& document, const std::string& nowUtc) override {
        return run([&] {
            checkText(nowUtc, "the time");
            if (!document.is_object()) throw badInput("reference data must be a JSON object");
            std::string text = jsonText(document, "the reference data");
            auto seq = lockFeed();
            m_db.exec("INSERT INTO reference(document, put_utc) VALUES ($1, $2)", {text, nowUtc});
            insertFeed(seq, "", "reference", document, nowUtc);
            appendAuditTx(m_auditActor, "reference push", "reference",
                          json{{"hash", blake2b256Hex(text)}, {"version", document.value("version", json())}},
                          nowUtc);
        });
    }

    Result<void> putConductKeys(const json& doc, const std::string& action, const std::string& subject,
                                const std::string& nowUtc) override {
        return run([&] {
            checkText(nowUtc, "the time");
            std::int64_t version = conductKeysVersion(doc);
            std::string text = jsonText(doc, "the conduct key list");
            auto seq = lockFeed();
            auto cur = m_db.exec("SELECT coalesce(max(version), 0) FROM conduct_keys");
            if (cur.int64(0, 0) + 1 != version) throwConductKeysChanged(cur.int64(0, 0), version);
            m_db.exec("INSERT INTO conduct_keys(version, document, put_utc) VALUES ($1, $2, $3)",
                      {version, text, nowUtc});
            insertFeed(seq, "", "conduct-keys", doc, nowUtc);
            appendAuditTx(m_auditActor, action, subject, json{{"version", version}}, nowUtc);
        });
    }

    Result<std::optional<json>> conductKeys() override {
        return read([&]() -> std::optional<json> {
            auto r = m_db.exec("SELECT document FROM conduct_keys ORDER BY version DESC LIMIT 1");
            if (r.rows() == 0) return std::nullopt;
            return parseStored(r.text(0, 0), "conduct key list");
        });
    }

    Result<std::optional<json>> reference() override {
        return read([&]() -> std::optional<json> {
            auto r = m_db.exec("SELECT document FROM reference ORDER BY id DESC LIMIT 1");
            if (r.rows() == 0) return std::nullopt;
            return parseStored(r.text(0, 0), "reference document");
        });
    }

    Result<FeedEntry> appendFeed(const std::string& unitId, const std::string& kind, const json& body,
                                 const std::string& nowUtc) override {
        return run([&] {
            checkFeedEntry(unitId, kind, nowUtc);
            return insertFeed(lockFeed(), unitId, kind, body, nowUtc);
        });
    }

    Result<std::vector<FeedEntry>> feed(const std::string& unitId, std::int64_t after, int limit) override {
        return read([&] {
            std::vector<FeedEntry> out;
            if (limit <= 0) return out;
            checkText(unitId, "the unit");
            auto r = m_db.exec(
                "SELECT seq, unit_id, kind, body FROM feed WHERE seq > $1 AND (unit_id IS NULL OR unit_id = "
                "$2) "
                "ORDER BY seq LIMIT $3",
                {after, unitId, limit});
            for (int i = 0; i < r.rows(); ++i) {
                out.push_back(readFeed(r, i));
            }
            return out;
        });
    }

    Result<std::optional<FeedEntry>> feedEntry(std::int64_t seq) override {
        return read([&]() -> std::optional<FeedEntry> {
            auto r = m_db.exec("SELECT seq, unit_id, kind, body FROM feed WHERE seq = $1", {seq});
            if (r.rows() == 0) return std::nullopt;
            return readFeed(r, 0);
        });
    }

    Result<AuditEntry> appendAudit(const std::string& actor, const std::string& action,
                                   const std::string& subject, const json& detail,
                                   const std::string& nowUtc) override {
        return run([&] { return appendAuditTx(actor, action, subject, detail, nowUtc); });
    }

    Result<std::vector<AuditEntry>> audit(std::int64_t after, int limit) override {
        return read([&] {
            auto r = m_db.exec(
                "SELECT seq, at_utc, actor, action, subject, detail, prev_hash, hash, signature FROM audit "
                "WHERE seq > $1 ORDER BY seq LIMIT $2",
                {after, limit});
            std::vector<AuditEntry> out;
            for (int i = 0; i < r.rows(); ++i)
                out.push_back(AuditEntry{r.int64(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3),
                                         r.text(i, 4), r.text(i, 5), r.text(i, 6), r.text(i, 7),
                                         r.text(i, 8)});
            return out;
        });
    }

    Result<AuditHead> auditHead() override {
        return read([&] { return readAuditHead(); });
    }

    Result<std::vector<std::string>> verify() override {
        // Abandoned reservations are voided first (the check below accepts them either way).
        (void)read([&] { reapAbandoned(m_db); });
        return run(
            [&] {
                std::vector<std::string> problems;
                {
                    auto r = m_db.exec(
                        "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class t ON t.oid = "
                        "i.indrelid "
                        "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema() "
                        "AND t.relname IN ('meta', 'counter', 'device', 'enrollment', 'nonce', 'batch', "
                        "'report', "
                        "'conflict', 'form_def', 'reference', 'feed', 'reservation', 'void_range') AND NOT "
                        "(i.indisvalid AND "
                        "i.indisready) "
                        "ORDER BY 1");
                    for (int i = 0; i < r.rows(); ++i)
                        problems.push_back("index " + r.text(i, 0) + " is not valid");
                }
                {
                    auto r = m_db.exec(
                        "SELECT record_id, revision, count(*) FROM report GROUP BY unit_id, record_id, "
                        "revision "
                        "HAVING count(*) > 1");
                    for (int i = 0; i < r.rows(); ++i)
                        problems.push_back("report " + r.text(i, 0) + " revision " + r.text(i, 1) +
                                           " is stored " + r.text(i, 2) + " times");
                }
                for (auto [table, key, what] :
                     {std::tuple{"report", "hq_seq", "report"}, std::tuple{"conflict", "id", "conflict"}}) {
                    std::string sql = std::string("SELECT ") + key + ", hash, canonical FROM " + table +
                                      " WHERE " + key + " > $1 ORDER BY " + key + " LIMIT " +
                                      std::to_string(kVerifyPage);
                    std::int64_t after = 0;
                    for (;;) {
                        auto r = m_db.exec(sql.c_str(), {after});
                        for (int i = 0; i < r.rows(); ++i)
                            if (auto p = hashProblem(what, r.int64(i, 0), r.text(i, 1), r.text(i, 2)))
                                problems.push_back(*p);
                        if (r.rows() < kVerifyPage) break;
                        after = r.int64(r.rows() - 1, 0);
                    }
                }
                {
                    auto r = m_db.exec(kSequenceProblems, {kSequenceProblemLines + 1});
                    for (int i = 0; i < r.rows(); ++i) {
                        if (i == kSequenceProblemLines) {
                            problems.push_back("... and more numbers like these");
                            break;
                        }
                        const std::string first = r.text(i, 1), last = r.text(i, 2);
                        const std::string numbers =
                            first == last ? "number " + first : "numbers " + first + "-" + last;
                        problems.push_back(r.boolean(i, 0)
                                               ? numbers +
                                                     " are counted twice: as a report, a void range or "
                                                     "a reservation, more than once"
                                               : numbers + " are neither a report nor recorded as void");
                    }
                }
                {
                    auto r = m_db.exec(
                        "SELECT c.id FROM conflict c WHERE NOT EXISTS (SELECT 1 FROM report r "
                        "WHERE r.record_id = c.record_id AND r.revision = c.revision) ORDER BY c.id");
                    for (int i = 0; i < r.rows(); ++i)
                        problems.push_back("conflict " + r.text(i, 0) + " names a report HQ does not hold");
                }
                {
                    auto r = m_db.exec(
                        "SELECT (SELECT value FROM counter WHERE name = 'report'), "
                        "(SELECT coalesce(max(hq_seq), 0) FROM report), "
                        "(SELECT value FROM counter WHERE name = 'feed'), (SELECT coalesce(max(seq), 0) FROM "
                        "feed), "
                        "(SELECT count(*) FROM meta WHERE key = 'epoch')");
                    if (r.isNull(0, 0) || r.int64(0, 0) < r.int64(0, 1))
                        problems.push_back("the report counter is behind the highest report sequence");
                    if (r.isNull(0, 2) || r.int64(0, 2) < r.int64(0, 3))
                        problems.push_back("the feed counter is behind the highest feed sequence");
                    if (r.int64(0, 4) != 1) problems.push_back("the store has no epoch");
                }
                return problems;
            },
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    }

private:
    // Runs f as one transaction, retrying what a retry can fix. Result<...> never throws.
    // begin: the statement that opens the transaction; nullptr for a single read statement, which
    // is a transaction of its own.
    template <typename F>
    auto run(F&& f, const char* begin = "BEGIN", int maxAttempts = kMaxAttempts) -> Result<decltype(f())> {
        return tryCatch([&]() -> decltype(f()) {
            for (int attempt = 1;; ++attempt) {
                bool committing = false;
                try {
                    m_db.ensure();
                    if (begin) m_db.exec(begin);
                    if constexpr (std::is_void_v<decltype(f())>) {
                        f();
                        committing = begin != nullptr;
                        if (begin) m_db.exec("COMMIT");
                        committed();
                        return;
                    } else {
                        auto value = f();
                        committing = begin != nullptr;
                        if (begin) m_db.exec("COMMIT");
                        committed();
                        return value;
                    }
                } catch (const PgError& e) {
                    m_db.rollbackQuietly();
                    voidReservation(e.what());
                    if (committing && e.connectionLost())
                        throw Failure(ErrorDomain::Storage, ErrorCode::Io,
                                      "the connection to the HQ database was lost while the change was being "
                                      "committed: it may or may not have been kept; a retry is safe (" +
                                          e.serverMessage() + ")");
                    if (attempt >= maxAttempts || !retriable(e)) throw;
                    std::this_thread::sleep_for(
                        std::chrono::milliseconds(2 * attempt + m_jitter() % (5 * attempt)));
                } catch (const std::exception& e) {
                    m_db.rollbackQuietly();
                    voidReservation(e.what());
                    throw;
                } catch (...) {
                    m_db.rollbackQuietly();
                    voidReservation("the push failed");
                    throw;
                }
            }
        });
    }

    template <typename F>
    auto read(F&& f) -> Result<decltype(f())> {
        return run(std::forward<F>(f), nullptr);
    }

    // The units holding a report with this record id (more than one when units chose the same id).
    std::vector<std::string> unitsHolding(const std::string& recordId) {
        auto r = m_db.exec("SELECT DISTINCT unit_id FROM report WHERE record_id = $1 ORDER BY unit_id",
                           {recordId});
        std::vector<std::string> units;
        for (int i = 0; i < r.rows(); ++i) units.push_back(r.text(i, 0));
        return units;
    }

    void migrate() {
        // Most opens find the schema current: that is read without the schema lock, so that a process
        // stalled while it holds the lock (creating or upgrading the schema at its start) cannot stop the
        // other processes from opening connections.
        auto current = read([&] {
            if (!m_db.exec("SELECT to_regclass('meta') IS NOT NULL").boolean(0, 0)) return false;
            auto v = m_db.exec("SELECT value FROM meta WHERE key = 'schema'");
            return v.rows() == 1 && v.text(0, 0) == std::to_string(kSchemaVersion);
        });
        if (current.ok() && *current) return;
        auto done = run([&] {
            m_db.exec("SELECT pg_advisory_xact_lock($1)", {kSchemaLockKey});
            auto t = m_db.exec("SELECT to_regclass('meta') IS NOT NULL");
            if (!t.boolean(0, 0)) {
                m_db.execScript(kSchemaV1);
                m_db.execScript(kSchemaV2);
                m_db.execScript(kSchemaV3);
                m_db.execScript(kSchemaV4);
                m_db.execScript(kSchemaV5);
                m_db.exec("INSERT INTO meta(key, value) VALUES ('epoch', $1), ('schema', $2)",
                          {newEpochId(), std::to_string(kSchemaVersion)});
                return;
            }
            auto v = m_db.exec("SELECT value FROM meta WHERE key = 'schema'");
            if (v.rows() != 1)
                throw Failure(ErrorDomain::Storage, ErrorCode::Conflict,
                              "this database has a meta table but is not an Outpost HQ store");
            if (std::stoi(v.text(0, 0)) > kSchemaVersion)
                throw Failure(ErrorDomain::Storage, ErrorCode::Conflict,
                              "this HQ store was written by a newer outpost-hq (schema " + v.text(0, 0) +
                                  "); install the newer version to open it");
            int from = std::stoi(v.text(0, 0));
            if (from < 2) m_db.execScript(kSchemaV2);
            if (from < 3) m_db.execScript(kSchemaV3);
            if (from < 4) m_db.execScript(kSchemaV4);
            if (from < 5) m_db.execScript(kSchemaV5);
            if (from < kSchemaVersion)
                m_db.exec("UPDATE meta SET value = $1 WHERE key = 'schema'",
                          {std::to_string(kSchemaVersion)});
        });
        done.value();
    }

    AuditHead readAuditHead() {
        auto r = m_db.exec("SELECT value FROM meta WHERE key = 'audit_head'");
        std::optional<std::string> text;
        if (r.rows() == 1) text = r.text(0, 0);
        return auditHeadFrom(text);
    }

    // Inside the caller's transaction. The 'audit' counter row, locked until COMMIT, makes appends from
    // every HQ process wait for each other: the chain stays linear. Taken after any other counter.
    AuditEntry appendAuditTx(const std::string& actor, const std::string& action, const std::string& subject,
                             const json& detail, const std::string& nowUtc) {
        m_db.exec("SELECT value FROM counter WHERE name = 'audit' FOR UPDATE");
        AuditEntry e = makeAuditEntry(readAuditHead(), actor, action, subject, detail, nowUtc, m_auditKey);
        m_db.exec(
            "INSERT INTO audit(seq, at_utc, actor, action, subject, detail, prev_hash, hash, signature) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            {e.seq, e.atUtc, e.actor, e.action, e.subject, e.detail, e.prevHash, e.hash, e.signature});
        m_db.exec(
            "INSERT INTO meta(key, value) VALUES ('audit_head', $1) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            {auditHeadText(headAfter(e, m_auditKey))});
        m_db.exec("UPDATE counter SET value = $1 WHERE name = 'audit'", {e.seq});
        return e;
    }

    void requireDevice(const std::string& deviceId) {
        if (m_db.exec("SELECT 1 FROM device WHERE id = $1", {deviceId}).rows() == 0)
            throwUnknownDevice(deviceId);
    }

    // Locks the feed counter for the rest of the transaction; returns the next feed sequence number.
    std::int64_t lockFeed() {
        return m_db.exec("SELECT value + 1 FROM counter WHERE name = 'feed' FOR UPDATE").int64(0, 0);
    }

    FeedEntry insertFeed(std::int64_t seq, const std::string& unitId, const std::string& kind,
                         const json& body, const std::string& nowUtc) {
        FeedEntry e;
        e.seq = seq;
        e.unitId = unitId;
        e.kind = kind;
        e.body = body;
        m_db.exec("INSERT INTO feed(seq, unit_id, kind, body, created_utc) VALUES ($1, $2, $3, $4, $5)",
                  {seq, unitId.empty() ? Param(std::nullopt) : Param(unitId), kind,
                   jsonText(body, "the feed entry"), nowUtc});
        m_db.exec("UPDATE counter SET value = $1 WHERE name = 'feed'", {seq});
        return e;
    }

    // Runs one statement on the process's reservation session (autocommit): opened at the first push,
    // reopened when lost.
    PgResult onReserver(const char* sql, const std::vector<Param>& params) {
        std::lock_guard lock(m_reserver->mutex);
        auto& c = m_reserver->connection;
        if (!c) c = std::make_unique<Connection>(m_uri, m_limits);
        c->ensure();
        return c->exec(sql, params);
    }

    void reapAbandoned(Connection& c) { c.exec(kReapAbandoned, {core::nowTimestamp().utc}); }

    // Reserves n report numbers for the transaction open on m_db and returns the first. The reservation
    // is committed at once (its own statement on the other session), so the report counter row is
    // locked for that statement only: this is all of ingest that is one lane across HQ's processes.
    std::int64_t reserve(std::int64_t n) {
        if (m_holderPid == 0 || m_holderPid != m_db.backendPid()) {
            auto me = m_db.exec(
                "SELECT pid, backend_start::text, application_name FROM pg_stat_activity WHERE pid = "
                "pg_backend_pid()");
            if (me.rows() != 1)
                throw Failure(ErrorDomain::Storage, ErrorCode::Internal,
                              "the HQ database does not show this session in pg_stat_activity");
            m_holderPid = static_cast<int>(me.int64(0, 0));
            m_holderStart = me.text(0, 1);
            m_holderName = me.text(0, 2);
        }
        onReserver(kReapAbandoned, {core::nowTimestamp().utc});
        const auto t0 = std::chrono::steady_clock::now();
        auto r = onReserver(
            "WITH r AS (UPDATE counter SET value = value + $1 WHERE name = 'report' RETURNING value) "
            "INSERT INTO reservation(first, last, holder_pid, holder_start, holder) "
            "SELECT value - $1 + 1, value, $2, $3::timestamptz, $4 FROM r RETURNING first",
            {n, m_holderPid, m_holderStart, m_holderName});
        m_timing.reserve +=
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
        if (r.rows() != 1)
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "the HQ store has no report counter");
        m_reserved = r.int64(0, 0);
        m_timing.items = n;
        return *m_reserved;
    }

    // After a transaction that reserved numbers ended without committing (rolled back, or its outcome
    // unknown): records them as void. A reservation whose holder's transaction did commit is gone, one
    // still locked by a transaction that may yet commit is skipped; either way it is left for the
    // reaper, as it is when the database cannot be reached now.
    void voidReservation(const std::string& why) noexcept {
        if (!m_reserved) return;
        const std::int64_t first = *m_reserved;
        m_reserved.reset();
        try {
            std::string text = why.substr(0, 400);
            // Never cut inside a character: PostgreSQL's messages may be in French.
            if (text.size() < why.size()) {
                std::size_t keep = text.size();
                while (keep > 0 && (static_cast<unsigned char>(why[keep]) & 0xC0) == 0x80) --keep;
                text.resize(keep);
            }
            onReserver(
                "WITH d AS (DELETE FROM reservation WHERE first IN (SELECT first FROM reservation WHERE "
                "first = $1 FOR UPDATE SKIP LOCKED) RETURNING first, last) "
                "INSERT INTO void_range(first, last, why, recorded_utc) "
                "SELECT first, last, 'the push failed: ' || $2::text, $3::text FROM d",
                {first, text, core::nowTimestamp().utc});
        } catch (...) {
        }
    }

    void committed() {
        if (!m_reserved) return;
        m_reserved.reset();
        m_timing.auditToCommit = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - m_auditStarted);
    }

    std::string m_uri;
    SessionLimits m_limits;
    Connection m_db;
    std::shared_ptr<Reserver> m_reserver;
    int m_holderPid = 0;  // m_db's session, as a reservation names its holder
    std::string m_holderStart, m_holderName;
    std::optional<std::int64_t> m_reserved;  // the first number reserved by the transaction open on m_db
    IngestTiming m_timing;
    std::chrono::steady_clock::time_point m_auditStarted;
    std::minstd_rand m_jitter{std::random_device{}()};  // spreads retries of processes that collided
};

}  // namespace

Result<std::unique_ptr<HqStore>> openPostgresHqStore(const std::string& uri, const SessionLimits& limits) {
    return tryCatch(
        [&]() -> std::unique_ptr<HqStore> { return std::make_unique<PostgresHqStore>(uri, limits); });
}

}  // namespace outpost::storage::hq
