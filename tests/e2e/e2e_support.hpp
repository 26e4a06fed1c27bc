// End-to-end fixtures: a real outpost-hq process over TLS (SQLite or PostgreSQL store) and field
// laptops with real encrypted stores, plus the exactly-once check every fault test ends with.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "demo/demo_data.hpp"
#include "storage/hq/store.hpp"
#include "storage/store.hpp"
#include "support/test_support.hpp"
#include "sync/client.hpp"
#include "testbed/hq_process.hpp"
#include "testbed/pg_cluster.hpp"

namespace outpost::test {

using storage::Store;

inline std::string hqBinary() {
    return OUTPOST_HQ;
}

// Fault rounds: OUTPOST_FAULT_ROUNDS overrides the default (CI keeps it modest; a long run raises it).
inline int faultRounds(int dflt) {
    if (const char* e = std::getenv("OUTPOST_FAULT_ROUNDS"); e && *e) return std::max(1, std::atoi(e));
    return dflt;
}

// A fresh HQ: its data folder, and a fresh PostgreSQL database when the backend is "postgres" (or the
// empty database `existingDb` names, made by the test).
struct Hq {
    TempDir dir;
    std::string dbUri;
    std::unique_ptr<HqProcess> proc;

    // withConductKey false: an HQ whose conduct officers have published no key yet (laptops hold SEA
    // reports back until one is added).
    explicit Hq(const std::string& backend, std::uint64_t fileSizeLimit = 0,
                const std::string& existingDb = {}, bool withConductKey = true) {
        if (backend == "postgres")
            dbUri = existingDb.empty() ? PgCluster::shared().createDatabase() : existingDb;
        HqOptions o;
        o.binary = hqBinary();
        o.dataDir = dir.sub("hq");
        o.dbUri = dbUri;
        o.fileSizeLimit = fileSizeLimit;
        proc = std::make_unique<HqProcess>(o);
        auto r = proc->admin({"init"});
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
        // Laptops hold back sensitive sections until HQ has a conduct key to seal them to.
        conductKeyFile = dir.sub("conduct.key");
        if (withConductKey) conductKeyId = proc->addConductKey(conductKeyFile);
        proc->start();
    }
    std::string conductKeyFile;
    std::string conductKeyId;
    std::string location() const { return dbUri.empty() ? proc->options().dataDir : dbUri; }
    std::unique_ptr<storage::hq::HqStore> store() const {
        auto s = storage::hq::openHqStore(location());
        INFO((s ? "" : s.error().message));
        REQUIRE(s.ok());
        return std::move(s.value());
    }
};

// A field laptop: an encrypted store for one unit, enrolled with an HQ.
struct Laptop {
    TempDir dir;
    storage::DataKey key = storage::DataKey::random();
    std::unique_ptr<Store> store;
    std::string unit;
    std::unique_ptr<outpost::demo::DemoData> demo;

    explicit Laptop(std::string unitId, std::uint64_t seed = 1) : unit(std::move(unitId)) {
        storage::InitOptions io;
        io.unitId = unit;
        io.user = "field.tester";
        auto c = Store::createWithKey(dir.path(), key, io);
        INFO((c ? "" : c.error().message));
        REQUIRE(c.ok());
        reopen();
        demo = std::make_unique<outpost::demo::DemoData>(store->reference(), seed);
    }
    // A laptop whose store is a byte-for-byte copy of another's (a cloned disk).
    Laptop(const Laptop& original, const char* /*clone*/) : key(original.key), unit(original.unit) {
        std::filesystem::copy(
            original.dir.path(), dir.path(),
            std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
        reopen();
        demo = std::make_unique<outpost::demo::DemoData>(store->reference(), 99);
    }
    void close() { store.reset(); }
    void reopen() {
        store.reset();
        auto s = Store::open(dir.path(), key);
        INFO((s ? "" : s.error().message));
        REQUIRE(s.ok());
        store = std::move(s.value());
    }
    void enroll(const Hq& hq, const std::string& name = "laptop") {
        auto r = sync::enroll(*store, hq.proc->url(), hq.proc->enroll(unit), name);
        INFO((r ? "" : r.error().message));
        REQUIRE(r.ok());
    }
    // Points the enrolled laptop at another address (a link emulator in front of the same HQ).
    void pointAt(const std::string& url) {
        auto cfg = store->syncConfig();
        REQUIRE(cfg.ok());
        REQUIRE(cfg.value().has_value());
        auto sk = store->deviceSecretKey();
        REQUIRE(sk.ok());
        auto c = *cfg.value();
        c.hqUrl = url;
        REQUIRE(store->saveEnrollment(c, sk.value()).ok());
    }
    // n finalized reports, a realistic mix of the four built-in forms.
    std::vector<std::string> addReports(int n) {
        std::map<std::string, std::vector<nlohmann::json>> byForm;
        static const char* mix[] = {"readiness", "training", "training-gap",
                                    "incident",  "training", "readiness"};
        for (int i = 0; i < n; ++i) {
            std::string form = mix[i % 6];
            byForm[form].push_back(demo->next(form, unit));
        }
        std::vector<std::string> ids;
        for (auto& [form, payloads] : byForm) {
            auto r = store->importFinal(form, payloads);
            INFO((r ? "" : r.error().message));
            REQUIRE(r.ok());
            ids.insert(ids.end(), r.value().begin(), r.value().end());
        }
        return ids;
    }
    sync::PassResult sync(const sync::ClientOptions& o = {}) {
        auto r = sync::syncOnce(*store, o);
        INFO((r ? "" : r.error().message));
        REQUIRE(r.ok());
        return r.value();
    }
    std::set<std::pair<std::string, int>> finals() {
        storage::ListFilter f;
        f.status = core::RecordStatus::Final;
        f.latestOnly = false;
        f.limit = 10000000;
        auto l = store->list(f);
        REQUIRE(l.ok());
        std::set<std::pair<std::string, int>> out;
        for (auto& m : l.value()) out.insert({m.id, m.revision});
        return out;
    }
    std::int64_t queued() {
        auto c = store->outboxCounts();
        REQUIRE(c.ok());
        return c.value().queued;
    }
};

// Every final revision of every laptop is at HQ exactly once, HQ holds nothing else, HQ and the
// laptops pass their own checks (audit logs and HQ's signature checks included), and every laptop's
// queue is drained.
inline void checkExactlyOnce(const Hq& hq, const std::vector<Laptop*>& laptops) {
    std::set<std::pair<std::string, int>> expected;
    for (auto* l : laptops) {
        auto f = l->finals();
        expected.insert(f.begin(), f.end());
        CHECK(l->queued() == 0);
        auto v = l->store->verify();
        REQUIRE(v.ok());
        CHECK(v.value().empty());
        auto audit = l->store->verifyAudit();
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
    auto count = s->reportCount();
    REQUIRE(count.ok());
    CHECK(count.value() == static_cast<std::int64_t>(expected.size()));
    auto v = s->verify();
    REQUIRE(v.ok());
    CHECK(v.value().empty());
    // HQ's own check, as an operator runs it: every report's device signature and the audit log.
    auto hv = hq.proc->admin({"verify"});
    INFO(hv.out << hv.err);
    CHECK(hv.exitCode == 0);
}

}  // namespace outpost::test
