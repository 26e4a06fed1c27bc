// The laptop's audit log: a hash-chained, append-only record of what was done with the store (create,
// finalize, amend, discard, sync, export, bundles, enrollment ...), anchored by a keyed MAC.
//
// Each entry's hash is BLAKE2b-256(previous hash || canonical entry). Each hash, and the head (count
// and newest hash, a meta row), carry a MAC under the audit subkey of the store's data key: someone
// with the file but not the passphrase can edit, delete, swap or cut entries, but cannot make the
// chain whole again, and verifyAudit() names the first entry that is wrong. Entries hold ids, counts
// and codes only: nothing a user typed.
#include <sodium.h>

#include <string>
#include <vector>

#include "core/time.hpp"
#include "core/utf8.hpp"
#include "storage/sqlite.hpp"
#include "storage/store.hpp"
#include "storage/store_impl.hpp"

namespace outpost::storage {

namespace {

constexpr const char* kSchemaV5 = R"SQL(
CREATE TABLE audit_log (
  seq       INTEGER PRIMARY KEY,
  at_utc    TEXT NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  subject   TEXT NOT NULL,
  detail    TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL,
  mac       TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)SQL";

constexpr const char* kHeadKey = "audit_head";
constexpr std::size_t kMaxField = 200;
constexpr std::size_t kMaxDetail = 4000;

struct Head {
    std::int64_t count = 0;
    std::string hash;
    std::string mac;
    bool present = false;
};

std::string canonicalEntry(const AuditRecord& e) {
    return json::array({e.seq, e.atUtc, e.actor, e.action, e.subject, e.detail})
        .dump(-1, ' ', false, json::error_handler_t::strict);
}

std::string chainHash(const std::string& prevHash, const AuditRecord& e) {
    std::string input = prevHash + canonicalEntry(e);
    return blake2b256Hex(input);
}

// Constant-time comparison of two MACs.
bool sameMac(const std::string& a, const std::string& b) {
    return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string entryMac(const Codec& c, const std::string& hash) {
    return c.auditMac("outpost audit entry\n" + hash);
}

std::string headMac(const Codec& c, std::int64_t count, const std::string& hash) {
    return c.auditMac("outpost audit head\n" + std::to_string(count) + "\n" + hash);
}

Head readHead(Db& db) {
    Head h;
    Stmt st(db, "SELECT value FROM meta WHERE key = ?");
    st.bind(1, kHeadKey);
    if (!st.step()) return h;
    json j = json::parse(st.text(0), nullptr, false);
    if (!j.is_object() || !j.contains("count") || !j["count"].is_number_integer() || !j.contains("hash") ||
        !j["hash"].is_string() || !j.contains("mac") || !j["mac"].is_string())
        throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "the audit log's head is damaged");
    h.count = j["count"].get<std::int64_t>();
    h.hash = j["hash"].get<std::string>();
    h.mac = j["mac"].get<std::string>();
    h.present = true;
    return h;
}

void checkField(const std::string& v, const char* what, std::size_t max) {
    if (v.size() > max || !core::isValidUtf8(v) || v.find('\0') != std::string::npos)
        throw Failure(detail::badInput(std::string("the audit ") + what + " must be valid text of at most " +
                                       std::to_string(max) + " bytes"));
}

AuditRecord readRecord(const Stmt& st) {
    AuditRecord e;
    e.seq = st.int64(0);
    e.atUtc = st.text(1);
    e.actor = st.text(2);
    e.action = st.text(3);
    e.subject = st.text(4);
    e.detail = st.text(5);
    e.prevHash = st.text(6);
    e.hash = st.text(7);
    e.mac = st.text(8);
    return e;
}

}  // namespace

void detail::migrateAuditLog(Store::Impl& s) {
    s.db.exec(kSchemaV5);
    s.appendAudit("outpost", "audit start", "store", {{"schema", 5}});
}

std::int64_t Store::Impl::appendAudit(const std::string& actor, const std::string& action,
                                      const std::string& subject, const json& detailJson) {
    checkField(actor, "actor", kMaxField);
    checkField(action, "action", kMaxField);
    checkField(subject, "subject", kMaxField);
    Head head = readHead(db);
    AuditRecord e;
    e.seq = head.count + 1;
    e.atUtc = core::nowTimestamp().utc;
    e.actor = actor;
    e.action = action;
    e.subject = subject;
    e.detail = (detailJson.is_null() ? json::object() : detailJson)
                   .dump(-1, ' ', false, json::error_handler_t::replace);
    checkField(e.detail, "detail", kMaxDetail);
    e.prevHash = head.hash;
    e.hash = chainHash(e.prevHash, e);
    e.mac = entryMac(codec, e.hash);
    Stmt ins(db,
             "INSERT INTO audit_log(seq, at_utc, actor, action, subject, detail, prev_hash, hash, mac) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    ins.bind(1, e.seq).bind(2, e.atUtc).bind(3, e.actor).bind(4, e.action).bind(5, e.subject);
    ins.bind(6, e.detail).bind(7, e.prevHash).bind(8, e.hash).bind(9, e.mac).run();
    Stmt up(
        db,
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    up.bind(1, kHeadKey)
        .bind(2, json{{"count", e.seq}, {"hash", e.hash}, {"mac", headMac(codec, e.seq, e.hash)}}.dump())
        .run();
    return e.seq;
}

Result<std::int64_t> Store::appendAudit(const std::string& action, const std::string& subject,
                                        const json& detailJson, const std::string& actor) {
    return tryCatch([&] {
        Transaction tx(m_impl->db);
        auto seq = m_impl->appendAudit(actor.empty() ? m_user : actor, action, subject, detailJson);
        tx.commit();
        return seq;
    });
}

Result<std::vector<AuditRecord>> Store::auditLog(std::int64_t after, int limit) {
    return tryCatch([&] {
        std::vector<AuditRecord> out;
        Stmt st(m_impl->db,
                "SELECT seq, at_utc, actor, action, subject, detail, prev_hash, hash, mac FROM audit_log "
                "WHERE seq > ? ORDER BY seq LIMIT ?");
        st.bind(1, after).bind(2, limit);
        while (st.step()) out.push_back(readRecord(st));
        return out;
    });
}

Result<AuditVerdict> Store::verifyAudit() {
    return tryCatch([&] {
        Impl& s = *m_impl;
        AuditVerdict v;
        auto bad = [&](std::int64_t seq, std::string why) {
            if (v.firstBad == 0) v.firstBad = seq;
            v.problems.push_back(std::move(why));
        };
        Head head = readHead(s.db);
        std::string prev;
        std::int64_t expected = 1;
        Stmt st(s.db,
                "SELECT seq, at_utc, actor, action, subject, detail, prev_hash, hash, mac FROM audit_log "
                "ORDER BY seq");
        while (st.step()) {
            AuditRecord e = readRecord(st);
            const std::string name = "audit entry " + std::to_string(e.seq);
            if (v.problems.empty()) {
                if (e.seq != expected)
                    bad(expected, "audit entry " + std::to_string(expected) +
                                      " is missing (the next entry is " + std::to_string(e.seq) +
                                      "): entries were deleted");
                else if (e.prevHash != prev)
                    bad(e.seq, name + " does not follow entry " + std::to_string(e.seq - 1) +
                                   " (its previous hash differs): entries were deleted, swapped or edited");
                else if (chainHash(e.prevHash, e) != e.hash)
                    bad(e.seq, name + " was edited (its hash does not match its content)");
                else if (!sameMac(entryMac(s.codec, e.hash), e.mac))
                    bad(e.seq, name + " does not carry this store's MAC (written without the passphrase)");
            }
            prev = e.hash;
            expected = e.seq + 1;
            ++v.entries;
        }
        if (v.problems.empty()) {
            const std::int64_t count = head.present ? head.count : 0;
            if (!head.present)
                bad(1, "the audit log's anchored head is missing: the log was removed or replaced");
            else if (count != v.entries)
                bad(std::min(count, v.entries) + 1,
                    "the audit log has " + std::to_string(v.entries) +
                        " entries but its anchored head says " + std::to_string(count) +
                        ": the newest entries were deleted or added outside Outpost");
            else if (head.present && head.hash != prev)
                bad(v.entries, "the audit log's newest entry is not the one its anchored head names");
            else if (head.present && !sameMac(headMac(s.codec, head.count, head.hash), head.mac))
                bad(v.entries, "the audit log's head does not carry this store's MAC");
        }
        return v;
    });
}

}  // namespace outpost::storage
