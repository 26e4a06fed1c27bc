// outpost-bench sync / hq: what syncing costs, against the real outpost-hq process over TLS.
//
// sync: one laptop pushes N realistic reports (demo::DemoData, the four built-in forms) over loopback
//       and over the link emulator at 600 ms RTT with 256 kbit/s and 64 kbit/s (each direction, shared
//       by all connections). Each time is compared with the physical lower bound: the compressed bytes
//       that must cross the link (the larger direction) divided by its bandwidth, plus the round trips
//       the protocol cannot avoid: the TLS 1.3 handshake, one push, one pull (3 RTT). The emulator is a
//       local proxy that delays bytes, not TCP's handshake, so that handshake's round trip is not part of
//       what is measured and not part of the bound either. Bytes on the wire are counted by the emulator
//       (TLS and HTTP included).
// hq:   HQ ingest with D devices pushing at once (one thread and one field store per device), on the
//       SQLite and the PostgreSQL store, both durable (SQLite synchronous = FULL; PostgreSQL with fsync
//       and synchronous_commit on). The devices run on the same 2 cores as HQ, so the figure is a floor
//       for HQ alone. Then HQ's connection handling (SQLite store): 20 devices syncing at once with and
//       without 1,000 slow connections held (a ClientHello trickled one byte a second), and HQ's
//       resident memory while it holds 10,000 idle TLS connections (each answered once, then silent).
//       Between the two, on the PostgreSQL cluster: the ingest lane alone (lane_bench.cpp), `--lane-only`
//       for nothing else.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "bench.hpp"
#include "demo/demo_data.hpp"
#include "storage/hq/store.hpp"
#include "storage/store.hpp"
#include "sync/client.hpp"
#include "sync/protocol.hpp"
#include "testbed/hq_process.hpp"
#include "testbed/link_emulator.hpp"
#include "testbed/pg_cluster.hpp"

namespace outpost::bench {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using storage::Store;

template <typename T>
T need(Result<T> r, const std::string& what) {
    if (!r) throw std::runtime_error(what + ": " + r.error().message);
    return std::move(r.value());
}
void need(Result<void> r, const std::string& what) {
    if (!r) throw std::runtime_error(what + ": " + r.error().message);
}

const char* kMix[] = {"training",  "readiness", "training", "training-gap", "training",
                      "readiness", "training",  "incident", "training",     "training-gap"};

struct Laptop {
    std::string dir;
    storage::DataKey key = storage::DataKey::random();
    std::unique_ptr<Store> store;
    double canonicalBytes = 0;  // sum of the reports' canonical envelope sizes
};

// A field store for unit with n reports, enrolled with the HQ (enrollment is not timed).
Laptop makeLaptop(const std::string& dir, const std::string& unit, int n, std::uint64_t seed,
                  test::HqProcess& hq, const std::string& name) {
    Laptop l;
    l.dir = dir;
    storage::InitOptions io;
    io.unitId = unit;
    io.user = "bench";
    need(Store::createWithKey(dir, l.key, io), "create a field store");
    l.store = need(Store::open(dir, l.key), "open the field store");
    demo::DemoData demo(l.store->reference(), seed);
    std::map<std::string, std::vector<json>> byForm;
    for (int i = 0; i < n; ++i) byForm[kMix[i % 10]].push_back(demo.next(kMix[i % 10], unit));
    // Enrolled first, as a laptop is before it goes to the field: each report is signed as it is
    // finalized, so the pass measured below sends signatures made already.
    need(sync::enroll(*l.store, hq.url(), hq.enroll(unit), name), "enroll");
    for (auto& [form, payloads] : byForm) need(l.store->importFinal(form, payloads), "import reports");
    auto items = need(l.store->nextOutgoing(n + 10), "read the outbox");
    for (auto& it : items) {
        sync::Envelope e{it.recordId,      it.revision,     it.parent, it.formId,
                         it.formVersion,   it.unitId,       it.author, it.createdUtc,
                         it.createdOffset, it.finalizedUtc, it.payload};
        l.canonicalBytes += static_cast<double>(e.canonical().size());
    }
    return l;
}

// CPU seconds (user and system) used so far by this process, and by another one (from /proc).
double ownCpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto sec = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return sec(u.ru_utime) + sec(u.ru_stime);
}

double processCpuSeconds(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
    auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i)
        if (i >= 14) ticks += std::stod(field);
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void pointAt(Store& s, const std::string& url) {
    auto cfg = need(s.syncConfig(), "read the sync configuration");
    auto sk = need(s.deviceSecretKey(), "read the device key");
    auto c = *cfg;
    c.hqUrl = url;
    need(s.saveEnrollment(c, sk), "save the sync configuration");
}

std::unique_ptr<test::HqProcess> startHq(const std::string& dataDir, const std::string& dbUri, int threads) {
    test::HqOptions o;
    o.binary = OUTPOST_HQ;
    o.dataDir = dataDir;
    o.dbUri = dbUri;
    o.threads = threads;
    auto hq = std::make_unique<test::HqProcess>(o);
    auto r = hq->admin({"init"});
    if (r.exitCode != 0) throw std::runtime_error("outpost-hq init failed: " + r.err);
    // The demo incidents' SEA sections are sealed to a conduct key; without one they would wait on the
    // laptop.
    hq->addConductKey(dataDir + ".conduct.key");
    hq->start();
    return hq;
}

struct SyncOptions {
    int reports = 1000;
    std::string dir;
    bool quick = false;
    std::vector<std::string> links{"loopback", "600ms-256kbit", "600ms-64kbit"};
};

struct LinkSpec {
    std::string name;
    std::uint64_t rttMs = 0;
    std::uint64_t bitsPerSecond = 0;
};

LinkSpec linkSpec(const std::string& name) {
    if (name == "loopback") return {name, 0, 0};
    if (name == "600ms-256kbit") return {name, 600, 256000};
    if (name == "600ms-64kbit") return {name, 600, 64000};
    throw std::runtime_error("unknown link " + name + " (loopback, 600ms-256kbit, 600ms-64kbit)");
}

int runSyncBench(const SyncOptions& o) {
    ScratchDir scratch(o.dir.empty() ? defaultBaseDir() : o.dir);
    emit(environment("sync", scratch.path()));
    auto hqProc = startHq(scratch.path() + "/hq", "", 0);
    const std::string unit = "MINUSCA-RWABATT-1";
    int run = 0;
    for (const auto& name : o.links) {
        LinkSpec spec = linkSpec(name);
        note("sync: " + name + ": preparing " + std::to_string(o.reports) + " reports");
        Laptop lap = makeLaptop(scratch.path() + "/laptop-" + std::to_string(run), unit, o.reports, 7 + run,
                                *hqProc, "bench-" + name);
        ++run;
        std::unique_ptr<test::LinkEmulator> emu;
        test::LinkOptions lo;
        lo.targetPort = hqProc->port();
        lo.up.latencyMs = spec.rttMs / 2;
        lo.down.latencyMs = spec.rttMs / 2;
        lo.up.bitsPerSecond = spec.bitsPerSecond;
        lo.down.bitsPerSecond = spec.bitsPerSecond;
        lo.maxSeconds = 3600;
        // Loopback runs straight to HQ (the emulator's own copying would be measured otherwise); a second
        // loopback pass through an unshaped emulator counts the bytes on the wire.
        bool direct = spec.rttMs == 0;
        if (!direct) {
            emu = std::make_unique<test::LinkEmulator>(lo);
            emu->start();
            pointAt(*lap.store, "https://127.0.0.1:" + std::to_string(emu->port()));
        }
        note("sync: " + name + ": pushing");
        const double laptopCpu0 = ownCpuSeconds(), hqCpu0 = processCpuSeconds(hqProc->pid());
        auto t0 = Clock::now();
        auto res = need(sync::syncOnce(*lap.store), "sync");
        double seconds = msSince(t0) / 1000.0;
        const double laptopCpu = ownCpuSeconds() - laptopCpu0,
                     hqCpu = processCpuSeconds(hqProc->pid()) - hqCpu0;
        if (!res.ok) throw std::runtime_error("the sync pass did not complete: " + res.progress.message);
        std::uint64_t up = 0, down = 0;
        if (direct) {
            // The same work through an unshaped emulator, on a fresh laptop, to count the wire bytes.
            Laptop counted =
                makeLaptop(scratch.path() + "/laptop-count", unit, o.reports, 99, *hqProc, "bench-count");
            emu = std::make_unique<test::LinkEmulator>(lo);
            emu->start();
            pointAt(*counted.store, "https://127.0.0.1:" + std::to_string(emu->port()));
            auto r2 = need(sync::syncOnce(*counted.store), "sync (counting bytes)");
            if (!r2.ok) throw std::runtime_error("the counting pass did not complete");
        }
        up = emu->bytesUp();
        down = emu->bytesDown();
        Line l;
        l["bench"] = "sync";
        l["metric"] = "push_reports";
        l["link"] = name;
        l["reports"] = o.reports;
        l["seconds"] = round3(seconds);
        l["reports_per_s"] = round3(o.reports / seconds);
        l["report_json_bytes_mean"] = round3(lap.canonicalBytes / o.reports);
        l["body_bytes_up"] = res.progress.bytesSent;
        l["body_bytes_down"] = res.progress.bytesReceived;
        l["wire_bytes_up"] = up;
        l["wire_bytes_down"] = down;
        l["wire_bytes_per_report"] = round3(static_cast<double>(up + down) / o.reports);
        if (direct) {
            // Where the time goes on a link that costs nothing: both ends share this machine's CPUs (the
            // emulator's threads would be counted with the laptop's on the other links).
            l["cpu_s_laptop"] = round3(laptopCpu);
            l["cpu_s_hq"] = round3(hqCpu);
        }
        if (!direct) {
            double bytesPerSecond = static_cast<double>(spec.bitsPerSecond) / 8.0;
            // The link carries both directions at once (full duplex), so the larger direction bounds it.
            double bound = static_cast<double>(std::max(res.progress.bytesSent, res.progress.bytesReceived)) /
                               bytesPerSecond +
                           3.0 * static_cast<double>(spec.rttMs) / 1000.0;
            l["rtt_ms"] = spec.rttMs;
            l["bits_per_s"] = spec.bitsPerSecond;
            l["lower_bound_s"] = round3(bound);
            l["ratio_to_lower_bound"] = round3(seconds / bound);
            l["wire_seconds_at_bandwidth"] = round3(static_cast<double>(up + down) / bytesPerSecond);
        }
        emit(l);
    }
    return 0;
}

// [held connections] Raw connections that hold HQ's sockets without syncing: idle TLS connections (one
// request answered, then silence) and slow ones (a TLS ClientHello trickled one byte a second, opened
// again when HQ closes it), from several loopback addresses so HQ's per-address limit is not what
// decides.

SSL_CTX* rawClientContext() {
    static SSL_CTX* ctx = [] {
        SSL_CTX* c = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
        return c;
    }();
    return ctx;
}

int rawConnect(const std::string& from, std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, from.c_str(), &src.sin_addr);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

struct IdleTls {
    int fd = -1;
    SSL* ssl = nullptr;
};

// TLS done, one request sent and its whole answer read; false when any step fails.
bool openIdleTls(IdleTls& c, const std::string& from, std::uint16_t port) {
    c.fd = rawConnect(from, port);
    if (c.fd < 0) return false;
    c.ssl = SSL_new(rawClientContext());
    SSL_set_fd(c.ssl, c.fd);
    static const std::string kHello = "GET /v1/hello HTTP/1.1\r\nHost: hq\r\nOutpost-Protocol: 2\r\n\r\n";
    if (SSL_connect(c.ssl) != 1 || SSL_write(c.ssl, kHello.data(), static_cast<int>(kHello.size())) <= 0)
        return false;
    std::string got;
    char buf[4096];
    while (true) {
        int n = SSL_read(c.ssl, buf, sizeof buf);
        if (n <= 0) return false;
        got.append(buf, static_cast<std::size_t>(n));
        auto end = got.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        std::string head = got.substr(0, end);
        std::transform(head.begin(), head.end(), head.begin(),
                       [](unsigned char ch) { return std::tolower(ch); });
        auto p = head.find("content-length:");
        std::size_t length = p == std::string::npos ? 0 : std::strtoul(head.c_str() + p + 15, nullptr, 10);
        if (got.size() >= end + 4 + length) return true;
    }
}

void closeIdleTls(IdleTls& c) {
    if (c.ssl) SSL_free(c.ssl);
    if (c.fd >= 0) ::close(c.fd);
    c = IdleTls{};
}

long statusKb(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
    return -1;
}

// n slow connections held until the object goes; one thread drives them all with poll().
class SlowConnections {
public:
    SlowConnections(int n, std::uint16_t port) : m_port(port) {
        SSL* s = SSL_new(rawClientContext());
        BIO* rb = BIO_new(BIO_s_mem());
        BIO* wb = BIO_new(BIO_s_mem());
        SSL_set_bio(s, rb, wb);
        SSL_set_connect_state(s);
        (void)SSL_do_handshake(s);
        char* data = nullptr;
        long len = BIO_get_mem_data(wb, &data);
        m_hello.assign(data, static_cast<std::size_t>(std::max(0L, len)));
        SSL_free(s);
        for (int i = 0; i < n; ++i) {
            Conn c;
            c.from = "127.0.5." + std::to_string(1 + i % 20);
            c.fd = rawConnect(c.from, port);
            m_conns.push_back(c);
        }
        m_thread = std::thread([this] { drive(); });
    }
    ~SlowConnections() {
        m_done = true;
        m_thread.join();
        for (auto& c : m_conns)
            if (c.fd >= 0) ::close(c.fd);
    }
    int closedByHq() const { return m_closedByHq; }

private:
    struct Conn {
        int fd = -1;
        std::size_t sent = 0;
        std::string from;
    };
    void drive() {
        std::vector<pollfd> fds;
        auto lastTick = Clock::now() - std::chrono::seconds(1);
        char buf[4096];
        while (!m_done) {
            if (Clock::now() - lastTick >= std::chrono::seconds(1)) {
                lastTick = Clock::now();
                for (auto& c : m_conns)
                    if (c.fd >= 0 && c.sent < m_hello.size() &&
                        ::send(c.fd, m_hello.data() + c.sent, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
                        ++c.sent;
            }
            fds.clear();
            for (auto& c : m_conns) fds.push_back({c.fd, POLLIN, 0});
            if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
            for (std::size_t i = 0; i < m_conns.size(); ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                ssize_t n = ::recv(m_conns[i].fd, buf, sizeof buf, MSG_DONTWAIT);
                if (n > 0 || (n < 0 && errno == EAGAIN)) continue;
                ++m_closedByHq;
                ::close(m_conns[i].fd);
                m_conns[i].fd = rawConnect(m_conns[i].from, m_port);
                m_conns[i].sent = 0;
            }
        }
    }
    std::uint16_t m_port;
    std::string m_hello;
    std::vector<Conn> m_conns;
    std::atomic<bool> m_done{false};
    std::atomic<int> m_closedByHq{0};
    std::thread m_thread;
};

struct HqBenchOptions {
    int devices = 50;
    int reportsPerDevice = 400;
    int threads = 0;
    std::string dir;
    bool quick = false;
    std::vector<std::string> backends{"sqlite", "postgres"};
    // HQ's connection handling (SQLite store): memory while idle TLS connections are held, and
    // syncDevices laptops syncing at once with and without slow connections held.
    int idleConnections = 10000;
    int slowConnections = 1000;
    int syncDevices = 20;
    // The ingest lane alone (lane_bench.cpp), on the durable PostgreSQL cluster; laneOnly skips the rest.
    bool lane = true;
    bool laneOnly = false;
};

// 20 laptops (reports each) sync at once; the seconds it took and the devices that failed.
std::pair<double, int> syncAtOnce(std::vector<Laptop>& laptops) {
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    auto t0 = Clock::now();
    for (auto& l : laptops)
        threads.emplace_back([&l, &failed] {
            auto r = sync::syncOnce(*l.store);
            if (!r || !r.value().ok) ++failed;
        });
    for (auto& t : threads) t.join();
    return {msSince(t0) / 1000.0, failed.load()};
}

void runHeldConnectionsBench(const std::string& scratchDir, const HqBenchOptions& o) {
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &nofile);
    }
    ::signal(SIGPIPE, SIG_IGN);
    auto hq = startHq(scratchDir + "/hq-held", "", o.threads);
    const int reports = std::min(o.reportsPerDevice, 100);
    auto laptopsFor = [&](const std::string& tag) {
        std::vector<Laptop> out;
        for (int d = 0; d < o.syncDevices; ++d)
            out.push_back(makeLaptop(scratchDir + "/held-" + tag + "-" + std::to_string(d),
                                     "MINUSCA-RWABATT-1", reports, 5000 + static_cast<std::uint64_t>(d), *hq,
                                     "held-" + tag + "-" + std::to_string(d)));
        return out;
    };
    for (int slow : {0, o.slowConnections}) {
        note("hq: " + std::to_string(o.syncDevices) + " devices sync at once, " + std::to_string(slow) +
             " slow connections held");
        auto laptops = laptopsFor(std::to_string(slow));
        std::unique_ptr<SlowConnections> held;
        if (slow > 0) {
            held = std::make_unique<SlowConnections>(slow, hq->port());
            std::this_thread::sleep_for(std::chrono::seconds(2));
        }
        auto [seconds, failed] = syncAtOnce(laptops);
        Line l;
        l["bench"] = "hq";
        l["metric"] = "sync_with_slow_connections";
        l["backend"] = "sqlite";
        l["slow_connections"] = slow;
        l["devices"] = o.syncDevices;
        l["reports"] = o.syncDevices * reports;
        l["failed_devices"] = failed;
        l["seconds"] = round3(seconds);
        l["reports_per_s"] = round3(static_cast<double>(o.syncDevices * reports) / seconds);
        l["hq_rss_kb"] = statusKb(hq->pid(), "VmRSS");
        emit(l);
    }
    note("hq: holding " + std::to_string(o.idleConnections) + " idle TLS connections");
    const long before = statusKb(hq->pid(), "VmRSS");
    std::vector<IdleTls> idle(static_cast<std::size_t>(o.idleConnections));
    int opened = 0;
    for (std::size_t i = 0; i < idle.size(); ++i)
        if (openIdleTls(idle[i], "127.0.6." + std::to_string(1 + i % 50), hq->port())) ++opened;
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const long held = statusKb(hq->pid(), "VmRSS");
    Line l;
    l["bench"] = "hq";
    l["metric"] = "idle_tls_connections_memory";
    l["connections"] = o.idleConnections;
    l["connections_open"] = opened;
    l["hq_rss_kb_before"] = before;
    l["hq_rss_kb"] = held;
    l["hq_peak_rss_kb"] = statusKb(hq->pid(), "VmHWM");
    l["kb_per_connection"] = opened > 0 ? round3(static_cast<double>(held - before) / opened) : 0.0;
    emit(l);
    for (auto& c : idle) closeIdleTls(c);
    hq->stop();
}

int runHqBench(const HqBenchOptions& o) {
    const std::string base = o.dir.empty() ? defaultBaseDir() : o.dir;
    ScratchDir scratch(base);
    emit(environment("hq", scratch.path()));
    // PostgreSQL as a mission runs it: every commit flushed to disk (fsync, synchronous_commit and
    // full_page_writes on, unlike the tests' cluster), in a folder beside the scratch folder, so on the
    // same disk. Each line says what the server reported.
    std::unique_ptr<test::PgCluster> pg;
    auto cluster = [&]() -> test::PgCluster& {
        if (!pg) {
            test::PgClusterOptions po;
            po.durable = true;
            po.baseDir = base;
            pg = std::make_unique<test::PgCluster>(po);
        }
        return *pg;
    };
    if (o.laneOnly) {
        runIngestLane(cluster(), LaneOptions{o.quick});
        return 0;
    }
    for (const auto& backend : o.backends) {
        std::string dbUri;
        if (backend == "postgres") {
            dbUri = cluster().createDatabase();
        } else if (backend != "sqlite") {
            throw std::runtime_error("unknown backend " + backend + " (sqlite, postgres)");
        }
        auto hq = startHq(scratch.path() + "/hq-" + backend, dbUri, o.threads);
        note("hq: " + backend + ": preparing " + std::to_string(o.devices) + " devices");
        std::vector<Laptop> laptops;
        const std::vector<std::string> units{"MINUSCA-RWABATT-1", "MINUSCA-PAKBATT-1", "MINUSCA-ZAMBATT-1",
                                             "MINUSCA-MORBATT-1", "MINUSCA-CAMBATT-1", "MINUSCA-RWAFPU-1"};
        for (int d = 0; d < o.devices; ++d)
            laptops.push_back(makeLaptop(scratch.path() + "/" + backend + "-dev-" + std::to_string(d),
                                         units[static_cast<std::size_t>(d) % units.size()],
                                         o.reportsPerDevice, 1000 + static_cast<std::uint64_t>(d), *hq,
                                         "dev-" + std::to_string(d)));
        note("hq: " + backend + ": " + std::to_string(o.devices) + " devices push at once");
        std::atomic<int> failed{0};
        std::vector<std::thread> threads;
        auto t0 = Clock::now();
        for (auto& l : laptops)
            threads.emplace_back([&l, &failed] {
                auto r = sync::syncOnce(*l.store);
                if (!r || !r.value().ok) ++failed;
            });
        for (auto& t : threads) t.join();
        double seconds = msSince(t0) / 1000.0;
        auto hs = need(storage::hq::openHqStore(dbUri.empty() ? scratch.path() + "/hq-" + backend : dbUri),
                       "open HQ");
        auto count = need(hs->reportCount(), "count reports");
        Line l;
        l["bench"] = "hq";
        l["metric"] = "ingest_concurrent_devices";
        l["backend"] = backend;
        l["devices"] = o.devices;
        l["reports"] = count;
        l["failed_devices"] = failed.load();
        l["seconds"] = round3(seconds);
        l["reports_per_s"] = round3(static_cast<double>(count) / seconds);
        if (pg && backend == "postgres") {
            l["data_filesystem"] = filesystemType(pg->dataDir());
            l["pg_fsync"] = pg->setting("fsync");
            l["pg_synchronous_commit"] = pg->setting("synchronous_commit");
            l["pg_full_page_writes"] = pg->setting("full_page_writes");
        } else {
            // HQ's SQLite store commits with synchronous = FULL in WAL mode (storage/hq/store_sqlite.cpp).
            l["data_filesystem"] = filesystemType(scratch.path());
        }
        emit(l);
        hq->stop();
    }
    const bool postgres = std::find(o.backends.begin(), o.backends.end(), "postgres") != o.backends.end();
    if (o.lane && postgres) runIngestLane(cluster(), LaneOptions{o.quick});
    if (o.idleConnections > 0 || o.slowConnections > 0) runHeldConnectionsBench(scratch.path(), o);
    return 0;
}

}  // namespace

int runSync(int argc, char** argv) {
    SyncOptions o;
    CLI::App app{"outpost-bench sync: push N realistic reports over loopback and emulated satellite links",
                 "sync"};
    app.add_option("--reports", o.reports, "reports per link (default 1000)")->check(CLI::Range(1, 1000000));
    app.add_option("--dir", o.dir, "make the scratch folder under DIR (default: $TMPDIR or /tmp)");
    app.add_option("--links", o.links,
                   "links to measure: loopback, 600ms-256kbit, 600ms-64kbit (default all)")
        ->delimiter(',');
    app.add_flag("--quick", o.quick, "smoke test: 100 reports, loopback and 600ms-256kbit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (o.quick) {
        o.reports = 100;
        o.links = {"loopback", "600ms-256kbit"};
    }
    try {
        return runSyncBench(o);
    } catch (const std::exception& e) {
        note(std::string("outpost-bench sync: ") + e.what());
        return 1;
    }
}

int runHq(int argc, char** argv) {
    HqBenchOptions o;
    CLI::App app{"outpost-bench hq: HQ ingest with many devices pushing at once", "hq"};
    app.add_option("--devices", o.devices, "devices pushing at once (default 50)")->check(CLI::Range(1, 500));
    app.add_option("--reports-per-device", o.reportsPerDevice, "reports per device (default 400)")
        ->check(CLI::Range(1, 100000));
    app.add_option("--threads", o.threads, "outpost-hq request threads (default: its own)");
    app.add_option("--backends", o.backends, "sqlite, postgres (default both)")->delimiter(',');
    app.add_option("--dir", o.dir, "make the scratch folder under DIR (default: $TMPDIR or /tmp)");
    app.add_option("--idle-connections", o.idleConnections,
                   "idle TLS connections held while HQ's memory is measured (default 10000; 0: skip)")
        ->check(CLI::Range(0, 15000));
    app.add_option("--slow-connections", o.slowConnections,
                   "slow connections held while devices sync (default 1000)")
        ->check(CLI::Range(0, 5000));
    app.add_flag("!--no-lane", o.lane, "skip the ingest lane (PostgreSQL ingest alone, no HTTP)");
    app.add_flag("--lane-only", o.laneOnly,
                 "measure the ingest lane only (about 30 s; --quick: a few seconds)");
    app.add_flag("--quick", o.quick,
                 "smoke test: 8 devices, 40 reports each; 200 idle, 100 slow connections; a short lane");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (o.quick) {
        o.devices = 8;
        o.reportsPerDevice = 40;
        o.idleConnections = 200;
        o.slowConnections = 100;
        o.syncDevices = 4;
    }
    try {
        return runHqBench(o);
    } catch (const std::exception& e) {
        note(std::string("outpost-bench hq: ") + e.what());
        return 1;
    }
}

}  // namespace outpost::bench
