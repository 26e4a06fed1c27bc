// The fault-injecting VFS: thin shims over the "unix" VFS that fail the armed write, sync or truncate.
#include "support/faulty_vfs.hpp"

#include <sqlite3.h>

#include <mutex>
#include <stdexcept>
#include <string>

namespace outpost::test {

namespace {

// Our file object; the real VFS's file object lives in the bytes right after it (szOsFile covers both).
struct FaultyFile {
    sqlite3_file base;
    sqlite3_file* real;
};

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs{};

sqlite3_file* realOf(sqlite3_file* f) {
    return reinterpret_cast<FaultyFile*>(f)->real;
}

int fileClose(sqlite3_file* f) {
    sqlite3_file* r = realOf(f);
    int rc = r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
    f->pMethods = nullptr;
    return rc;
}

int fileRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
    sqlite3_file* r = realOf(f);
    return r->pMethods->xRead(r, buf, n, off);
}

int fileWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
    // A failed write writes nothing, so the test sees the cleanest form of the failure;
    // torn writes are the crash test's business.
    if (int rc = FaultyVfs::instance().onOperation(FaultyVfs::Op::Write)) return rc;
    sqlite3_file* r = realOf(f);
    return r->pMethods->xWrite(r, buf, n, off);
}

int fileTruncate(sqlite3_file* f, sqlite3_int64 size) {
    if (int rc = FaultyVfs::instance().onOperation(FaultyVfs::Op::Truncate)) return rc;
    sqlite3_file* r = realOf(f);
    return r->pMethods->xTruncate(r, size);
}

int fileSync(sqlite3_file* f, int flags) {
    if (int rc = FaultyVfs::instance().onOperation(FaultyVfs::Op::Sync)) return rc;
    sqlite3_file* r = realOf(f);
    return r->pMethods->xSync(r, flags);
}

int fileSize(sqlite3_file* f, sqlite3_int64* size) {
    sqlite3_file* r = realOf(f);
    return r->pMethods->xFileSize(r, size);
}

int fileLock(sqlite3_file* f, int level) {
    sqlite3_file* r = realOf(f);
    return r->pMethods->xLock(r, level);
}

int fileUnlock(sqlite3_file* f, int level) {
    sqlite3_file* r = realOf(f);
    return r->pMethods->xUnlock(r, level);
}

int fileCheckReservedLock(sqlite3_file* f, int* out) {
    sqlite3_file* r = realOf(f);
    return r->pMethods->xCheckReservedLock(r, out);
}

int fileControl(sqlite3_file* f, int op, void* arg) {
    sqlite3_file* r = realOf(f);
    return r->pMethods->xFileControl(r, op, arg);
}

int fileSectorSize(sqlite3_file* f) {
    sqlite3_file* r = realOf(f);
    return r->pMethods->xSectorSize(r);
}

int fileDeviceCharacteristics(sqlite3_file* f) {
    sqlite3_file* r = realOf(f);
    return r->pMethods->xDeviceCharacteristics(r);
}

// Shared memory (the WAL index) is memory-mapped, not written through xWrite, so it is passed through.
int fileShmMap(sqlite3_file* f, int page, int pageSize, int extend, void volatile** out) {
    sqlite3_file* r = realOf(f);
    return r->pMethods->xShmMap(r, page, pageSize, extend, out);
}

int fileShmLock(sqlite3_file* f, int offset, int n, int flags) {
    sqlite3_file* r = realOf(f);
    return r->pMethods->xShmLock(r, offset, n, flags);
}

void fileShmBarrier(sqlite3_file* f) {
    sqlite3_file* r = realOf(f);
    r->pMethods->xShmBarrier(r);
}

int fileShmUnmap(sqlite3_file* f, int deleteFlag) {
    sqlite3_file* r = realOf(f);
    return r->pMethods->xShmUnmap(r, deleteFlag);
}

int fileFetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
    sqlite3_file* r = realOf(f);
    return r->pMethods->xFetch(r, off, n, out);
}

int fileUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
    sqlite3_file* r = realOf(f);
    return r->pMethods->xUnfetch(r, off, p);
}

// Built to the real file's method version, so SQLite sees exactly the capabilities "unix" offers.
sqlite3_io_methods makeMethods(int version) {
    sqlite3_io_methods m{};
    m.iVersion = version;
    m.xClose = fileClose;
    m.xRead = fileRead;
    m.xWrite = fileWrite;
    m.xTruncate = fileTruncate;
    m.xSync = fileSync;
    m.xFileSize = fileSize;
    m.xLock = fileLock;
    m.xUnlock = fileUnlock;
    m.xCheckReservedLock = fileCheckReservedLock;
    m.xFileControl = fileControl;
    m.xSectorSize = fileSectorSize;
    m.xDeviceCharacteristics = fileDeviceCharacteristics;
    if (version >= 2) {
        m.xShmMap = fileShmMap;
        m.xShmLock = fileShmLock;
        m.xShmBarrier = fileShmBarrier;
        m.xShmUnmap = fileShmUnmap;
    }
    if (version >= 3) {
        m.xFetch = fileFetch;
        m.xUnfetch = fileUnfetch;
    }
    return m;
}

const sqlite3_io_methods kMethodsV1 = makeMethods(1);
const sqlite3_io_methods kMethodsV2 = makeMethods(2);
const sqlite3_io_methods kMethodsV3 = makeMethods(3);

int vfsOpen(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* outFlags) {
    auto* ff = reinterpret_cast<FaultyFile*>(f);
    ff->real = reinterpret_cast<sqlite3_file*>(ff + 1);
    ff->real->pMethods = nullptr;
    int rc = g_real->xOpen(g_real, name, ff->real, flags, outFlags);
    const sqlite3_io_methods* rm = ff->real->pMethods;
    // SQLite calls xClose only when pMethods is set, so it must mirror whether the real open left a file.
    if (!rm)
        f->pMethods = nullptr;
    else
        f->pMethods = rm->iVersion >= 3 ? &kMethodsV3 : rm->iVersion == 2 ? &kMethodsV2 : &kMethodsV1;
    return rc;
}

int vfsDelete(sqlite3_vfs*, const char* name, int syncDir) {
    return g_real->xDelete(g_real, name, syncDir);
}

int vfsAccess(sqlite3_vfs*, const char* name, int flags, int* out) {
    return g_real->xAccess(g_real, name, flags, out);
}

int vfsFullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
    return g_real->xFullPathname(g_real, name, n, out);
}

void* vfsDlOpen(sqlite3_vfs*, const char* name) {
    return g_real->xDlOpen(g_real, name);
}
void vfsDlError(sqlite3_vfs*, int n, char* out) {
    g_real->xDlError(g_real, n, out);
}
void (*vfsDlSym(sqlite3_vfs*, void* h, const char* sym))(void) {
    return g_real->xDlSym(g_real, h, sym);
}
void vfsDlClose(sqlite3_vfs*, void* h) {
    g_real->xDlClose(g_real, h);
}
int vfsRandomness(sqlite3_vfs*, int n, char* out) {
    return g_real->xRandomness(g_real, n, out);
}
int vfsSleep(sqlite3_vfs*, int us) {
    return g_real->xSleep(g_real, us);
}
int vfsCurrentTime(sqlite3_vfs*, double* out) {
    return g_real->xCurrentTime(g_real, out);
}
int vfsGetLastError(sqlite3_vfs*, int n, char* out) {
    return g_real->xGetLastError(g_real, n, out);
}
int vfsCurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) {
    return g_real->xCurrentTimeInt64(g_real, out);
}

}  // namespace

FaultyVfs& FaultyVfs::instance() {
    static FaultyVfs vfs;
    static std::once_flag once;
    std::call_once(once, [] {
        g_real = sqlite3_vfs_find("unix");
        if (!g_real) throw std::runtime_error("the unix SQLite VFS is missing");
        g_vfs.iVersion = g_real->iVersion < 2 ? g_real->iVersion : 2;
        g_vfs.szOsFile = static_cast<int>(sizeof(FaultyFile)) + g_real->szOsFile;
        g_vfs.mxPathname = g_real->mxPathname;
        g_vfs.zName = kName;
        g_vfs.xOpen = vfsOpen;
        g_vfs.xDelete = vfsDelete;
        g_vfs.xAccess = vfsAccess;
        g_vfs.xFullPathname = vfsFullPathname;
        g_vfs.xDlOpen = vfsDlOpen;
        g_vfs.xDlError = vfsDlError;
        g_vfs.xDlSym = vfsDlSym;
        g_vfs.xDlClose = vfsDlClose;
        g_vfs.xRandomness = vfsRandomness;
        g_vfs.xSleep = vfsSleep;
        g_vfs.xCurrentTime = vfsCurrentTime;
        g_vfs.xGetLastError = vfsGetLastError;
        if (g_vfs.iVersion >= 2) g_vfs.xCurrentTimeInt64 = vfsCurrentTimeInt64;
        if (int rc = sqlite3_vfs_register(&g_vfs, 0); rc != SQLITE_OK)
            throw std::runtime_error(std::string("cannot register the faulty VFS: ") + sqlite3_errstr(rc));
    });
    return vfs;
}

void FaultyVfs::arm(int nth, FaultKind kind, bool persistent) {
    m_kind = kind;
    m_persistent = persistent;
    m_ops = 0;
    m_failures = 0;
    m_firstCode = 0;
    m_failAt = nth;
}

void FaultyVfs::disarm() {
    m_failAt = 0;
}

int FaultyVfs::onOperation(Op op) {
    int n = ++m_ops;
    int at = m_failAt.load();
    if (at <= 0 || n < at || (n > at && !m_persistent)) return 0;
    int code = op == Op::Write  ? (m_kind == FaultKind::DiskFull ? SQLITE_FULL : SQLITE_IOERR_WRITE)
               : op == Op::Sync ? SQLITE_IOERR_FSYNC
                                : SQLITE_IOERR_TRUNCATE;
    if (m_failures++ == 0) m_firstCode = code;
    return code;
}

}  // namespace outpost::test
