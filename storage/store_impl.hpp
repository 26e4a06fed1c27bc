// The store's private parts, shared by its source files (store.cpp, store_sync.cpp): the connection and
// codec (Store::Impl) and the helpers they use. Not for use outside storage/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/form.hpp"
#include "core/refdata.hpp"
#include "core/utf8.hpp"
#include "storage/crypto.hpp"
#include "storage/sqlite.hpp"
#include "storage/store.hpp"

namespace outpost::storage {

namespace detail {

constexpr std::size_t kMaxSearchPrefix = 12;  // longer words match on their first 12 letters (and exactly)

inline Error notFound(std::string m) {
    return Error{ErrorDomain::NotFound, ErrorCode::NotFound, std::move(m)};
}
inline Error conflict(std::string m) {
    return Error{ErrorDomain::State, ErrorCode::Conflict, std::move(m)};
}
inline Error badInput(std::string m) {
    return Error{ErrorDomain::Input, ErrorCode::BadInput, std::move(m)};
}

inline std::string payloadAd(const std::string& id, int revision) {
    return "record:" + id + ":" + std::to_string(revision);
}
inline std::string factAd(const std::string& id) {
    return "fact:" + id;
}

// Cuts a UTF-8 string to at most n code points.
inline std::string utf8Prefix(const std::string& s, std::size_t n) {
    std::size_t cps = 0, i = 0;
    while (i < s.size()) {
        if (cps == n) break;
        unsigned char c = static_cast<unsigned char>(s[i]);
        i += c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
        ++cps;
    }
    return s.substr(0, std::min(i, s.size()));
}

// RecordMeta::syncState from the revision's status and its outbox state as the database holds it, or
// "sent" when HQ's receipt is held. A final revision with neither is Unsent (verify reports it: a sound
// store never has one). Throws Failure(Storage, Corrupt) naming any other text.
inline core::SyncState syncStateOf(core::RecordStatus status, const std::string& outboxOrReceipt) {
    if (status == core::RecordStatus::Draft) return core::SyncState::Draft;
    if (outboxOrReceipt.empty()) return core::SyncState::Unsent;
    auto state =
        core::requireText<core::SyncState>(outboxOrReceipt, ErrorDomain::Storage, ErrorCode::Corrupt);
    if (state == core::SyncState::Draft || state == core::SyncState::Unsent)
        throw Failure(
            core::unknownText("outbox state", outboxOrReceipt, ErrorDomain::Storage, ErrorCode::Corrupt));
    return state;
}

}  // namespace detail

using core::FormDef;
using detail::factAd;
using detail::kMaxSearchPrefix;
using detail::notFound;
using detail::payloadAd;
using detail::syncStateOf;
using detail::utf8Prefix;

struct Store::Impl {
    std::string dir;
    Db db;
    Codec codec;
    DataKey dataKey;  // wraps new key slots (accounts, recovery)
    StoreOptions options;
    const core::FormRegistry* forms = nullptr;
    const core::ReferenceData* ref = nullptr;

    Impl(std::string d, Db&& database, const DataKey& key, StoreOptions o)
        : dir(std::move(d)), db(std::move(database)), codec(key), dataKey(key), options(std::move(o)) {}

    // Search tokens for the searchable fields of a payload: keyed hashes, never the words.
    std::string searchTokens(const FormDef& form, const json& payload) const {
        std::vector<std::string> words;
        auto addText = [&](const std::string& s) {
            for (auto& w : core::searchTokens(s)) words.push_back(std::move(w));
        };
        auto addValue = [&](const core::FieldDef& f, const json& v) {
            if (v.is_string()) {
                addText(v.get<std::string>());
                if (f.type == core::FieldType::SelectOne)
                    if (auto c = f.findChoice(v.get<std::string>())) addText(c->label.en + " " + c->label.fr);
                if (f.type == core::FieldType::Reference) {
                    const json* row = ref->row(f.ref, v.get<std::string>());
                    if (row)
                        for (const char* col : {"name", "title", "code"})
                            if (row->contains(col))
                                addText(core::ReferenceData::label((*row)[col], "en") + " " +
                                        core::ReferenceData::label((*row)[col], "fr"));
                }
            } else if (v.is_array()) {
                for (const auto& x : v)
                    if (x.is_string()) {
                        addText(x.get<std::string>());
                        if (auto c = f.findChoice(x.get<std::string>()))
                            addText(c->label.en + " " + c->label.fr);
                    }
            }
        };
        for (const auto& path : form.searchFields) {
            const core::FieldDef* f = form.field(path);
            if (!f || f->sensitive) continue;
            auto dot = path.find('.');
            if (dot == std::string::npos) {
                if (payload.contains(path)) addValue(*f, payload[path]);
                continue;
            }
            auto it = payload.find(path.substr(0, dot));
            if (it == payload.end() || !it->is_array()) continue;
            std::string col = path.substr(dot + 1);
            for (const auto& row : *it)
                if (row.is_object() && row.contains(col)) addValue(*f, row[col]);
        }
        std::set<std::string> tokens;
        for (const auto& w : words) {
            tokens.insert(codec.searchToken("w:" + w));
            std::size_t n = core::codePointCount(w);
            for (std::size_t k = 3; k <= std::min(n, kMaxSearchPrefix); ++k)
                tokens.insert(codec.searchToken("p:" + utf8Prefix(w, k)));
        }
        std::string out;
        for (const auto& t : tokens) {
            if (!out.empty()) out += ' ';
            out += t;
        }
        return out;
    }

    // Removes a record's search row by its rowid (search_doc maps record ids to rows: the FTS
    // table cannot look up its UNINDEXED record_id column without scanning every row).
    void unindexRecord(const std::string& id) {
        Stmt q(db, "SELECT doc FROM search_doc WHERE record_id = ?");
        q.bind(1, id);
        if (!q.step()) return;
        std::int64_t doc = q.int64(0);
        Stmt del(db, "DELETE FROM search_fts WHERE rowid = ?");
        del.bind(1, doc).run();
        Stmt del2(db, "DELETE FROM search_doc WHERE record_id = ?");
        del2.bind(1, id).run();
    }

    // fresh: the id was made in the caller's transaction, so it has no row to remove.
    void indexRecord(const std::string& id, const FormDef& form, const json& payload, bool fresh = false) {
        if (!fresh) unindexRecord(id);
        std::string tokens = searchTokens(form, payload);
        if (tokens.empty()) return;
        Stmt ins(db, "INSERT INTO search_fts(record_id, tokens) VALUES (?, ?)");
        ins.bind(1, id).bind(2, tokens).run();
        Stmt map(db, "INSERT INTO search_doc(record_id, doc) VALUES (?, ?)");
        map.bind(1, id).bind(2, db.lastInsertRowid()).run();
    }

    void putFacts(const std::string& id, int revision, const FormDef& form, const std::string& unit,
                  std::int64_t seq, const json& payload) {
        json facts = core::extractFacts(form, payload);
        if (facts.empty()) return;
        Stmt st(
            db,
            "INSERT INTO record_fact(record_id, revision, form_id, unit_id, local_seq, facts) VALUES "
            "(?,?,?,?,?,?) "
            "ON CONFLICT(record_id) DO UPDATE SET revision = excluded.revision, form_id = excluded.form_id, "
            "unit_id = excluded.unit_id, local_seq = excluded.local_seq, facts = excluded.facts");
        st.bind(1, id).bind(2, revision).bind(3, form.id).bind(4, unit).bind(5, seq);
        st.bindBlob(6, codec.seal(facts.dump(), factAd(id))).run();
    }

    json openPayload(const std::string& id, int revision, const Bytes& blob) const {
        std::string plain = codec.open(blob, payloadAd(id, revision));
        json j = json::parse(plain, nullptr, false);
        if (j.is_discarded())
            throw Failure(
                ErrorDomain::Storage, ErrorCode::Corrupt,
                "record " + id + " r" + std::to_string(revision) + ": the stored payload is not valid JSON");
        return j;
    }

    static constexpr const char* kMetaColumns =
        "r.id, r.revision, r.parent_revision, r.form_id, r.form_version, r.unit_id, r.author, r.status, "
        "r.created_utc, r.created_offset, r.updated_utc, r.finalized_utc, r.local_seq, "
        "coalesce((SELECT o.state FROM outbox o WHERE o.record_id = r.id AND o.revision = r.revision), "
        "(SELECT 'sent' FROM receipt c WHERE c.record_id = r.id AND c.revision = r.revision))";

    static RecordMeta readMeta(const Stmt& st) {
        RecordMeta m;
        m.id = st.text(0);
        m.revision = static_cast<int>(st.int64(1));
        if (!st.isNull(2)) m.parentRevision = static_cast<int>(st.int64(2));
        m.formId = st.text(3);
        m.formVersion = static_cast<int>(st.int64(4));
        m.unitId = st.text(5);
        m.author = st.text(6);
        m.status =
            core::requireText<core::RecordStatus>(st.text(7), ErrorDomain::Storage, ErrorCode::Corrupt);
        m.createdUtc = st.text(8);
        m.createdOffsetMinutes = static_cast<int>(st.int64(9));
        m.updatedUtc = st.text(10);
        m.finalizedUtc = st.isNull(11) ? "" : st.text(11);
        m.localSeq = st.isNull(12) ? 0 : st.int64(12);
        m.syncState = syncStateOf(m.status, st.isNull(13) ? "" : st.text(13));
        return m;
    }

    std::optional<RecordMeta> latestMeta(const std::string& id) {
        std::string sql = std::string("SELECT ") + kMetaColumns +
                          " FROM record r WHERE r.id = ? ORDER BY r.revision DESC LIMIT 1";
        Stmt st(db, sql.c_str());
        st.bind(1, id);
        if (!st.step()) return std::nullopt;
        return readMeta(st);
    }

    Bytes loadBlob(const std::string& id, int revision) {
        Stmt st(db, "SELECT payload FROM record WHERE id = ? AND revision = ?");
        st.bind(1, id).bind(2, revision);
        if (!st.step())
            throw Failure(notFound("record " + id + " has no revision " + std::to_string(revision)));
        return st.blob(0);
    }

    std::string metaText(const char* key) {
        Stmt st(db, "SELECT value FROM meta WHERE key = ?");
        st.bind(1, key);
        return st.step() ? st.text(0) : std::string();
    }

    // Parses a form definition against withRef and stores it, inside the caller's transaction. Returns the
    // parsed form when it was added; nothing when the same definition is already stored under its id and
    // version. Throws on a broken definition and on a different one under an existing id and version.
    // (store.cpp)
    std::optional<FormDef> putForm(const json& definition, const core::ReferenceData& withRef,
                                   const std::string& source);

    // The sync configuration, sealed in meta (store_sync.cpp). nullopt when not enrolled.
    std::optional<SyncConfig> loadSyncConfig();
    SyncConfig requireSyncConfig();  // NotFound when not enrolled
    void saveSyncConfig(const SyncConfig& cfg);
    // Puts every revision HQ acknowledged back in the outbox and clears the receipts, in the caller's
    // transaction. Returns how many were re-queued. (store_sync.cpp)
    std::int64_t requeueAcknowledged(const core::FormRegistry& reg);
    // Appends an audit entry inside the caller's transaction; returns its sequence (store_audit.cpp).
    std::int64_t appendAudit(const std::string& actor, const std::string& action, const std::string& subject,
                             const json& detail);
};

namespace detail {
// Every stored form definition parsed against ref (store.cpp). Throws Corrupt naming a form that does not
// parse.
void loadForms(Db& db, const core::ReferenceData& ref, core::FormRegistry& reg);
// Every account's passphrase slot ("passphrase:<name>"), in id order (store_accounts.cpp).
std::vector<KeySlot> passphraseSlots(Db& db);
// Schema step "accounts" (store_accounts.cpp): the account table; the store's user becomes a commander.
void migrateAccounts(Db& db);
// The account a Store opens as (store_accounts.cpp): the named one, or the store's first account.
Account loadSignedInAccount(Db& db, const std::string& name);
// Schema version 5: the audit log (store_audit.cpp), opened with an "audit start" entry, so that a
// sound store always has an anchored head and a removed log cannot pass for an empty one.
void migrateAuditLog(Store::Impl& s);
// Schema step "revision signatures" (store_sync.cpp): outbox.sig.
void migrateRevisionSignatures(Db& db);
// Signs a revision just finalized and queued, with the device's key, inside the caller's transaction
// (store_sync.cpp). Does nothing on a laptop not enrolled yet, or while the revision's sealed section
// waits for HQ's conduct keys (its hash, part of what is signed, is not known yet).
void signQueuedRevision(Store::Impl& s, const std::string& id, int rev, std::string_view payloadText);
// The associated data that binds a sealed outbox signature to its revision.
std::string revisionSignatureAd(const std::string& id, int rev);
// Sealed sensitive sections (store_sealed.cpp), each inside the caller's transaction.
void migrateSealedParts(Db& db);
// Takes the sensitive values out of normalized and records them, sealed to HQ's conduct keys or waiting for
// them. Returns "", "sealed" or "waiting".
std::string sealOnFinalize(Store::Impl& s, const FormDef& form, const std::string& id, int rev,
                           json& normalized);
bool hasSealedPart(Store::Impl& s, const std::string& id);
// Checks HQ's signed conduct key list, keeps it and seals every waiting section. Returns how many were
// sealed.
std::int64_t applyConductKeys(Store::Impl& s, const json& doc);
// HQ acknowledged the revision: the sealed copy goes, its hash stays. Returns 1 when a copy was purged.
// Drops the sealed part of revisions HQ now holds; one statement for a whole receipt.
class SealedPurger {
public:
    explicit SealedPurger(Store::Impl& s);
    // The number of parts purged (0 when the revision has none, or it was purged already).
    int purge(const std::string& id, int rev);

private:
    Store::Impl& m_s;
    Stmt m_up;
};
// The sealed part of one revision from its stored body.
Bytes openSealedBody(Store::Impl& s, const std::string& id, int rev, const Bytes& body);
// "<record id> r<revision>": how audit entries name a revision.
inline std::string revisionSubject(const std::string& id, int revision) {
    return id + " r" + std::to_string(revision);
}
}  // namespace detail

}  // namespace outpost::storage
