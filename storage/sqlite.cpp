// The SQLite RAII layer: error classification, statements, transactions.
#include "storage/sqlite.hpp"

namespace outpost::storage {

Error classifySqlite(int code, const std::string& what) {
    int primary = code & 0xff;
    std::string detail = what + " (" + sqlite3_errstr(code) + ")";
    switch (primary) {
        case SQLITE_FULL:
            return Error{ErrorDomain::Storage, ErrorCode::DiskFull,
                         "the disk is full: nothing was written; free some space and try again - " + detail};
        case SQLITE_IOERR:
            if (code == SQLITE_IOERR_NOMEM) break;
            return Error{ErrorDomain::Storage, ErrorCode::Io,
                         "the disk reported an I/O error: nothing was written - " + detail};
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return Error{ErrorDomain::Storage, ErrorCode::Busy,
                         "the store is in use by another Outpost program; try again - " + detail};
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return Error{ErrorDomain::Storage, ErrorCode::Corrupt,
                         "the store file is damaged or is not an Outpost store - " + detail};
        case SQLITE_CANTOPEN:
            return Error{ErrorDomain::Storage, ErrorCode::NotFound, "cannot open the store file - " + detail};
        case SQLITE_READONLY:
        case SQLITE_PERM:
            return Error{ErrorDomain::Storage, ErrorCode::Io, "the store cannot be written - " + detail};
        case SQLITE_CONSTRAINT:
            return Error{ErrorDomain::Storage, ErrorCode::Conflict,
                         "the change breaks a rule of the store - " + detail};
        default:
            break;
    }
    return Error{ErrorDomain::Storage, ErrorCode::Internal, detail};
}

SqliteError::SqliteError(int code, const std::string& what)
    : Failure(classifySqlite(code, what)), m_code(code) {}

Db::Db(const std::string& path, bool create, bool readOnly, const std::string& vfs) {
    int flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0));
    flags |= SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &m_db, flags, vfs.empty() ? nullptr : vfs.c_str());
    if (rc != SQLITE_OK) {
        std::string msg = m_db ? sqlite3_errmsg(m_db) : "open failed";
        sqlite3_close(m_db);
        m_db = nullptr;
        throw SqliteError(rc, "opening " + path + ": " + msg);
    }
    sqlite3_extended_result_codes(m_db, 1);
    // Wait for another process's short write instead of failing at once.
    sqlite3_busy_timeout(m_db, 5000);
}

Db::~Db() {
    if (m_db) sqlite3_close_v2(m_db);
}

Db& Db::operator=(Db&& o) noexcept {
    if (this != &o) {
        if (m_db) sqlite3_close_v2(m_db);
        m_db = o.m_db;
        o.m_db = nullptr;
    }
    return *this;
}

void Db::fail(int rc, const std::string& context) const {
    throw SqliteError(rc, context + ": " + (m_db ? sqlite3_errmsg(m_db) : ""));
}

void Db::exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(m_db, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : "";
        sqlite3_free(err);
        throw SqliteError(rc, msg);
    }
}

Stmt::Stmt(const Db& db, const char* sql) : m_db(db), m_sql(sql) {
    int rc = sqlite3_prepare_v2(db.handle(), sql, -1, &m_stmt, nullptr);
    if (rc != SQLITE_OK) db.fail(rc, "preparing a statement");
}

Stmt::~Stmt() {
    sqlite3_finalize(m_stmt);
}

Stmt& Stmt::bind(int i, std::int64_t v) {
    int rc = sqlite3_bind_int64(m_stmt, i, v);
    if (rc != SQLITE_OK) m_db.fail(rc, "binding");
    return *this;
}

Stmt& Stmt::bind(int i, std::string_view t) {
    int rc = sqlite3_bind_text64(m_stmt, i, t.data(), t.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) m_db.fail(rc, "binding");
    return *this;
}

Stmt& Stmt::bindBlob(int i, const void* data, std::size_t n) {
    int rc = sqlite3_bind_blob64(m_stmt, i, n ? data : "", n, SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) m_db.fail(rc, "binding");
    return *this;
}

Stmt& Stmt::bindNull(int i) {
    int rc = sqlite3_bind_null(m_stmt, i);
    if (rc != SQLITE_OK) m_db.fail(rc, "binding");
    return *this;
}

bool Stmt::step() {
    int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite3_reset(m_stmt);
    m_db.fail(rc, "running a statement");
}

void Stmt::run() {
    while (step()) {
    }
    sqlite3_reset(m_stmt);
}

void Stmt::reset() {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}

bool Stmt::isNull(int col) const {
    return sqlite3_column_type(m_stmt, col) == SQLITE_NULL;
}
std::int64_t Stmt::int64(int col) const {
    return sqlite3_column_int64(m_stmt, col);
}

std::string Stmt::text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, col))) : std::string();
}

std::vector<unsigned char> Stmt::blob(int col) const {
    auto p = static_cast<const unsigned char*>(sqlite3_column_blob(m_stmt, col));
    int n = sqlite3_column_bytes(m_stmt, col);
    return p ? std::vector<unsigned char>(p, p + n) : std::vector<unsigned char>();
}

Transaction::Transaction(Db& db) : m_db(db) {
    m_db.exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
    if (!m_done) sqlite3_exec(m_db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
    int rc = sqlite3_exec(m_db.handle(), "COMMIT", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) {
        m_done = true;
        return;
    }
    // In WAL mode the commit record is the last frame written, so a failed write means no commit. Any other
    // I/O error (a failed fsync above all) can come after that frame was handed to the OS: the next open may
    // find the change committed. Promising "nothing was written" there would invite a duplicate entry.
    if ((rc & 0xff) == SQLITE_IOERR && rc != SQLITE_IOERR_WRITE && rc != SQLITE_IOERR_NOMEM)
        throw SqliteError(
            rc, Error{ErrorDomain::Storage, ErrorCode::Io,
                      "the disk reported an I/O error while saving: the change may or may not have been "
                      "kept; once the disk works again, restart Outpost and check before entering it "
                      "again - " +
                          std::string(sqlite3_errmsg(m_db.handle())) + " (" + sqlite3_errstr(rc) + ")"});
    m_db.fail(rc, "committing");
}

}  // namespace outpost::storage
