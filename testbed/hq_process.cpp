// The real outpost-hq server as a child process.
#include "testbed/hq_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace outpost::test {

namespace {

std::vector<char*> cargs(std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// Reads everything from two pipes until both close.
void drain(int outFd, int errFd, std::string& out, std::string& err) {
    pollfd fds[2] = {{outFd, POLLIN, 0}, {errFd, POLLIN, 0}};
    int open = 2;
    char buf[65536];
    while (open > 0) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                (i == 0 ? out : err).append(buf, static_cast<std::size_t>(n));
            } else {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open;
            }
        }
    }
}

}  // namespace

CommandResult runProgram(const std::vector<std::string>& argvIn) {
    std::vector<std::string> argv = argvIn;
    int outPipe[2], errPipe[2];
    if (::pipe2(outPipe, O_CLOEXEC) != 0 || ::pipe2(errPipe, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe failed");
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::dup2(outPipe[1], 1);
        ::dup2(errPipe[1], 2);
        auto a = cargs(argv);
        ::execv(a[0], a.data());
        _exit(127);
    }
    ::close(outPipe[1]);
    ::close(errPipe[1]);
    CommandResult r;
    drain(outPipe[0], errPipe[0], r.out, r.err);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

std::uint16_t freePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot bind a free port");
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

HqProcess::HqProcess(HqOptions o) : m_options(std::move(o)) {
    if (m_options.port == 0) m_options.port = freePort();
}

HqProcess::~HqProcess() {
    if (m_pid > 0) stop(SIGKILL);
}

std::string HqProcess::url() const {
    return "https://127.0.0.1:" + std::to_string(m_options.port);
}

void HqProcess::start() {
    if (m_pid > 0) throw std::runtime_error("outpost-hq is already running");
    std::vector<std::string> argv{m_options.binary, "serve",
                                  "--data",         m_options.dataDir,
                                  "--listen",       "127.0.0.1:" + std::to_string(m_options.port)};
    if (!m_options.dbUri.empty()) argv.insert(argv.end(), {"--db", m_options.dbUri});
    if (m_options.threads > 0) argv.insert(argv.end(), {"--threads", std::to_string(m_options.threads)});
    argv.insert(argv.end(), m_options.serveArgs.begin(), m_options.serveArgs.end());
    int outPipe[2];
    if (::pipe2(outPipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        // The server dies with the test (or benchmark) that started it, even when that one is killed or
        // aborts (a sanitizer's report): left running, it would hold the test runner's output pipe open
        // and the whole run would wait for it.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) _exit(127);
        ::dup2(outPipe[1], 1);
        if (m_options.fileSizeLimit > 0) {
            ::signal(SIGXFSZ, SIG_IGN);
            rlimit rl{m_options.fileSizeLimit, m_options.fileSizeLimit};
            ::setrlimit(RLIMIT_FSIZE, &rl);
        }
        auto a = cargs(argv);
        ::execv(a[0], a.data());
        _exit(127);
    }
    ::close(outPipe[1]);
    m_pid = pid;
    // Wait for "outpost-hq listening on https://127.0.0.1:<port> pin <pin>".
    std::string text;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                          std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{outPipe[0], POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r <= 0) continue;
        char buf[4096];
        ssize_t n = ::read(outPipe[0], buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        auto at = text.find("pin ");
        if (text.find("listening on") != std::string::npos && at != std::string::npos) {
            auto eol = text.find('\n', at);
            if (eol == std::string::npos) continue;
            m_pin = text.substr(at + 4, eol - at - 4);
            // Keep reading the server's stdout in the background so it never blocks on a full pipe.
            int fd = outPipe[0];
            std::thread([fd] {
                char b[4096];
                while (::read(fd, b, sizeof b) > 0) {
                }
                ::close(fd);
            }).detach();
            return;
        }
    }
    ::close(outPipe[0]);
    stop(SIGKILL);
    throw std::runtime_error("outpost-hq did not start; it printed: " + text);
}

void HqProcess::stop(int sig) {
    if (m_pid <= 0) return;
    ::kill(m_pid, sig);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
    m_pid = -1;
}

bool HqProcess::exited() {
    if (m_pid <= 0) return true;
    int status = 0;
    if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;
        return true;
    }
    return false;
}

CommandResult HqProcess::admin(std::vector<std::string> args) const {
    std::vector<std::string> argv{m_options.binary};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data", m_options.dataDir});
    if (!m_options.dbUri.empty()) argv.insert(argv.end(), {"--db", m_options.dbUri});
    return runProgram(argv);
}

std::string HqProcess::addConductKey(const std::string& keyFile, const std::string& name) const {
    ::setenv("OUTPOST_CONDUCT_PASSPHRASE", kConductPassphrase, 1);
    auto r = admin({"conduct-key", "add", "--name", name, "--out", keyFile, "--kdf", "interactive"});
    if (r.exitCode != 0) throw std::runtime_error("outpost-hq conduct-key add failed: " + r.err);
    auto at = r.out.find("conduct key ");
    if (at == std::string::npos)
        throw std::runtime_error("outpost-hq conduct-key add printed no id: " + r.out);
    return r.out.substr(at + 12, 16);
}

std::string HqProcess::enroll(const std::string& unit) const {
    auto r = admin({"enroll", "--unit", unit});
    if (r.exitCode != 0) throw std::runtime_error("outpost-hq enroll failed: " + r.err);
    auto at = r.out.find("OP1.");
    if (at == std::string::npos) throw std::runtime_error("outpost-hq enroll printed no code: " + r.out);
    auto end = r.out.find_first_of(" \n", at);
    return r.out.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

}  // namespace outpost::test
