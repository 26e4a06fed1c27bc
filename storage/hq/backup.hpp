// Consistent copies of HQ's SQLite store for `outpost-hq backup` and `restore` (a PostgreSQL store
// is backed up with the database's own tools).
#pragma once

#include <string>
#include <vector>

#include "core/error.hpp"

namespace outpost::storage::hq {

// The SQLite file of an HQ data folder: DIR/hq.db.
std::string sqliteHqStoreFile(const std::string& dataDir);

// Copies the SQLite store of dataDir into outFile with SQLite's online backup API, so a running
// server may keep reading and writing. The copy is a single file (rollback journal), written under a
// temporary name, flushed and renamed: a failure leaves no file at outFile. NotFound when dataDir
// holds no store; Conflict when outFile exists; DiskFull or Io when writing fails.
Result<void> backupSqliteHqStore(const std::string& dataDir, const std::string& outFile);

// Opens an SQLite file read-only and runs SQLite's integrity check on it. Empty when it is a sound
// database; otherwise the problems. NotFound when the file is missing, Corrupt when it is no database.
Result<std::vector<std::string>> checkSqliteFile(const std::string& file);

}  // namespace outpost::storage::hq
