// The field store's side of sync with HQ (docs/protocol.md): the enrollment and its sealed device key,
// the outbox as HQ sees it, HQ's signed receipts, pulled forms, reference data and feedback, and the
// resync after an HQ restore.
//
// The invariant every method here keeps: a final revision is either in the outbox or has HQ's receipt,
// never neither. Each change that moves a revision from one to the other is one transaction.
//
// [SECTION] sync configuration (sealed in meta)
// [SECTION] signatures made at finalize
// [SECTION] enrollment and status
// [SECTION] outbox for the wire
// [SECTION] receipts
// [SECTION] pull
// [SECTION] resync
#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/revision.hpp"
#include "core/time.hpp"
#include "core/utf8.hpp"
#include "core/uuid.hpp"
#include "storage/recovery.hpp"
#include "storage/sqlite.hpp"
#include "storage/store.hpp"
#include "storage/store_impl.hpp"

namespace outpost::storage {

namespace {

using detail::badInput;

// The associated data binding each sealed meta value to its key, so sealed values cannot be swapped.
constexpr const char* kSyncConfigKey = "sync_config";
constexpr const char* kDeviceKeyKey = "device_key";
constexpr const char* kSyncConfigAd = "meta:sync_config";
constexpr const char* kDeviceKeyAd = "meta:device_key";
constexpr std::size_t kDeviceSecretKeySize = 64;  // Ed25519, libsodium layout

std::string feedbackAd(const std::string& id, int revision) {
    return "feedback:" + id + ":" + std::to_string(revision);
}

// A JSON array of outbox seqs, bound as one parameter and read back with json_each().
std::string seqList(const std::vector<std::int64_t>& seqs) {
    json a = json::array();
    for (auto s : seqs) a.push_back(s);
    return a.dump();
}

void putMeta(Db& db, const char* key, const Bytes& sealed) {
    Stmt st(
        db,
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    st.bind(1, key).bindBlob(2, sealed).run();
}

std::optional<Bytes> getMeta(Db& db, const char* key) {
    Stmt st(db, "SELECT value FROM meta WHERE key = ?");
    st.bind(1, key);
    if (!st.step()) return std::nullopt;
    return st.blob(0);
}

ReceiptInfo readReceipt(const Stmt& st) {
    ReceiptInfo r;
    r.recordId = st.text(0);
    r.revision = static_cast<int>(st.int64(1));
    r.status = core::requireText<core::ItemStatus>(st.text(2), ErrorDomain::Storage, ErrorCode::Corrupt);
    r.hqSeq = st.int64(3);
    r.hash = st.text(4);
    r.receivedUtc = st.text(5);
    r.batchId = st.text(6);
    return r;
}

constexpr const char* kReceiptColumns = "record_id, revision, status, hq_seq, hash, received_utc, batch_id";

}  // namespace

// [SECTION] sync configuration (sealed in meta)
std::optional<SyncConfig> Store::Impl::loadSyncConfig() {
    auto blob = getMeta(db, kSyncConfigKey);
    if (!blob) return std::nullopt;
    json j = json::parse(codec.open(*blob, kSyncConfigAd), nullptr, false);
    if (!j.is_object())
        throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "the stored sync configuration is damaged");
    SyncConfig c;
    try {
        c.hqUrl = j.value("hq_url", "");
        c.pin = j.value("pin", "");
        c.deviceId = j.value("device_id", "");
        c.hqId = j.value("hq_id", "");
        c.hqSignKey = j.value("hq_sign_key", "");
        c.epoch = j.value("epoch", "");
        c.pullCursor = j.value("pull_cursor", std::int64_t{0});
        c.pullCursorAt = j.value("pull_cursor_at", "");
        c.revoked = j.value("revoked", false);
        c.lastSyncUtc = j.value("last_sync_utc", "");
        c.lastError = j.value("last_error", "");
    } catch (const json::exception&) {
        throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "the stored sync configuration is damaged");
    }
    return c;
}

SyncConfig Store::Impl::requireSyncConfig() {
    auto c = loadSyncConfig();
    if (!c) throw Failure(notFound("this laptop is not enrolled with HQ (run 'outpostctl enroll')"));
    return *c;
}

void Store::Impl::saveSyncConfig(const SyncConfig& c) {
    json j = {{"hq_url", c.hqUrl},           {"pin", c.pin},
              {"device_id", c.deviceId},     {"hq_id", c.hqId},
              {"hq_sign_key", c.hqSignKey},  {"epoch", c.epoch},
              {"pull_cursor", c.pullCursor}, {"pull_cursor_at", c.pullCursorAt},
              {"revoked", c.revoked},        {"last_sync_utc", c.lastSyncUtc},
              {"last_error", c.lastError}};
    putMeta(db, kSyncConfigKey, codec.seal(j.dump(), kSyncConfigAd));
}

// [SECTION] signatures made at finalize
namespace detail {

void migrateRevisionSignatures(Db& db) {
    // The base64 signature, sealed with the store key like everything else (a signature would let a
    // finder test guesses of a revision's content against the device's public key).
    db.exec("ALTER TABLE outbox ADD COLUMN sig BLOB;");
}

std::string revisionSignatureAd(const std::string& id, int rev) {
    return "outbox-sig:" + id + ":" + std::to_string(rev);
}

void signQueuedRevision(Store::Impl& s, const std::string& id, int rev, std::string_view payloadText) {
    auto keyBlob = getMeta(s.db, kDeviceKeyKey);
    if (!keyBlob) return;  // not enrolled yet: the revision is signed when it is sent
    std::string sealedHash;
    {
        Stmt q(s.db, "SELECT state, hash FROM sealed_part WHERE record_id = ? AND revision = ?");
        q.bind(1, id).bind(2, rev);
        if (q.step()) {
            if (q.text(0) == "waiting" || q.isNull(1)) return;
            sealedHash = q.text(1);
        }
    }
    Stmt r(s.db,
           "SELECT parent_revision, form_id, form_version, unit_id, author, created_utc, created_offset, "
           "coalesce(finalized_utc, '') FROM record WHERE id = ? AND revision = ?");
    r.bind(1, id).bind(2, rev);
    if (!r.step()) throw Failure(ErrorDomain::Internal, ErrorCode::Internal, "no record " + id + " to sign");
    const std::string formId = r.text(1), unitId = r.text(3), author = r.text(4), created = r.text(5),
                      finalized = r.text(7);
    core::RevisionHead h;
    h.id = id;
    h.revision = rev;
    if (!r.isNull(0)) h.parent = static_cast<int>(r.int64(0));
    h.formId = formId;
    h.formVersion = static_cast<int>(r.int64(2));
    h.unitId = unitId;
    h.author = author;
    h.createdUtc = created;
    h.createdOffset = static_cast<int>(r.int64(6));
    h.finalizedUtc = finalized;
    h.sealedHash = sealedHash;
    const std::string message = core::revisionSigningString(core::canonicalRevision(h, payloadText));
    std::string key = s.codec.open(*keyBlob, kDeviceKeyAd);
    if (key.size() != kDeviceSecretKeySize) {
        wipeSecret(key);  // the codec hands the key back as a std::string
        throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "the stored device key is damaged");
    }
    Bytes sig = sign(std::span(reinterpret_cast<const unsigned char*>(key.data()), key.size()), message);
    wipeSecret(key);
    Stmt up(s.db, "UPDATE outbox SET sig = ? WHERE record_id = ? AND revision = ?");
    up.bindBlob(1, s.codec.seal(toBase64(sig), revisionSignatureAd(id, rev))).bind(2, id).bind(3, rev).run();
}

}  // namespace detail

// [SECTION] enrollment and status
Result<void> Store::saveEnrollment(const SyncConfig& cfg, const std::vector<unsigned char>& deviceSecretKey) {
    return tryCatch([&] {
        if (deviceSecretKey.size() != kDeviceSecretKeySize)
            throw Failure(badInput("the device's secret key must be 64 bytes (Ed25519)"));
        if (cfg.hqUrl.empty() || cfg.deviceId.empty() || cfg.hqSignKey.empty() || cfg.pin.empty())
            throw Failure(badInput("an enrollment needs HQ's address, pin and signing key and a device id"));
        if (cfg.pullCursor < 0) throw Failure(badInput("the pull cursor cannot be negative"));
        Impl& s = *m_impl;
        Transaction tx(s.db);
        // Receipts from another HQ say nothing about this one: what they acknowledged goes back in the queue.
        if (auto previous = s.loadSyncConfig(); previous && previous->hqId != cfg.hqId) {
            s.requeueAcknowledged(m_forms);
            // Nor are its conduct keys this HQ's: sections wait for the new HQ's list.
            Stmt del(s.db, "DELETE FROM meta WHERE key = 'conduct_keys'");
            del.run();
        }
        s.saveSyncConfig(cfg);
        // Signatures made with another key would not verify at HQ: those revisions are signed when sent.
        Stmt unsign(s.db, "UPDATE outbox SET sig = NULL WHERE sig IS NOT NULL");
        unsign.run();
        std::string_view plain(reinterpret_cast<const char*>(deviceSecretKey.data()), deviceSecretKey.size());
        putMeta(s.db, kDeviceKeyKey, s.codec.seal(plain, kDeviceKeyAd));
        // The sync configuration is sealed, so its ids (device, HQ, epoch) stay out of the unsealed log.
        s.appendAudit(m_user, "enroll", "hq", json::object());
        tx.commit();
    });
}

Result<std::optional<SyncConfig>> Store::syncConfig() {
    return tryCatch([&] { return m_impl->loadSyncConfig(); });
}

Result<std::vector<unsigned char>> Store::deviceSecretKey() {
    return tryCatch([&]() -> std::vector<unsigned char> {
        auto blob = getMeta(m_impl->db, kDeviceKeyKey);
        if (!blob) throw Failure(notFound("this laptop is not enrolled with HQ (run 'outpostctl enroll')"));
        std::string plain = m_impl->codec.open(*blob, kDeviceKeyAd);
        std::vector<unsigned char> key(plain.begin(), plain.end());
        wipeSecret(plain);
        if (key.size() != kDeviceSecretKeySize)
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "the stored device key is damaged");
        return key;
    });
}

// A pass that failed leaves the time of the last good one: an empty lastSyncUtc keeps the stored one.
Result<void> Store::setSyncStatus(const std::string& lastSyncUtc, const std::string& lastError) {
    return tryCatch([&] {
        Impl& s = *m_impl;
        Transaction tx(s.db);
        SyncConfig c = s.requireSyncConfig();
        if (!lastSyncUtc.empty()) c.lastSyncUtc = lastSyncUtc;
        c.lastError = lastError;
        s.saveSyncConfig(c);
        tx.commit();
    });
}

Result<void> Store::markRevoked() {
    return tryCatch([&] {
        Impl& s = *m_impl;
        Transaction tx(s.db);
        SyncConfig c = s.requireSyncConfig();
        c.revoked = true;
        c.lastError = "HQ revoked this device";
        s.saveSyncConfig(c);
        s.appendAudit(m_user, "revocation", "hq", json::object());
        tx.commit();
    });
}

// [SECTION] outbox for the wire
namespace {

// The columns of a revision as it goes on the wire; readOutgoing() reads a row of them. The statement
// joins record r, the revision's sealed part p and its outbox row o (o.seq, o.priority and o.sig NULL
// when the revision has left the outbox).
constexpr const char* kOutgoingColumns =
    "o.seq, o.priority, r.id, r.revision, r.parent_revision, r.form_id, r.form_version, r.unit_id, "
    "r.author, r.created_utc, r.created_offset, coalesce(r.finalized_utc, ''), r.payload, p.hash, "
    "p.body, o.sig";

OutgoingItem readOutgoing(Store::Impl& s, Stmt& st, bool parsePayload, bool readSealedBody) {
    OutgoingItem i;
    i.outboxSeq = st.isNull(0) ? 0 : st.int64(0);
    i.priority = st.isNull(1) ? 0 : static_cast<int>(st.int64(1));
    i.recordId = st.text(2);
    i.revision = static_cast<int>(st.int64(3));
    if (!st.isNull(4)) i.parent = static_cast<int>(st.int64(4));
    i.formId = st.text(5);
    i.formVersion = static_cast<int>(st.int64(6));
    i.unitId = st.text(7);
    i.author = st.text(8);
    i.createdUtc = st.text(9);
    i.createdOffset = static_cast<int>(st.int64(10));
    i.finalizedUtc = st.text(11);
    i.payloadText = s.codec.open(st.blob(12), payloadAd(i.recordId, i.revision));
    if (parsePayload) {
        i.payload = json::parse(i.payloadText, nullptr, false);
        if (i.payload.is_discarded() || !i.payload.is_object())
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                          "record " + i.recordId + " r" + std::to_string(i.revision) +
                              ": the stored payload is not a JSON object");
    }
    if (!st.isNull(13)) {
        i.sealedHash = st.text(13);
        if (readSealedBody && !st.isNull(14))
            i.sealedPart = detail::openSealedBody(s, i.recordId, i.revision, st.blob(14));
    }
    if (!st.isNull(15))
        i.signature = s.codec.open(st.blob(15), detail::revisionSignatureAd(i.recordId, i.revision));
    return i;
}

}  // namespace

Result<std::vector<OutgoingItem>> Store::nextOutgoing(int maxItems, const std::vector<std::int64_t>& exclude,
                                                      bool parsePayload) {
    return tryCatch([&]() -> std::vector<OutgoingItem> {
        if (maxItems <= 0) throw Failure(badInput("nextOutgoing needs a positive number of items"));
        Impl& s = *m_impl;
        static const std::string sql =
            std::string("SELECT ") + kOutgoingColumns +
            " FROM outbox o JOIN record r ON r.id = o.record_id AND r.revision = o.revision "
            "LEFT JOIN sealed_part p ON p.record_id = r.id AND p.revision = r.revision "
            "WHERE o.state = 'queued' AND o.seq NOT IN (SELECT value FROM json_each(?)) "
            // A sensitive section still waiting for HQ's conduct keys holds its revision back.
            "AND (p.state IS NULL OR p.state != 'waiting') "
            "ORDER BY o.priority DESC, o.seq LIMIT ?";
        Stmt st(s.db, sql.c_str());
        st.bind(1, seqList(exclude)).bind(2, maxItems);
        std::vector<OutgoingItem> out;
        while (st.step()) out.push_back(readOutgoing(s, st, parsePayload, true));
        return out;
    });
}

Result<OutgoingItem> Store::sentRevision(const std::string& recordId, int revision, bool parsePayload) {
    return tryCatch([&]() -> OutgoingItem {
        Impl& s = *m_impl;
        static const std::string sql =
            std::string("SELECT ") + kOutgoingColumns +
            ", r.status FROM record r LEFT JOIN outbox o ON o.record_id = r.id AND o.revision = r.revision "
            "LEFT JOIN sealed_part p ON p.record_id = r.id AND p.revision = r.revision "
            "WHERE r.id = ? AND r.revision = ?";
        Stmt st(s.db, sql.c_str());
        st.bind(1, recordId).bind(2, revision);
        if (!st.step())
            throw Failure(detail::notFound("this laptop holds no report " + recordId + " r" +
                                           std::to_string(revision)));
        if (st.text(16) != "final")
            throw Failure(detail::conflict("report " + recordId + " r" + std::to_string(revision) +
                                           " is a draft on this laptop"));
        return readOutgoing(s, st, parsePayload, false);
    });
}

Result<void> Store::notePushFailure(const std::vector<std::int64_t>& outboxSeqs, const std::string& error) {
    return tryCatch([&] {
        if (outboxSeqs.empty()) return;
        Impl& s = *m_impl;
        Transaction tx(s.db);
        Stmt up(s.db,
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? "
                "WHERE seq IN (SELECT value FROM json_each(?))");
        up.bind(1, error).bind(2, seqList(outboxSeqs)).run();
        tx.commit();
    });
}

Result<void> Store::requeue(std::int64_t outboxSeq) {
    return tryCatch([&] {
        Impl& s = *m_impl;
        Transaction tx(s.db);
        Stmt q(s.db, "SELECT state FROM outbox WHERE seq = ?");
        q.bind(1, outboxSeq);
        if (!q.step())
            throw Failure(notFound("no outbox item " + std::to_string(outboxSeq) +
                                   " ('outpostctl outbox' lists them; a sent report has left the outbox)"));
        Stmt up(s.db, "UPDATE outbox SET state = 'queued', last_error = NULL WHERE seq = ?");
        up.bind(1, outboxSeq).run();
        tx.commit();
    });
}

// [SECTION] receipts
Result<void> Store::applyPushOutcomes(const std::string& batchId, const std::vector<PushOutcome>& outcomes,
                                      const std::string& signedReceipt) {
    return tryCatch([&] {
        if (batchId.empty()) throw Failure(badInput("a push outcome needs its batch id"));
        for (const auto& o : outcomes) {
            if (!core::isKnown(o.status))
                throw Failure(badInput("unknown push status " + std::to_string(static_cast<int>(o.status))));
            if (o.status != core::ItemStatus::Rejected && o.hash.empty())
                throw Failure(badInput("a receipt needs the hash of the bytes that were sent"));
        }
        Impl& s = *m_impl;
        auto now = core::nowTimestamp().utc;
        Transaction tx(s.db);
        Stmt doc(s.db,
                 "INSERT OR IGNORE INTO receipt_doc(batch_id, document, received_utc) VALUES (?, ?, ?)");
        doc.bind(1, batchId).bind(2, signedReceipt).bind(3, now).run();
        Stmt find(s.db, "SELECT record_id, revision FROM outbox WHERE seq = ?");
        Stmt del(s.db, "DELETE FROM outbox WHERE seq = ?");
        Stmt ins(s.db,
                 "INSERT INTO receipt(record_id, revision, status, hq_seq, hash, received_utc, batch_id) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(record_id, revision) DO UPDATE SET "
                 "status = excluded.status, hq_seq = excluded.hq_seq, hash = excluded.hash, "
                 "received_utc = excluded.received_utc, batch_id = excluded.batch_id");
        // An item already quarantined (by an earlier answer to this batch) stays as it is.
        Stmt quarantine(s.db,
                        "UPDATE outbox SET state = 'quarantined', last_error = ?, attempts = attempts + 1 "
                        "WHERE seq = ? AND state = 'queued'");
        detail::SealedPurger purger(s);
        int purged = 0;
        for (const auto& o : outcomes) {
            find.reset();
            find.bind(1, o.outboxSeq);
            if (!find.step()) continue;  // already acknowledged by an earlier answer
            std::string id = find.text(0);
            int rev = static_cast<int>(find.int64(1));
            if (o.status == core::ItemStatus::Rejected) {
                quarantine.bind(1, o.reason.empty() ? std::string("rejected by HQ") : o.reason)
                    .bind(2, o.outboxSeq)
                    .run();
                quarantine.reset();
                continue;
            }
            del.bind(1, o.outboxSeq).run();
            del.reset();
            // HQ holds the sealed section now (a conflict keeps the laptop's copy: HQ kept other bytes).
            if (o.status != core::ItemStatus::Conflict) purged += purger.purge(id, rev);
            ins.bind(1, id)
                .bind(2, rev)
                .bind(3, core::toText(o.status))
                .bind(4, o.hqSeq)
                .bind(5, o.hash)
                .bind(6, now);
            ins.bind(7, batchId).run();
            ins.reset();
        }
        json counts = {{"stored", 0}, {"duplicate", 0}, {"conflict", 0}, {"rejected", 0}};
        for (const auto& o : outcomes) {
            const std::string status(core::toText(o.status));
            counts[status] = counts[status].get<int>() + 1;
        }
        if (purged > 0) counts["sealed_purged"] = purged;
        s.appendAudit(m_user, "sync", batchId, counts);
        tx.commit();
    });
}

Result<std::optional<ReceiptInfo>> Store::lastReceipt() {
    return tryCatch([&]() -> std::optional<ReceiptInfo> {
        std::string sql = std::string("SELECT ") + kReceiptColumns +
                          " FROM receipt ORDER BY hq_seq DESC, record_id DESC LIMIT 1";
        Stmt st(m_impl->db, sql.c_str());
        if (!st.step()) return std::nullopt;
        return readReceipt(st);
    });
}

Result<std::optional<ReceiptInfo>> Store::receipt(const std::string& recordId, int revision) {
    return tryCatch([&]() -> std::optional<ReceiptInfo> {
        std::string sql =
            std::string("SELECT ") + kReceiptColumns + " FROM receipt WHERE record_id = ? AND revision = ?";
        Stmt st(m_impl->db, sql.c_str());
        st.bind(1, recordId).bind(2, revision);
        if (!st.step()) return std::nullopt;
        return readReceipt(st);
    });
}

Result<std::int64_t> Store::receiptCount() {
    return tryCatch([&]() -> std::int64_t {
        Stmt st(m_impl->db, "SELECT count(*) FROM receipt");
        st.step();
        return st.int64(0);
    });
}

// [SECTION] pull
namespace {

std::string requiredText(const json& body, const char* member) {
    auto it = body.find(member);
    if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
        throw Failure(badInput(std::string("feedback needs a text \"") + member + "\""));
    const auto& s = it->get_ref<const std::string&>();
    if (!core::isValidUtf8(s))
        throw Failure(badInput(std::string("feedback \"") + member + "\" is not UTF-8"));
    return s;
}

std::string optionalText(const json& body, const char* member) {
    auto it = body.find(member);
    if (it == body.end() || it->is_null()) return {};
    if (!it->is_string()) throw Failure(badInput(std::string("feedback \"") + member + "\" must be text"));
    const auto& s = it->get_ref<const std::string&>();
    if (!core::isValidUtf8(s))
        throw Failure(badInput(std::string("feedback \"") + member + "\" is not UTF-8"));
    return s;
}

// Upserts one feedback entry. Pages arrive in feed order, so the entry applied last is HQ's newest word.
void putFeedback(Store::Impl& s, std::int64_t seq, const json& body) {
    if (!body.is_object()) throw Failure(badInput("feedback must be a JSON object"));
    std::string id = requiredText(body, "record");
    if (!core::isUuid(id)) throw Failure(badInput("feedback names '" + id + "', which is not a record id"));
    auto rev = body.find("rev");
    if (rev == body.end() || !rev->is_number_integer() || rev->get<std::int64_t>() < 1 ||
        rev->get<std::int64_t>() > 1000000)
        throw Failure(badInput("feedback needs a revision number \"rev\" of 1 or more"));
    int revision = rev->get<int>();
    std::string status = requiredText(body, "status");
    if (!core::fromText<core::ReviewStatus>(status))
        throw Failure(badInput("unknown review status '" + status + "' (received, accepted or returned)"));
    std::string comment = optionalText(body, "comment");
    std::string by = optionalText(body, "by");
    std::string at = optionalText(body, "at");
    std::string ad = feedbackAd(id, revision);
    Stmt st(s.db,
            "INSERT INTO feedback(record_id, revision, status, comment, reviewer, at_utc, feed_seq) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(record_id, revision) DO UPDATE SET "
            "status = excluded.status, comment = excluded.comment, reviewer = excluded.reviewer, "
            "at_utc = excluded.at_utc, feed_seq = excluded.feed_seq");
    st.bind(1, id).bind(2, revision).bind(3, status);
    st.bindBlob(4, s.codec.seal(comment, ad)).bindBlob(5, s.codec.seal(by, ad + ":by"));
    st.bind(6, at).bind(7, seq).run();
}

}  // namespace

Result<void> Store::applyPull(const std::vector<PulledEntry>& entries, std::int64_t newCursor,
                              const std::string& at) {
    return tryCatch([&] {
        if (newCursor < 0) throw Failure(badInput("the pull cursor cannot be negative"));
        Impl& s = *m_impl;
        std::optional<core::ReferenceData> newRef;
        bool formsChanged = false;
        std::int64_t sealedNow = 0;
        Transaction tx(s.db);
        SyncConfig cfg = s.requireSyncConfig();
        for (const auto& e : entries) {
            try {
                if (e.kind == "form") {
                    if (s.putForm(e.body, newRef ? *newRef : m_ref, "hq")) formsChanged = true;
                } else if (e.kind == "reference") {
                    if (!e.body.is_object())
                        throw Failure(badInput("the reference document must be an object"));
                    auto r = core::ReferenceData::fromJson(e.body);
                    if (!r) throw Failure(r.error());
                    if (!m_unit.empty() && !r->row("units", m_unit))
                        throw Failure(
                            badInput("the reference data does not list this laptop's unit '" + m_unit + "'"));
                    Stmt up(s.db, "UPDATE reference_data SET document = ?, source = 'hq' WHERE id = 1");
                    up.bind(1, r->doc().dump()).run();
                    newRef = std::move(r).value();
                } else if (e.kind == "feedback") {
                    putFeedback(s, e.seq, e.body);
                } else if (e.kind == "conduct-keys") {
                    sealedNow += detail::applyConductKeys(s, e.body);
                }
                // Other kinds come from a newer HQ: this version has nothing to do with them.
            } catch (const Failure& f) {
                throw Failure(f.error().domain, f.error().code,
                              "HQ's feed entry " + std::to_string(e.seq) + " (" + e.kind +
                                  "): " + f.error().message + "; nothing from this page was applied");
            }
        }
        // Every stored form must still read with the reference data it will be used with: a reference
        // document that drops a table a form needs is refused here, not discovered at the next open.
        core::FormRegistry reg;
        if (newRef || formsChanged) {
            try {
                detail::loadForms(s.db, newRef ? *newRef : m_ref, reg);
            } catch (const Failure& f) {
                throw Failure(ErrorDomain::Input, ErrorCode::BadInput,
                              "HQ's feed page does not fit the forms on this laptop (" + f.error().message +
                                  "); nothing from this page was applied");
            }
        }
        if (!entries.empty()) {
            json detail = {{"entries", entries.size()}};
            if (sealedNow > 0) detail["sensitive_sections_sealed"] = sealedNow;
            s.appendAudit(m_user, "sync pull", "hq", detail);
        }
        cfg.pullCursor = newCursor;
        cfg.pullCursorAt = at;
        s.saveSyncConfig(cfg);
        tx.commit();
        if (newRef) m_ref = std::move(*newRef);
        if (newRef || formsChanged) m_forms = std::move(reg);
    });
}

Result<std::vector<Feedback>> Store::feedback(const std::string& recordId) {
    return tryCatch([&]() -> std::vector<Feedback> {
        Impl& s = *m_impl;
        Stmt st(s.db,
                "SELECT record_id, revision, status, comment, reviewer, at_utc, feed_seq FROM feedback "
                "WHERE ?1 = '' OR record_id = ?1 ORDER BY feed_seq DESC");
        st.bind(1, recordId);
        std::vector<Feedback> out;
        while (st.step()) {
            Feedback f;
            f.recordId = st.text(0);
            f.revision = static_cast<int>(st.int64(1));
            f.status =
                core::requireText<core::ReviewStatus>(st.text(2), ErrorDomain::Storage, ErrorCode::Corrupt);
            std::string ad = feedbackAd(f.recordId, f.revision);
            f.comment = s.codec.open(st.blob(3), ad);
            f.by = s.codec.open(st.blob(4), ad + ":by");
            f.atUtc = st.text(5);
            f.feedSeq = st.int64(6);
            out.push_back(std::move(f));
        }
        return out;
    });
}

// [SECTION] resync
std::int64_t Store::Impl::requeueAcknowledged(const core::FormRegistry& reg) {
    struct Row {
        std::string id;
        int revision;
        std::string formId;
        int formVersion;
    };
    std::vector<Row> rows;
    {
        // In finalize order, so the queue keeps the order the reports were written in.
        Stmt st(db,
                "SELECT c.record_id, c.revision, r.form_id, r.form_version FROM receipt c "
                "JOIN record r ON r.id = c.record_id AND r.revision = c.revision ORDER BY r.local_seq");
        while (st.step())
            rows.push_back(
                {st.text(0), static_cast<int>(st.int64(1)), st.text(2), static_cast<int>(st.int64(3))});
    }
    auto now = core::nowTimestamp().utc;
    Stmt ins(db,
             "INSERT OR IGNORE INTO outbox(record_id, revision, priority, enqueued_utc) VALUES (?, ?, ?, ?)");
    for (const auto& r : rows) {
        auto form = reg.find(r.formId, r.formVersion);
        ins.bind(1, r.id).bind(2, r.revision).bind(3, form ? form->syncPriority : 0).bind(4, now).run();
        ins.reset();
    }
    db.exec("DELETE FROM receipt");
    return static_cast<std::int64_t>(rows.size());
}

Result<void> Store::beginResync(const std::string& newEpoch) {
    return tryCatch([&] {
        if (newEpoch.empty()) throw Failure(badInput("a resync needs HQ's new epoch"));
        Impl& s = *m_impl;
        Transaction tx(s.db);
        SyncConfig c = s.requireSyncConfig();
        const std::int64_t requeued = s.requeueAcknowledged(m_forms);
        c.epoch = newEpoch;
        c.pullCursor = 0;
        c.pullCursorAt.clear();
        s.saveSyncConfig(c);
        s.appendAudit(m_user, "resync", "hq", {{"requeued", requeued}});
        tx.commit();
    });
}

}  // namespace outpost::storage
