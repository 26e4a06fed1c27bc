// The field store's sealed sensitive sections (docs/security.md, "Sealed sensitive sections"): at finalize
// the sensitive values leave the record's payload; they are sealed to HQ's conduct keys at once, or kept
// waiting (encrypted with the store key, like a draft) until the laptop has HQ's key list; once HQ's signed
// receipt arrives the sealed copy is purged and only its hash stays.
#include <sodium.h>

#include "core/sensitive.hpp"
#include "storage/recovery.hpp"
#include "storage/sealed.hpp"
#include "storage/store_impl.hpp"

namespace outpost::storage {

namespace {

constexpr const char* kConductKeysKey = "conduct_keys";
constexpr const char* kConductKeysAd = "meta:conduct_keys";

std::string sealedAd(const std::string& id, int revision) {
    return "sealed:" + id + ":" + std::to_string(revision);
}

std::string blobHash(const Bytes& blob) {
    return toHex(blake2b256(std::span(blob)));
}

Bytes toBytes(const std::string& s) {
    return Bytes(s.begin(), s.end());
}

}  // namespace

namespace detail {

void migrateSealedParts(Db& db) {
    // state: 'waiting' (no HQ conduct key known yet; body = the values, sealed with the store key),
    // 'sealed' (body = the part sealed to HQ's conduct keys, wrapped with the store key too), 'purged'
    // (HQ acknowledged the revision; body gone, hash kept so the envelope can be rebuilt).
    db.exec(R"SQL(
CREATE TABLE sealed_part (
  record_id  TEXT NOT NULL,
  revision   INTEGER NOT NULL,
  state      TEXT NOT NULL CHECK (state IN ('waiting', 'sealed', 'purged')),
  hash       TEXT,
  recipients TEXT NOT NULL DEFAULT '',
  body       BLOB,
  PRIMARY KEY (record_id, revision),
  FOREIGN KEY (record_id, revision) REFERENCES record (id, revision)
) STRICT, WITHOUT ROWID;
)SQL");
}

std::optional<ConductKeyList> loadConductKeys(Store::Impl& s) {
    Stmt st(s.db, "SELECT value FROM meta WHERE key = ?");
    st.bind(1, kConductKeysKey);
    if (!st.step()) return std::nullopt;
    auto cfg = s.loadSyncConfig();
    auto hqKey = cfg ? fromBase64(cfg->hqSignKey) : std::nullopt;
    if (!hqKey) return std::nullopt;
    json doc = json::parse(s.codec.open(st.blob(0), kConductKeysAd), nullptr, false);
    try {
        return readConductKeyDocument(doc, *hqKey);
    } catch (const Failure& f) {
        throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                      "the stored conduct key list: " + f.error().message);
    }
}

namespace {
// Seals one waiting part to keys and stores it; inside the caller's transaction.
void sealRow(Store::Impl& s, const std::string& id, int rev, const std::string& formId, int formVersion,
             const json& part, const std::vector<ConductKey>& keys) {
    Bytes blob = sealPart(part, keys, sealedContext(id, rev, formId, formVersion));
    std::string recipients;
    for (const auto& k : keys) recipients += (recipients.empty() ? "" : ",") + k.id;
    Stmt up(s.db,
            "INSERT INTO sealed_part(record_id, revision, state, hash, recipients, body) VALUES (?, ?, "
            "'sealed', ?, "
            "?, ?) ON CONFLICT(record_id, revision) DO UPDATE SET state = 'sealed', hash = excluded.hash, "
            "recipients = excluded.recipients, body = excluded.body");
    up.bind(1, id).bind(2, rev).bind(3, blobHash(blob)).bind(4, recipients);
    up.bindBlob(5, s.codec.seal(std::string(blob.begin(), blob.end()), sealedAd(id, rev))).run();
}
}  // namespace

std::string sealOnFinalize(Store::Impl& s, const FormDef& form, const std::string& id, int rev,
                           json& normalized) {
    if (!form.hasSensitiveFields()) return {};
    json part = core::takeSensitive(form, normalized);
    if (part.empty()) return {};
    auto keys = loadConductKeys(s);
    if (keys && !keys->active().empty()) {
        sealRow(s, id, rev, form.id, form.version, part, keys->active());
        return "sealed";
    }
    Stmt ins(s.db, "INSERT INTO sealed_part(record_id, revision, state, body) VALUES (?, ?, 'waiting', ?)");
    ins.bind(1, id).bind(2, rev).bindBlob(3, s.codec.seal(part.dump(), sealedAd(id, rev))).run();
    return "waiting";
}

bool hasSealedPart(Store::Impl& s, const std::string& id) {
    Stmt st(s.db, "SELECT 1 FROM sealed_part WHERE record_id = ? LIMIT 1");
    st.bind(1, id);
    return st.step();
}

std::int64_t applyConductKeys(Store::Impl& s, const json& doc) {
    auto cfg = s.requireSyncConfig();
    auto hqKey = fromBase64(cfg.hqSignKey);
    if (!hqKey)
        throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                      "HQ's signing key in the enrollment is damaged");
    ConductKeyList list = readConductKeyDocument(doc, *hqKey);  // throws BadInput naming the problem
    if (auto old = loadConductKeys(s); old && old->version > list.version)
        return 0;  // an older list: ignored
    Stmt put(
        s.db,
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    put.bind(1, kConductKeysKey).bindBlob(2, s.codec.seal(doc.dump(), kConductKeysAd)).run();
    auto active = list.active();
    if (active.empty()) return 0;
    std::vector<std::tuple<std::string, int, std::string, int, Bytes>> waiting;
    {
        Stmt q(s.db,
               "SELECT p.record_id, p.revision, r.form_id, r.form_version, p.body FROM sealed_part p "
               "JOIN record r ON r.id = p.record_id AND r.revision = p.revision WHERE p.state = 'waiting'");
        while (q.step())
            waiting.emplace_back(q.text(0), static_cast<int>(q.int64(1)), q.text(2),
                                 static_cast<int>(q.int64(3)), q.blob(4));
    }
    for (auto& [id, rev, formId, formVersion, body] : waiting) {
        std::string text = s.codec.open(body, sealedAd(id, rev));
        json part = json::parse(text, nullptr, false);
        wipeSecret(text);  // the codec hands plaintext back as a std::string
        if (!part.is_object())
            throw Failure(
                ErrorDomain::Storage, ErrorCode::Corrupt,
                "record " + id + " r" + std::to_string(rev) + ": the waiting sensitive section is damaged");
        sealRow(s, id, rev, formId, formVersion, part, active);
    }
    return static_cast<std::int64_t>(waiting.size());
}

SealedPurger::SealedPurger(Store::Impl& s)
    : m_s(s),
      m_up(s.db,
           "UPDATE sealed_part SET state = 'purged', body = NULL WHERE record_id = ? AND revision = ? AND "
           "state = 'sealed'") {}

int SealedPurger::purge(const std::string& id, int rev) {
    m_up.bind(1, id).bind(2, rev).run();
    m_up.reset();
    return m_s.db.changes();
}

Bytes openSealedBody(Store::Impl& s, const std::string& id, int rev, const Bytes& body) {
    return toBytes(s.codec.open(body, sealedAd(id, rev)));
}

}  // namespace detail

Result<SealedSection> Store::sealedSection(const std::string& id, int revision) {
    return tryCatch([&]() -> SealedSection {
        SealedSection out;
        Stmt st(m_impl->db,
                "SELECT state, coalesce(hash, ''), recipients FROM sealed_part WHERE record_id = ? AND "
                "revision = ?");
        st.bind(1, id).bind(2, revision);
        if (!st.step()) return out;
        out.state = st.text(0);
        out.hash = st.text(1);
        std::string r = st.text(2);
        for (std::size_t at = 0; at < r.size();) {
            auto comma = r.find(',', at);
            if (comma == std::string::npos) comma = r.size();
            out.recipients.push_back(r.substr(at, comma - at));
            at = comma + 1;
        }
        return out;
    });
}

Result<std::vector<ConductKey>> Store::conductKeys() {
    return tryCatch([&]() -> std::vector<ConductKey> {
        auto list = detail::loadConductKeys(*m_impl);
        if (!list) return {};
        return list->active();
    });
}

Result<std::int64_t> Store::waitingSealedCount() {
    return tryCatch([&]() -> std::int64_t {
        Stmt st(m_impl->db, "SELECT count(*) FROM sealed_part WHERE state = 'waiting'");
        st.step();
        return st.int64(0);
    });
}

}  // namespace outpost::storage
