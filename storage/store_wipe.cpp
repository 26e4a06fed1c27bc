// Destroying a field store: the wrapped data keys first (secure_delete + checkpoint), then every file.
#include "storage/store_wipe.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>
#include <vector>

#include "storage/sqlite.hpp"
#include "storage/store.hpp"

namespace outpost::storage {

namespace fs = std::filesystem;

namespace {

// Tables that hold a wrapped copy of the data key: key_slot, and any table with a column whose name
// says it holds one (so a later table of that kind is covered without a change here).
std::vector<std::string> keyTables(Db& db) {
    std::vector<std::string> out;
    Stmt tables(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
    while (tables.step()) {
        std::string name = tables.text(0);
        bool holdsKey = name == "key_slot";
        Stmt cols(db, "SELECT name FROM pragma_table_info(?)");
        cols.bind(1, name);
        while (!holdsKey && cols.step()) holdsKey = cols.text(0).find("wrapped") != std::string::npos;
        if (holdsKey) out.push_back(name);
    }
    return out;
}

// Erases every wrapped key in one SQLite file, in place. Returns how many rows held one.
int destroyKeys(const std::string& file) {
    Db db(file, false);
    db.exec("PRAGMA secure_delete = ON");
    int erased = 0;
    db.exec("BEGIN IMMEDIATE");
    try {
        for (const auto& t : keyTables(db)) {
            Stmt del(db, ("DELETE FROM \"" + t + "\"").c_str());
            del.run();
            erased += db.changes();
        }
        db.exec("COMMIT");
    } catch (...) {
        sqlite3_exec(db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
    // The deleted cells were zeroed in the new page images; the checkpoint writes those over the old ones in
    // the database file and empties the WAL, so no copy of the key's bytes is left in either.
    Stmt ck(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    while (ck.step()) {
    }
    return erased;
}

// Overwrites a regular file with zeros, syncs it and removes it. False when it could not be done entirely.
bool shred(const fs::path& p) {
    bool ok = true;
    int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        struct stat st {};
        if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            std::vector<char> zeros(1 << 16, 0);
            off_t left = st.st_size, at = 0;
            while (left > 0) {
                auto n = static_cast<size_t>(std::min<off_t>(left, static_cast<off_t>(zeros.size())));
                ssize_t w = ::pwrite(fd, zeros.data(), n, at);
                if (w <= 0) {
                    ok = false;
                    break;
                }
                left -= w;
                at += w;
            }
            if (::fsync(fd) != 0) ok = false;
        }
        ::close(fd);
    }
    std::error_code ec;
    fs::remove(p, ec);
    return ok && !ec;
}

// The live database, then each backup (each is a whole copy, key slots included).
int destroyKeysIn(const fs::path& root, std::string& firstProblem) {
    std::vector<fs::path> sqliteFiles{root / kStoreFileName};
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root / "backups", ec))
        if (e.is_regular_file()) sqliteFiles.push_back(e.path());
    int n = 0;
    for (const auto& f : sqliteFiles) {
        try {
            n += destroyKeys(f.string());
        } catch (const Failure& fl) {
            // Locked or damaged: wipeStore's overwrite still erases the bytes.
            if (firstProblem.empty()) firstProblem = f.filename().string() + ": " + fl.error().message;
        }
    }
    return n;
}

}  // namespace

Result<int> destroyStoreKeys(const std::string& dir) {
    return tryCatch([&]() -> int {
        const fs::path root(dir);
        if (!fs::exists(root / kStoreFileName))
            throw Failure(ErrorDomain::NotFound, ErrorCode::NotFound, "no Outpost store in " + dir);
        std::string problem;
        int n = destroyKeysIn(root, problem);
        if (!problem.empty()) throw Failure(ErrorDomain::Storage, ErrorCode::Io, "the keys of " + problem);
        return n;
    });
}

Result<std::string> storeUnitId(const std::string& dir) {
    return tryCatch([&]() -> std::string {
        const fs::path db = fs::path(dir) / kStoreFileName;
        if (!fs::exists(db))
            throw Failure(ErrorDomain::NotFound, ErrorCode::NotFound, "no Outpost store in " + dir);
        Db d(db.string(), false, true);
        Stmt st(d, "SELECT value FROM meta WHERE key = 'unit_id'");
        if (!st.step())
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "the store in " + dir + " names no unit");
        return st.text(0);
    });
}

Result<WipeReport> wipeStore(const std::string& dir) {
    return tryCatch([&]() -> WipeReport {
        const fs::path root(dir);
        const fs::path db = root / kStoreFileName;
        if (!fs::exists(db))
            throw Failure(ErrorDomain::NotFound, ErrorCode::NotFound, "no Outpost store in " + dir);
        WipeReport rep;
        std::string firstProblem;
        // 1. The keys.
        rep.keyCopiesDestroyed = destroyKeysIn(root, firstProblem);
        // 2. Every file, then the folders.
        std::error_code ec;
        std::vector<fs::path> files;
        for (const auto& e : fs::recursive_directory_iterator(root, ec))
            if (e.is_regular_file() || e.is_symlink()) files.push_back(e.path());
        for (const auto& f : files) {
            if (shred(f))
                ++rep.filesRemoved;
            else if (firstProblem.empty())
                firstProblem = "could not overwrite " + f.string();
        }
        fs::remove_all(root, ec);
        if (ec && firstProblem.empty()) firstProblem = "could not remove " + dir + ": " + ec.message();
        if (fs::exists(root))
            throw Failure(ErrorDomain::Storage, ErrorCode::Io,
                          "the store's keys were destroyed but the folder could not be removed entirely (" +
                              firstProblem + ")");
        return rep;
    });
}

}  // namespace outpost::storage
