// A throw-away PostgreSQL cluster for tests: Debian's initdb, pg_ctl and createdb, a temporary folder,
// 127.0.0.1 on a free port, trust authentication for 127.0.0.1 only. One cluster per test
// process (started on first use, stopped and removed at exit, even when the process is killed) and
// a fresh database per test case; outpost-bench makes a durable one of its own (PgClusterOptions).
//
// PostgreSQL refuses to run as root: when the tests run as root, the cluster runs as `nobody`
// (the folder is handed to that user). Missing PostgreSQL binaries are an error, never a skip.
// OUTPOST_PG_BINDIR names the folder with these programs when they are not in
// /usr/lib/postgresql/<version>/bin.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace outpost::test {

struct PgClusterOptions {
    // Tests run with fsync, synchronous_commit and full_page_writes off (speed; nothing they check
    // depends on surviving a power cut). Durable turns all three on, as a mission's server runs:
    // outpost-bench hq measures with it.
    bool durable = false;
    // Where the cluster's folder is made (default: the temporary folder, $TMPDIR or /tmp). When the tests
    // run as root the server runs as `nobody`, which must be able to reach it.
    std::string baseDir;
};

class PgCluster {
public:
    // The process's cluster for tests (not durable), started on first call. Throws std::runtime_error
    // (with PostgreSQL's own messages) when it cannot start.
    static PgCluster& shared();

    // A cluster of one's own, started now and stopped and removed by the destructor.
    explicit PgCluster(PgClusterOptions options);
    ~PgCluster();
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;

    int port() const { return m_port; }
    // "postgresql://outpost@127.0.0.1:PORT/<database>" (the maintenance database "postgres" by default).
    std::string uri(const std::string& database = "postgres") const;
    // Creates a new, empty database with a unique name and returns its URI. Thread-safe.
    std::string createDatabase();
    // Runs one SQL command with psql (as the cluster's owner, on the maintenance database). Throws
    // std::runtime_error with psql's output when it fails. Thread-safe.
    void execute(const std::string& sql);
    // The folder of the cluster's programs (initdb, pg_dump, pg_restore ...): client tools of the
    // server's own version.
    const std::string& binDir() const { return m_binDir; }
    // The user and group the server runs as (folders it must write to belong to them).
    unsigned ownerUid() const { return m_uid; }
    unsigned ownerGid() const { return m_gid; }
    // The cluster's data folder (its files, the WAL).
    const std::string& dataDir() const { return m_data; }
    // A server setting as the running server reports it (SHOW name: "on", "off" ...). Throws
    // std::runtime_error when psql fails or name is not a setting's name.
    std::string setting(const std::string& name);

private:
    void start();
    void startWatchdog();
    void stop() noexcept;
    // Runs a PostgreSQL program (as the cluster's owner), its output appended to the setup log.
    int run(const std::vector<std::string>& argv);
    std::string setupLog() const;

    PgClusterOptions m_options;
    std::string m_binDir;
    std::string m_root;  // the temporary folder: data/, the server log, the socket
    std::string m_data;
    int m_port = 0;
    unsigned m_uid = 0;
    unsigned m_gid = 0;
    bool m_dropPrivileges = false;
    bool m_running = false;
    int m_watchdogPipe = -1;
    int m_watchdog = 0;  // pid
    std::atomic<int> m_databases{0};
    std::mutex m_mutex;
};

}  // namespace outpost::test
