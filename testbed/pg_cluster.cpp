// The test PostgreSQL cluster: find the binaries, initdb, start on a free port, stop and remove.
#include "testbed/pg_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace outpost::test {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSuperuser = "outpost";

bool hasTools(const fs::path& bin) {
    for (const char* tool : {"initdb", "pg_ctl", "createdb", "psql"})
        if (!fs::exists(bin / tool)) return false;
    return true;
}

// The newest /usr/lib/postgresql/<version>/bin with the server tools.
std::string findBinDir() {
    if (const char* env = std::getenv("OUTPOST_PG_BINDIR"); env && *env) {
        if (hasTools(env)) return env;
        throw std::runtime_error(std::string("OUTPOST_PG_BINDIR=") + env +
                                 " lacks initdb, pg_ctl, createdb or psql");
    }
    std::string best;
    int bestVersion = -1;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        auto bin = e.path() / "bin";
        if (!hasTools(bin)) continue;
        int v = std::atoi(e.path().filename().c_str());
        if (v > bestVersion) {
            bestVersion = v;
            best = bin.string();
        }
    }
    if (best.empty())
        throw std::runtime_error(
            "PostgreSQL server binaries not found (no /usr/lib/postgresql/<version>/bin/initdb): install "
            "postgresql (Debian) or set OUTPOST_PG_BINDIR; the PostgreSQL backend of HQ's store cannot be "
            "tested "
            "without them");
    return best;
}

int freePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t n = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot find a free TCP port on 127.0.0.1");
    }
    int port = ntohs(a.sin_port);
    ::close(fd);
    return port;
}

std::string readAll(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

PgCluster& PgCluster::shared() {
    static PgCluster cluster(PgClusterOptions{});
    return cluster;
}

PgCluster::PgCluster(PgClusterOptions options) : m_options(std::move(options)), m_binDir(findBinDir()) {
    const fs::path base = m_options.baseDir.empty() ? fs::temp_directory_path() : fs::path(m_options.baseDir);
    std::string tmpl = (base / "outpost-pg-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for the test cluster");
    m_root = tmpl;
    m_data = m_root + "/data";
    try {
        startWatchdog();
        m_uid = ::geteuid();
        m_gid = ::getegid();
        if (::geteuid() == 0) {
            const passwd* pw = ::getpwnam("nobody");
            if (!pw)
                throw std::runtime_error(
                    "running as root and there is no user 'nobody' to run PostgreSQL as");
            m_uid = pw->pw_uid;
            m_gid = pw->pw_gid;
            m_dropPrivileges = true;
            if (::chown(m_root.c_str(), m_uid, m_gid) != 0)
                throw std::runtime_error("cannot hand " + m_root + " to user nobody");
        }
        start();
    } catch (...) {
        stop();
        throw;
    }
}

// A test process killed before its static destructors run (a crash, a CTest timeout) would leave
// the server running. A small shell waits for the end of a pipe only this process holds open;
// at EOF it stops the server (SIGQUIT: immediate shutdown) and removes the folder. After a normal
// stop there is nothing left for it to do.
void PgCluster::startWatchdog() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    std::string sh = "/bin/sh", dashC = "-c",
                script =
                    "cat >/dev/null; if pid=$(head -n 1 \"$0/data/postmaster.pid\" 2>/dev/null); then "
                    "kill -QUIT \"$pid\" 2>/dev/null; sleep 1; fi; rm -rf \"$0\"",
                envPath = "PATH=/usr/bin:/bin";
    char* args[] = {sh.data(), dashC.data(), script.data(), m_root.data(), nullptr};
    char* env[] = {envPath.data(), nullptr};
    long maxFd = std::min(::sysconf(_SC_OPEN_MAX), 65536L);
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        ::dup2(fds[0], 0);
        int devnull = ::open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            ::dup2(devnull, 1);
            ::dup2(devnull, 2);
        }
        for (long fd = 3; fd < maxFd; ++fd) ::close(static_cast<int>(fd));
        ::setsid();  // outlives a Ctrl-C sent to the test's process group
        ::execve(args[0], args, env);
        ::_exit(127);
    }
    ::close(fds[0]);
    m_watchdogPipe = fds[1];
    m_watchdog = pid;
}

PgCluster::~PgCluster() {
    stop();
}

std::string PgCluster::uri(const std::string& database) const {
    return std::string("postgresql://") + kSuperuser + "@127.0.0.1:" + std::to_string(m_port) + "/" +
           database;
}

std::string PgCluster::setupLog() const {
    return readAll(m_root + "/setup.log") + readAll(m_root + "/server.log");
}

int PgCluster::run(const std::vector<std::string>& argv) {
    // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::string envLang = "LC_ALL=C", envPath = "PATH=/usr/bin:/bin", envHome = "HOME=" + m_root,
                envTz = "TZ=UTC";
    char* env[] = {envLang.data(), envPath.data(), envHome.data(), envTz.data(), nullptr};
    std::string logPath = m_root + "/setup.log";
    int log = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) throw std::runtime_error("cannot open " + logPath);
    if (m_dropPrivileges && ::fchown(log, m_uid, m_gid) != 0) {
        ::close(log);
        throw std::runtime_error("cannot hand " + logPath + " to user nobody");
    }
    long maxFd = std::min(::sysconf(_SC_OPEN_MAX), 65536L);
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(log);
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        ::dup2(log, 1);
        ::dup2(log, 2);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
        for (long fd = 3; fd < maxFd; ++fd) ::close(static_cast<int>(fd));
        if (m_dropPrivileges) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(m_gid) != 0 || ::setuid(m_uid) != 0) ::_exit(126);
        }
        if (::chdir(m_root.c_str()) != 0) ::_exit(126);
        ::execve(args[0], args.data(), env);
        ::_exit(127);
    }
    ::close(log);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw std::runtime_error("waitpid failed");
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void PgCluster::start() {
    std::string initdb = m_binDir + "/initdb", pgCtl = m_binDir + "/pg_ctl";
    if (run({initdb, "-D", m_data, "-U", kSuperuser, "-A", "trust", "-E", "UTF8", "--locale=C", "-N",
             "--no-instructions"}) != 0)
        throw std::runtime_error("initdb failed for the test cluster:\n" + setupLog());
    {
        // Trust, and only over TCP from 127.0.0.1 (and the cluster's own socket folder).
        std::ofstream hba(m_data + "/pg_hba.conf", std::ios::trunc);
        hba << "local all all trust\nhost all all 127.0.0.1/32 trust\n";
    }
    for (int attempt = 1;; ++attempt) {
        m_port = freePort();
        {
            std::ofstream conf(m_data + "/postgresql.auto.conf", std::ios::trunc);
            conf << "listen_addresses = '127.0.0.1'\n"
                 << "port = " << m_port << "\n"
                 << "unix_socket_directories = '" << m_root << "'\n"
                 << "max_connections = 60\n";
            const char* durable = m_options.durable ? "on" : "off";
            conf << "fsync = " << durable << "\n"
                 << "synchronous_commit = " << durable << "\n"
                 << "full_page_writes = " << durable << "\n"
                 << "logging_collector = off\n";
        }
        if (m_dropPrivileges) {
            for (const char* f : {"/pg_hba.conf", "/postgresql.auto.conf"})
                if (::chown((m_data + f).c_str(), m_uid, m_gid) != 0)
                    throw std::runtime_error("cannot hand the cluster's configuration to user nobody");
        }
        if (run({pgCtl, "-D", m_data, "-l", m_root + "/server.log", "-w", "-t", "60", "start"}) == 0) break;
        // Another process may have taken the port between the probe and the start.
        if (attempt == 3)
            throw std::runtime_error("pg_ctl start failed for the test cluster:\n" + setupLog());
    }
    m_running = true;
    if (run({m_binDir + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", uri(), "-c", "SELECT 1"}) != 0)
        throw std::runtime_error("the test cluster started but does not answer on " + uri() + ":\n" +
                                 setupLog());
}

void PgCluster::stop() noexcept {
    try {
        if (m_running) run({m_binDir + "/pg_ctl", "-D", m_data, "-m", "immediate", "-w", "-t", "60", "stop"});
    } catch (...) {
    }
    m_running = false;
    std::error_code ec;
    if (!m_root.empty()) fs::remove_all(m_root, ec);
    if (m_watchdogPipe >= 0) {
        ::close(m_watchdogPipe);
        m_watchdogPipe = -1;
        int status = 0;
        ::waitpid(m_watchdog, &status, 0);
    }
}

std::string PgCluster::createDatabase() {
    std::string name = "outpost_test_" + std::to_string(::getpid()) + "_" + std::to_string(++m_databases);
    std::lock_guard<std::mutex> lock(m_mutex);
    if (run({m_binDir + "/createdb", "-h", "127.0.0.1", "-p", std::to_string(m_port), "-U", kSuperuser,
             name}) != 0)
        throw std::runtime_error("createdb " + name + " failed:\n" + readAll(m_root + "/setup.log"));
    return uri(name);
}

std::string PgCluster::setting(const std::string& name) {
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string::npos)
        throw std::runtime_error("not a setting's name: " + name);
    std::lock_guard<std::mutex> lock(m_mutex);
    const std::string out = m_root + "/setting.out";
    if (run({m_binDir + "/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", uri(), "-o", out,
             "-c", "SHOW " + name}) != 0)
        throw std::runtime_error("psql failed on: SHOW " + name + "\n" + readAll(m_root + "/setup.log"));
    std::string value = readAll(out);
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
    return value;
}

void PgCluster::execute(const std::string& sql) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (run({m_binDir + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", uri(), "-c", sql}) != 0)
        throw std::runtime_error("psql failed on: " + sql + "\n" + readAll(m_root + "/setup.log"));
}

}  // namespace outpost::test
