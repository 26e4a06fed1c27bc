// Local accounts on the field store: the account table and its migration, sign-in with the
// failed-passphrase delay, account management, role checks at the store boundary, and the laptop's
// half of passphrase recovery through HQ.
//
// [SECTION] helpers and the migration
// [SECTION] sign-in and the failure delay
// [SECTION] account management
// [SECTION] role checks
// [SECTION] recovery
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/formats.hpp"
#include "core/sensitive.hpp"
#include "core/time.hpp"
#include "storage/durable_file.hpp"
#include "storage/recovery.hpp"
#include "storage/store_impl.hpp"

namespace outpost::storage {

namespace fs = std::filesystem;
using detail::badInput;

// [SECTION] helpers and the migration
namespace {

constexpr const char* kRecoverySlot = "recovery";
constexpr const char* kPendingRecoveryFile = "recovery-pending.key";

std::string slotId(const std::string& account) {
    return "passphrase:" + account;
}

std::string dbFile(const std::string& dir) {
    return (fs::path(dir) / kStoreFileName).string();
}

Error forbidden(std::string m) {
    return Error{ErrorDomain::Auth, ErrorCode::Forbidden, std::move(m)};
}

Error wrongPassphrase(std::int64_t wait) {
    return Error{
        ErrorDomain::Auth, ErrorCode::WrongKey,
        "wrong passphrase: the store stays locked" +
            (wait > 0 ? "; the next try is possible in " + std::to_string(wait) + " s" : std::string())};
}

bool tableExists(Db& db, const char* name) {
    Stmt st(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
    st.bind(1, name);
    return st.step();
}

Account readAccount(const Stmt& st) {
    Account a;
    a.name = st.text(0);
    a.displayName = st.text(1);
    a.role = core::parseRole(st.text(2)).value_or(core::Role::Clerk);
    a.createdUtc = st.text(3);
    a.disabled = st.int64(4) != 0;
    return a;
}

constexpr const char* kAccountColumns = "name, display_name, role, created_utc, disabled";

std::vector<Account> readAccounts(Db& db) {
    std::vector<Account> out;
    if (!tableExists(db, "account")) {
        // A store from before accounts: its one user, who becomes a commander when it is opened.
        Stmt st(db, "SELECT value FROM meta WHERE key = 'user'");
        if (st.step()) out.push_back(Account{st.text(0), st.text(0), core::Role::Commander, "", false});
        return out;
    }
    Stmt st(db, (std::string("SELECT ") + kAccountColumns + " FROM account ORDER BY name").c_str());
    while (st.step()) out.push_back(readAccount(st));
    return out;
}

std::optional<Account> findAccount(Db& db, const std::string& name) {
    for (auto& a : readAccounts(db))
        if (a.name == name) return a;
    return std::nullopt;
}

std::vector<KeySlot> readPassphraseSlots(Db& db) {
    Stmt st(db,
            "SELECT id, salt, ops_limit, mem_limit, wrapped FROM key_slot WHERE id LIKE 'passphrase:%' ORDER "
            "BY id");
    std::vector<KeySlot> slots;
    while (st.step()) {
        KeySlot s;
        s.id = st.text(0);
        s.salt = st.blob(1);
        s.opsLimit = static_cast<std::uint64_t>(st.int64(2));
        s.memLimit = static_cast<std::uint64_t>(st.int64(3));
        s.wrapped = st.blob(4);
        slots.push_back(std::move(s));
    }
    return slots;
}

void putSlot(Db& db, const KeySlot& slot) {
    Stmt ks(db,
            "INSERT OR REPLACE INTO key_slot(id, salt, ops_limit, mem_limit, wrapped, created_utc) VALUES "
            "(?,?,?,?,?,?)");
    ks.bind(1, slot.id).bindBlob(2, slot.salt).bind(3, static_cast<std::int64_t>(slot.opsLimit));
    ks.bind(4, static_cast<std::int64_t>(slot.memLimit))
        .bindBlob(5, slot.wrapped)
        .bind(6, core::nowTimestamp().utc)
        .run();
}

std::int64_t nowSeconds(const StoreOptions& o) {
    return o.nowForTests ? o.nowForTests : static_cast<std::int64_t>(std::time(nullptr));
}

// The failure count and the time of the last failure, kept in meta (not sealed: they are read before the
// key is known). Missing rows mean no failure.
struct FailureState {
    int failures = 0;
    std::int64_t lastAt = 0;
};

FailureState readFailures(Db& db) {
    FailureState f;
    Stmt a(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'auth_failures'");
    if (a.step()) f.failures = static_cast<int>(a.int64(0));
    Stmt b(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'auth_failure_at'");
    if (b.step()) f.lastAt = b.int64(0);
    return f;
}

void writeFailures(Db& db, const FailureState& f) {
    Stmt st(db, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
    st.bind(1, "auth_failures").bind(2, static_cast<std::int64_t>(f.failures)).run();
    st.reset();
    st.bind(1, "auth_failure_at").bind(2, f.lastAt).run();
}

// Seconds left before the next try. A clock set back before the last failure does not shorten the wait:
// the full delay counts from now.
std::int64_t waitLeft(const FailureState& f, std::int64_t now) {
    std::int64_t delay = failureDelaySeconds(f.failures);
    if (delay == 0) return 0;
    if (now < f.lastAt) return delay;
    return std::max<std::int64_t>(0, f.lastAt + delay - now);
}

Db openDb(const std::string& dir, const StoreOptions& o, bool readOnly) {
    if (!fs::exists(dbFile(dir)))
        throw Failure(detail::notFound("no Outpost store in " + dir + " (run 'outpostctl init' first)"));
    Db db(dbFile(dir), false, readOnly, o.vfs);
    if (!readOnly) db.exec("PRAGMA foreign_keys = ON");
    return db;
}

}  // namespace

std::vector<KeySlot> detail::passphraseSlots(Db& db) {
    return readPassphraseSlots(db);
}

std::int64_t failureDelaySeconds(int failures) {
    if (failures <= 1) return 0;  // one typo costs nothing
    std::int64_t d = kFirstFailureDelaySeconds;
    for (int i = 2; i < failures && d < kMaxFailureDelaySeconds; ++i) d *= 2;
    return std::min(d, kMaxFailureDelaySeconds);
}

bool isValidAccountName(std::string_view name) {
    return core::isAccountName(name);
}

// The whole accounts step of the schema, self-contained: the table, and the store's one user as its first
// account (a commander). Its key slot "passphrase:<user>" is already there.
void detail::migrateAccounts(Db& db) {
    db.exec(R"SQL(
CREATE TABLE account (
  name         TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  role         TEXT NOT NULL CHECK (role IN ('commander', 'training-officer', 'conduct-focal-point', 'clerk')),
  created_utc  TEXT NOT NULL,
  disabled     INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
) STRICT;
INSERT INTO account(name, display_name, role, created_utc)
  SELECT u.value, u.value, 'commander', coalesce((SELECT c.value FROM meta c WHERE c.key = 'created_utc'), '')
  FROM meta u WHERE u.key = 'user';
)SQL");
}

Account detail::loadSignedInAccount(Db& db, const std::string& name) {
    if (!name.empty()) {
        auto a = findAccount(db, name);
        if (!a || a->disabled)
            throw Failure(ErrorDomain::Auth, ErrorCode::WrongKey,
                          "no active account '" + name + "' on this laptop");
        return *a;
    }
    std::string user;
    {
        Stmt st(db, "SELECT value FROM meta WHERE key = 'user'");
        if (st.step()) user = st.text(0);
    }
    auto all = readAccounts(db);
    for (const auto& a : all)
        if (a.name == user && !a.disabled) return a;
    for (const auto& a : all)
        if (a.role == core::Role::Commander && !a.disabled) return a;
    throw Failure(ErrorDomain::Auth, ErrorCode::WrongKey, "this store has no active commander account");
}

// [SECTION] sign-in and the failure delay
Result<std::vector<Account>> Store::listAccounts(const std::string& dir, const StoreOptions& o) {
    return tryCatch([&] {
        Db db = openDb(dir, o, true);
        return readAccounts(db);
    });
}

Result<AuthDelay> Store::authDelay(const std::string& dir, const StoreOptions& o) {
    return tryCatch([&] {
        Db db = openDb(dir, o, true);
        FailureState f = readFailures(db);
        return AuthDelay{f.failures, waitLeft(f, nowSeconds(o))};
    });
}

Result<SignedIn> Store::signIn(const std::string& dir, std::string_view account, std::string_view passphrase,
                               const StoreOptions& o) {
    return tryCatch([&]() -> SignedIn {
        Db db = openDb(dir, o, false);
        db.exec("PRAGMA busy_timeout = 5000");
        const std::int64_t now = nowSeconds(o);
        FailureState f = readFailures(db);
        if (std::int64_t wait = waitLeft(f, now); wait > 0)
            throw Failure(ErrorDomain::Auth, ErrorCode::Busy,
                          std::to_string(f.failures) + " wrong passphrase(s) in a row: wait " +
                              std::to_string(wait) + " s before the next try");
        std::vector<KeySlot> candidates;
        for (auto& s : readPassphraseSlots(db)) {
            std::string owner = s.id.substr(std::strlen("passphrase:"));
            if (!account.empty() && owner != account) continue;
            auto a = findAccount(db, owner);
            if (!a || a->disabled) continue;
            candidates.push_back(std::move(s));
        }
        for (const auto& s : candidates) {
            try {
                DataKey key = unwrapKey(s, passphrase);
                if (f.failures != 0) {
                    Transaction tx(db);
                    writeFailures(db, FailureState{});
                    tx.commit();
                }
                return SignedIn{key, s.id.substr(std::strlen("passphrase:")), static_cast<int>(f.failures)};
            } catch (const Failure& e) {
                if (e.error().code != ErrorCode::WrongKey) throw;
            }
        }
        // A wrong passphrase, an unknown account and a removed one look the same, and all count.
        f.failures += 1;
        f.lastAt = now;
        {
            Transaction tx(db);
            writeFailures(db, f);
            tx.commit();
        }
        throw Failure(wrongPassphrase(failureDelaySeconds(f.failures)));
    });
}

// [SECTION] account management
Result<std::vector<Account>> Store::accounts() {
    return tryCatch([&] { return readAccounts(m_impl->db); });
}

void Store::requireManager(std::string_view action) const {
    if (!core::mayManageAccounts(m_account.role))
        throw Failure(forbidden("the " + std::string(core::roleName(m_account.role)) + " role may not " +
                                std::string(action) + " (only a commander manages accounts)"));
}

Result<void> Store::addAccount(const Account& a, std::string_view passphrase, KdfParams kdf) {
    return tryCatch([&] {
        requireManager("add accounts");
        if (!isValidAccountName(a.name))
            throw Failure(
                badInput("'" + a.name +
                         "' is not a valid account name (1 to 32 of a-z, 0-9, '.', '-', '_', starting "
                         "with a letter or digit)"));
        std::string display = a.displayName.empty() ? a.name : a.displayName;
        if (display.size() > 64 || !core::isValidUtf8(display))
            throw Failure(badInput("the display name must be 1 to 64 characters of valid text"));
        Impl& s = *m_impl;
        auto existing = findAccount(s.db, a.name);
        if (existing && !existing->disabled)
            throw Failure(
                detail::conflict("an account '" + a.name + "' exists already; nothing was changed"));
        KeySlot slot = wrapKey(s.dataKey, passphrase, slotId(a.name), kdf);  // refuses a short passphrase
        Transaction tx(s.db);
        Stmt st(s.db,
                "INSERT INTO account(name, display_name, role, created_utc, disabled) VALUES (?, ?, ?, ?, 0) "
                "ON CONFLICT(name) DO UPDATE SET display_name = excluded.display_name, role = excluded.role, "
                "disabled = 0");
        st.bind(1, a.name).bind(2, display).bind(3, std::string(core::roleName(a.role)));
        st.bind(4, core::nowTimestamp().utc).run();
        putSlot(s.db, slot);
        s.appendAudit(m_account.name, "account add", a.name, json{{"role", core::roleName(a.role)}});
        tx.commit();
    });
}

namespace {
int activeCommanders(Db& db) {
    Stmt st(db, "SELECT count(*) FROM account WHERE role = 'commander' AND disabled = 0");
    st.step();
    return static_cast<int>(st.int64(0));
}
}  // namespace

Result<void> Store::removeAccount(const std::string& name) {
    return tryCatch([&] {
        requireManager("remove accounts");
        Impl& s = *m_impl;
        auto a = findAccount(s.db, name);
        if (!a || a->disabled) throw Failure(detail::notFound("no active account '" + name + "'"));
        if (name == m_account.name)
            throw Failure(detail::conflict("an account cannot remove itself; sign in as another commander"));
        if (a->role == core::Role::Commander && activeCommanders(s.db) <= 1)
            throw Failure(detail::conflict("'" + name + "' is the last commander; nothing was changed"));
        Transaction tx(s.db);
        Stmt del(s.db, "DELETE FROM key_slot WHERE id = ?");
        del.bind(1, slotId(name)).run();
        Stmt up(s.db, "UPDATE account SET disabled = 1 WHERE name = ?");
        up.bind(1, name).run();
        s.appendAudit(m_account.name, "account remove", name, json::object());
        tx.commit();
    });
}

Result<void> Store::setRole(const std::string& name, core::Role role) {
    return tryCatch([&] {
        requireManager("change roles");
        Impl& s = *m_impl;
        auto a = findAccount(s.db, name);
        if (!a || a->disabled) throw Failure(detail::notFound("no active account '" + name + "'"));
        if (a->role == core::Role::Commander && role != core::Role::Commander && activeCommanders(s.db) <= 1)
            throw Failure(detail::conflict("'" + name + "' is the last commander and keeps the role"));
        Transaction tx(s.db);
        Stmt up(s.db, "UPDATE account SET role = ? WHERE name = ?");
        up.bind(1, std::string(core::roleName(role))).bind(2, name).run();
        s.appendAudit(m_account.name, "role change", name,
                      json{{"from", core::roleName(a->role)}, {"to", core::roleName(role)}});
        tx.commit();
        if (name == m_account.name) m_account.role = role;
    });
}

Result<void> Store::changePassphrase(std::string_view oldPassphrase, std::string_view newPassphrase,
                                     KdfParams kdf) {
    return tryCatch([&] {
        Impl& s = *m_impl;
        bool fits = false;
        for (const auto& slot : readPassphraseSlots(s.db)) {
            if (slot.id != slotId(m_account.name)) continue;
            try {
                (void)unwrapKey(slot, oldPassphrase);
                fits = true;
            } catch (const Failure& e) {
                if (e.error().code != ErrorCode::WrongKey) throw;
            }
        }
        if (!fits) throw Failure(wrongPassphrase(0));
        KeySlot slot = wrapKey(s.dataKey, newPassphrase, slotId(m_account.name), kdf);
        Transaction tx(s.db);
        putSlot(s.db, slot);
        s.appendAudit(m_account.name, "passphrase change", m_account.name, json::object());
        tx.commit();
    });
}

Result<void> Store::setRecoveryKey(const Bytes& hqRecoveryPublicKey) {
    return tryCatch([&] {
        Impl& s = *m_impl;
        KeySlot slot;
        slot.id = kRecoverySlot;
        slot.wrapped = sealDataKey(s.dataKey, hqRecoveryPublicKey);
        Transaction tx(s.db);
        putSlot(s.db, slot);
        s.appendAudit(m_account.name, "recovery slot", "hq", json::object());
        tx.commit();
    });
}

Result<bool> Store::hasRecoverySlot() {
    return tryCatch([&] {
        Stmt st(m_impl->db, "SELECT 1 FROM key_slot WHERE id = ?");
        st.bind(1, kRecoverySlot);
        return st.step();
    });
}

// [SECTION] role checks
void Store::requireRight(std::string_view formId, core::FormAction a) const {
    if (!core::allows(m_account.role, formId, a))
        throw Failure(forbidden("the " + std::string(core::roleName(m_account.role)) + " role may not " +
                                std::string(core::actionName(a)) + " " + std::string(formId) + " records"));
}

bool Store::hidesSensitive(const std::string& formId) const {
    return !core::formRights(m_account.role, formId).readSensitive;
}

std::string Store::readableFormsJson() const {
    json ids = json::array();
    for (const auto& f : m_forms.latestAll())
        if (core::allows(m_account.role, f->id, core::FormAction::Read)) ids.push_back(f->id);
    return ids.dump();
}

json Store::visiblePayload(const std::string& formId, int formVersion, json payload) const {
    if (!hidesSensitive(formId)) return payload;
    auto form = m_forms.find(formId, formVersion);
    if (!form) return payload;
    core::forEachSensitive(
        *form, payload,
        [](json& holder, const std::string& name, const std::string&, int) { holder.erase(name); });
    return payload;
}

json Store::withHiddenValues(const std::string& formId, int formVersion, const json& input,
                             const json& stored) const {
    if (!hidesSensitive(formId)) return input;
    auto form = m_forms.find(formId, formVersion);
    if (!form || !input.is_object()) return input;
    json out = input;
    core::forEachSensitive(*form, out, [&](json& holder, const std::string& name, const std::string&, int) {
        if (holder.contains(name) && holder[name].is_null()) holder.erase(name);
    });
    // Values this role cannot see and did not send are carried over from the stored draft, untouched; a
    // value it sends is written (whoever takes a report may record it; reading it back is not theirs).
    if (stored.is_object())
        core::forEachSensitive(
            *form, stored,
            [&](const json& holder, const std::string& name, const std::string& repeat, int row) {
                if (!holder.contains(name)) return;
                if (row < 0) {
                    if (!out.contains(name)) out[name] = holder[name];
                    return;
                }
                // A repeat row keeps its hidden value when the row is still there.
                if (out.contains(repeat) && out[repeat].is_array() &&
                    static_cast<std::size_t>(row) < out[repeat].size() &&
                    out[repeat][static_cast<std::size_t>(row)].is_object() &&
                    !out[repeat][static_cast<std::size_t>(row)].contains(name))
                    out[repeat][static_cast<std::size_t>(row)][name] = holder[name];
            });
    return out;
}

// [SECTION] recovery
namespace {

std::string readText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Failure(detail::notFound("cannot read " + path));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string storeIdOf(Db& db) {
    Stmt st(db, "SELECT value FROM meta WHERE key = 'store_id'");
    return st.step() ? st.text(0) : std::string();
}

}  // namespace

Result<std::string> Store::recoveryRequest(const std::string& dir, const StoreOptions& o) {
    return tryCatch([&]() -> std::string {
        Db db = openDb(dir, o, true);
        Bytes sealed;
        {
            Stmt st(db, "SELECT wrapped FROM key_slot WHERE id = ?");
            st.bind(1, kRecoverySlot);
            if (!st.step())
                throw Failure(detail::notFound(
                    "this store has no recovery slot (it is added when the laptop enrolls with HQ): a lost "
                    "passphrase cannot be recovered"));
            sealed = st.blob(0);
        }
        std::string unit;
        {
            Stmt st(db, "SELECT value FROM meta WHERE key = 'unit_id'");
            if (st.step()) unit = st.text(0);
        }
        ensureSodium();
        Bytes pk(crypto_box_PUBLICKEYBYTES);
        SecretBytes sk{Bytes(crypto_box_SECRETKEYBYTES)};
        crypto_box_keypair(pk.data(), sk.b.data());
        // The one-time secret key waits in the store folder (mode 0600) until the response comes back.
        std::string path = (fs::path(dir) / kPendingRecoveryFile).string();
        std::string text = toBase64(pk) + "\n" + toBase64(sk.b) + "\n";
        auto written = writeFileDurably(path, text, 0600);
        wipeSecret(text);
        written.value();
        json req = {{"outpost_recovery_request", 1},
                    {"store_id", storeIdOf(db)},
                    {"unit_id", unit},
                    {"sealed_key", toBase64(sealed)},
                    {"reply_key", toBase64(pk)}};
        return req.dump(2) + "\n";
    });
}

Result<void> Store::recoveryComplete(const std::string& dir, const std::string& responseText,
                                     const std::string& account, std::string_view newPassphrase,
                                     const StoreOptions& o, KdfParams kdf) {
    return tryCatch([&] {
        auto bad = [](const std::string& why) {
            return Failure(badInput("not an Outpost recovery response: " + why + "; nothing was changed"));
        };
        Db db = openDb(dir, o, false);
        db.exec("PRAGMA busy_timeout = 5000");
        auto target = findAccount(db, account);
        if (!target)
            throw Failure(
                detail::notFound("no account '" + account + "' on this laptop; nothing was changed"));
        if (newPassphrase.size() < kMinPassphraseLength)
            throw Failure(badInput("the passphrase must have at least " +
                                   std::to_string(kMinPassphraseLength) +
                                   " characters; nothing was changed"));
        if (responseText.size() > 64 * 1024) throw bad("larger than 64 KiB");
        json j = json::parse(responseText, nullptr, false);
        if (j.is_discarded() || !j.is_object()) throw bad("not a JSON object");
        if (j.value("outpost_recovery_response", 0) != 1) throw bad("no \"outpost_recovery_response\": 1");
        if (!j.contains("store_id") || !j["store_id"].is_string() || !j.contains("sealed_key") ||
            !j["sealed_key"].is_string())
            throw bad("\"store_id\" or \"sealed_key\" is missing");
        if (j["store_id"].get<std::string>() != storeIdOf(db))
            throw Failure(badInput("this recovery response is for another store; nothing was changed"));
        auto sealed = fromBase64(j["sealed_key"].get<std::string>());
        if (!sealed || sealed->size() != crypto_box_SEALBYTES + DataKey::kSize)
            throw bad("\"sealed_key\" is not a sealed 32-byte key");
        std::string pendingPath = (fs::path(dir) / kPendingRecoveryFile).string();
        if (!fs::exists(pendingPath))
            throw Failure(
                detail::notFound("no recovery request is pending in " + dir +
                                 " (run 'outpostctl recovery request' first); nothing was changed"));
        std::string pending = readText(pendingPath);
        auto nl = pending.find('\n');
        auto pk = fromBase64(pending.substr(0, nl == std::string::npos ? 0 : nl));
        std::string skText = nl == std::string::npos ? std::string() : pending.substr(nl + 1);
        while (!skText.empty() && (skText.back() == '\n' || skText.back() == '\r')) skText.pop_back();
        auto skDecoded = fromBase64(skText);
        SecretBytes sk{skDecoded ? std::move(*skDecoded) : Bytes()};
        wipeSecret(pending);
        wipeSecret(skText);
        if (!pk || pk->size() != crypto_box_PUBLICKEYBYTES || sk.b.size() != crypto_box_SECRETKEYBYTES)
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                          pendingPath + " is damaged: make a new request");
        DataKey key;
        int opened = crypto_box_seal_open(const_cast<unsigned char*>(key.data()), sealed->data(),
                                          sealed->size(), pk->data(), sk.b.data());
        if (opened != 0)
            throw Failure(ErrorDomain::Crypto, ErrorCode::Corrupt,
                          "the recovery response does not answer this laptop's pending request (an older "
                          "request, or altered); nothing was changed");
        {
            Stmt kc(db, "SELECT value FROM meta WHERE key = 'key_check'");
            if (!kc.step())
                throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "the store has no key check");
            try {
                Codec(key).open(kc.blob(0), "key_check");
            } catch (const Failure&) {
                throw Failure(ErrorDomain::Auth, ErrorCode::WrongKey,
                              "the recovered key does not open this store; nothing was changed");
            }
        }
        KeySlot slot = wrapKey(key, newPassphrase, slotId(account), kdf);
        {
            Transaction tx(db);
            putSlot(db, slot);
            if (tableExists(db, "account")) {
                Stmt up(db, "UPDATE account SET disabled = 0 WHERE name = ?");
                up.bind(1, account).run();
            }
            writeFailures(db, FailureState{});
            tx.commit();
        }
        std::error_code ec;
        fs::remove(pendingPath, ec);
    });
}

}  // namespace outpost::storage
