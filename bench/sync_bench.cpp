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
//       for HQ alone.
#include <sys/resource.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <atomic>
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

struct HqBenchOptions {
    int devices = 50;
    int reportsPerDevice = 400;
    int threads = 0;
    std::string dir;
    bool quick = false;
    std::vector<std::string> backends{"sqlite", "postgres"};
};

int runHqBench(const HqBenchOptions& o) {
    const std::string base = o.dir.empty() ? defaultBaseDir() : o.dir;
    ScratchDir scratch(base);
    emit(environment("hq", scratch.path()));
    // PostgreSQL as a mission runs it: every commit flushed to disk (fsync, synchronous_commit and
    // full_page_writes on, unlike the tests' cluster), in a folder beside the scratch folder, so on the
    // same disk. Each line says what the server reported.
    std::unique_ptr<test::PgCluster> pg;
    for (const auto& backend : o.backends) {
        std::string dbUri;
        if (backend == "postgres") {
            if (!pg) {
                test::PgClusterOptions po;
                po.durable = true;
                po.baseDir = base;
                pg = std::make_unique<test::PgCluster>(po);
            }
            dbUri = pg->createDatabase();
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
    app.add_flag("--quick", o.quick, "smoke test: 8 devices, 40 reports each");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (o.quick) {
        o.devices = 8;
        o.reportsPerDevice = 40;
    }
    try {
        return runHqBench(o);
    } catch (const std::exception& e) {
        note(std::string("outpost-bench hq: ") + e.what());
        return 1;
    }
}

}  // namespace outpost::bench
