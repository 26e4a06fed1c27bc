// outpost-bench hq, the ingest lane: HQ's PostgreSQL ingest alone, where every process's pushes queue.
//
// storage/hq/store_postgres.cpp lets pushes from every outpost-hq process on one database run at once,
// except for two short sections that are one lane each: the reservation of a push's numbers (one
// autocommit statement that locks the report counter row until its own commit) and the end of a push's
// transaction (the audit row, locked from the audit append to the end of COMMIT, its WAL flush
// included). The lane's ceiling is the items of a batch over the longer of the two; it bounds HQ's
// ingest however many processes and cores serve.
//
// Measured here on the durable cluster of `outpost-bench hq`, through storage::hq::openHqStore (no
// HTTP, no TLS, no laptops: what is left is the lane and the little work around it):
//   - the disk's raw fsync latency in the cluster's folder, one durable one-row commit and one round
//     trip through the store, as yardsticks;
//   - one session pushing batches back to back (the lane never contended) at 1, 50, 250 and 2,000
//     items, with the CPU seconds the session and PostgreSQL spent;
//   - the fit ms per batch = fixed + per item x items, and what share of a batch each part takes;
//   - the two locked sections of each push (HqStore::lastIngestTiming), per batch size;
//   - 1, 2, 4 and 8 sessions (each its own store, device and thread) pushing at once;
//   - the ceiling: reports/s the lane alone carries at the laptop's first batch size (250), and at
//     2,000, and what bounds it.
// The items are realistic: demo::DemoData payloads for the four built-in forms in the laptops' mix,
// in canonical envelopes with their BLAKE2b hash and a signature of the real size (the store does not
// verify signatures; HQ's service does, before the transaction). Making them is never timed.
//
// [SECTION] realistic pushes
// [SECTION] probes: the disk, CPU and writes
// [SECTION] the lane
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench.hpp"
#include "core/refdata.hpp"
#include "core/time.hpp"
#include "demo/demo_data.hpp"
#include "storage/crypto.hpp"
#include "storage/hq/store.hpp"
#include "sync/protocol.hpp"
#include "testbed/pg_cluster.hpp"

namespace outpost::bench {

namespace {

namespace fs = std::filesystem;
namespace hqs = storage::hq;

template <typename T>
T need(Result<T> r, const std::string& what) {
    if (!r) throw std::runtime_error(what + ": " + r.error().message);
    return std::move(r.value());
}

// [SECTION] realistic pushes

// The laptops' mix of forms (as in sync_bench.cpp): mostly training, some readiness, few incidents.
const char* const kForms[] = {"training",  "readiness", "training", "training-gap", "training",
                              "readiness", "training",  "incident", "training",     "training-gap"};

// A payload as the field store keeps it: the form and its canonical JSON text.
struct Payload {
    std::string form;
    std::string text;
};

std::vector<Payload> makePayloads(const std::string& unit, int n, std::uint64_t seed) {
    demo::DemoData demo(core::ReferenceData::demo(), seed);
    std::vector<Payload> out;
    for (int i = 0; i < n; ++i) {
        const char* form = kForms[i % 10];
        out.push_back({form, demo.next(form, unit).dump()});
    }
    return out;
}

std::string randomHex(std::mt19937_64& rng, int digits) {
    static const char* kHex = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < digits; ++i) s += kHex[rng() & 15];
    return s;
}

std::string uuid(std::mt19937_64& rng) {
    return randomHex(rng, 8) + "-" + randomHex(rng, 4) + "-4" + randomHex(rng, 3) + "-a" + randomHex(rng, 3) +
           "-" + randomHex(rng, 12);
}

// One session's device and the items it pushes: each item a new record of the device's unit.
class ItemSource {
public:
    ItemSource(std::string unit, std::uint64_t seed)
        : m_unit(std::move(unit)), m_payloads(makePayloads(m_unit, 200, seed)), m_rng(seed) {}

    std::vector<hqs::IncomingItem> batch(int n) {
        std::vector<hqs::IncomingItem> items(static_cast<std::size_t>(n));
        for (auto& it : items) {
            const Payload& p = m_payloads[m_next++ % m_payloads.size()];
            sync::Envelope e;
            e.id = uuid(m_rng);
            e.revision = 1;
            e.formId = p.form;
            e.formVersion = 1;
            e.unitId = m_unit;
            e.author = "sgt.mbeki";
            e.createdUtc = "2026-11-20T08:00:00.000Z";
            e.createdOffset = 60;
            e.finalizedUtc = "2026-11-20T09:30:00.000Z";
            it.recordId = e.id;
            it.revision = 1;
            it.formId = p.form;
            it.formVersion = 1;
            it.unitId = m_unit;
            it.author = e.author;
            it.createdUtc = e.createdUtc;
            it.createdOffset = e.createdOffset;
            it.finalizedUtc = e.finalizedUtc;
            it.canonical = e.canonicalWithPayloadText(p.text);
            it.hash = storage::blake2b256Hex(it.canonical);
            sync::Bytes sig(64);
            for (auto& b : sig) b = static_cast<unsigned char>(m_rng());
            it.signature = sync::base64Encode(sig);
            m_canonicalBytes += static_cast<double>(it.canonical.size());
            ++m_items;
        }
        return items;
    }
    double meanCanonicalBytes() const {
        return m_items ? m_canonicalBytes / static_cast<double>(m_items) : 0;
    }
    const std::string& unit() const { return m_unit; }
    std::string batchId() { return uuid(m_rng); }
    std::string requestHash() { return randomHex(m_rng, 64); }

private:
    std::string m_unit;
    std::vector<Payload> m_payloads;
    std::mt19937_64 m_rng;
    std::size_t m_next = 0;
    double m_canonicalBytes = 0;
    std::int64_t m_items = 0;
};

// A device enrolled in the store for unit (as `outpost-hq enroll` and the laptop's first request do).
std::string enrollDevice(hqs::HqStore& store, const std::string& unit, int n) {
    const std::string secret = storage::blake2b256Hex("lane-bench-enrollment-" + std::to_string(n));
    auto kp = sync::SigningKeyPair::generate();
    if (!store.addEnrollment(secret, unit, "2099-01-01T00:00:00.000Z"))
        throw std::runtime_error("cannot add an enrollment code");
    auto d = need(store.redeemEnrollment(secret, "lane-" + std::to_string(n),
                                         sync::base64Encode(kp.publicKey), core::nowTimestamp().utc),
                  "enroll a device");
    return d.id;
}

std::unique_ptr<hqs::HqStore> openStore(const std::string& uri, const sync::Bytes& auditKey) {
    auto s = need(hqs::openHqStore(uri), "open the PostgreSQL store");
    s->setAuditKey(auditKey);  // every push's audit entry is signed under the lane, as `serve` does
    return s;
}

// One push through the store; throws unless every item was stored.
void push(hqs::HqStore& store, const std::string& device, ItemSource& src,
          const std::vector<hqs::IncomingItem>& items) {
    auto out = need(store.ingest(device, src.batchId(), src.requestHash(), items, core::nowTimestamp().utc),
                    "ingest");
    for (const auto& r : out.results)
        if (r.status != core::ItemStatus::Stored)
            throw std::runtime_error("an item was not stored: " + r.reason);
}

// [SECTION] probes: the disk, CPU and writes

// write + fdatasync of 8 KiB (PostgreSQL's page and WAL block) in place in a preallocated file, as the WAL
// is written: the median of n after a few warm-ups.
Stats rawFsync(const std::string& dir, int n) {
    constexpr std::size_t kBlock = 8192, kBlocks = 128;
    const std::string path = (fs::path(dir) / "lane-fsync-probe.bin").string();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + path);
    std::vector<char> block(kBlock, 'w');
    auto fail = [&] {
        ::close(fd);
        fs::remove(path);
        throw std::runtime_error("writing " + path + " failed");
    };
    for (std::size_t i = 0; i < kBlocks; ++i)
        if (::pwrite(fd, block.data(), kBlock, static_cast<off_t>(i * kBlock)) !=
            static_cast<ssize_t>(kBlock))
            fail();
    if (::fsync(fd) != 0) fail();
    std::vector<double> ms;
    for (int i = -5; i < n; ++i) {
        const auto offset = static_cast<off_t>(static_cast<std::size_t>(i + 5) % kBlocks * kBlock);
        auto t0 = Clock::now();
        if (::pwrite(fd, block.data(), kBlock, offset) != static_cast<ssize_t>(kBlock)) fail();
        if (::fdatasync(fd) != 0) fail();
        if (i >= 0) ms.push_back(msSince(t0));
    }
    ::close(fd);
    fs::remove(path);
    return summarize(std::move(ms));
}

// CPU seconds used so far by process pid's main thread (/proc/PID/schedstat, in nanoseconds: finer
// than the clock ticks of /proc/PID/stat, which round a few milliseconds away); its parent in *parent.
double cpuSecondsOf(pid_t pid, pid_t* parent = nullptr) {
    const std::string dir = "/proc/" + std::to_string(pid);
    if (parent) {
        std::ifstream f(dir + "/stat");
        std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        auto close = stat.rfind(')');
        if (close == std::string::npos) return 0;
        std::istringstream rest(stat.substr(close + 2));
        std::string state;
        long ppid = 0;
        rest >> state >> ppid;
        *parent = static_cast<pid_t>(ppid);
    }
    std::ifstream f(dir + "/schedstat");
    double ns = 0;
    f >> ns;
    return ns / 1e9;
}

// CPU seconds used so far by this process, all its threads.
double ownCpuSeconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto sec = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return sec(u.ru_utime) + sec(u.ru_stime);
}

// CPU seconds used so far by the cluster: the backends serving database (the sessions' own, each the
// other half of its session's work) and the rest (the postmaster, the WAL writer, the checkpointer,
// autovacuum ..., which work beside the lane). Processes that ended meanwhile are not counted.
struct ClusterCpu {
    double backends = 0, background = 0;
};
ClusterCpu clusterCpu(pid_t postmaster, const std::string& database) {
    ClusterCpu c;
    c.background = cpuSecondsOf(postmaster);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        const std::string name = e.path().filename().string();
        if (name.empty() ||
            !std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
            continue;
        pid_t parent = 0;
        double s = cpuSecondsOf(static_cast<pid_t>(std::stol(name)), &parent);
        if (parent != postmaster) continue;
        // A backend's title: "postgres: USER DATABASE HOST(PORT) STATE".
        std::ifstream f(e.path() / "cmdline");
        std::string title((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        (title.find(" " + database + " ") != std::string::npos ? c.backends : c.background) += s;
    }
    return c;
}
ClusterCpu operator-(const ClusterCpu& a, const ClusterCpu& b) {
    return {a.backends - b.backends, a.background - b.background};
}

// Bytes the cluster's processes have caused to be written to disk so far (/proc/PID/io write_bytes: the
// WAL and the data files); 0 where the kernel does not say.
double clusterWriteBytes(pid_t postmaster) {
    auto of = [](const std::string& pid) {
        std::ifstream f("/proc/" + pid + "/io");
        std::string key;
        double value = 0;
        while (f >> key >> value)
            if (key == "write_bytes:") return value;
        return 0.0;
    };
    double sum = of(std::to_string(postmaster));
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        const std::string name = e.path().filename().string();
        if (name.empty() ||
            !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }))
            continue;
        pid_t parent = 0;
        cpuSecondsOf(static_cast<pid_t>(std::stol(name)), &parent);
        if (parent == postmaster) sum += of(name);
    }
    return sum;
}

// How much of the last 10 s some runnable task waited for a CPU (/proc/pressure/cpu, "some avg10", in
// percent; -1 when the kernel does not say): other work on the machine slows the lane's wall time.
double cpuPressure() {
    std::ifstream f("/proc/pressure/cpu");
    std::string word;
    while (f >> word)
        if (word.rfind("avg10=", 0) == 0) return std::stod(word.substr(6));
    return -1;
}

pid_t postmasterPid(const std::string& dataDir) {
    std::ifstream f(fs::path(dataDir) / "postmaster.pid");
    long pid = 0;
    f >> pid;
    return static_cast<pid_t>(pid);
}

// [SECTION] the lane

// A figure for a sentence: two decimals.
std::string figure(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", x);
    return buf;
}

Line line(const std::string& metric) {
    Line l;
    l["bench"] = "hq";
    l["metric"] = metric;
    return l;
}

struct Sequential {
    int items = 0;
    int batches = 0;
    double msPerBatch = 0;     // mean
    double cpuPerBatch = 0;    // ms: the session's and the cluster's CPU together
    double reserveMs = 0;      // mean: the reservation statement (the report counter row)
    double auditCommitMs = 0;  // mean: the audit append to the end of COMMIT (the audit row)
};

// The locked sections of the push just made on store, in milliseconds.
std::pair<double, double> lockedMs(const hqs::HqStore& store) {
    const auto t = store.lastIngestTiming();
    return {static_cast<double>(t.reserve.count()) / 1000.0,
            static_cast<double>(t.auditToCommit.count()) / 1000.0};
}

}  // namespace

void runIngestLane(test::PgCluster& pg, const LaneOptions& o) {
    const std::string uri = pg.createDatabase();
    const std::string database = uri.substr(uri.rfind('/') + 1);
    const std::string clusterDir = fs::path(pg.dataDir()).parent_path().string();
    const pid_t postmaster = postmasterPid(pg.dataDir());
    const auto hqKey = sync::SigningKeyPair::generate().secretKey;
    auto units = demo::DemoData(core::ReferenceData::demo(), 1).unitIds();
    if (units.empty()) throw std::runtime_error("the demo reference data has no unit");
    auto unitOf = [&](int i) { return units[static_cast<std::size_t>(i) % units.size()]; };

    // Yardsticks: the disk, one durable commit, one round trip.
    note("hq: ingest lane: yardsticks");
    const Stats fsync = rawFsync(clusterDir, o.quick ? 20 : 50);
    auto main = openStore(uri, hqKey);
    const std::string mainDevice = enrollDevice(*main, unitOf(0), 0);
    std::vector<double> commitMs, tripMs;
    for (int i = 0; i < (o.quick ? 20 : 50); ++i) {
        auto t0 = Clock::now();
        need(main->useNonce(mainDevice, "lane-nonce-" + std::to_string(i)), "record a nonce");
        commitMs.push_back(msSince(t0));
        t0 = Clock::now();
        need(main->heads(), "read the heads");
        tripMs.push_back(msSince(t0));
    }
    const Stats commit = summarize(commitMs), trip = summarize(tripMs);
    {
        Line l = line("ingest_lane_yardsticks");
        l["fsync_8k_ms_p50"] = round3(fsync.p50);
        l["fsync_8k_ms_p99"] = round3(fsync.p99);
        l["durable_commit_ms_p50"] = round3(commit.p50);
        l["durable_commit_to_fsync"] = round3(commit.p50 / fsync.p50);
        l["round_trip_ms_p50"] = round3(trip.p50);
        l["data_filesystem"] = filesystemType(pg.dataDir());
        l["pg_fsync"] = pg.setting("fsync");
        l["pg_synchronous_commit"] = pg.setting("synchronous_commit");
        l["pg_full_page_writes"] = pg.setting("full_page_writes");
        l["what"] =
            "fsync: pwrite 8 KiB in place + fdatasync in the cluster's folder; durable commit: "
            "HqStore::useNonce "
            "(BEGIN, a device check, a one-row INSERT, COMMIT with its WAL flush); round trip: "
            "HqStore::heads "
            "(one SELECT)";
        emit(l);
    }

    // (a) One session, batches back to back: the lane is never contended.
    ItemSource src(unitOf(0), 11);
    std::vector<Sequential> seq;
    const double budgetMs = o.quick ? 400 : 4000;
    for (int size : {1, 50, 250, 2000}) {
        note("hq: ingest lane: one session, batches of " + std::to_string(size));
        // A warm-up batch (plans, caches) also tells how many batches fit the time budget; they are all
        // made before the clock starts, so the session's CPU below is the store's and libpq's alone.
        auto w0 = Clock::now();
        push(*main, mainDevice, src, src.batch(size));
        const double warmMs = msSince(w0);
        const int count = o.quick ? 3
                                  : std::clamp(static_cast<int>(budgetMs / std::max(warmMs, 0.01)), 4,
                                               std::min(2000, 40000 / size));
        std::vector<std::vector<hqs::IncomingItem>> batches;
        for (int i = 0; i < count; ++i) batches.push_back(src.batch(size));
        std::vector<double> ms, reserveMs, auditMs;
        const double own0 = ownCpuSeconds(), written0 = clusterWriteBytes(postmaster),
                     pressure0 = cpuPressure();
        const ClusterCpu pg0 = clusterCpu(postmaster, database);
        auto loop0 = Clock::now();
        for (const auto& items : batches) {
            auto t0 = Clock::now();
            push(*main, mainDevice, src, items);
            ms.push_back(msSince(t0));
            const auto [r, a] = lockedMs(*main);
            reserveMs.push_back(r);
            auditMs.push_back(a);
        }
        const double spent = msSince(loop0);
        const ClusterCpu pgCpu = clusterCpu(postmaster, database) - pg0;
        const double ownCpu = ownCpuSeconds() - own0, written = clusterWriteBytes(postmaster) - written0;
        // The lane's own CPU: the session's and its backend's, which take turns.
        const double cpuPerBatch = (ownCpu + pgCpu.backends) * 1000.0 / static_cast<double>(count);
        Stats s = summarize(ms);
        const Stats reserve = summarize(reserveMs), audit = summarize(auditMs);
        seq.push_back({size, static_cast<int>(ms.size()), s.mean, cpuPerBatch, reserve.mean, audit.mean});
        Line l = line("ingest_lane_sequential");
        l["sessions"] = 1;
        l["items_per_batch"] = size;
        l["batches"] = s.n;
        l["ms_per_batch_mean"] = round3(s.mean);
        l["ms_per_batch_p50"] = round3(s.p50);
        l["ms_per_batch_p99"] = round3(s.p99);
        l["reports_per_second"] = round3(size * 1000.0 / s.mean);
        l["ms_per_batch_to_fsync"] = round3(s.mean / fsync.p50);
        // Of the wall time: the session's own CPU (store code, libpq, JSON), its backend's, and the
        // cluster's other processes' (beside the lane). Where session and backend add up to less than
        // 1, the lane waited: on the disk, or for a CPU that other work on the machine held.
        l["cpu_share_session"] = round3(ownCpu * 1000.0 / spent);
        l["cpu_share_backend"] = round3(pgCpu.backends * 1000.0 / spent);
        l["cpu_share_postgres_background"] = round3(pgCpu.background * 1000.0 / spent);
        l["cpu_ms_per_batch"] = round3(cpuPerBatch);
        // The lane's time on cores of its own: its CPU work (the session and PostgreSQL take turns)
        // plus one WAL flush.
        l["reports_per_second_uncontended"] = round3(size * 1000.0 / (cpuPerBatch + fsync.p50));
        l["disk_bytes_written_per_report"] = round3(written / (static_cast<double>(count) * size));
        // The sections that are one lane across processes (the rest of a push runs beside others).
        l["reserve_ms_mean"] = round3(reserve.mean);
        l["reserve_ms_p99"] = round3(reserve.p99);
        l["audit_to_commit_ms_mean"] = round3(audit.mean);
        l["audit_to_commit_ms_p99"] = round3(audit.p99);
        l["canonical_bytes_mean"] = round3(src.meanCanonicalBytes());
        l["cpu_pressure_avg10"] = round3(std::max(pressure0, cpuPressure()));
        emit(l);
    }

    // The fits ms per batch = fixed + perItem x items (least squares over the sizes up to the laptop's
    // first batch size, where a batch is what HQ mostly sees), for the wall time and for the CPU time.
    // A 2,000-item batch is not in the fit: per_item_us_at_2000 says what an item costs there.
    auto fit = [&](double Sequential::*y) {
        double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (const auto& s : seq) {
            if (s.items > 250) continue;
            n += 1;
            sx += s.items;
            sy += s.*y;
            sxx += static_cast<double>(s.items) * s.items;
            sxy += s.items * (s.*y);
        }
        const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
        return std::pair<double, double>{(sy - slope * sx) / n, slope};
    };
    const auto [fixed, perItem] = fit(&Sequential::msPerBatch);
    const auto [cpuFixed, cpuPerItem] = fit(&Sequential::cpuPerBatch);
    constexpr int kUsual = 250, kLargest = 2000;  // sync/client.hpp: initialBatchItems, maxBatchItems
    auto ms250 = std::find_if(seq.begin(), seq.end(), [](const Sequential& s) { return s.items == kUsual; });
    auto ms2000 =
        std::find_if(seq.begin(), seq.end(), [](const Sequential& s) { return s.items == kLargest; });
    const double fixedShare250 = fixed / (fixed + perItem * kUsual);
    {
        Line l = line("ingest_lane_split");
        l["fixed_ms_per_batch"] = round3(fixed);
        l["per_item_us"] = round3(perItem * 1000.0);
        l["fixed_to_fsync"] = round3(fixed / fsync.p50);
        l["fixed_to_durable_commit"] = round3(fixed / commit.p50);
        l["fixed_share_at_250"] = round3(fixedShare250);
        l["per_item_us_at_2000"] = round3((ms2000->msPerBatch - fixed) / kLargest * 1000.0);
        l["fixed_share_at_2000"] = round3(fixed / ms2000->msPerBatch);
        l["items_where_parts_equal"] = perItem > 0 ? round3(fixed / perItem) : 0.0;
        l["reports_per_second_limit_per_item"] = perItem > 0 ? round3(1000.0 / perItem) : 0.0;
        l["cpu_fixed_ms_per_batch"] = round3(cpuFixed);
        l["cpu_per_item_us"] = round3(cpuPerItem * 1000.0);
        l["cpu_share_of_per_item"] = perItem > 0 ? round3(cpuPerItem / perItem) : 0.0;
        l["what"] =
            "ms per batch = fixed + per_item x items, fitted to the sequential lines of 1, 50 and 250 items "
            "(wall time; cpu_: the "
            "session's and PostgreSQL's CPU time); fixed: the commit's WAL flush and the statements' round "
            "trips; per item: building, sending, parsing and inserting each report and its share of the WAL "
            "(one session's time for a push: not the lane's, which holds its rows for two short sections)";
        emit(l);
    }

    // (b) Sessions pushing at once, each its own store (connection), device and thread, batches of 250.
    const double rate250 = kUsual * 1000.0 / ms250->msPerBatch;
    std::vector<int> sessionCounts = o.quick ? std::vector<int>{1, 4} : std::vector<int>{1, 2, 4, 8};
    std::vector<std::unique_ptr<hqs::HqStore>> stores;
    std::vector<std::string> devices;
    std::vector<std::unique_ptr<ItemSource>> sources;
    for (int i = 0; i < sessionCounts.back(); ++i) {
        stores.push_back(openStore(uri, hqKey));
        devices.push_back(enrollDevice(*stores.back(), unitOf(i + 1), i + 1));
        sources.push_back(std::make_unique<ItemSource>(unitOf(i + 1), 100 + static_cast<std::uint64_t>(i)));
    }
    const double targetSeconds = o.quick ? 0.5 : 3.5;
    double bestConcurrent = 0;
    for (int sessions : sessionCounts) {
        // The same amount of work shared among the sessions, made before the clock starts.
        const int total =
            std::clamp(static_cast<int>(rate250 * targetSeconds) / (kUsual * sessions), 2, 160 / sessions) *
            sessions;
        note("hq: ingest lane: " + std::to_string(sessions) + " sessions at once, " + std::to_string(total) +
             " batches of " + std::to_string(kUsual));
        std::vector<std::vector<std::vector<hqs::IncomingItem>>> work(static_cast<std::size_t>(sessions));
        for (int b = 0; b < total; ++b)
            work[static_cast<std::size_t>(b % sessions)].push_back(
                sources[static_cast<std::size_t>(b % sessions)]->batch(kUsual));
        std::vector<std::vector<double>> ms(static_cast<std::size_t>(sessions)),
            reserveMs(static_cast<std::size_t>(sessions)), auditMs(static_cast<std::size_t>(sessions));
        std::atomic<int> failed{0};
        std::string why;
        std::barrier start(sessions + 1);
        std::vector<std::thread> threads;
        for (int i = 0; i < sessions; ++i)
            threads.emplace_back([&, i] {
                const auto k = static_cast<std::size_t>(i);
                start.arrive_and_wait();
                for (const auto& items : work[k]) {
                    auto t0 = Clock::now();
                    try {
                        push(*stores[k], devices[k], *sources[k], items);
                    } catch (const std::exception& e) {
                        if (failed++ == 0) why = e.what();
                        return;
                    }
                    ms[k].push_back(msSince(t0));
                    const auto [r, a] = lockedMs(*stores[k]);
                    reserveMs[k].push_back(r);
                    auditMs[k].push_back(a);
                }
            });
        const double own0 = ownCpuSeconds();
        const ClusterCpu pg0 = clusterCpu(postmaster, database);
        auto t0 = Clock::now();
        start.arrive_and_wait();
        for (auto& t : threads) t.join();
        const double wall = msSince(t0);
        const double ownCpu = ownCpuSeconds() - own0;
        const ClusterCpu pgCpu = clusterCpu(postmaster, database) - pg0;
        if (failed > 0) throw std::runtime_error("a session's push failed: " + why);
        auto gather = [](const std::vector<std::vector<double>>& per) {
            std::vector<double> all;
            for (const auto& v : per) all.insert(all.end(), v.begin(), v.end());
            return summarize(std::move(all));
        };
        const Stats s = gather(ms), reserve = gather(reserveMs), audit = gather(auditMs);
        Line l = line("ingest_lane_concurrent");
        l["sessions"] = sessions;
        l["items_per_batch"] = kUsual;
        l["batches"] = total;
        l["seconds"] = round3(wall / 1000.0);
        l["reports_per_second"] = round3(total * kUsual * 1000.0 / wall);
        l["to_one_session_sequential"] = round3(total * kUsual * 1000.0 / wall / rate250);
        l["ms_per_batch_p50"] = round3(s.p50);
        l["ms_per_batch_p99"] = round3(s.p99);
        // With the waits for the rows (a push's reservation or audit append queued behind another's).
        l["reserve_ms_p50"] = round3(reserve.p50);
        l["reserve_ms_p99"] = round3(reserve.p99);
        l["audit_to_commit_ms_p50"] = round3(audit.p50);
        l["audit_to_commit_ms_p99"] = round3(audit.p99);
        l["cpu_share_sessions"] = round3(ownCpu * 1000.0 / wall);
        l["cpu_share_backends"] = round3(pgCpu.backends * 1000.0 / wall);
        l["cpu_share_postgres_background"] = round3(pgCpu.background * 1000.0 / wall);
        bestConcurrent = std::max(bestConcurrent, total * kUsual * 1000.0 / wall);
        emit(l);
    }

    // The ceiling: what the lane alone carries, items per batch over the longer of its two sections,
    // each measured uncontended (one session). The rest of a push runs beside other pushes, on the
    // cores that are free: that, not the lane, is what one machine's pushes wait for below the ceiling.
    auto lane = [](const Sequential& q) { return std::max(q.reserveMs, q.auditCommitMs); };
    Line l = line("ingest_lane_ceiling");
    l["reports_per_second"] = round3(kUsual / lane(*ms250) * 1000.0);
    l["items_per_batch"] = kUsual;
    l["lane_ms_per_batch"] = round3(lane(*ms250));
    l["reserve_ms"] = round3(ms250->reserveMs);
    l["audit_to_commit_ms"] = round3(ms250->auditCommitMs);
    l["reports_per_second_at_2000"] = round3(kLargest / lane(*ms2000) * 1000.0);
    l["audit_to_commit_ms_at_2000"] = round3(ms2000->auditCommitMs);
    // What pushes reached here: one session alone, and the best of the sessions at once.
    l["one_session_reports_per_second"] = round3(rate250);
    l["concurrent_reports_per_second_best"] = round3(bestConcurrent);
    l["ms_per_batch"] = round3(ms250->msPerBatch);
    l["bound_by"] =
        ms250->auditCommitMs >= ms250->reserveMs
            ? "the audit row: held from a push's audit append to the end of its COMMIT (" +
                  figure(ms250->auditCommitMs) + " ms at 250 items, " +
                  figure(ms250->auditCommitMs / fsync.p50) +
                  " x the disk's fsync: the commit's WAL flush of the batch's rows); the reservation holds "
                  "the report counter row " +
                  figure(ms250->reserveMs) + " ms"
            : "the report counter row: held by the reservation statement until its own commit (" +
                  figure(ms250->reserveMs) + " ms, " + figure(ms250->reserveMs / fsync.p50) +
                  " x the disk's fsync); the audit row is held " + figure(ms250->auditCommitMs) + " ms";
    l["cpus"] = std::thread::hardware_concurrency();
    l["cpu_pressure_avg10"] = round3(cpuPressure());
    emit(l);
}

}  // namespace outpost::bench
