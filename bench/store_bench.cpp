// outpost-bench store: what the field store costs: sync yardstick, finalize, drafts, import, search, disk.
//
// Every phase runs on one store in one scratch folder, so the fsync baseline and the store share a file
// system. The store is created with a random key (no Argon2 in the figures). Payloads come from
// demo::DemoData with a fixed seed; generating them is never inside a timed region.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>

#include "bench.hpp"
#include "core/form.hpp"
#include "core/validate.hpp"
#include "demo/demo_data.hpp"
#include "storage/store.hpp"

namespace outpost::bench {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using storage::Store;

struct Options {
    long records = 100000;
    std::string dir;
    bool quick = false;
    int samples = 200;  // latency samples per measurement
    int batch = 1000;   // payloads per importFinal call
    int repeats = 5;    // runs of each training-gap computation
    std::uint64_t seed = 2026;
    bool keep = false;
};

// The share of each form among a unit's records over a deployment: training sessions are the most
// frequent, then monthly reports, recorded gaps and incidents.
struct FormShare {
    const char* form;
    double weight;
};
constexpr FormShare kMix[] = {{"training", 55}, {"readiness", 20}, {"training-gap", 15}, {"incident", 10}};

// Searches a person at a unit or at HQ would type, in English and French, over the demo content.
const std::vector<std::string> kQueries = {
    "generator",    "groupe électrogène",  "spare parts",   "pièces de rechange",
    "curfew",       "couvre-feu",          "Bambari",       "convoy escort",
    "PSEA",         "casualty evacuation", "night patrols", "patrouilles nuit",
    "checkpoint",   "poste de contrôle",   "fuel",          "carburant retardé",
    "interpreters", "rainy season",        "RWABATT1",      "bridge collapsed",
};

template <typename T>
T need(Result<T> r, const std::string& what) {
    if (!r) throw std::runtime_error(what + ": " + r.error().message);
    return std::move(r).value();
}

// Picks forms by kMix and units uniformly, reproducibly.
class Mix {
public:
    Mix(std::vector<std::string> units, std::uint64_t seed) : m_units(std::move(units)), m_rng(seed) {
        if (m_units.empty()) throw std::runtime_error("the reference data has no units");
    }
    std::string form() {
        double total = 0;
        for (const auto& m : kMix) total += m.weight;
        double x = std::uniform_real_distribution<double>(0.0, total)(m_rng);
        for (const auto& m : kMix) {
            if (x < m.weight) return m.form;
            x -= m.weight;
        }
        return kMix[0].form;
    }
    const std::string& unit() {
        return m_units[std::uniform_int_distribution<std::size_t>(0, m_units.size() - 1)(m_rng)];
    }

private:
    std::vector<std::string> m_units;
    std::mt19937_64 m_rng;
};

// How the yardstick write is made. In place: a block of a file that already has its size, as a
// commit rewrites a WAL that has reached its working size; only data reaches the disk. Append: the
// file grows, so the file system also commits its metadata (a journal commit on ext4).
enum class SyncKind { InPlaceFdatasync, AppendFdatasync, AppendFsync };

const char* syncKindName(SyncKind k) {
    switch (k) {
        case SyncKind::InPlaceFdatasync:
            return "pwrite 4 KiB in place + fdatasync";
        case SyncKind::AppendFdatasync:
            return "append 4 KiB + fdatasync";
        case SyncKind::AppendFsync:
            return "append 4 KiB + fsync";
    }
    return "";
}

// n timed writes of 4 KiB, each followed by its sync: the unit of cost a durable commit pays.
Stats fsyncLatency(const std::string& dir, int n, SyncKind kind) {
    constexpr std::size_t kBlock = 4096, kInPlaceBlocks = 256;
    const std::string path = (fs::path(dir) / "fsync-probe.bin").string();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + path);
    std::vector<char> block(kBlock);
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i * 131 + 7);
    auto fail = [&] {
        ::close(fd);
        throw std::runtime_error("writing " + path + " failed");
    };
    if (kind == SyncKind::InPlaceFdatasync) {
        for (std::size_t i = 0; i < kInPlaceBlocks; ++i)
            if (::pwrite(fd, block.data(), kBlock, static_cast<off_t>(i * kBlock)) !=
                static_cast<ssize_t>(kBlock))
                fail();
        if (::fsync(fd) != 0) fail();
    }
    std::vector<double> ms;
    for (int i = -5; i < n; ++i) {  // the first few are warm-up
        const std::size_t k = static_cast<std::size_t>(i + 5);
        const off_t offset =
            static_cast<off_t>((kind == SyncKind::InPlaceFdatasync ? k % kInPlaceBlocks : k) * kBlock);
        auto t0 = Clock::now();
        if (::pwrite(fd, block.data(), kBlock, offset) != static_cast<ssize_t>(kBlock)) fail();
        if ((kind == SyncKind::AppendFsync ? ::fsync(fd) : ::fdatasync(fd)) != 0) fail();
        if (i >= 0) ms.push_back(msSince(t0));
    }
    ::close(fd);
    fs::remove(path);
    return summarize(std::move(ms));
}

struct DraftFigures {
    Stats save, finalize;
};

// Drafts are created (untimed) with their edited payload ready, then saveDraft and finalize are
// timed one call at a time.
DraftFigures draftsAndFinalize(Store& store, demo::DemoData& demo, Mix& mix, int n) {
    std::vector<std::string> ids;
    std::vector<json> edits;
    for (int i = 0; i < n; ++i) {
        std::string form = mix.form();
        const std::string& unit = mix.unit();
        auto saved = need(store.createDraft(form, demo.next(form, unit)), "createDraft");
        ids.push_back(saved.meta.id);
        edits.push_back(demo.next(form, unit));
    }
    std::vector<double> save, fin;
    for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        auto r = store.saveDraft(ids[static_cast<std::size_t>(i)], edits[static_cast<std::size_t>(i)]);
        save.push_back(msSince(t0));
        need(std::move(r), "saveDraft");
    }
    for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        auto r = store.finalize(ids[static_cast<std::size_t>(i)]);
        fin.push_back(msSince(t0));
        need(std::move(r), "finalize");
    }
    return {summarize(std::move(save)), summarize(std::move(fin))};
}

void emitLatency(const char* metric, const Stats& s, const Stats& fsync, std::int64_t storeRecords) {
    Line l;
    l["bench"] = "store";
    l["metric"] = metric;
    l["store_records"] = storeRecords;
    l["p50_ms"] = round3(s.p50);
    l["p99_ms"] = round3(s.p99);
    l["max_ms"] = round3(s.max);
    l["fsync_p50_ms"] = round3(fsync.p50);
    l["fsync_p99_ms"] = round3(fsync.p99);
    l["ratio_p50"] = round3(s.p50 / fsync.p50);
    l["ratio_p99"] = round3(s.p99 / fsync.p99);
    l["n"] = s.n;
    emit(l);
}

struct ImportFigures {
    std::int64_t records = 0;
    double seconds = 0;
    double firstTenthPerS = 0, lastTenthPerS = 0;  // records/s over the first and last tenth
    std::map<std::string, std::int64_t> byForm;
    double payloadBytes = 0;  // JSON as generated, summed
    double storedBytes = 0;   // JSON as sealed (with computed values), summed over the sample
    std::int64_t storedSamples = 0;
};

ImportFigures bulkImport(Store& store, demo::DemoData& demo, Mix& mix, std::int64_t target, int batch) {
    ImportFigures f;
    const auto forms = core::builtinForms(store.reference());
    double tenthSeconds = 0;
    std::int64_t tenthRecords = 0, nextReport = std::max<std::int64_t>(1, target / 10);
    while (f.records < target) {
        const int n = static_cast<int>(std::min<std::int64_t>(batch, target - f.records));
        const std::string form = mix.form();
        std::vector<json> payloads;
        payloads.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) payloads.push_back(demo.next(form, mix.unit()));
        for (std::size_t i = 0; i < payloads.size(); ++i) {
            f.payloadBytes += static_cast<double>(payloads[i].dump().size());
            // What the store seals is the normalized payload; a 1-in-10 sample keeps this phase short.
            if (i % 10 == 0) {
                auto v = core::validateRecord(*forms.latest(form), payloads[i], core::ValidationMode::Final,
                                              store.reference());
                f.storedBytes += static_cast<double>(v.normalized.dump().size());
                ++f.storedSamples;
            }
        }
        auto t0 = Clock::now();
        auto r = store.importFinal(form, payloads);
        const double s = msSince(t0) / 1000.0;
        need(std::move(r), "importFinal");
        f.seconds += s;
        f.records += n;
        f.byForm[form] += n;
        tenthSeconds += s;
        tenthRecords += n;
        if (f.records >= nextReport || f.records == target) {
            const double rate = tenthRecords / tenthSeconds;
            if (f.firstTenthPerS == 0) f.firstTenthPerS = rate;
            f.lastTenthPerS = rate;
            note("imported " + std::to_string(f.records) + "/" + std::to_string(target) + " (" +
                 std::to_string(static_cast<long>(rate)) + " records/s over the last " +
                 std::to_string(tenthRecords) + ")");
            tenthSeconds = 0;
            tenthRecords = 0;
            nextReport += std::max<std::int64_t>(1, target / 10);
        }
    }
    return f;
}

int run(const Options& o) {
    const std::string base = o.dir.empty() ? defaultBaseDir() : o.dir;
    ScratchDir scratch(base);
    if (o.keep) scratch.keep();
    Line env = environment("store", scratch.path());
    env["records"] = o.records;
    env["samples"] = o.samples;
    env["seed"] = o.seed;
    emit(env);
    if (env["filesystem"] == "tmpfs")
        note("warning: " + scratch.path() + " is on tmpfs; fsync costs nothing there");

    // Raw sync cost of the folder's file system: the yardstick for every durable write below. SQLite
    // syncs its WAL with fdatasync on Linux, mostly rewriting a WAL of constant size, so the ratios use
    // the in-place fdatasync; the append variants are printed for comparison. A shared disk drifts, so
    // the yardstick is measured again right before each latency phase.
    note("fsync baseline in " + scratch.path());
    auto rawFsync = [&](SyncKind kind, std::optional<std::int64_t> storeRecords) {
        const Stats s = fsyncLatency(scratch.path(), o.samples, kind);
        Line l;
        l["bench"] = "store";
        l["metric"] = "raw_fsync";
        l["call"] = syncKindName(kind);
        if (storeRecords) l["store_records"] = *storeRecords;
        l["p50_ms"] = round3(s.p50);
        l["p99_ms"] = round3(s.p99);
        l["max_ms"] = round3(s.max);
        l["n"] = s.n;
        emit(l);
        return s;
    };
    rawFsync(SyncKind::AppendFdatasync, std::nullopt);
    rawFsync(SyncKind::AppendFsync, std::nullopt);

    const std::string storeDir = (fs::path(scratch.path()) / "store").string();
    const auto& demoRef = core::ReferenceData::demo();
    storage::InitOptions init;
    init.unitId = demoRef.table("units").at(0).at("id").get<std::string>();
    init.user = "bench";
    const storage::DataKey key = storage::DataKey::random();
    need(Store::createWithKey(storeDir, key, init), "creating the store");
    auto store = need(Store::open(storeDir, key), "opening the store");
    demo::DemoData demo(store->reference(), o.seed);
    // A laptop's store holds its own unit's reports only (finalize refuses another unit's).
    Mix mix({init.unitId}, o.seed ^ 0x9e3779b97f4a7c15ull);

    note("draft save and finalize on the new store");
    {
        const std::int64_t before = store->info().records;
        const Stats fdatasync = rawFsync(SyncKind::InPlaceFdatasync, before);
        auto d = draftsAndFinalize(*store, demo, mix, o.samples);
        emitLatency("draft_save_latency", d.save, fdatasync, before);
        emitLatency("finalize_latency", d.finalize, fdatasync, before);
    }

    note("bulk import of " + std::to_string(o.records) + " records");
    const ImportFigures imp = bulkImport(*store, demo, mix, o.records, o.batch);
    {
        Line l;
        l["bench"] = "store";
        l["metric"] = "bulk_import";
        l["records"] = imp.records;
        l["batch"] = o.batch;
        l["seconds"] = round3(imp.seconds);
        l["records_per_s"] = std::lround(static_cast<double>(imp.records) / imp.seconds);
        l["first_tenth_records_per_s"] = std::lround(imp.firstTenthPerS);
        l["last_tenth_records_per_s"] = std::lround(imp.lastTenthPerS);
        l["by_form"] = imp.byForm;
        emit(l);
    }
    const std::int64_t total = store->info().records;

    note("draft save and finalize with " + std::to_string(total) + " records in the store");
    {
        const Stats fdatasync = rawFsync(SyncKind::InPlaceFdatasync, total);
        auto d = draftsAndFinalize(*store, demo, mix, o.samples);
        emitLatency("draft_save_latency", d.save, fdatasync, total);
        emitLatency("finalize_latency", d.finalize, fdatasync, total);
    }
    const std::int64_t records = store->info().records;

    note("search");
    {
        std::vector<double> cold, warm;
        Line hits = Line::object(), matches = Line::object();
        for (const auto& q : kQueries) {
            auto t0 = Clock::now();
            auto r = need(store->search(q), "search '" + q + "'");
            cold.push_back(msSince(t0));
            t0 = Clock::now();
            need(store->search(q), "search '" + q + "'");
            warm.push_back(msSince(t0));
            hits[q] = r.size();
            // Untimed: how many records match in all, beyond the 200 a list shows.
            matches[q] = need(store->search(q, 1000000), "search '" + q + "'").size();
        }
        const Stats c = summarize(cold), w = summarize(warm);
        Line l;
        l["bench"] = "store";
        l["metric"] = "search";
        l["store_records"] = records;
        l["queries"] = kQueries.size();
        l["limit"] = 200;
        l["p50_ms"] = round3(w.p50);
        l["p99_ms"] = round3(w.p99);
        l["max_ms"] = round3(w.max);
        l["first_run_p50_ms"] = round3(c.p50);
        l["first_run_max_ms"] = round3(c.max);
        l["hits"] = hits;
        l["matches"] = matches;
        emit(l);
    }

    note("training gaps and readiness summary");
    {
        const std::string oneUnit = init.unitId;
        auto time = [&](const std::vector<std::string>& units, std::size_t& cells) {
            std::vector<double> ms;
            for (int i = 0; i < o.repeats; ++i) {
                auto t0 = Clock::now();
                auto g = need(store->trainingGaps(units), "trainingGaps");
                ms.push_back(msSince(t0));
                cells = g.size();
            }
            return summarize(std::move(ms));
        };
        storage::ListFilter trainingOnly;
        trainingOnly.formId = "training";
        trainingOnly.status = core::RecordStatus::Final;
        const std::int64_t sessions = need(store->count(trainingOnly), "count");
        for (bool all : {true, false}) {
            std::size_t cells = 0;
            const Stats s = all ? time({}, cells) : time({oneUnit}, cells);
            Line l;
            l["bench"] = "store";
            l["metric"] = "training_gaps";
            l["scope"] = all ? "all units" : oneUnit;
            l["store_records"] = records;
            l["training_records"] = sessions;
            l["cells"] = cells;
            l["p50_ms"] = round3(s.p50);
            l["max_ms"] = round3(s.max);
            l["n"] = s.n;
            emit(l);
        }
        std::vector<double> ms;
        for (int i = 0; i < o.repeats; ++i) {
            auto t0 = Clock::now();
            need(store->readiness(oneUnit), "readiness");
            ms.push_back(msSince(t0));
        }
        const Stats s = summarize(std::move(ms));
        Line l;
        l["bench"] = "store";
        l["metric"] = "readiness_summary";
        l["scope"] = oneUnit;
        l["store_records"] = records;
        l["p50_ms"] = round3(s.p50);
        l["max_ms"] = round3(s.max);
        l["n"] = s.n;
        emit(l);
    }

    // Closing the last connection checkpoints the WAL into the database file (and removes the WAL).
    store.reset();
    {
        auto size = [](const fs::path& p) {
            std::error_code ec;
            auto n = fs::file_size(p, ec);
            return ec ? std::uintmax_t{0} : n;
        };
        const fs::path db = fs::path(storeDir) / storage::kStoreFileName;
        const std::uintmax_t dbBytes = size(db), walBytes = size(db.string() + "-wal");
        const double perRecord = static_cast<double>(dbBytes + walBytes) / static_cast<double>(records);
        const double stored =
            imp.storedSamples ? imp.storedBytes / static_cast<double>(imp.storedSamples) : 0.0;
        Line l;
        l["bench"] = "store";
        l["metric"] = "disk_per_record";
        l["store_records"] = records;
        l["db_bytes"] = dbBytes;
        l["wal_bytes"] = walBytes;
        l["bytes_per_record"] = std::lround(perRecord);
        l["payload_json_bytes_mean"] = std::lround(imp.payloadBytes / static_cast<double>(imp.records));
        l["stored_json_bytes_mean"] = std::lround(stored);
        l["disk_to_json_ratio"] = round3(stored > 0 ? perRecord / stored : 0.0);
        emit(l);
    }
    if (o.keep) note("kept " + scratch.path());
    return 0;
}

}  // namespace

int runStore(int argc, char** argv) {
    Options o;
    CLI::App app{
        "Measures the encrypted field store: fsync baseline, finalize and draft-save latency, bulk import, "
        "search, training gaps and bytes on disk. Prints one JSON object per line.",
        "outpost-bench store"};
    app.add_option("--records", o.records, "records to bulk-import (default 100000)")
        ->check(CLI::Range(100L, 10000000L));
    app.add_option("--dir", o.dir, "make the scratch folder under DIR (default: $TMPDIR or /tmp)");
    app.add_flag("--quick", o.quick, "smoke test: 10000 records, 50 samples");
    app.add_option("--samples", o.samples, "latency samples per measurement (default 200)")
        ->check(CLI::Range(5, 100000));
    app.add_option("--batch", o.batch, "payloads per importFinal call (default 1000)")
        ->check(CLI::Range(1, 100000));
    app.add_option("--seed", o.seed, "demo data seed (default 2026)");
    app.add_flag("--keep", o.keep, "keep the scratch folder and its store");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (o.quick) {
        if (!app.count("--records")) o.records = 10000;
        if (!app.count("--samples")) o.samples = 50;
        o.repeats = 3;
    }
    try {
        return run(o);
    } catch (const std::exception& e) {
        note(std::string("failed: ") + e.what());
        return 1;
    }
}

}  // namespace outpost::bench
