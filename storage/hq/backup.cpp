// Online backups of HQ's SQLite store and checks of a backup file before it is restored.
#include "storage/hq/backup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "storage/sqlite.hpp"

namespace outpost::storage::hq {

namespace fs = std::filesystem;

namespace {

void fsyncPath(const std::string& path, const std::string& what) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    bool ok = fd >= 0 && ::fsync(fd) == 0;
    int err = errno;
    if (fd >= 0) ::close(fd);
    if (!ok)
        throw Failure(ErrorDomain::Storage, err == ENOSPC ? ErrorCode::DiskFull : ErrorCode::Io,
                      "cannot flush " + what + " to disk: " + std::strerror(err));
}

}  // namespace

std::string sqliteHqStoreFile(const std::string& dataDir) {
    return (fs::path(dataDir) / "hq.db").string();
}

Result<void> backupSqliteHqStore(const std::string& dataDir, const std::string& outFile) {
    return tryCatch([&] {
        const std::string source = sqliteHqStoreFile(dataDir);
        std::error_code ec;
        if (!fs::exists(source, ec))
            throw Failure(ErrorDomain::NotFound, ErrorCode::NotFound, "no HQ store at " + source);
        if (fs::exists(outFile, ec))
            throw Failure(ErrorDomain::State, ErrorCode::Conflict,
                          outFile + " exists already; nothing was written");
        const std::string partial = outFile + ".partial";
        // Any failure, however late, removes the half-made copy: an error never leaves a file to restore
        // from.
        struct Cleanup {
            std::string path;
            bool keep = false;
            ~Cleanup() {
                std::error_code e;
                if (!keep)
                    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) fs::remove(path + suffix, e);
            }
        } cleanup{partial};
        for (const char* suffix : {"", "-journal", "-wal", "-shm"}) fs::remove(partial + suffix, ec);
        {
            Db in(source, false);
            Db out(partial, true);
            sqlite3_backup* b = sqlite3_backup_init(out.handle(), "main", in.handle(), "main");
            if (!b) out.fail(sqlite3_errcode(out.handle()), "starting the backup");
            int rc = sqlite3_backup_step(b, -1);
            sqlite3_backup_finish(b);
            if (rc != SQLITE_DONE) throw SqliteError(rc, "writing the backup");
            out.exec("PRAGMA journal_mode = DELETE");
        }
        fsyncPath(partial, "the backup");
        fs::rename(partial, outFile, ec);
        if (ec)
            throw Failure(ErrorDomain::Storage, ErrorCode::Io, "cannot finish the backup: " + ec.message());
        cleanup.keep = true;
        fsyncPath(fs::path(outFile).parent_path().empty() ? "." : fs::path(outFile).parent_path().string(),
                  "the backup folder");
    });
}

Result<std::vector<std::string>> checkSqliteFile(const std::string& file) {
    return tryCatch([&] {
        std::error_code ec;
        if (!fs::is_regular_file(file, ec))
            throw Failure(ErrorDomain::NotFound, ErrorCode::NotFound, "no file at " + file);
        std::vector<std::string> problems;
        try {
            Db db(file, false, true);
            Stmt st(db, "PRAGMA integrity_check");
            while (st.step()) {
                std::string line = st.text(0);
                if (line != "ok") problems.push_back(line);
            }
        } catch (const SqliteError& e) {
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                          file + " is not a sound SQLite database: " + e.error().message);
        }
        return problems;
    });
}

}  // namespace outpost::storage::hq
