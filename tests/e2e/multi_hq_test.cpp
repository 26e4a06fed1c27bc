// Three outpost-hq processes on one PostgreSQL database behind a round-robin balancer, as a site may run
// them (docs/operations.md, "Running HQ"): processes killed or frozen at random moments and laptops
// killed mid-sync. Each test ends with every revision at HQ exactly once, every HQ sequence number a
// report or recorded as void (numbers a push reserved and could not store), and `outpost-hq verify` passing.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "e2e/e2e_support.hpp"
#include "testbed/round_robin_proxy.hpp"

extern char** environ;

using namespace outpost;
using namespace outpost::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

const char* kUnits[] = {"MINUSCA-RWABATT-1", "MINUSCA-PAKBATT-1", "MINUSCA-ZAMBATT-1", "MINUSCA-CAMBATT-1"};

double secondsSince(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// Three HQ processes sharing one fresh database and one data folder (HQ's identity, TLS certificate and
// key: the same pin whichever process answers), each on its own port, and the balancer in front.
struct MultiHq {
    TempDir dir;
    std::string dbUri;
    std::vector<std::unique_ptr<HqProcess>> procs;
    std::unique_ptr<RoundRobinProxy> proxy;

    explicit MultiHq(int count = 3) {
        dbUri = PgCluster::shared().createDatabase();
        std::vector<std::uint16_t> ports;
        for (int i = 0; i < count; ++i) {
            HqOptions o;
            o.binary = hqBinary();
            o.dataDir = dir.sub("hq");
            o.dbUri = dbUri;
            o.port = freePort();
            ports.push_back(o.port);
            procs.push_back(std::make_unique<HqProcess>(o));
        }
        auto r = procs[0]->admin({"init"});
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
        procs[0]->addConductKey(dir.sub("conduct.key"));
        // Started from this thread: each server is asked to die with the thread that started it.
        for (auto& p : procs) p->start();
        proxy = std::make_unique<RoundRobinProxy>(ports);
        proxy->start();
    }
    std::string url() const { return "https://127.0.0.1:" + std::to_string(proxy->port()); }
    std::string enrollmentCode(const std::string& unit) const { return procs[0]->enroll(unit); }
    std::unique_ptr<storage::hq::HqStore> store() const {
        auto s = storage::hq::openHqStore(dbUri);
        INFO((s ? "" : s.error().message));
        REQUIRE(s.ok());
        return std::move(s.value());
    }
};

// n finalized reports of the four built-in forms, without Catch2 (laptop threads call it); the error in
// words, or "" when all went in.
std::string addReportsQuietly(Store& store, const std::string& unit, std::uint64_t seed, int n) {
    try {
        outpost::demo::DemoData demo(store.reference(), seed);
        static const char* mix[] = {"readiness", "training", "training-gap", "incident", "training"};
        std::map<std::string, std::vector<nlohmann::json>> byForm;
        for (int i = 0; i < n; ++i) byForm[mix[i % 5]].push_back(demo.next(mix[i % 5], unit));
        for (auto& [form, payloads] : byForm) {
            auto r = store.importFinal(form, payloads);
            if (!r) return "importing " + form + ": " + r.error().message;
        }
        return {};
    } catch (const std::exception& e) {
        return std::string("making demo reports: ") + e.what();
    }
}

// A laptop whose sync runs as `outpostctl sync`, a process of its own, so it can be killed with SIGKILL
// at any instruction.
struct CliLaptop {
    TempDir home;
    std::string dir = home.sub("store");
    std::string unit;
    std::string passphrase = "correct horse battery";
    std::optional<storage::DataKey> key;
    pid_t pid = -1;

    CliLaptop(std::string unitId, const MultiHq& hq, const std::string& name) : unit(std::move(unitId)) {
        storage::InitOptions io;
        io.unitId = unit;
        io.user = "field.tester";
        io.kdf = storage::KdfParams{1, 8192};
        REQUIRE(Store::create(dir, passphrase, io).ok());
        auto k = Store::unlock(dir, passphrase);
        REQUIRE(k.ok());
        key = k.value();
        auto s = open();
        auto e = sync::enroll(*s, hq.url(), hq.enrollmentCode(unit), name);
        INFO((e ? "" : e.error().message));
        REQUIRE(e.ok());
    }
    ~CliLaptop() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
    std::unique_ptr<Store> open() {
        auto s = Store::open(dir, *key);
        INFO((s ? "" : s.error().message));
        REQUIRE(s.ok());
        return std::move(s.value());
    }
    void addReports(int n, std::uint64_t seed) {
        auto s = open();
        auto problem = addReportsQuietly(*s, unit, seed, n);
        INFO(problem);
        REQUIRE(problem.empty());
    }
    void startSync() {
        // The environment is made before fork(): the child only calls execve.
        std::vector<std::string> env;
        for (char** e = environ; *e; ++e)
            if (std::string_view(*e).rfind("OUTPOST_PASSPHRASE=", 0) != 0) env.emplace_back(*e);
        env.push_back("OUTPOST_PASSPHRASE=" + passphrase);
        std::vector<char*> envp;
        for (auto& e : env) envp.push_back(e.data());
        envp.push_back(nullptr);
        std::string prog = OUTPOSTCTL, storeFlag = "--store", cmd = "sync";
        std::vector<char*> argv{prog.data(), storeFlag.data(), dir.data(), cmd.data(), nullptr};
        // Its words go to a file beside the store (read when a check fails), not into the test's output.
        int log = ::open(home.sub("sync.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        REQUIRE(log >= 0);
        pid = ::fork();
        if (pid == 0) {
            ::dup2(log, 1);
            ::dup2(log, 2);
            ::execve(argv[0], argv.data(), envp.data());
            _exit(127);
        }
        ::close(log);
        REQUIRE(pid > 0);
    }
    // True when the pass was still running and was killed.
    bool killIfRunning() {
        if (pid <= 0) return false;
        if (::waitpid(pid, nullptr, WNOHANG) == pid) {
            pid = -1;
            return false;
        }
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        pid = -1;
        return true;
    }
    // Waits for the pass to end by itself; one still running after `limit` is killed (false).
    bool wait(std::chrono::seconds limit) {
        const auto deadline = Clock::now() + limit;
        while (pid > 0 && Clock::now() < deadline) {
            if (::waitpid(pid, nullptr, WNOHANG) == pid) {
                pid = -1;
                return true;
            }
            std::this_thread::sleep_for(20ms);
        }
        return !killIfRunning();
    }
};

std::set<std::pair<std::string, int>> finalsOf(Store& s) {
    storage::ListFilter f;
    f.status = core::RecordStatus::Final;
    f.latestOnly = false;
    f.limit = 10000000;
    auto l = s.list(f);
    REQUIRE(l.ok());
    std::set<std::pair<std::string, int>> out;
    for (auto& m : l.value()) out.insert({m.id, m.revision});
    return out;
}

// checkExactlyOnce for several processes on one database: every final revision of every laptop at HQ
// exactly once and nothing else, HQ's sequence numbers 1..N each a report or inside a range recorded as
// void (a push cut off by a kill or a frozen process ending leaves its reserved numbers void, never an
// unexplained hole), each laptop's queue drained and its store and audit log whole, and HQ's own check as
// an operator runs it.
void checkExactlyOnceAcross(const MultiHq& hq, const std::vector<Store*>& laptops) {
    std::set<std::pair<std::string, int>> expected;
    for (auto* l : laptops) {
        auto f = finalsOf(*l);
        expected.insert(f.begin(), f.end());
        auto c = l->outboxCounts();
        REQUIRE(c.ok());
        CHECK(c.value().queued == 0);
        auto v = l->verify();
        REQUIRE(v.ok());
        CHECK(v.value().empty());
        auto audit = l->verifyAudit();
        REQUIRE(audit.ok());
        CHECK(audit.value().problems.empty());
    }
    auto s = hq.store();
    storage::hq::ReportFilter rf;
    rf.limit = 10000000;
    auto reps = s->reports(rf);
    REQUIRE(reps.ok());
    std::set<std::pair<std::string, int>> seen;
    std::set<std::int64_t> seqs;
    for (auto& r : reps.value()) {
        CHECK(seen.insert({r.recordId, r.revision}).second);  // never twice
        CHECK(seqs.insert(r.hqSeq).second);
    }
    CHECK(seen == expected);
    REQUIRE(!seqs.empty());
    auto voids = s->voidRanges();
    REQUIRE(voids.ok());
    std::int64_t voided = 0;
    for (const auto& r : voids.value()) {
        INFO("void " << r.first << "-" << r.last << ": " << r.why);
        CHECK(r.first <= r.last);
        for (std::int64_t n = r.first; n <= r.last; ++n) CHECK(seqs.insert(n).second);  // no report there
        voided += r.last - r.first + 1;
    }
    // Reports and void numbers together: exactly 1..N.
    CHECK(*seqs.begin() == 1);
    CHECK(*seqs.rbegin() == static_cast<std::int64_t>(seqs.size()));
    UNSCOPED_INFO("numbers void: " << voided << " in " << voids.value().size() << " range(s)");
    auto count = s->reportCount();
    REQUIRE(count.ok());
    CHECK(count.value() == static_cast<std::int64_t>(expected.size()));
    auto v = s->verify();
    REQUIRE(v.ok());
    CHECK(v.value().empty());
    auto hv = hq.procs[0]->admin({"verify"});
    INFO(hv.out << hv.err);
    CHECK(hv.exitCode == 0);
}

sync::ClientOptions quickOptions() {
    sync::ClientOptions o;
    o.connectTimeoutMs = 3000;
    o.lowSpeedBytes = 1;
    o.lowSpeedSeconds = 3;
    return o;
}

// One SQL query through psql on the test cluster; its rows, fields split at '|'. Throws when psql fails.
std::vector<std::vector<std::string>> queryRows(const std::string& uri, const std::string& sql) {
    auto r = runProgram({PgCluster::shared().binDir() + "/psql", "-X", "-q", "-A", "-t", "-F", "|", "-v",
                         "ON_ERROR_STOP=1", "-d", uri, "-c", sql});
    if (r.exitCode != 0) throw std::runtime_error("psql failed on: " + sql + "\n" + r.err);
    std::vector<std::vector<std::string>> rows;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty()) continue;
        std::vector<std::string> fields;
        std::size_t at = 0;
        for (;;) {
            auto bar = line.find('|', at);
            fields.push_back(line.substr(at, bar == std::string::npos ? std::string::npos : bar - at));
            if (bar == std::string::npos) break;
            at = bar + 1;
        }
        rows.push_back(std::move(fields));
    }
    return rows;
}

// The sessions of one HQ process, as PostgreSQL sees them: state, whether a transaction is open, whether
// that transaction has the counter table locked (ingest takes the report counter's row FOR UPDATE; a
// session queued for the row has the table locked too, and waits for a lock), and the start of the last
// statement.
struct Session {
    std::string state;
    bool inTransaction = false;
    bool holdsCounter = false;
    std::string query;
    std::string backend;   // the PostgreSQL backend's pid
    std::string stateAge;  // seconds since the state last changed
    bool waitingOnLock = false;
    bool holdsNumbers = false;  // a reservation of HQ sequence numbers is in its name (a push being stored)
};

std::vector<Session> sessionsOf(const std::string& uri, pid_t hqPid) {
    const std::string sql =
        "SELECT a.state, a.xact_start IS NOT NULL, EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND "
        "l.granted AND l.relation = 'counter'::regclass), left(regexp_replace(a.query, '\\s+', ' ', 'g'), "
        "70), "
        "a.pid, round(extract(epoch FROM now() - a.state_change)::numeric, 1), coalesce(a.wait_event_type, "
        "''), EXISTS (SELECT 1 FROM reservation r WHERE r.holder_pid = a.pid) "
        "FROM pg_stat_activity a WHERE a.application_name = 'outpost-hq/" +
        std::to_string(hqPid) + "'";
    std::vector<Session> out;
    for (auto& row : queryRows(uri, sql)) {
        if (row.size() < 8) continue;
        out.push_back(
            {row[0], row[1] == "t", row[2] == "t", row[3], row[4], row[5], row[6] == "Lock", row[7] == "t"});
    }
    return out;
}

std::string describe(const std::vector<Session>& sessions) {
    std::string s;
    for (auto& x : sessions) {
        if (x.state == "idle" && !x.inTransaction) continue;
        s += "[backend " + x.backend + " " + x.state + " for " + x.stateAge + " s" +
             (x.waitingOnLock  ? ", waiting for a lock"
              : x.holdsCounter ? ", holds the counter"
              : x.holdsNumbers ? ", holds reserved numbers"
                               : "") +
             ": " + x.query + "] ";
    }
    return s.empty() ? std::to_string(sessions.size()) + " session(s), all idle" : s;
}

// A backend for the balancer's own test: answers each connection, once the client has closed its half,
// with "<name>:" and everything it sent, then closes. Blocking sockets, a thread per connection.
class ReplyServer {
public:
    explicit ReplyServer(std::string name) : m_name(std::move(name)) {
        m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(m_fd >= 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(m_fd, 128) == 0);
        socklen_t len = sizeof addr;
        ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len);
        m_port = ntohs(addr.sin_port);
        m_thread = std::thread([this] {
            for (;;) {
                int c = ::accept4(m_fd, nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) return;  // the listening socket was shut down
                m_workers.emplace_back([this, c] {
                    std::string got, out = m_name + ":";
                    char buf[4096];
                    for (ssize_t n; (n = ::recv(c, buf, sizeof buf, 0)) > 0;)
                        got.append(buf, static_cast<std::size_t>(n));
                    out += got;
                    for (std::size_t at = 0; at < out.size();) {
                        ssize_t w = ::send(c, out.data() + at, out.size() - at, MSG_NOSIGNAL);
                        if (w <= 0) break;
                        at += static_cast<std::size_t>(w);
                    }
                    ::close(c);
                });
            }
        });
    }
    ~ReplyServer() {
        ::shutdown(m_fd, SHUT_RDWR);
        m_thread.join();
        for (auto& w : m_workers) w.join();
        ::close(m_fd);
    }
    std::uint16_t port() const { return m_port; }

private:
    std::string m_name;
    int m_fd = -1;
    std::uint16_t m_port = 0;
    std::thread m_thread;
    std::vector<std::thread> m_workers;  // touched by the accepting thread only, until the destructor
};

// Connects to 127.0.0.1:port, sends text, closes its half, and returns all that comes back ("" when the
// connection fails or is closed without an answer).
std::string exchange(std::uint16_t port, const std::string& text) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return {};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    std::string got;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size()) &&
        ::shutdown(fd, SHUT_WR) == 0) {
        char buf[4096];
        for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
            got.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return got;
}

}  // namespace

TEST_CASE(
    "three HQ processes on one PostgreSQL behind a round-robin proxy: random SIGKILLs of HQ processes and "
    "laptops lose and double nothing") {
    const auto started = Clock::now();
    MultiHq hq;
    // Two laptops sync in this process (threads); two as `outpostctl sync` processes that get killed.
    std::vector<std::unique_ptr<Laptop>> inProcess;
    for (int i = 0; i < 2; ++i) {
        inProcess.push_back(std::make_unique<Laptop>(kUnits[i], 10 + i));
        auto e = sync::enroll(*inProcess.back()->store, hq.url(), hq.enrollmentCode(kUnits[i]),
                              "laptop-" + std::to_string(i));
        INFO((e ? "" : e.error().message));
        REQUIRE(e.ok());
    }
    std::vector<std::unique_ptr<CliLaptop>> killable;
    for (int i = 2; i < 4; ++i)
        killable.push_back(std::make_unique<CliLaptop>(kUnits[i], hq, "laptop-" + std::to_string(i)));

    std::mt19937 rng(31);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    const int rounds = faultRounds(20);
    int hqKills = 0, laptopKills = 0;
    for (int round = 0; round < rounds; ++round) {
        INFO("round " << round);
        for (auto& l : inProcess) l->addReports(25);
        for (std::size_t k = 0; k < killable.size(); ++k)
            killable[k]->addReports(60, 1000 + 10 * static_cast<std::uint64_t>(round) + k);
        for (auto& l : killable) l->startSync();
        // Each thread writes only its own slot; the main thread reads them after join.
        std::vector<std::string> errors(inProcess.size());
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < inProcess.size(); ++i)
            threads.emplace_back([&, i] {
                auto r = sync::syncOnce(*inProcess[i]->store, quickOptions());
                if (!r) errors[i] = r.error().message;
            });
        // Most rounds lose an HQ process, most lose a laptop, some both, at random moments in either
        // order (a laptop's pass is short: its kill comes early or finds nothing to kill).
        const bool killHq = pick(0, 2) > 0, killLaptop = pick(0, 2) > 0;
        const auto victim = static_cast<std::size_t>(pick(0, static_cast<int>(hq.procs.size()) - 1));
        const auto roundStart = Clock::now();
        const auto hqAt = roundStart + std::chrono::milliseconds(pick(0, 300));
        const auto laptopAt = roundStart + std::chrono::milliseconds(pick(0, 200));
        CliLaptop& laptopVictim = *killable[static_cast<std::size_t>(round) % killable.size()];
        for (bool hqFirst : {hqAt < laptopAt, !(hqAt < laptopAt)}) {
            if (hqFirst && killHq) {
                std::this_thread::sleep_until(hqAt);
                hq.procs[victim]->stop(SIGKILL);
                ++hqKills;
            } else if (!hqFirst && killLaptop) {
                std::this_thread::sleep_until(laptopAt);
                if (laptopVictim.killIfRunning()) ++laptopKills;
            }
        }
        if (killHq) hq.procs[victim]->start();
        for (auto& t : threads) t.join();
        for (auto& e : errors) CHECK(e.empty());
        for (auto& l : killable) CHECK(l->wait(60s));
        // Whatever the moment of the kills, every final revision is queued or has HQ's receipt.
        for (auto& l : killable) {
            auto v = l->open()->verify();
            REQUIRE(v.ok());
            REQUIRE(v.value().empty());
        }
    }
    CHECK(hqKills > 0);
    CHECK(laptopKills > 0);
    for (std::size_t i = 0; i < hq.procs.size(); ++i) {
        INFO("HQ process " << i);
        CHECK(hq.proxy->connectionsTo(i) > 0);
    }

    // Recovery: one clean pass per laptop through the balancer drains what the killed passes left.
    std::vector<std::unique_ptr<Store>> opened;
    std::vector<Store*> stores;
    for (auto& l : inProcess) stores.push_back(l->store.get());
    for (auto& l : killable) {
        opened.push_back(l->open());
        stores.push_back(opened.back().get());
    }
    for (auto* s : stores) {
        auto r = sync::syncOnce(*s);
        REQUIRE(r.ok());
        INFO(r.value().progress.message);
        CHECK(r.value().ok);
    }
    checkExactlyOnceAcross(hq, stores);
    std::cerr << "multi-hq kills: " << hqKills << " HQ processes and " << laptopKills << " laptops in "
              << rounds << " rounds; connections per HQ process " << hq.proxy->connectionsTo(0) << ", "
              << hq.proxy->connectionsTo(1) << ", " << hq.proxy->connectionsTo(2) << "; "
              << secondsSince(started) << " s\n";
}

TEST_CASE(
    "one HQ process frozen mid-ingest (SIGSTOP) does not stop the others, and the laptops' messages name "
    "HQ, not the link") {
    const std::string ending = GENERATE(as<std::string>{}, "resumed", "killed");
    INFO("the frozen process is " << ending);
    const auto started = Clock::now();
    MultiHq hq;
    std::vector<std::unique_ptr<Laptop>> laptops;
    for (int i = 0; i < 4; ++i) {
        laptops.push_back(std::make_unique<Laptop>(kUnits[i], 20 + i));
        auto e = sync::enroll(*laptops.back()->store, hq.url(), hq.enrollmentCode(kUnits[i]),
                              "laptop-" + std::to_string(i));
        INFO((e ? "" : e.error().message));
        REQUIRE(e.ok());
        laptops.back()->addReports(250);
    }

    // A laptop stuck on the frozen process gives up within the test's time.
    sync::ClientOptions options;
    options.connectTimeoutMs = 6000;
    options.lowSpeedSeconds = 6;

    struct Run {
        std::string problem;  // a failure that is not a failed pass (the store's own error)
        int passes = 0, failed = 0;
        bool drained = false;
    };
    std::vector<Run> runs(laptops.size());
    std::mutex messagesMutex;
    std::vector<std::pair<double, std::string>> messages;  // seconds since the freeze (negative: before)
    std::atomic<bool> feeding{true}, quit{false};
    std::atomic<std::int64_t> freezeStartNs{0};
    auto sinceFreeze = [&] {
        const auto f = freezeStartNs.load();
        const auto now =
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch());
        return f == 0 ? -1.0 : static_cast<double>(now.count() - f) / 1e9;
    };

    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < laptops.size(); ++i)
        threads.emplace_back([&, i] {
            Store& store = *laptops[i]->store;
            Run& run = runs[i];
            std::uint64_t seed = 5000 + 1000 * i;
            while (!quit) {
                auto counts = store.outboxCounts();
                if (!counts) {
                    run.problem = counts.error().message;
                    return;
                }
                if (feeding && counts.value().queued < 150) {
                    run.problem = addReportsQuietly(store, laptops[i]->unit, ++seed, 60);
                    if (!run.problem.empty()) return;
                } else if (!feeding && counts.value().queued == 0 && run.drained) {
                    return;
                }
                auto r = sync::syncOnce(store, options);
                if (!r) {
                    run.problem = r.error().message;
                    return;
                }
                ++run.passes;
                if (!r.value().ok) {
                    ++run.failed;
                    std::lock_guard<std::mutex> lock(messagesMutex);
                    messages.emplace_back(sinceFreeze(), r.value().progress.message);
                }
                run.drained = !feeding && r.value().ok;
            }
        });
    // Threads are stopped and joined whatever a REQUIRE below does.
    struct Joiner {
        std::atomic<bool>& quit;
        std::vector<std::thread>& threads;
        ~Joiner() {
            quit = true;
            for (auto& t : threads)
                if (t.joinable()) t.join();
        }
    } joiner{quit, threads};

    auto hqStore = hq.store();
    auto reportCount = [&] {
        auto c = hqStore->reportCount();
        REQUIRE(c.ok());
        return c.value();
    };
    {
        const auto deadline = Clock::now() + 20s;
        while (reportCount() == 0 && Clock::now() < deadline) std::this_thread::sleep_for(100ms);
        REQUIRE(reportCount() > 0);
    }

    // Catch the victim inside an ingest transaction, holding the counter: SIGSTOP as soon as PostgreSQL
    // shows it there, then look again; a transaction that ended in between is let go and tried again.
    HqProcess& victim = *hq.procs[1];
    const pid_t victimPid = victim.pid();
    bool caught = false;
    int attempts = 0;
    std::vector<Session> atFreeze;
    Clock::time_point frozenAt;
    const auto catchDeadline = Clock::now() + 60s;
    while (!caught && Clock::now() < catchDeadline) {
        ++attempts;
        bool inside = false;
        for (const auto until = Clock::now() + 2s; !inside && Clock::now() < until;)
            for (auto& s : sessionsOf(hq.dbUri, victimPid))
                inside = inside || (s.inTransaction && (s.holdsCounter || s.holdsNumbers));
        if (!inside) continue;
        ::kill(victimPid, SIGSTOP);
        frozenAt = Clock::now();
        // Long enough for a statement PostgreSQL was running for it to finish, so its state settles.
        std::this_thread::sleep_for(300ms);
        atFreeze = sessionsOf(hq.dbUri, victimPid);
        // Inside a push's transaction: at the shared rows (the audit entry to the commit) or storing the
        // reports under numbers it reserved.
        for (auto& s : atFreeze)
            caught = caught || ((s.holdsCounter || s.holdsNumbers) && s.state == "idle in transaction");
        if (!caught) ::kill(victimPid, SIGCONT);
    }
    INFO("attempts " << attempts << "; the victim's sessions: " << describe(atFreeze));
    REQUIRE(caught);
    freezeStartNs = std::chrono::duration_cast<std::chrono::nanoseconds>(frozenAt.time_since_epoch()).count();
    const auto serverLogPath =
        std::filesystem::path(PgCluster::shared().dataDir()).parent_path() / "server.log";
    std::error_code sizeError;
    const auto serverLogAtFreeze = std::filesystem::file_size(serverLogPath, sizeError);
    const auto countAtFreeze = reportCount();
    std::set<std::string> holders;  // the victim's sessions inside the ingest transaction it froze in
    for (auto& s : atFreeze)
        if ((s.holdsCounter || s.holdsNumbers) && s.state == "idle in transaction") holders.insert(s.backend);

    // During the freeze: the others go on once PostgreSQL has ended the stalled session (5 s idle in a
    // transaction) and released the counter; a laptop that waited on the lock meanwhile had a 503.
    std::vector<std::pair<double, std::int64_t>> growth;
    std::vector<Session> at7s;
    std::vector<std::pair<double, std::string>> victimTimeline;
    double firstGrowth = -1;
    long mostAtRows = 0;
    for (auto& x : atFreeze) mostAtRows += x.holdsCounter ? 1 : 0;
    bool looked7 = false;
    while (secondsSince(frozenAt) < 15) {
        std::this_thread::sleep_for(100ms);
        const double t = secondsSince(frozenAt);
        const auto count = reportCount();
        if (growth.empty() || growth.back().second != count) growth.emplace_back(t, count);
        if (firstGrowth < 0 && count > countAtFreeze) firstGrowth = t;
        if (victimTimeline.empty() || t - victimTimeline.back().first >= 1) {
            const auto sessions = sessionsOf(hq.dbUri, victimPid);
            victimTimeline.emplace_back(t, describe(sessions));
            // A process stores one push at a time: never two of its sessions at (or queued for) the shared
            // rows of the counter table.
            const auto atRows = std::count_if(sessions.begin(), sessions.end(),
                                              [](const Session& x) { return x.holdsCounter; });
            mostAtRows = std::max<long>(mostAtRows, atRows);
        }
        if (!looked7 && t >= 7) {
            at7s = sessionsOf(hq.dbUri, victimPid);
            looked7 = true;
        }
    }
    {
        INFO("the victim's sessions 7 s into the freeze: " << describe(at7s));
        CHECK(looked7);
        // The session caught inside the transaction has been ended by PostgreSQL (the idle bound).
        for (auto& s : at7s) CHECK(holders.count(s.backend) == 0);
        // And no other session of the frozen process took its place: one that was queued for the counter
        // row when the process froze is handed the row once the first is ended, and holds it idle for
        // another 5 s while the other processes wait.
        for (auto& s : at7s) CHECK(s.state != "idle in transaction");
        for (auto& s : at7s) CHECK_FALSE(s.holdsCounter);
    }
    INFO("reports stored first " << firstGrowth << " s into the freeze");
    CHECK(mostAtRows <= 1);
    CHECK(firstGrowth >= 0);
    CHECK(firstGrowth <= 10);

    if (ending == "resumed")
        ::kill(victimPid, SIGCONT);
    else
        victim.stop(SIGKILL);
    const auto freezeEnded = Clock::now();
    const auto countAtEnd = reportCount();

    // Every laptop drains its queue: its thread ends by itself once a pass leaves nothing queued, or is
    // told to stop at the deadline (and the check below fails).
    feeding = false;
    {
        const auto drainDeadline = Clock::now() + 45s;
        std::atomic<bool> joined{false};
        std::thread watchdog([&] {
            while (!joined && Clock::now() < drainDeadline) std::this_thread::sleep_for(100ms);
            quit = true;
        });
        for (auto& t : threads) t.join();
        joined = true;
        watchdog.join();
    }
    const double drainSeconds = secondsSince(freezeEnded);

    for (std::size_t i = 0; i < runs.size(); ++i) {
        INFO("laptop " << i << ": " << runs[i].passes << " passes, " << runs[i].failed << " failed");
        CHECK(runs[i].problem.empty());
        CHECK(runs[i].drained);
    }
    for (std::size_t i = 0; i < hq.procs.size(); ++i) {
        INFO("HQ process " << i);
        CHECK(hq.proxy->connectionsTo(i) > 0);
    }
    std::vector<Store*> stores;
    for (auto& l : laptops) stores.push_back(l->store.get());
    checkExactlyOnceAcross(hq, stores);

    // What the laptops said: HQ is named, and the link is not blamed (it was up the whole time).
    std::set<std::string> distinct;
    for (auto& [t, m] : messages) {
        INFO("at " << t << " s: " << m);
        CHECK(m.find("HQ") != std::string::npos);
        CHECK(m.find("link stalled") == std::string::npos);
        CHECK(m.find("the link to HQ stalled") == std::string::npos);
        distinct.insert(m);
    }
    std::cerr << "multi-hq freeze (" << ending << "): caught after " << attempts
              << " attempt(s): " << describe(atFreeze) << "\n  7 s in: " << describe(at7s)
              << "\n  reports: " << countAtFreeze << " at the freeze, the first more " << firstGrowth
              << " s in, " << countAtEnd << " at its end; drained in " << drainSeconds << " s; "
              << secondsSince(started) << " s in all\n  growth:";
    for (auto& [t, c] : growth) std::cerr << " " << static_cast<int>(t * 10) / 10.0 << "s=" << c;
    std::cerr << "\n  the victim's sessions during the freeze:\n";
    for (auto& [t, d] : victimTimeline)
        std::cerr << "    " << static_cast<int>(t * 10) / 10.0 << " s: " << d << "\n";
    std::cerr << "  " << messages.size() << " failed passes; their messages:\n";
    for (auto& m : distinct) std::cerr << "    " << m << "\n";
    // PostgreSQL's own account of the sessions it ended (the test cluster's server log).
    std::ifstream serverLog(serverLogPath);
    if (!sizeError) serverLog.seekg(static_cast<std::streamoff>(serverLogAtFreeze));
    std::cerr << "  the server log on sessions ended since the freeze:\n";
    for (std::string line; std::getline(serverLog, line);)
        if (line.find("idle-in-transaction") != std::string::npos ||
            line.find("lock timeout") != std::string::npos)
            std::cerr << "    " << line << "\n";
}

TEST_CASE(
    "the round-robin proxy takes backends in turn, skips one that refuses, and passes a half-close on") {
    ReplyServer a("a"), b("b");
    const std::uint16_t refusing = freePort();  // nothing listens there
    RoundRobinProxy proxy({a.port(), refusing, b.port()});
    proxy.start();
    // 60 clients at once; each thread writes only its own slot.
    std::vector<std::string> answers(60);
    std::vector<std::thread> clients;
    for (std::size_t i = 0; i < answers.size(); ++i)
        clients.emplace_back([&, i] { answers[i] = exchange(proxy.port(), "hello " + std::to_string(i)); });
    for (auto& c : clients) c.join();
    int fromA = 0, fromB = 0;
    for (std::size_t i = 0; i < answers.size(); ++i) {
        INFO("client " << i << " got '" << answers[i] << "'");
        const std::string sent = "hello " + std::to_string(i);
        CHECK((answers[i] == "a:" + sent || answers[i] == "b:" + sent));
        fromA += answers[i].rfind("a:", 0) == 0;
        fromB += answers[i].rfind("b:", 0) == 0;
    }
    // The refusing backend's turns went to the next one: b answers two clients in three.
    CHECK(fromA == 20);
    CHECK(fromB == 40);
    CHECK(proxy.connectionsAccepted() == 60);
    CHECK(proxy.connectionsTo(0) == 20);
    CHECK(proxy.connectionsTo(1) == 0);
    CHECK(proxy.connectionsTo(2) == 40);
    CHECK(proxy.refusalsBy(1) == 20);
    CHECK(proxy.connectionsDropped() == 0);

    // When every backend refuses, the client's connection is closed without an answer.
    RoundRobinProxy nobody({freePort(), freePort()});
    nobody.start();
    CHECK(exchange(nobody.port(), "anyone?").empty());
    CHECK(nobody.connectionsDropped() == 1);
    CHECK(nobody.refusalsBy(0) + nobody.refusalsBy(1) == 2);
}
