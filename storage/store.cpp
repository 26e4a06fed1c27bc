// The field store: schema and migrations, the codec seam, records, outbox, search, facts, backups.
//
// [SECTION] helpers
// [SECTION] schema and migrations
// [SECTION] create, unlock, open
// [SECTION] records: drafts, finalize, amend
// [SECTION] reading: get, history, list, search
// [SECTION] derived figures
// [SECTION] outbox, verify, backup
#include "storage/store.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/builtin.hpp"
#include "core/sensitive.hpp"
#include "core/time.hpp"
#include "core/utf8.hpp"
#include "core/uuid.hpp"
#include "storage/durable_file.hpp"
#include "storage/sqlite.hpp"
#include "storage/store_impl.hpp"

namespace outpost::storage {

namespace fs = std::filesystem;
using core::FormDef;
using core::ValidationMode;

// [SECTION] helpers
namespace {

constexpr const char* kKeyCheckPlain = "outpost-store-key-check-v1";
// A record's first revision, as a draft (createDraft, and importFinal before it finalizes).
constexpr const char* kInsertFirstRevision =
    "INSERT INTO record(id, revision, parent_revision, form_id, form_version, unit_id, author, status, "
    "created_utc, created_offset, updated_utc, payload) VALUES (?, 1, NULL, ?, ?, ?, ?, 'draft', ?, ?, ?, ?)";

using detail::badInput;
using detail::conflict;

// --- Backup leftovers ---
// A backup writes "outpost-<time>.db.partial" (and, while SQLite writes it, "...db.partial-journal") and
// renames it into place when it is whole. One killed before the rename leaves them behind: a full-size
// copy each time, and no backup. A backup holds a shared flock(2) on the backups folder while it writes;
// whoever takes the lock exclusively (without waiting) knows that no backup is being written, in this
// process or another, so the partial files it finds are leftovers.

bool isFinishedBackup(const fs::path& p) {
    return p.extension() == ".db" && p.filename().string().rfind("outpost-", 0) == 0;
}

bool isBackupLeftover(const fs::path& p) {
    const std::string name = p.filename().string();
    return name.rfind("outpost-", 0) == 0 && name.find(".db.partial") != std::string::npos;
}

class BackupsFolderLock {
public:
    explicit BackupsFolderLock(const fs::path& dir)
        : m_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {}
    ~BackupsFolderLock() {
        if (m_fd >= 0) ::close(m_fd);
    }
    BackupsFolderLock(const BackupsFolderLock&) = delete;
    BackupsFolderLock& operator=(const BackupsFolderLock&) = delete;

    enum class Held { Exclusive, BackupRunning, NoLocks };
    Held tryExclusive() {
        if (m_fd < 0) return Held::NoLocks;
        while (::flock(m_fd, LOCK_EX | LOCK_NB) != 0) {
            if (errno == EINTR) continue;
            return errno == EWOULDBLOCK ? Held::BackupRunning : Held::NoLocks;
        }
        return Held::Exclusive;
    }
    // While a backup writes (waits only for another process's removal of leftovers, which is short).
    void shared() {
        if (m_fd >= 0)
            while (::flock(m_fd, LOCK_SH) != 0 && errno == EINTR) {
            }
    }

private:
    int m_fd;
};

// The leftovers in dir, oldest first; none while a backup is being written. Where the file system has
// no locks, only files nobody wrote for an hour count (no backup takes that long).
std::vector<fs::path> backupLeftovers(const fs::path& dir, BackupsFolderLock& lock) {
    std::vector<fs::path> out;
    const auto held = lock.tryExclusive();
    if (held == BackupsFolderLock::Held::BackupRunning) return out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (!isBackupLeftover(e.path())) continue;
        if (held == BackupsFolderLock::Held::NoLocks) {
            std::error_code tec;
            auto written = e.last_write_time(tec);
            if (tec || fs::file_time_type::clock::now() - written < std::chrono::hours(1)) continue;
        }
        out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Removes what interrupted backups left; a file that cannot be removed stays for verify to report.
void removeBackupLeftovers(const fs::path& dir, BackupsFolderLock& lock) {
    std::error_code ec;
    bool removed = false;
    for (const auto& p : backupLeftovers(dir, lock)) removed = fs::remove(p, ec) || removed;
    if (removed) syncFolder(dir.string());
}

}  // namespace

// [SECTION] schema and migrations
namespace {

const char* kSchemaV1 = R"SQL(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value ANY
) STRICT;
CREATE TABLE key_slot (
  id          TEXT PRIMARY KEY,
  salt        BLOB NOT NULL,
  ops_limit   INTEGER NOT NULL,
  mem_limit   INTEGER NOT NULL,
  wrapped     BLOB NOT NULL,
  created_utc TEXT NOT NULL
) STRICT;
CREATE TABLE form_def (
  form_id    TEXT NOT NULL,
  version    INTEGER NOT NULL,
  definition TEXT NOT NULL,
  source     TEXT NOT NULL,
  PRIMARY KEY (form_id, version)
) STRICT;
CREATE TABLE reference_data (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  document TEXT NOT NULL,
  source   TEXT NOT NULL
) STRICT;
CREATE TABLE record (
  id              TEXT NOT NULL,
  revision        INTEGER NOT NULL CHECK (revision >= 1),
  parent_revision INTEGER,
  form_id         TEXT NOT NULL,
  form_version    INTEGER NOT NULL,
  unit_id         TEXT NOT NULL,
  author          TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('draft', 'final')),
  created_utc     TEXT NOT NULL,
  created_offset  INTEGER NOT NULL,
  updated_utc     TEXT NOT NULL,
  finalized_utc   TEXT,
  local_seq       INTEGER,
  payload         BLOB NOT NULL,
  PRIMARY KEY (id, revision),
  FOREIGN KEY (form_id, form_version) REFERENCES form_def (form_id, version)
) STRICT;
CREATE INDEX record_by_form ON record (form_id, unit_id, status);
CREATE UNIQUE INDEX record_by_seq ON record (local_seq) WHERE local_seq IS NOT NULL;
CREATE TABLE outbox (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  record_id    TEXT NOT NULL,
  revision     INTEGER NOT NULL,
  priority     INTEGER NOT NULL,
  enqueued_utc TEXT NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  state        TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'quarantined')),
  last_error   TEXT,
  UNIQUE (record_id, revision),
  FOREIGN KEY (record_id, revision) REFERENCES record (id, revision)
) STRICT;
CREATE INDEX outbox_order ON outbox (state, priority DESC, seq);
CREATE TRIGGER record_final_is_immutable BEFORE UPDATE ON record WHEN OLD.status = 'final'
BEGIN SELECT RAISE(ABORT, 'a final revision cannot be changed'); END;
CREATE TRIGGER record_final_is_kept BEFORE DELETE ON record WHEN OLD.status = 'final'
BEGIN SELECT RAISE(ABORT, 'a final revision cannot be deleted'); END;
)SQL";

const char* kSchemaV2 = R"SQL(
CREATE VIRTUAL TABLE search_fts USING fts5(record_id UNINDEXED, tokens, tokenize = 'ascii');
CREATE TABLE record_fact (
  record_id TEXT PRIMARY KEY,
  revision  INTEGER NOT NULL,
  form_id   TEXT NOT NULL,
  unit_id   TEXT NOT NULL,
  local_seq INTEGER NOT NULL,
  facts     BLOB NOT NULL
) STRICT;
CREATE INDEX record_fact_by_form ON record_fact (form_id, unit_id);
)SQL";

// The search index holds keyed tokens and only ever answers "which records have all these words":
// no positions (detail = none) and no column sizes, which keeps it small on a laptop's disk.
const char* kSchemaV3 = R"SQL(
DROP TABLE search_fts;
CREATE VIRTUAL TABLE search_fts USING fts5(record_id UNINDEXED, tokens, tokenize = 'ascii', detail = 'none',
                                           columnsize = 0);
CREATE TABLE search_doc (
  record_id TEXT PRIMARY KEY,
  doc       INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX record_drafts ON record (id) WHERE status = 'draft';
)SQL";

// Sync with HQ: HQ's signed receipts (one per acknowledged revision, and the signed document of each
// batch, so a receipt can be proven later) and HQ's feedback about revisions. The sync configuration
// (with the device's secret key) is one sealed row in meta. A final revision is always either in the
// outbox or acknowledged here, never neither: both change in one transaction.
const char* kSchemaV4 = R"SQL(
CREATE TABLE receipt_doc (
  batch_id     TEXT PRIMARY KEY,
  document     TEXT NOT NULL,
  received_utc TEXT NOT NULL
) STRICT;
CREATE TABLE receipt (
  record_id    TEXT NOT NULL,
  revision     INTEGER NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('stored', 'duplicate', 'conflict')),
  hq_seq       INTEGER NOT NULL,
  hash         TEXT NOT NULL,
  received_utc TEXT NOT NULL,
  batch_id     TEXT NOT NULL REFERENCES receipt_doc (batch_id),
  PRIMARY KEY (record_id, revision),
  FOREIGN KEY (record_id, revision) REFERENCES record (id, revision)
) STRICT, WITHOUT ROWID;
CREATE INDEX receipt_by_hq_seq ON receipt (hq_seq);
CREATE TABLE feedback (
  record_id TEXT NOT NULL,
  revision  INTEGER NOT NULL,
  status    TEXT NOT NULL CHECK (status IN ('received', 'accepted', 'returned')),
  comment   BLOB NOT NULL,
  reviewer  BLOB NOT NULL,
  at_utc    TEXT NOT NULL,
  feed_seq  INTEGER NOT NULL,
  PRIMARY KEY (record_id, revision)
) STRICT, WITHOUT ROWID;
)SQL";

int userVersion(Db& db) {
    Stmt st(db, "PRAGMA user_version");
    st.step();
    return static_cast<int>(st.int64(0));
}

void setUserVersion(Db& db, int v) {
    db.exec(("PRAGMA user_version = " + std::to_string(v)).c_str());
}

void configure(Db& db) {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = FULL");
    db.exec("PRAGMA foreign_keys = ON");
    // Sorts and temp indexes stay in memory: no temp file on disk, even though it would hold only sealed
    // data.
    db.exec("PRAGMA temp_store = MEMORY");
    db.exec("PRAGMA secure_delete = ON");
}

}  // namespace

// Runs every migration newer than the file's version, each in its own transaction.
// Migration 3 needs the key (it rebuilds the search index and facts from sealed payloads).
static void migrate(Store::Impl& s, int target) {
    int v = userVersion(s.db);
    if (v > kSchemaVersion)
        throw Failure(ErrorDomain::Storage, ErrorCode::Conflict,
                      "this store was written by a newer Outpost (schema " + std::to_string(v) +
                          "); install the newer version to open it");
    while (v < target) {
        Transaction tx(s.db);
        switch (v + 1) {
            case 1:
                s.db.exec(kSchemaV1);
                break;
            case 2:
                s.db.exec(kSchemaV2);
                break;
            case 3: {
                // search_doc, then a full rebuild of the search index and the facts from the sealed
                // payloads (the rebuild needs the key, so migrations run after the key check).
                s.db.exec(kSchemaV3);
                s.db.exec("DELETE FROM record_fact;");
                std::vector<
                    std::tuple<std::string, int, std::string, int, std::string, std::string, std::int64_t>>
                    rows;
                {
                    Stmt st(s.db,
                            "SELECT r.id, r.revision, r.form_id, r.form_version, r.unit_id, r.status, "
                            "coalesce(r.local_seq, 0) FROM record r "
                            "WHERE r.revision = (SELECT max(revision) FROM record x WHERE x.id = r.id) "
                            "   OR (r.status = 'final' AND r.revision = (SELECT max(revision) FROM record y "
                            "        WHERE y.id = r.id AND y.status = 'final')) ORDER BY r.id, r.revision");
                    while (st.step())
                        rows.emplace_back(st.text(0), static_cast<int>(st.int64(1)), st.text(2),
                                          static_cast<int>(st.int64(3)), st.text(4), st.text(5), st.int64(6));
                }
                for (const auto& [id, rev, formId, formVersion, unit, status, seq] : rows) {
                    auto form = s.forms->find(formId, formVersion);
                    if (!form) continue;
                    json payload = s.openPayload(id, rev, s.loadBlob(id, rev));
                    // Rows come in revision order per record, so the newest revision's words win.
                    s.indexRecord(id, *form, payload);
                    if (status == core::toText(core::RecordStatus::Final))
                        s.putFacts(id, rev, *form, unit, seq, payload);
                }
                break;
            }
            case 4:
                s.db.exec(kSchemaV4);
                break;
            case 5:
                detail::migrateAuditLog(s);
                break;
            case kAccountsSchemaStep:  // local accounts (store_accounts.cpp)
                detail::migrateAccounts(s.db);
                break;
            case kSealedSchemaStep:  // sealed sensitive sections (store_sealed.cpp)
                detail::migrateSealedParts(s.db);
                break;
            case kRevisionSignatureSchemaStep:  // signatures made at finalize (store_sync.cpp)
                detail::migrateRevisionSignatures(s.db);
                break;
            default:
                throw Failure(ErrorDomain::Internal, ErrorCode::Internal,
                              "no migration to " + std::to_string(v + 1));
        }
        setUserVersion(s.db, v + 1);
        tx.commit();
        ++v;
    }
}

// Exposed for the migration tests: bring a store to exactly `version`.
Result<void> migrateStoreTo(const std::string& dir, const DataKey& key, int version);

// [SECTION] create, unlock, open
void detail::loadForms(Db& db, const core::ReferenceData& ref, core::FormRegistry& reg) {
    Stmt st(db, "SELECT form_id, version, definition FROM form_def ORDER BY form_id, version");
    while (st.step()) {
        auto f = core::parseFormDefText(st.text(2), ref);
        if (!f)
            throw Failure(
                ErrorDomain::Storage, ErrorCode::Corrupt,
                "stored form " + st.text(0) + " v" + std::to_string(st.int64(1)) + ": " + f.error().message);
        reg.add(std::make_shared<const FormDef>(std::move(f).value()));
    }
}

namespace {

using detail::loadForms;

std::string dbPath(const std::string& dir) {
    return (fs::path(dir) / kStoreFileName).string();
}

// Adds built-in form versions this store does not have yet (a software update brings them).
void seedBuiltinForms(Db& db, const core::ReferenceData& ref) {
    Stmt ins(
        db,
        "INSERT OR IGNORE INTO form_def(form_id, version, definition, source) VALUES (?, ?, ?, 'builtin')");
    Stmt has(db, "SELECT 1 FROM form_def WHERE form_id = ? AND version = ?");
    for (auto src : core::builtinFormSources()) {
        // Every open comes here: a version the store holds already is recognised from its id and version,
        // without checking the whole definition again (loadForms does that once, next).
        json head = json::parse(src, nullptr, false);
        if (head.is_object() && head.contains("id") && head["id"].is_string() && head.contains("version") &&
            head["version"].is_number_integer()) {
            has.bind(1, head["id"].get<std::string>()).bind(2, head["version"].get<std::int64_t>());
            bool known = has.step();
            has.reset();
            if (known) continue;
        }
        auto f = core::parseFormDefText(src, ref);
        if (!f) throw Failure(f.error());
        ins.bind(1, f->id).bind(2, f->version).bind(3, f->source.dump()).run();
        ins.reset();
    }
}

Result<void> createImpl(const std::string& dir, const DataKey& key, const std::optional<KeySlot>& slot,
                        const InitOptions& opts) {
    return tryCatch([&] {
        const auto& ref = core::ReferenceData::demo();
        if (opts.unitId.empty() || !ref.row("units", opts.unitId)) {
            std::string known;
            for (const auto& u : ref.table("units"))
                known += (known.empty() ? "" : ", ") + u["id"].get<std::string>();
            throw Failure(badInput("unknown unit '" + opts.unitId + "'; known units: " + known));
        }
        if (opts.user.empty() || opts.user.size() > 64 || !core::isValidUtf8(opts.user))
            throw Failure(badInput("the user name must be 1 to 64 characters of valid text"));
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec)
            throw Failure(ErrorDomain::Storage, ErrorCode::Io,
                          "cannot create the folder " + dir + ": " + ec.message());
        ::chmod(dir.c_str(), 0700);
        if (fs::exists(dbPath(dir)))
            throw Failure(conflict("a store already exists in " + dir + "; nothing was changed"));
        Db db(dbPath(dir), true);
        configure(db);
        Store::Impl tmp(dir, std::move(db), key, {});
        core::FormRegistry reg;
        tmp.forms = &reg;
        tmp.ref = &ref;
        migrate(tmp, 1);
        Transaction tx(tmp.db);
        Stmt rd(tmp.db, "INSERT INTO reference_data(id, document, source) VALUES (1, ?, 'builtin-demo')");
        rd.bind(1, ref.doc().dump()).run();
        seedBuiltinForms(tmp.db, ref);
        Stmt meta(tmp.db, "INSERT INTO meta(key, value) VALUES (?, ?)");
        auto now = core::nowTimestamp();
        for (auto [k, v] :
             std::initializer_list<std::pair<const char*, std::string>>{{"unit_id", opts.unitId},
                                                                        {"user", opts.user},
                                                                        {"created_utc", now.utc},
                                                                        {"store_id", core::newUuidV7()}}) {
            meta.bind(1, k).bind(2, v).run();
            meta.reset();
        }
        Stmt kc(tmp.db, "INSERT INTO meta(key, value) VALUES ('key_check', ?)");
        kc.bindBlob(1, tmp.codec.seal(kKeyCheckPlain, "key_check")).run();
        if (slot) {
            Stmt ks(tmp.db,
                    "INSERT INTO key_slot(id, salt, ops_limit, mem_limit, wrapped, created_utc) VALUES "
                    "(?,?,?,?,?,?)");
            ks.bind(1, slot->id).bindBlob(2, slot->salt).bind(3, static_cast<std::int64_t>(slot->opsLimit));
            ks.bind(4, static_cast<std::int64_t>(slot->memLimit))
                .bindBlob(5, slot->wrapped)
                .bind(6, now.utc)
                .run();
        }
        tx.commit();
        core::FormRegistry reg2;
        loadForms(tmp.db, ref, reg2);
        tmp.forms = &reg2;
        migrate(tmp, kSchemaVersion);
        if (opts.role != core::Role::Commander) {
            Stmt role(tmp.db, "UPDATE account SET role = ? WHERE name = ?");
            role.bind(1, std::string(core::roleName(opts.role))).bind(2, opts.user).run();
        }
        syncFolder(dir);
    });
}

}  // namespace

Result<void> Store::create(const std::string& dir, std::string_view passphrase, const InitOptions& opts) {
    auto r = tryCatch([&] {
        DataKey key = DataKey::random();
        KeySlot slot = wrapKey(key, passphrase, "passphrase:" + opts.user, opts.kdf);
        return std::make_pair(key, slot);
    });
    if (!r) return r.error();
    return createImpl(dir, r->first, r->second, opts);
}

Result<void> Store::createWithKey(const std::string& dir, const DataKey& key, const InitOptions& opts) {
    return createImpl(dir, key, std::nullopt, opts);
}

Result<DataKey> Store::unlock(const std::string& dir, std::string_view passphrase, const StoreOptions& o) {
    return tryCatch([&]() -> DataKey {
        if (!fs::exists(dbPath(dir)))
            throw Failure(notFound("no Outpost store in " + dir + " (run 'outpostctl init' first)"));
        Db db(dbPath(dir), false, true, o.vfs);
        const std::vector<KeySlot> slots = detail::passphraseSlots(db);
        if (slots.empty())
            throw Failure(ErrorDomain::Auth, ErrorCode::WrongKey, "this store has no passphrase slot");
        for (const auto& s : slots) {
            try {
                return unwrapKey(s, passphrase);
            } catch (const Failure& f) {
                if (f.error().code != ErrorCode::WrongKey) throw;
            }
        }
        throw Failure(ErrorDomain::Auth, ErrorCode::WrongKey, "wrong passphrase: the store stays locked");
    });
}

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, const DataKey& key,
                                           const StoreOptions& o) {
    return tryCatch([&]() -> std::unique_ptr<Store> {
        if (!fs::exists(dbPath(dir)))
            throw Failure(notFound("no Outpost store in " + dir + " (run 'outpostctl init' first)"));
        Db db(dbPath(dir), false, false, o.vfs);
        configure(db);
        auto impl = std::make_unique<Impl>(dir, std::move(db), key, o);
        {
            Stmt kc(impl->db, "SELECT value FROM meta WHERE key = 'key_check'");
            if (!kc.step())
                throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "the store has no key check");
            try {
                impl->codec.open(kc.blob(0), "key_check");
            } catch (const Failure&) {
                throw Failure(ErrorDomain::Auth, ErrorCode::WrongKey,
                              "wrong key: this store was sealed with another key");
            }
        }
        std::unique_ptr<Store> store(new Store(std::move(impl)));
        Impl& s = *store->m_impl;
        {
            Stmt rd(s.db, "SELECT document FROM reference_data WHERE id = 1");
            if (!rd.step())
                throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "the store has no reference data");
            store->m_ref = core::ReferenceData::fromText(rd.text(0)).value();
        }
        if (userVersion(s.db) >= 1) {
            Transaction tx(s.db);
            seedBuiltinForms(s.db, store->m_ref);
            tx.commit();
        }
        loadForms(s.db, store->m_ref, store->m_forms);
        s.forms = &store->m_forms;
        s.ref = &store->m_ref;
        migrate(s, kSchemaVersion);
        store->m_unit = s.metaText("unit_id");
        store->m_account = detail::loadSignedInAccount(s.db, o.account);
        store->m_user = store->m_account.name;
        const fs::path backups = fs::path(dir) / "backups";
        if (o.removeBackupLeftovers) {
            BackupsFolderLock lock(backups);
            removeBackupLeftovers(backups, lock);
        }
        if (o.autoBackup) {
            // Only finished backups count: what an interrupted one left is no backup.
            bool due = true;
            std::error_code ec;
            for (const auto& e : fs::directory_iterator(backups, ec)) {
                if (!isFinishedBackup(e.path())) continue;
                std::error_code tec;
                auto written = e.last_write_time(tec);
                if (!tec && fs::file_time_type::clock::now() - written < std::chrono::hours(24)) due = false;
            }
            if (due) store->backup().value();
        }
        return store;
    });
}

Store::Store(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Store::~Store() = default;

Result<void> migrateStoreTo(const std::string& dir, const DataKey& key, int version) {
    return tryCatch([&] {
        Db db(dbPath(dir), false);
        configure(db);
        Store::Impl s(dir, std::move(db), key, {});
        const auto& ref = core::ReferenceData::demo();
        core::FormRegistry reg = core::builtinForms(ref);
        s.forms = &reg;
        s.ref = &ref;
        migrate(s, version);
    });
}

StoreInfo Store::info() {
    StoreInfo i;
    i.dir = m_impl->dir;
    i.unitId = m_unit;
    i.user = m_user;
    auto r = tryCatch([&] {
        i.schemaVersion = userVersion(m_impl->db);
        Stmt st(m_impl->db,
                "SELECT count(*), coalesce(sum(status = 'draft'), 0), coalesce(sum(status = 'final'), 0), "
                "(SELECT count(*) FROM outbox) FROM record");
        st.step();
        i.records = st.int64(0);
        i.drafts = st.int64(1);
        i.finals = st.int64(2);
        i.outbox = st.int64(3);
    });
    (void)r;
    return i;
}

// [SECTION] records: drafts, finalize, amend
namespace {

std::shared_ptr<const FormDef> requireForm(const core::FormRegistry& reg, const std::string& id,
                                           int version = 0) {
    auto f = version ? reg.find(id, version) : reg.latest(id);
    if (!f) {
        std::string known;
        for (const auto& x : reg.latestAll()) known += (known.empty() ? "" : ", ") + x->id;
        throw Failure(notFound("unknown form '" + id + "'" + (version ? " v" + std::to_string(version) : "") +
                               "; known forms: " + known));
    }
    return f;
}

[[noreturn]] void throwInvalid(const std::string& what, const core::ValidationResult& v) {
    std::string msg =
        what + " (" + std::to_string(v.errorCount()) + " problem" + (v.errorCount() == 1 ? "" : "s") + "):\n";
    for (const auto& i : v.issues)
        if (!i.warning) msg += "  " + i.text() + "\n";
    if (!msg.empty() && msg.back() == '\n') msg.pop_back();
    throw Failure(ErrorDomain::Validation, ErrorCode::Invalid, msg);
}

std::string unitOf(const FormDef& form, const json& payload, const std::string& fallback) {
    if (!form.unitField.empty()) {
        auto it = payload.find(form.unitField);
        if (it != payload.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) return *it;
    }
    return fallback;
}

}  // namespace

Result<Saved> Store::createDraft(const std::string& formId, const json& payloadIn,
                                 const std::string& author) {
    return tryCatch([&]() -> Saved {
        auto form = requireForm(m_forms, formId);
        requireRight(form->id, core::FormAction::Create);
        json payload = withHiddenValues(form->id, form->version, payloadIn, json());
        if (payload.is_object() && !form->unitField.empty() && !payload.contains(form->unitField) &&
            !m_unit.empty())
            payload[form->unitField] = m_unit;
        auto v =
            core::validateRecord(*form, core::stripComputed(*form, payload), ValidationMode::Draft, m_ref);
        core::checkOwnUnit(*form, m_unit, ValidationMode::Draft, v);
        if (!v.ok()) throwInvalid("the draft was not saved", v);
        Impl& s = *m_impl;
        std::string id = core::newUuidV7();
        auto now = core::nowTimestamp();
        std::string unit = unitOf(*form, v.normalized, m_unit);
        Transaction tx(s.db);
        Stmt st(s.db, kInsertFirstRevision);
        st.bind(1, id)
            .bind(2, form->id)
            .bind(3, form->version)
            .bind(4, unit)
            .bind(5, author.empty() ? m_user : author);
        st.bind(6, now.utc).bind(7, now.offsetMinutes).bind(8, now.utc);
        st.bindBlob(9, s.codec.seal(v.normalized.dump(), payloadAd(id, 1))).run();
        s.indexRecord(id, *form, v.normalized, true);
        s.appendAudit(m_user, "create", detail::revisionSubject(id, 1), {{"form", form->id}});
        tx.commit();
        return Saved{*s.latestMeta(id), std::move(v)};
    });
}

Result<Saved> Store::saveDraft(const std::string& id, const json& payloadIn) {
    return tryCatch([&]() -> Saved {
        Impl& s = *m_impl;
        auto meta = s.latestMeta(id);
        if (!meta) throw Failure(notFound("no record with id " + id));
        if (meta->status != core::RecordStatus::Draft)
            throw Failure(conflict("record " + id + " r" + std::to_string(meta->revision) +
                                   " is final and cannot be edited; use amend to start a new revision"));
        auto form = requireForm(m_forms, meta->formId, meta->formVersion);
        requireRight(form->id, core::FormAction::Create);
        const json payload =
            hidesSensitive(form->id)
                ? withHiddenValues(form->id, form->version, payloadIn,
                                   s.openPayload(id, meta->revision, s.loadBlob(id, meta->revision)))
                : payloadIn;
        auto v =
            core::validateRecord(*form, core::stripComputed(*form, payload), ValidationMode::Draft, m_ref);
        core::checkOwnUnit(*form, m_unit, ValidationMode::Draft, v);
        if (!v.ok()) throwInvalid("the draft was not saved", v);
        auto now = core::nowTimestamp();
        Transaction tx(s.db);
        Stmt st(s.db,
                "UPDATE record SET payload = ?, unit_id = ?, updated_utc = ? WHERE id = ? AND revision = ?");
        st.bindBlob(1, s.codec.seal(v.normalized.dump(), payloadAd(id, meta->revision)));
        st.bind(2, unitOf(*form, v.normalized, meta->unitId))
            .bind(3, now.utc)
            .bind(4, id)
            .bind(5, meta->revision)
            .run();
        s.indexRecord(id, *form, v.normalized);
        tx.commit();
        return Saved{*s.latestMeta(id), std::move(v)};
    });
}

namespace {

// The finalize write, shared by finalize() and importFinal(); runs inside the caller's transaction.
// fresh: the record was created in this transaction and never indexed (importFinal).
// Returns where the sensitive section went: "", "sealed" or "waiting" (for HQ's conduct keys).
std::string finalizeInTx(Store::Impl& s, const FormDef& form, const RecordMeta& meta, json normalized,
                         bool fresh = false) {
    auto now = core::nowTimestamp();
    // The sensitive section leaves the payload here: the final revision keeps only what the unit needs.
    std::string sealed = detail::sealOnFinalize(s, form, meta.id, meta.revision, normalized);
    std::int64_t seq = 0;
    {
        // The WHERE lets max() read the end of the partial index record_by_seq instead of scanning every row.
        Stmt q(s.db, "SELECT coalesce(max(local_seq), 0) + 1 FROM record WHERE local_seq IS NOT NULL");
        q.step();
        seq = q.int64(0);
    }
    Stmt up(
        s.db,
        "UPDATE record SET status = 'final', payload = ?, finalized_utc = ?, updated_utc = ?, local_seq = ? "
        "WHERE id = ? AND revision = ? AND status = 'draft'");
    const std::string payloadText = normalized.dump();
    up.bindBlob(1, s.codec.seal(payloadText, payloadAd(meta.id, meta.revision)));
    up.bind(2, now.utc).bind(3, now.utc).bind(4, seq).bind(5, meta.id).bind(6, meta.revision).run();
    if (s.db.changes() != 1)
        throw Failure(conflict("record " + meta.id + " changed while it was being finalized"));
    Stmt ob(s.db, "INSERT INTO outbox(record_id, revision, priority, enqueued_utc) VALUES (?, ?, ?, ?)");
    ob.bind(1, meta.id).bind(2, meta.revision).bind(3, form.syncPriority).bind(4, now.utc).run();
    // The device vouches for the revision now, as its author finalizes it (when the laptop is enrolled).
    detail::signQueuedRevision(s, meta.id, meta.revision, payloadText);
    s.indexRecord(meta.id, form, normalized, fresh);
    s.putFacts(meta.id, meta.revision, form, meta.unitId, seq, normalized);
    return sealed;
}

}  // namespace

Result<Saved> Store::finalize(const std::string& id) {
    return tryCatch([&]() -> Saved {
        Impl& s = *m_impl;
        auto meta = s.latestMeta(id);
        if (!meta) throw Failure(notFound("no record with id " + id));
        if (meta->status != core::RecordStatus::Draft)
            throw Failure(
                conflict("record " + id + " r" + std::to_string(meta->revision) + " is already final"));
        requireRight(meta->formId, core::FormAction::Finalize);
        auto form = requireForm(m_forms, meta->formId, meta->formVersion);
        json payload = s.openPayload(id, meta->revision, s.loadBlob(id, meta->revision));
        // An amendment of a record whose sensitive section went to HQ sealed need not repeat it: left empty,
        // HQ keeps the sealed one; filled in, it is sealed again with this revision.
        const FormDef* rules = form.get();
        FormDef sealedRules;
        if (meta->revision > 1 && form->hasSensitiveFields() &&
            core::sensitivePathsWithValues(*form, payload).empty() && detail::hasSealedPart(s, id)) {
            sealedRules = core::withSealedSection(*form);
            rules = &sealedRules;
        }
        auto v =
            core::validateRecord(*rules, core::stripComputed(*form, payload), ValidationMode::Final, m_ref);
        core::checkOwnUnit(*form, m_unit, ValidationMode::Final, v);
        if (!v.ok()) throwInvalid("the record cannot be finalized", v);
        Transaction tx(s.db);
        std::string sealed = finalizeInTx(s, *form, *meta, v.normalized);
        json detail = {{"form", form->id}};
        if (!sealed.empty()) detail["sensitive_section"] = sealed;
        s.appendAudit(m_user, "finalize", detail::revisionSubject(id, meta->revision), detail);
        tx.commit();
        return Saved{*s.latestMeta(id), std::move(v)};
    });
}

Result<Saved> Store::amend(const std::string& id) {
    return tryCatch([&]() -> Saved {
        Impl& s = *m_impl;
        auto meta = s.latestMeta(id);
        if (!meta) throw Failure(notFound("no record with id " + id));
        if (meta->status == core::RecordStatus::Draft)
            throw Failure(conflict("record " + id + " already has a draft revision r" +
                                   std::to_string(meta->revision) + "; edit or finalize it"));
        requireRight(meta->formId, core::FormAction::Create);
        auto form = requireForm(m_forms, meta->formId, meta->formVersion);
        json payload = s.openPayload(id, meta->revision, s.loadBlob(id, meta->revision));
        auto v =
            core::validateRecord(*form, core::stripComputed(*form, payload), ValidationMode::Draft, m_ref);
        int rev = meta->revision + 1;
        auto now = core::nowTimestamp();
        Transaction tx(s.db);
        Stmt st(s.db,
                "INSERT INTO record(id, revision, parent_revision, form_id, form_version, unit_id, author, "
                "status, "
                "created_utc, created_offset, updated_utc, payload) VALUES (?, ?, ?, ?, ?, ?, ?, 'draft', ?, "
                "?, ?, ?)");
        st.bind(1, id).bind(2, rev).bind(3, meta->revision).bind(4, meta->formId).bind(5, meta->formVersion);
        st.bind(6, meta->unitId)
            .bind(7, m_user)
            .bind(8, now.utc)
            .bind(9, now.offsetMinutes)
            .bind(10, now.utc);
        st.bindBlob(11, s.codec.seal(v.normalized.dump(), payloadAd(id, rev))).run();
        s.appendAudit(m_user, "amend", detail::revisionSubject(id, rev), {{"parent", meta->revision}});
        tx.commit();
        return Saved{*s.latestMeta(id), std::move(v)};
    });
}

Result<void> Store::discardDraft(const std::string& id) {
    return tryCatch([&] {
        Impl& s = *m_impl;
        auto meta = s.latestMeta(id);
        if (!meta) throw Failure(notFound("no record with id " + id));
        if (meta->status != core::RecordStatus::Draft)
            throw Failure(conflict("record " + id + " has no draft to discard"));
        requireRight(meta->formId, core::FormAction::Create);
        Transaction tx(s.db);
        Stmt del(s.db, "DELETE FROM record WHERE id = ? AND revision = ? AND status = 'draft'");
        del.bind(1, id).bind(2, meta->revision).run();
        if (meta->revision > 1) {
            auto form = requireForm(m_forms, meta->formId, meta->formVersion);
            s.indexRecord(id, *form,
                          s.openPayload(id, meta->revision - 1, s.loadBlob(id, meta->revision - 1)));
        } else {
            s.unindexRecord(id);
        }
        s.appendAudit(m_user, "discard", detail::revisionSubject(id, meta->revision), json::object());
        tx.commit();
    });
}

Result<std::vector<std::string>> Store::importFinal(const std::string& formId,
                                                    const std::vector<json>& payloads,
                                                    const std::string& author) {
    return tryCatch([&]() -> std::vector<std::string> {
        Impl& s = *m_impl;
        auto form = requireForm(m_forms, formId);
        requireRight(form->id, core::FormAction::Create);
        requireRight(form->id, core::FormAction::Finalize);
        std::vector<std::string> ids;
        std::vector<core::ValidationResult> valid;
        for (std::size_t i = 0; i < payloads.size(); ++i) {
            json p = payloads[i];
            if (p.is_object() && !form->unitField.empty() && !p.contains(form->unitField) && !m_unit.empty())
                p[form->unitField] = m_unit;
            auto v = core::validateRecord(*form, core::stripComputed(*form, p), ValidationMode::Final, m_ref);
            core::checkOwnUnit(*form, m_unit, ValidationMode::Final, v);
            if (!v.ok())
                throwInvalid("item " + std::to_string(i) + " cannot be imported; nothing was imported", v);
            valid.push_back(std::move(v));
        }
        auto now = core::nowTimestamp();
        Transaction tx(s.db);
        Stmt st(s.db, kInsertFirstRevision);
        for (const auto& v : valid) {
            RecordMeta m;
            m.id = core::newUuidV7();
            m.revision = 1;
            m.unitId = unitOf(*form, v.normalized, m_unit);
            st.bind(1, m.id).bind(2, form->id).bind(3, form->version).bind(4, m.unitId);
            st.bind(5, author.empty() ? m_user : author)
                .bind(6, now.utc)
                .bind(7, now.offsetMinutes)
                .bind(8, now.utc);
            st.bindBlob(9, s.codec.seal("{}", payloadAd(m.id, 1))).run();
            st.reset();
            finalizeInTx(s, *form, m, v.normalized, true);
            ids.push_back(m.id);
        }
        s.appendAudit(m_user, "import", form->id, {{"finalized", ids.size()}});
        tx.commit();
        return ids;
    });
}

std::optional<FormDef> Store::Impl::putForm(const json& definition, const core::ReferenceData& withRef,
                                            const std::string& source) {
    auto f = core::parseFormDef(definition, withRef);
    if (!f) throw Failure(f.error());
    Stmt q(db, "SELECT definition FROM form_def WHERE form_id = ? AND version = ?");
    q.bind(1, f->id).bind(2, f->version);
    if (q.step()) {
        if (json::parse(q.text(0), nullptr, false) == f->source) return std::nullopt;
        throw Failure(conflict("form " + f->id + " v" + std::to_string(f->version) +
                               " already exists with a different definition; publish it as a new version"));
    }
    Stmt ins(db, "INSERT INTO form_def(form_id, version, definition, source) VALUES (?, ?, ?, ?)");
    ins.bind(1, f->id).bind(2, f->version).bind(3, f->source.dump()).bind(4, source).run();
    return std::move(f).value();
}

Result<void> Store::installForm(const json& definition, const std::string& source) {
    return tryCatch([&] {
        Transaction tx(m_impl->db);
        auto added = m_impl->putForm(definition, m_ref, source);
        if (added)
            m_impl->appendAudit(m_user, "form install", added->id + " v" + std::to_string(added->version),
                                {{"source", source}});
        tx.commit();
        if (added) m_forms.add(std::make_shared<const FormDef>(std::move(*added)));
    });
}

// [SECTION] reading: get, history, list, search
Result<Record> Store::get(const std::string& id, std::optional<int> revision) {
    return tryCatch([&]() -> Record {
        Impl& s = *m_impl;
        std::string sql = std::string("SELECT ") + Impl::kMetaColumns +
                          ", r.payload FROM record r WHERE r.id = ? " +
                          (revision ? "AND r.revision = ?" : "ORDER BY r.revision DESC LIMIT 1");
        Stmt st(s.db, sql.c_str());
        st.bind(1, id);
        if (revision) st.bind(2, *revision);
        if (!st.step())
            throw Failure(notFound("no record with id " + id +
                                   (revision ? " and revision " + std::to_string(*revision) : "")));
        Record r;
        r.meta = Impl::readMeta(st);
        requireRight(r.meta.formId, core::FormAction::Read);
        r.payload = visiblePayload(r.meta.formId, r.meta.formVersion,
                                   s.openPayload(r.meta.id, r.meta.revision, st.blob(14)));
        return r;
    });
}

Result<std::vector<RecordMeta>> Store::history(const std::string& id) {
    return tryCatch([&]() -> std::vector<RecordMeta> {
        std::string sql =
            std::string("SELECT ") + Impl::kMetaColumns + " FROM record r WHERE r.id = ? ORDER BY r.revision";
        Stmt st(m_impl->db, sql.c_str());
        st.bind(1, id);
        std::vector<RecordMeta> out;
        while (st.step()) out.push_back(Impl::readMeta(st));
        if (out.empty()) throw Failure(notFound("no record with id " + id));
        requireRight(out.front().formId, core::FormAction::Read);
        return out;
    });
}

namespace {
// latestOnly picks each record's newest revision; with a status it picks the newest of that status
// (so the final list still shows a report whose amendment is being drafted).
std::string filterSql(const ListFilter& f) {
    // Only the forms the signed-in role may read (a JSON array bound as :readable).
    std::string w = " WHERE r.form_id IN (SELECT value FROM json_each(:readable))";
    if (f.latestOnly)
        w += std::string(" AND r.revision = (SELECT max(x.revision) FROM record x WHERE x.id = r.id") +
             (!f.status ? ")" : " AND x.status = :status)");
    if (!f.formId.empty()) w += " AND r.form_id = :form";
    if (!f.unitId.empty()) w += " AND r.unit_id = :unit";
    if (f.status) w += " AND r.status = :status";
    return w;
}
void bindFilter(Stmt& st, const ListFilter& f, const std::string& readable) {
    st.bind(st.paramIndex(":readable"), readable);
    if (!f.formId.empty()) st.bind(st.paramIndex(":form"), f.formId);
    if (!f.unitId.empty()) st.bind(st.paramIndex(":unit"), f.unitId);
    if (f.status) st.bind(st.paramIndex(":status"), core::toText(*f.status));
}
}  // namespace

Result<std::vector<RecordMeta>> Store::list(const ListFilter& f) {
    return tryCatch([&]() -> std::vector<RecordMeta> {
        if (f.status && !core::isKnown(*f.status))
            throw Failure(badInput("unknown status " + std::to_string(static_cast<int>(*f.status)) +
                                   " (draft or final)"));
        // Newest first: by id (UUIDv7 carries creation order), never by a clock the user can change.
        std::string sql =
            std::string("SELECT ") + Impl::kMetaColumns + " FROM record r" + filterSql(f) +
            (f.oldestFirst ? " ORDER BY r.id ASC, r.revision ASC" : " ORDER BY r.id DESC, r.revision DESC") +
            " LIMIT " + std::to_string(std::max(0, f.limit)) + " OFFSET " +
            std::to_string(std::max(0, f.offset));
        Stmt st(m_impl->db, sql.c_str());
        bindFilter(st, f, readableFormsJson());
        std::vector<RecordMeta> out;
        while (st.step()) out.push_back(Impl::readMeta(st));
        return out;
    });
}

Result<std::int64_t> Store::count(const ListFilter& f) {
    return tryCatch([&]() -> std::int64_t {
        std::string sql = "SELECT count(*) FROM record r" + filterSql(f);
        Stmt st(m_impl->db, sql.c_str());
        bindFilter(st, f, readableFormsJson());
        st.step();
        return st.int64(0);
    });
}

Result<std::vector<RecordMeta>> Store::search(const std::string& text, int limit) {
    return tryCatch([&]() -> std::vector<RecordMeta> {
        if (!core::isValidUtf8(text)) throw Failure(badInput("the search text is not valid UTF-8"));
        if (text.size() > 1000) throw Failure(badInput("the search text is longer than 1000 bytes"));
        auto words = core::searchTokens(text);
        if (words.empty())
            throw Failure(badInput("the search needs at least one word of two letters or more"));
        Impl& s = *m_impl;
        std::string match;
        for (const auto& w : words) {
            std::size_t n = core::codePointCount(w);
            std::string term =
                n < 3 ? "\"" + s.codec.searchToken("w:" + w) + "\""
                      : "\"" + s.codec.searchToken("p:" + utf8Prefix(w, kMaxSearchPrefix)) + "\"";
            if (n > kMaxSearchPrefix) term += " AND \"" + s.codec.searchToken("w:" + w) + "\"";
            match += (match.empty() ? "" : " AND ") + term;
        }
        std::string sql = std::string("SELECT ") + Impl::kMetaColumns +
                          " FROM search_fts f JOIN record r ON r.id = f.record_id "
                          "AND r.revision = (SELECT max(x.revision) FROM record x WHERE x.id = r.id) "
                          "WHERE search_fts MATCH ? AND r.form_id IN (SELECT value FROM json_each(?)) "
                          "ORDER BY r.id DESC LIMIT ?";
        Stmt st(s.db, sql.c_str());
        st.bind(1, match).bind(2, readableFormsJson()).bind(3, std::max(1, limit));
        std::vector<RecordMeta> out;
        while (st.step()) out.push_back(Impl::readMeta(st));
        return out;
    });
}

// [SECTION] derived figures
namespace {
std::vector<core::FactRow> loadFacts(Store::Impl& s, const std::string& formId, const std::string& unit) {
    std::string sql =
        "SELECT record_id, form_id, unit_id, local_seq, facts FROM record_fact WHERE form_id = ?";
    if (!unit.empty()) sql += " AND unit_id = ?";
    Stmt st(s.db, sql.c_str());
    st.bind(1, formId);
    if (!unit.empty()) st.bind(2, unit);
    std::vector<core::FactRow> out;
    while (st.step()) {
        core::FactRow r;
        r.recordId = st.text(0);
        r.formId = st.text(1);
        r.unitId = st.text(2);
        r.order = st.int64(3);
        r.facts = json::parse(s.codec.open(st.blob(4), factAd(r.recordId)));
        out.push_back(std::move(r));
    }
    return out;
}
}  // namespace

Result<std::vector<core::GapCell>> Store::trainingGaps(const std::vector<std::string>& units,
                                                       std::string_view today) {
    return tryCatch([&]() -> std::vector<core::GapCell> {
        for (const auto& u : units)
            if (!m_ref.row("units", u)) throw Failure(notFound("unknown unit '" + u + "'"));
        std::vector<core::FactRow> facts;
        if (units.size() == 1)
            facts = loadFacts(*m_impl, "training", units[0]);
        else
            facts = loadFacts(*m_impl, "training", "");
        std::string t = today.empty() ? core::todayUtc() : std::string(today);
        return core::computeTrainingGaps(m_ref, units, facts, t);
    });
}

Result<core::ReadinessSummary> Store::readiness(const std::string& unitId) {
    return tryCatch([&]() -> core::ReadinessSummary {
        if (!m_ref.row("units", unitId)) throw Failure(notFound("unknown unit '" + unitId + "'"));
        return core::summarizeReadiness(m_ref, unitId, loadFacts(*m_impl, "readiness", unitId));
    });
}

// [SECTION] outbox, verify, backup
namespace {

constexpr const char* kHeldReason =
    "held on this laptop: its confidential section waits for HQ's conduct-and-discipline keys, which HQ "
    "has not published yet (an HQ officer runs 'outpost-hq conduct-key add'); it goes with the first sync "
    "after they arrive";

}  // namespace

Result<std::vector<OutboxItem>> Store::outbox() {
    return tryCatch([&]() -> std::vector<OutboxItem> {
        Stmt st(m_impl->db,
                "SELECT o.seq, o.record_id, o.revision, r.form_id, o.priority, o.enqueued_utc, o.attempts, "
                "CASE WHEN o.state = 'queued' AND p.state = 'waiting' THEN 'held' ELSE o.state END, "
                "coalesce(o.last_error, '') FROM outbox o "
                "JOIN record r ON r.id = o.record_id AND r.revision = o.revision "
                "LEFT JOIN sealed_part p ON p.record_id = o.record_id AND p.revision = o.revision "
                "ORDER BY o.state = 'quarantined', o.priority DESC, o.seq");
        std::vector<OutboxItem> out;
        while (st.step()) {
            OutboxItem i;
            i.seq = st.int64(0);
            i.recordId = st.text(1);
            i.revision = static_cast<int>(st.int64(2));
            i.formId = st.text(3);
            i.priority = static_cast<int>(st.int64(4));
            i.enqueuedUtc = st.text(5);
            i.attempts = static_cast<int>(st.int64(6));
            i.state =
                core::requireText<core::OutboxState>(st.text(7), ErrorDomain::Storage, ErrorCode::Corrupt);
            i.lastError = st.text(8);
            if (i.state == core::OutboxState::Held) i.heldReason = kHeldReason;
            out.push_back(std::move(i));
        }
        return out;
    });
}

Result<std::int64_t> Store::draftCount() {
    return tryCatch([&]() -> std::int64_t {
        Stmt st(m_impl->db, "SELECT count(*) FROM record WHERE status = 'draft'");
        st.step();
        return st.int64(0);
    });
}

Result<Store::OutboxCounts> Store::outboxCounts() {
    return tryCatch([&]() -> OutboxCounts {
        OutboxCounts c;
        Stmt st(m_impl->db, "SELECT state, count(*) FROM outbox GROUP BY state");
        while (st.step())
            (core::requireText<core::OutboxState>(st.text(0), ErrorDomain::Storage, ErrorCode::Corrupt) ==
                     core::OutboxState::Quarantined
                 ? c.quarantined
                 : c.queued) = st.int64(1);
        Stmt h(m_impl->db,
               "SELECT count(*) FROM outbox o JOIN sealed_part p ON p.record_id = o.record_id AND "
               "p.revision = o.revision WHERE o.state = 'queued' AND p.state = 'waiting'");
        h.step();
        c.held = h.int64(0);
        return c;
    });
}

Result<std::vector<std::string>> Store::verify() {
    return tryCatch([&]() -> std::vector<std::string> {
        Impl& s = *m_impl;
        std::vector<std::string> problems;
        {
            Stmt st(s.db, "PRAGMA integrity_check");
            while (st.step())
                if (st.text(0) != "ok") problems.push_back("integrity_check: " + st.text(0));
        }
        {
            Stmt st(s.db, "PRAGMA foreign_key_check");
            while (st.step())
                problems.push_back("foreign_key_check: table " + st.text(0) + " row " + st.text(1));
        }
        {
            Stmt st(
                s.db,
                "SELECT r.id, r.revision, r.form_id, r.form_version, r.status, r.payload, "
                "EXISTS (SELECT 1 FROM outbox o WHERE o.record_id = r.id AND o.revision = r.revision) "
                "OR EXISTS (SELECT 1 FROM receipt c WHERE c.record_id = r.id AND c.revision = r.revision) "
                "FROM record r");
            while (st.step()) {
                std::string id = st.text(0);
                int rev = static_cast<int>(st.int64(1));
                std::string where = "record " + id + " r" + std::to_string(rev);
                try {
                    json p = s.openPayload(id, rev, st.blob(5));
                    auto form = m_forms.find(st.text(2), static_cast<int>(st.int64(3)));
                    if (!form) {
                        problems.push_back(where + ": unknown form " + st.text(2));
                        continue;
                    }
                    if (st.text(4) == "final") {
                        // A final revision's sensitive section left it at finalize (sealed for HQ).
                        auto v = core::validateRecord(
                            form->hasSensitiveFields() ? core::withSealedSection(*form) : *form,
                            core::stripComputed(*form, p), ValidationMode::Final, m_ref);
                        if (!v.ok())
                            problems.push_back(where + ": final revision does not validate: " + v.text());
                        if (st.int64(6) == 0)
                            problems.push_back(
                                where +
                                ": final revision is neither in the outbox nor acknowledged by "
                                "HQ (no receipt)");
                    }
                } catch (const Failure& f) {
                    problems.push_back(where + ": " + f.error().message);
                }
            }
        }
        const fs::path backups = fs::path(s.dir) / "backups";
        BackupsFolderLock lock(backups);
        for (const auto& p : backupLeftovers(backups, lock)) {
            std::error_code ec;
            const auto size = fs::file_size(p, ec);
            problems.push_back("backups/" + p.filename().string() +
                               (ec ? std::string() : " (" + std::to_string(size) + " bytes)") +
                               ": left by a backup that was interrupted; it is no backup (never restore from "
                               "it), and the next backup or opening of the store removes it");
        }
        return problems;
    });
}

Result<std::string> Store::backup() {
    return tryCatch([&]() -> std::string {
        Impl& s = *m_impl;
        fs::path dir = fs::path(s.dir) / "backups";
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec)
            throw Failure(ErrorDomain::Storage, ErrorCode::Io,
                          "cannot create " + dir.string() + ": " + ec.message());
        std::string stamp = core::nowTimestamp().utc;
        stamp.erase(std::remove_if(stamp.begin(), stamp.end(),
                                   [](char c) { return c == '-' || c == ':' || c == '.'; }),
                    stamp.end());
        fs::path target = dir / ("outpost-" + stamp + ".db");
        fs::path partial = target;
        partial += ".partial";
        // What a killed backup left goes first; then this one's files are kept from the same fate while
        // it writes them (released when it returns, after the cleanup below).
        BackupsFolderLock lock(dir);
        removeBackupLeftovers(dir, lock);
        lock.shared();
        // Any failure below, however late, removes the half-made copy (and its journal or WAL), so an error
        // never leaves a file behind for someone to restore from. Runs after `out` below has closed.
        struct PartialCleanup {
            fs::path path;
            bool keep = false;
            ~PartialCleanup() {
                std::error_code e;
                if (!keep)
                    for (const char* suffix : {"", "-journal", "-wal", "-shm"})
                        fs::remove(path.string() + suffix, e);
            }
        } cleanup{partial};
        {
            Db out(partial.string(), true, false, s.options.vfs);
            sqlite3_backup* b = sqlite3_backup_init(out.handle(), "main", s.db.handle(), "main");
            if (!b) out.fail(sqlite3_errcode(out.handle()), "starting the backup");
            int rc = sqlite3_backup_step(b, -1);
            sqlite3_backup_finish(b);
            if (rc != SQLITE_DONE) throw SqliteError(rc, "writing the backup");
            // The copy is a plain rollback-journal database: one file, easy to carry.
            out.exec("PRAGMA journal_mode = DELETE");
        }
        int fd = ::open(partial.c_str(), O_RDONLY);
        bool synced = fd >= 0 && ::fsync(fd) == 0;
        int syncErrno = errno;
        if (fd >= 0) ::close(fd);
        if (!synced)
            throw Failure(ErrorDomain::Storage, ErrorCode::Io,
                          "the disk reported an I/O error while flushing the backup: no backup was made - " +
                              std::string(std::strerror(syncErrno)));
        fs::rename(partial, target, ec);
        if (ec)
            throw Failure(ErrorDomain::Storage, ErrorCode::Io, "cannot finish the backup: " + ec.message());
        cleanup.keep = true;
        syncFolder(dir.string());
        std::vector<fs::path> all;
        for (const auto& e : fs::directory_iterator(dir, ec))
            if (isFinishedBackup(e.path())) all.push_back(e.path());
        std::sort(all.begin(), all.end());
        int keep = std::max(1, s.options.keepBackups);
        for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < all.size(); ++i) fs::remove(all[i], ec);
        return target.string();
    });
}

std::string defaultStoreDir() {
    if (const char* e = std::getenv("OUTPOST_STORE"); e && *e) return e;
    if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return (fs::path(x) / "outpost").string();
    if (const char* h = std::getenv("HOME"); h && *h)
        return (fs::path(h) / ".local" / "share" / "outpost").string();
    return "outpost-store";
}

}  // namespace outpost::storage
