// Raw SQL on a database file, as an insider with the file (but without the passphrase or HQ's key) would
// run it: the tamper tests edit stores behind Outpost's back with it.
#pragma once

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <string>

namespace outpost::test {

inline void rawSql(const std::string& file, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    INFO(sql << ": " << msg);
    REQUIRE(rc == SQLITE_OK);
}

}  // namespace outpost::test
