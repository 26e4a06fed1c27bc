// A thin RAII layer over the SQLite C API: connections, statements and transactions that roll back.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace outpost::storage {

// Thrown for any SQLite failure; error() classifies it (DiskFull, Io, Busy, Corrupt, ...).
class SqliteError : public Failure {
public:
    SqliteError(int code, const std::string& what);
    SqliteError(int code, Error e) : Failure(std::move(e)), m_code(code) {}
    int sqliteCode() const noexcept { return m_code; }

private:
    int m_code;
};

// Maps an SQLite result code to Outpost's error codes, with a message a person can act on.
Error classifySqlite(int code, const std::string& what);

class Db {
public:
    Db() = default;
    // Opens (and with create, creates) the database file. vfs may be empty for the default.
    Db(const std::string& path, bool create, bool readOnly = false, const std::string& vfs = {});
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
    Db(Db&& o) noexcept : m_db(o.m_db) { o.m_db = nullptr; }
    Db& operator=(Db&& o) noexcept;

    void exec(const char* sql);
    sqlite3* handle() const { return m_db; }
    std::int64_t lastInsertRowid() const { return sqlite3_last_insert_rowid(m_db); }
    int changes() const { return sqlite3_changes(m_db); }
    [[noreturn]] void fail(int rc, const std::string& context) const;

private:
    sqlite3* m_db = nullptr;
};

class Stmt {
public:
    Stmt(const Db& db, const char* sql);
    ~Stmt();
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, std::int64_t v);
    Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
    Stmt& bind(int i, std::string_view text);
    Stmt& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
    Stmt& bind(int i, const std::string& text) { return bind(i, std::string_view(text)); }
    Stmt& bindBlob(int i, const void* data, std::size_t n);
    Stmt& bindBlob(int i, const std::vector<unsigned char>& b) { return bindBlob(i, b.data(), b.size()); }
    Stmt& bindNull(int i);
    // The index of a named parameter (":name"), 0 when the statement has none of that name.
    int paramIndex(const char* name) const { return sqlite3_bind_parameter_index(m_stmt, name); }
    Stmt& bind(int i, const std::optional<std::int64_t>& v) { return v ? bind(i, *v) : bindNull(i); }

    // True while a row is available.
    bool step();
    // Runs a statement that returns no rows.
    void run();
    void reset();

    bool isNull(int col) const;
    std::int64_t int64(int col) const;
    std::string text(int col) const;
    std::vector<unsigned char> blob(int col) const;

private:
    const Db& m_db;
    sqlite3_stmt* m_stmt = nullptr;
    std::string m_sql;
};

// BEGIN IMMEDIATE on construction; ROLLBACK in the destructor unless commit() ran.
class Transaction {
public:
    explicit Transaction(Db& db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    Db& m_db;
    bool m_done = false;
};

}  // namespace outpost::storage
