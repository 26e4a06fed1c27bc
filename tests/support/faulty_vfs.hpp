// A fault-injecting SQLite VFS for tests: fails the Nth write, sync or truncate, as a full or failing disk
// would.
#pragma once

#include <atomic>

namespace outpost::test {

// What the failed operation reports, as the "unix" VFS would on Linux. DiskFull: a write fails with
// SQLITE_FULL (ENOSPC); a sync or truncate cannot report a full disk as such (fsync's ENOSPC under delayed
// allocation reaches SQLite as SQLITE_IOERR_FSYNC), so those fail as IoError does. IoError:
// SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC or SQLITE_IOERR_TRUNCATE, by operation.
enum class FaultKind { DiskFull, IoError };

// Wraps the "unix" VFS under the name kName. Operations are counted across every file opened
// through it (database, WAL, journals, backups), so a test can walk N = 1, 2, 3 ... over one call.
class FaultyVfs {
public:
    static constexpr const char* kName = "faulty";

    // Registers the VFS on first use (not as the default) and returns the one instance.
    static FaultyVfs& instance();

    // Fails the nth write-ish operation from now (1-based). Persistent: every later one fails too,
    // as on a disk that stays full; otherwise only the nth, as a passing glitch.
    void arm(int nth, FaultKind kind, bool persistent);
    void disarm();

    int operations() const { return m_ops.load(); }     // write-ish operations since arm()
    int failures() const { return m_failures.load(); }  // how many of them were failed
    int firstCode() const {
        return m_firstCode.load();
    }  // the SQLite code first injected since arm() (0: none)

    // Called by the VFS shims; returns the code to fail with, or 0 to let the operation through.
    enum class Op { Write, Sync, Truncate };
    int onOperation(Op op);

private:
    FaultyVfs() = default;

    std::atomic<int> m_ops{0};
    std::atomic<int> m_failAt{0};  // 0: disarmed
    std::atomic<bool> m_persistent{false};
    std::atomic<FaultKind> m_kind{FaultKind::DiskFull};
    std::atomic<int> m_failures{0};
    std::atomic<int> m_firstCode{0};
};

}  // namespace outpost::test
