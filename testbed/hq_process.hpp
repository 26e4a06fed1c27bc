// The real outpost-hq server as a child process, for sync tests and benchmarks: started over TLS on
// 127.0.0.1, killed with any signal, restarted on the same port; and its admin commands.
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <string>
#include <vector>

namespace outpost::test {

struct CommandResult {
    int exitCode = -1;
    std::string out;
    std::string err;
};

// Runs a program to completion, capturing stdout and stderr (no shell).
CommandResult runProgram(const std::vector<std::string>& argv);

// A free TCP port on 127.0.0.1 (bound and released; good enough for tests on one machine).
std::uint16_t freePort();

struct HqOptions {
    std::string binary;      // path of outpost-hq
    std::string dataDir;     // --data
    std::string dbUri;       // --db (PostgreSQL) when not empty
    std::uint16_t port = 0;  // 0: a free port chosen once and kept across restarts
    int threads = 0;         // --threads when > 0
    // When > 0 the server runs with RLIMIT_FSIZE at this many bytes (and SIGXFSZ ignored): writes
    // beyond it fail as on a full disk.
    std::uint64_t fileSizeLimit = 0;
    std::vector<std::string> serveArgs;  // more options for `serve` (e.g. --memory-budget 256)
};

class HqProcess {
public:
    explicit HqProcess(HqOptions o);
    ~HqProcess();  // SIGKILL and reap
    HqProcess(const HqProcess&) = delete;
    HqProcess& operator=(const HqProcess&) = delete;

    // Starts the server and waits (up to 30 s) for its "listening" line; throws std::runtime_error.
    void start();
    // Sends sig and reaps the child (SIGTERM: a clean stop; SIGKILL: a crash).
    void stop(int sig = 15);
    bool running() const { return m_pid > 0; }
    pid_t pid() const { return m_pid; }  // -1 when not running
    // True when the child exited by itself (reaps it).
    bool exited();

    std::string url() const;  // https://127.0.0.1:<port>
    const std::string& pin() const { return m_pin; }
    std::uint16_t port() const { return m_options.port; }
    HqOptions& options() { return m_options; }

    // outpost-hq <args...> --data DIR [--db URI]
    CommandResult admin(std::vector<std::string> args) const;
    // A one-time enrollment code for the unit (outpost-hq enroll); throws when it fails.
    std::string enroll(const std::string& unit) const;
    // A conduct-and-discipline key (outpost-hq conduct-key add), its file at keyFile, protected by
    // kConductPassphrase: laptops seal sensitive sections to it. Returns its id; throws when it fails.
    std::string addConductKey(const std::string& keyFile, const std::string& name = "Conduct officer") const;
    static constexpr const char* kConductPassphrase = "conduct-officer-passphrase";

private:
    HqOptions m_options;
    pid_t m_pid = -1;
    std::string m_pin;
};

}  // namespace outpost::test
