// USB bundles as a property: for many generated batches (every built-in form and a form with every field
// type, SEA sections sealed to HQ's conduct keys, many seeds, sizes and batch sizes), HQ's receipt for a
// laptop's bundle imports on that laptop and drains its queue. The laptop checks HQ's signature against
// the bytes it sent, rebuilt from its own copies, so any member the rebuild leaves out or spells otherwise
// than the sender (the sealed section's hash, a number, a string) fails here.
//
// OUTPOST_PROPERTY_ROUNDS sets the number of bundle round trips (default 48; `make fuzz-long` runs more).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>

#include "core/time.hpp"
#include "demo/demo_data.hpp"
#include "hq/bundle_import.hpp"
#include "hq/service.hpp"
#include "storage/hq/store.hpp"
#include "storage/sealed.hpp"
#include "storage/store.hpp"
#include "support/enroll.hpp"
#include "support/test_support.hpp"
#include "sync/bundle.hpp"
#include "sync/protocol.hpp"

using namespace outpost;
using namespace outpost::sync;
using namespace outpost::hq;
using storage::Store;
using test::TempDir;
namespace hqs = outpost::storage::hq;

namespace {

const std::string kUnit = "MINUSCA-RWABATT-1";
const std::string kNow = "2026-12-01T08:00:00.000Z";

int rounds() {
    if (const char* e = std::getenv("OUTPOST_PROPERTY_ROUNDS"); e && *e) return std::max(1, std::atoi(e));
    return 48;
}

storage::DataKey fixedKey() {
    unsigned char b[storage::DataKey::kSize];
    std::fill(std::begin(b), std::end(b), static_cast<unsigned char>(0x5a));
    return storage::DataKey::fromBytes(b, storage::DataKey::kSize);
}

// An HQ in-process with a conduct key and the kitchen-sink form published, and one laptop enrolled with it
// that already pulled both (the first bundle round trip brings them).
struct World {
    TempDir hqDir, lapDir;
    HqIdentity identity;
    std::unique_ptr<HqService> service;
    std::unique_ptr<hqs::HqStore> hqStore;
    std::unique_ptr<Store> lap;
    std::string conductKeyId;

    explicit World(std::uint64_t seed) {
        identity.hqId = "hq-property-" + std::to_string(seed);
        identity.signing = SigningKeyPair::generate();
        identity.tlsPin = "pin";
        const std::string location = hqDir.path();
        service = std::make_unique<HqService>([location] { return hqs::openHqStore(location); }, identity);
        hqStore = hqs::openHqStore(location).value();
        auto key = storage::makeConductKey("Conduct officer", "conduct passphrase", kNow,
                                           storage::KdfParams::interactive());
        conductKeyId = key.key.id;
        json doc = storage::signConductKeyDocument(storage::conductKeyDocument(1, {key.key}),
                                                   identity.signing.secretKey);
        REQUIRE(hqStore->putConductKeys(doc, "conduct-key add", key.key.id, kNow).ok());
        json sink = test::fixture("kitchen_sink.json");
        REQUIRE(hqStore->putForm("kitchen-sink", sink["version"].get<int>(), sink, kNow).ok());

        storage::InitOptions io;
        io.unitId = kUnit;
        io.user = "capt.property";
        REQUIRE(Store::createWithKey(lapDir.path(), fixedKey(), io).ok());
        lap = Store::open(lapDir.path(), fixedKey()).value();
        enroll();
        // The first round trip carries no report: its receipt brings the conduct keys and the form.
        roundTrip({}, 0);
        REQUIRE(lap->conductKeys().value().size() == 1);
        REQUIRE(lap->forms().latest("kitchen-sink"));
    }

    void enroll() { test::enrollThroughHandler(*service, *hqStore, *lap, kUnit); }

    // Export with batchItems per push, import at HQ, import HQ's receipt: returns how many pushes went.
    std::int64_t roundTrip(const BundleOptions& opts, std::int64_t expectReports) {
        auto b = exportBundle(*lap, opts);
        INFO((b ? "" : b.error().message));
        REQUIRE(b.ok());
        CHECK(b->reports == expectReports);
        CHECK(b->held == 0);
        auto in = importBundle(*service, b->file);
        INFO((in ? "" : in.error().message));
        REQUIRE(in.ok());
        CHECK(in->stored == expectReports);
        CHECK(in->rejected == 0);
        auto a = importReceipt(*lap, in->receiptFile);
        INFO((a ? "" : a.error().message));
        REQUIRE(a.ok());
        CHECK(a->stored == expectReports);
        CHECK(a->rejected == 0);
        return b->batches;
    }
};

// Text with what canonical bytes must carry exactly: accents, quotes, backslashes, tabs and newlines,
// characters outside the BMP, no '#' (the kitchen-sink title's pattern refuses it).
std::string someText(std::mt19937_64& rng, std::size_t maxChars, bool multiline) {
    static const std::vector<std::string> pieces = {
        "a",  "Z", "0", " ",    "é",      "ç", "Ø", "ß", "\"", "\\", "/", "'", "<", ">", "&", "%", "€", "ŋ",
        "中", "ع", "𝄞", "🙂", "\u00a0", "~", "{", "}", "[",  "]",  ":", ",", "-", "_", "=", "+", "?"};
    std::uniform_int_distribution<std::size_t> len(1, maxChars), pick(0, pieces.size() - 1);
    std::string s;
    const std::size_t n = len(rng);
    for (std::size_t i = 0; i < n; ++i) {
        if (multiline && rng() % 17 == 0)
            s += rng() % 2 ? "\n" : "\t";
        else
            s += pieces[pick(rng)];
    }
    if (s.front() == ' ' || s.front() == '\n' || s.front() == '\t') s.front() = 'x';
    return s;
}

std::string someDate(std::mt19937_64& rng, int minYear = 2000) {
    char b[16];
    std::snprintf(b, sizeof b, "%04d-%02d-%02d", minYear + static_cast<int>(rng() % 27),
                  1 + static_cast<int>(rng() % 12), 1 + static_cast<int>(rng() % 28));
    return b;
}

// A number the way people and programs write them: integers, short and long decimals, tiny and huge
// magnitudes, 0 and 1 as decimals.
double someRatio(std::mt19937_64& rng) {
    switch (rng() % 6) {
        case 0:
            return 0.0;
        case 1:
            return 1.0;
        case 2:
            return static_cast<double>(rng() % 100) / 100.0;
        case 3:
            return std::ldexp(static_cast<double>(rng() % 1000), -20);
        case 4:
            return 1.0 / 3.0;
        default:
            return std::uniform_real_distribution<double>(0, 1)(rng);
    }
}

// A kitchen-sink payload: every field type, optional ones left out at random, the sensitive field set
// whenever the flag is (it is then sealed at finalize).
json kitchenSink(std::mt19937_64& rng) {
    json p = {{"unit", kUnit}, {"title", someText(rng, 80, false)}};
    auto maybe = [&] { return rng() % 3 != 0; };
    if (maybe()) p["notes"] = someText(rng, 400, true);
    if (maybe()) p["count"] = static_cast<int>(rng() % 101);
    if (maybe()) p["ratio"] = someRatio(rng);
    if (maybe()) {
        p["day"] = someDate(rng);
        if (maybe()) p["until"] = p["day"];
    }
    if (maybe()) {
        char b[40];
        static const char* offsets[] = {"Z", "+01:00", "-05:30", "+14:00", "+00:00"};
        std::snprintf(b, sizeof b, "%sT%02d:%02d%s", someDate(rng).c_str(), static_cast<int>(rng() % 24),
                      static_cast<int>(rng() % 60), offsets[rng() % 5]);
        p["at"] = b;
    }
    const bool flag = rng() % 2 == 0;
    p["flag"] = flag;
    if (flag) {
        if (maybe()) p["extra"] = static_cast<int>(rng() % 1000);
        p["secret"] = someText(rng, 60, false);
    }
    if (maybe()) p["kind"] = rng() % 2 ? "alpha" : "bravo";
    if (maybe()) {
        static const std::vector<std::vector<std::string>> sets = {{}, {"x"}, {"y", "z"}, {"x", "z"}};
        p["tags"] = sets[rng() % sets.size()];
    }
    if (maybe()) p["score"] = 1 + static_cast<int>(rng() % 4);
    if (maybe()) {
        if (rng() % 2)
            p["where"] = {{"mgrs", "34NBK286824"}};
        else
            p["where"] = {{"lat", std::uniform_real_distribution<double>(-90, 90)(rng)},
                          {"lon", std::uniform_real_distribution<double>(-180, 180)(rng)}};
    }
    if (maybe()) {
        json lines = json::array();
        for (int i = static_cast<int>(rng() % 6); i > 0; --i) {
            const int qty = 1 + static_cast<int>(rng() % 5000);
            lines.push_back({{"qty", qty}, {"ok", static_cast<int>(rng() % (qty + 1))}});
        }
        p["lines"] = lines;
    }
    return p;
}

}  // namespace

TEST_CASE("bundles: HQ's receipt for any generated batch imports on the laptop that made it",
          "[client][sync][bundle][property]") {
    const int n = rounds();
    std::int64_t pushes = 0, reports = 0, sealed = 0;
    std::unique_ptr<World> w;
    std::unique_ptr<outpost::demo::DemoData> demo;
    for (int round = 0; round < n; ++round) {
        const std::uint64_t seed = 9 + static_cast<std::uint64_t>(round);
        // A fresh HQ and laptop every eight rounds; between them the laptop goes on with its queue drained.
        if (round % 8 == 0) {
            w = std::make_unique<World>(seed);
            demo = std::make_unique<outpost::demo::DemoData>(w->lap->reference(), seed);
        }
        std::mt19937_64 rng(seed);
        INFO("round " << round << " (seed " << seed << ")");
        // Sizes from 1 to 140 reports, the demo's form mix with kitchen-sink reports among them.
        const int size = 1 + static_cast<int>(rng() % 140);
        std::map<std::string, std::vector<json>> byForm;
        for (int i = 0; i < size; ++i) {
            const int pick = static_cast<int>(rng() % 12);
            if (pick >= 10) {
                byForm["kitchen-sink"].push_back(kitchenSink(rng));
                continue;
            }
            const char* form = pick < 4   ? "training"
                               : pick < 7 ? "readiness"
                               : pick < 8 ? "training-gap"
                                          : "incident";
            byForm[form].push_back(std::string(form) == "incident" && rng() % 3 == 0
                                       ? demo->incident(kUnit, true)
                                       : demo->next(form, kUnit));
        }
        for (auto& [form, payloads] : byForm) {
            auto r = w->lap->importFinal(form, payloads);
            INFO(form << ": " << (r ? "" : r.error().message));
            REQUIRE(r.ok());
            for (const auto& id : r.value())
                if (w->lap->sealedSection(id, 1).value().state == "sealed") ++sealed;
        }
        BundleOptions opts;
        static const int batchSizes[] = {1, 2, 3, 7, 16, 33, 64, 2000};
        opts.batchItems = batchSizes[rng() % 8];
        pushes += w->roundTrip(opts, size);
        reports += size;
        REQUIRE(w->lap->outboxCounts().value().queued == 0);
        REQUIRE(w->lap->verify().value().empty());
    }
    INFO(reports << " reports in " << pushes << " pushes, " << sealed << " with a sealed section");
    // The default run covers a few hundred batches, and sealed sections among them.
    if (n >= 48) {
        CHECK(pushes >= 200);
        CHECK(sealed >= 20);
    }
    CHECK(reports > 0);
}

TEST_CASE("bundles: the sixty demo reports of the field report (demo-seed --count 60 --seed 9) round-trip",
          "[client][sync][bundle]") {
    // The mix outpostctl demo-seed makes, for the seeds and sizes the defect was seen with.
    for (const auto& [count, seed] :
         std::vector<std::pair<int, std::uint64_t>>{{60, 9}, {70, 10}, {100, 11}}) {
        INFO(count << " reports, seed " << seed);
        World w(seed);
        outpost::demo::DemoData demo(w.lap->reference(), seed);
        std::map<std::string, std::vector<json>> byForm;
        for (int i = 0; i < count; ++i) {
            const int pick = i % 10;
            const char* form = pick < 5   ? "training"
                               : pick < 8 ? "readiness"
                               : pick < 9 ? "training-gap"
                                          : "incident";
            byForm[form].push_back(demo.next(form, kUnit));
        }
        for (auto& [form, payloads] : byForm) REQUIRE(w.lap->importFinal(form, payloads).ok());
        w.roundTrip({}, count);
        CHECK(w.lap->outboxCounts().value().queued == 0);
        // The same receipt again is harmless, and a network sync would find nothing left to send.
    }
}
