// Disk full and I/O errors: fail the Nth write, sync or truncate for N = 1, 2, 3 ... until a call completes.
//
// Each failed call must report DiskFull or Io with a message a person understands, and leave the store
// exactly as it was: as the running program sees it, and as a fresh open sees it after the disk recovers.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "storage/store.hpp"
#include "support/faulty_vfs.hpp"
#include "support/test_support.hpp"

using namespace outpost;
using namespace outpost::storage;
using outpost::test::FaultKind;
using outpost::test::FaultyVfs;
using outpost::test::TempDir;
using json = nlohmann::json;

namespace {

// No call in this file comes near this many write-ish operations; reaching it means the walk never ends.
constexpr int kMaxSteps = 400;

DataKey faultKey() {
    unsigned char b[DataKey::kSize];
    std::fill(std::begin(b), std::end(b), static_cast<unsigned char>(0x3c));
    return DataKey::fromBytes(b, DataKey::kSize);
}

StoreOptions faultyOptions() {
    FaultyVfs::instance();  // registered before the first open names it
    return StoreOptions{.vfs = FaultyVfs::kName};
}

json sinkPayload(const std::string& unit, const std::string& title, int count) {
    json p = json::parse(R"({"day": "2026-11-01", "kind": "alpha", "tags": ["x"],
        "lines": [{"qty": 10, "ok": 9}, {"qty": 4, "ok": 4}], "notes": "routine check of the generator and the fuel"})");
    p["unit"] = unit;
    p["title"] = title;
    p["count"] = count;
    return p;
}

template <typename T>
std::optional<Error> errorOf(const Result<T>& r) {
    if (r.ok()) return std::nullopt;
    return r.error();
}

json metaJson(const RecordMeta& m) {
    return {{"id", m.id},
            {"revision", m.revision},
            {"parent", m.parentRevision ? json(*m.parentRevision) : json()},
            {"form", m.formId},
            {"formVersion", m.formVersion},
            {"unit", m.unitId},
            {"author", m.author},
            {"status", m.status},
            {"created", m.createdUtc},
            {"offset", m.createdOffsetMinutes},
            {"updated", m.updatedUtc},
            {"finalized", m.finalizedUtc},
            {"seq", m.localSeq},
            {"sync", m.syncState}};
}

// Everything a caller can observe: every revision with its payload, the outbox, the backup files.
json snapshot(Store& s, const std::string& dir) {
    json out = {{"records", json::array()}, {"outbox", json::array()}, {"backups", json::array()}};
    ListFilter all;
    all.latestOnly = false;
    all.limit = 100000;
    auto metas = s.list(all);
    REQUIRE(metas.ok());
    for (const auto& m : *metas) {
        auto r = s.get(m.id, m.revision);
        INFO("record " << m.id << " r" << m.revision << ": " << (r.ok() ? "" : r.error().message));
        REQUIRE(r.ok());
        out["records"].push_back({{"meta", metaJson(r->meta)}, {"payload", r->payload}});
    }
    auto ob = s.outbox();
    REQUIRE(ob.ok());
    for (const auto& i : *ob)
        out["outbox"].push_back({i.seq, i.recordId, i.revision, i.formId, i.priority, i.enqueuedUtc,
                                 i.attempts, i.state, i.lastError});
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(dir) / "backups", ec))
        files.push_back(e.path().filename().string());
    std::sort(files.begin(), files.end());
    out["backups"] = files;
    return out;
}

// Shows only what differs: a whole snapshot is too long to read in a failure report.
void checkUnchanged(const json& before, const json& now) {
    REQUIRE(json::diff(before, now).dump() == "[]");
}

void requireClean(Store& s) {
    auto v = s.verify();
    REQUIRE(v.ok());
    std::string text;
    for (const auto& p : *v) text += "\n  " + p;
    INFO("verify:" << text);
    CHECK(v->empty());
}

// A store with history: finals (one amended twice), a draft, an amendment being drafted, one backup.
struct Fixture {
    TempDir dir;
    std::unique_ptr<Store> store;
    std::string unit;
    std::string draftId;    // a plain draft (r1)
    std::string finalId;    // newest revision final: what amend works on
    std::string amendedId;  // r1 final, r2 draft

    Fixture() {
        InitOptions io;
        unit = core::ReferenceData::demo().table("units")[0]["id"];
        io.unitId = unit;
        io.user = "cdr.fault";
        auto c = Store::createWithKey(dir.path(), faultKey(), io);
        INFO((c.ok() ? "" : c.error().message));
        REQUIRE(c.ok());
        reopen();
        REQUIRE(store->installForm(test::fixture("kitchen_sink.json")).ok());
        auto finalOne = [&](const std::string& title) {
            auto d = store->createDraft("kitchen-sink", sinkPayload(unit, title, 3));
            REQUIRE(d.ok());
            REQUIRE(store->finalize(d->meta.id).ok());
            return d->meta.id;
        };
        finalOne("First patrol");
        finalId = finalOne("Second patrol");
        REQUIRE(store->amend(finalId).ok());
        REQUIRE(store->saveDraft(finalId, sinkPayload(unit, "Second patrol, corrected", 4)).ok());
        REQUIRE(store->finalize(finalId).ok());
        amendedId = finalOne("Third patrol");
        REQUIRE(store->amend(amendedId).ok());
        auto d = store->createDraft("kitchen-sink", sinkPayload(unit, "Unfinished convoy report", 7));
        REQUIRE(d.ok());
        draftId = d->meta.id;
        REQUIRE(store->backup().ok());
    }

    void reopen() {
        store.reset();
        auto s = Store::open(dir.path(), faultKey(), faultyOptions());
        INFO((s.ok() ? "" : s.error().message));
        REQUIRE(s.ok());
        store = std::move(s).value();
    }
};

struct Operation {
    const char* name;
    std::function<std::optional<Error>(Fixture&)> run;
    // Checks the effect once the call went through; before is the snapshot taken before any attempt.
    std::function<void(Fixture&, const json& before)> done;
};

std::size_t count(const json& snap, const char* key) {
    return snap[key].size();
}

std::vector<Operation> operations() {
    return {
        {"createDraft",
         [](Fixture& f) {
             return errorOf(f.store->createDraft("kitchen-sink", sinkPayload(f.unit, "Night patrol", 2)));
         },
         [](Fixture& f, const json& before) {
             json now = snapshot(*f.store, f.dir.path());
             CHECK(count(now, "records") == count(before, "records") + 1);
             auto search = f.store->search("night patrol");
             REQUIRE(search.ok());
             CHECK(search->size() == 1);
         }},
        {"saveDraft",
         [](Fixture& f) {
             return errorOf(f.store->saveDraft(f.draftId, sinkPayload(f.unit, "Convoy report, complete", 8)));
         },
         [](Fixture& f, const json&) {
             auto r = f.store->get(f.draftId);
             REQUIRE(r.ok());
             CHECK(r->payload["title"] == "Convoy report, complete");
             CHECK(r->meta.status == core::RecordStatus::Draft);
         }},
        {"finalize", [](Fixture& f) { return errorOf(f.store->finalize(f.draftId)); },
         [](Fixture& f, const json& before) {
             auto r = f.store->get(f.draftId);
             REQUIRE(r.ok());
             CHECK(r->meta.status == core::RecordStatus::Final);
             auto ob = f.store->outbox();
             REQUIRE(ob.ok());
             CHECK(ob->size() == count(before, "outbox") + 1);
             CHECK(ob->back().recordId == f.draftId);
         }},
        {"amend", [](Fixture& f) { return errorOf(f.store->amend(f.finalId)); },
         [](Fixture& f, const json&) {
             auto r = f.store->get(f.finalId);
             REQUIRE(r.ok());
             CHECK(r->meta.revision == 3);
             CHECK(r->meta.status == core::RecordStatus::Draft);
             CHECK(r->payload["title"] == "Second patrol, corrected");
         }},
        {"backup", [](Fixture& f) { return errorOf(f.store->backup()); },
         [](Fixture& f, const json& before) {
             json now = snapshot(*f.store, f.dir.path());
             CHECK(count(now, "backups") == count(before, "backups") + 1);
             now["backups"] = before["backups"];
             checkUnchanged(before, now);
         }},
    };
}

const char* kindName(FaultKind k) {
    return k == FaultKind::DiskFull ? "disk full" : "I/O error";
}

struct WalkStats {
    int steps = 0;      // failed attempts before the one that went through
    int uncertain = 0;  // failures reported as "may or may not have been kept"
    bool kept = false;  // an uncertain failure whose change a later open found committed
};

// One walk: N = 1, 2, 3 ... until the call completes without reaching the Nth operation.
// Transient faults keep the same Store (the user simply tries again); persistent ones close it while the disk
// is still failing, as a program that gives up would, and carry on with a fresh open.
WalkStats walk(const Operation& op, FaultKind kind, bool persistent) {
    Fixture fx;
    const json before = snapshot(*fx.store, fx.dir.path());
    auto& vfs = FaultyVfs::instance();
    WalkStats stats;
    for (int n = 1; n <= kMaxSteps; ++n) {
        INFO(op.name << ", " << kindName(kind) << (persistent ? " (persistent)" : " (once)")
                     << ", failing operation " << n);
        vfs.arm(n, kind, persistent);
        auto err = op.run(fx);
        if (vfs.failures() == 0) {
            int used = vfs.operations();
            vfs.disarm();
            INFO((err ? err->message : ""));
            REQUIRE_FALSE(err);
            // Proves the store really writes through the faulty VFS: otherwise the walk would prove nothing.
            CHECK(used > 0);
            CHECK(used < n);
            op.done(fx, before);
            requireClean(*fx.store);
            fx.reopen();
            requireClean(*fx.store);
            op.done(fx, before);
            return stats;
        }
        ++stats.steps;
        int injected = vfs.firstCode();
        INFO("injected " << sqlite3_errstr(injected) << " (extended code " << injected << ")");
        REQUIRE(err);
        INFO("error: " << err->message);
        if (injected == SQLITE_FULL) {
            CHECK(err->code == ErrorCode::DiskFull);
            CHECK_THAT(err->message, Catch::Contains("disk is full"));
        } else {
            CHECK(err->code == ErrorCode::Io);
            CHECK_THAT(err->message, Catch::Contains("I/O error"));
        }
        // A sync that fails after SQLite wrote the commit record leaves the outcome to the OS; the store must
        // say so rather than promise. A failed write cannot leave a whole commit behind, so never hedges.
        const bool uncertain = err->message.find("may or may not") != std::string::npos;
        if (uncertain) {
            ++stats.uncertain;
            CHECK(injected != SQLITE_FULL);
            CHECK(injected != SQLITE_IOERR_WRITE);
        } else {
            CHECK_THAT(err->message, Catch::Contains("nothing was written"));
        }

        // As the program that got the error sees the store (reads still work on a failing disk).
        checkUnchanged(before, snapshot(*fx.store, fx.dir.path()));
        if (persistent) fx.store.reset();
        vfs.disarm();
        // As the next start sees it, once the disk is back.
        auto again = Store::open(fx.dir.path(), faultKey(), faultyOptions());
        INFO((again.ok() ? "" : again.error().message));
        REQUIRE(again.ok());
        requireClean(**again);
        json now = snapshot(**again, fx.dir.path());
        if (uncertain && json::diff(before, now).dump() != "[]") {
            // All of it, then: the change is there whole, exactly as a successful call leaves it.
            fx.store = std::move(again).value();
            op.done(fx, before);
            stats.kept = true;
            return stats;
        }
        checkUnchanged(before, now);
        if (persistent) fx.store = std::move(again).value();
    }
    FAIL(op.name << " still reached the fault after " << kMaxSteps << " operations");
    return stats;
}

void walkAll(const char* name) {
    for (const auto& op : operations()) {
        if (std::string(op.name) != name) continue;
        std::string line = std::string("fault walk ") + name + ":";
        for (FaultKind kind : {FaultKind::DiskFull, FaultKind::IoError})
            for (bool persistent : {false, true}) {
                WalkStats st = walk(op, kind, persistent);
                line += std::string(" ") + kindName(kind) + (persistent ? " persistent " : " once ") +
                        std::to_string(st.steps) + " failures (" + std::to_string(st.uncertain) +
                        " uncertain" + (st.kept ? ", last one kept" : "") + ");";
            }
        std::cout << line << std::endl;
        return;
    }
    FAIL("no operation " << name);
}

}  // namespace

TEST_CASE("the faulty VFS fails exactly the armed operation, once or from then on", "[storage][fault]") {
    TempDir t;
    auto& vfs = FaultyVfs::instance();
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(t.sub("x.db").c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            FaultyVfs::kName) == SQLITE_OK);
    sqlite3_extended_result_codes(db, 1);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr) == SQLITE_OK);
    vfs.arm(1, FaultKind::DiskFull, false);
    CHECK(sqlite3_exec(db, "INSERT INTO t VALUES (1)", nullptr, nullptr, nullptr) == SQLITE_FULL);
    CHECK(vfs.failures() == 1);
    CHECK(sqlite3_exec(db, "INSERT INTO t VALUES (2)", nullptr, nullptr, nullptr) == SQLITE_OK);
    vfs.arm(1, FaultKind::IoError, true);
    CHECK(sqlite3_exec(db, "INSERT INTO t VALUES (3)", nullptr, nullptr, nullptr) == SQLITE_IOERR_WRITE);
    CHECK(sqlite3_exec(db, "INSERT INTO t VALUES (4)", nullptr, nullptr, nullptr) == SQLITE_IOERR_WRITE);
    CHECK(vfs.failures() == 2);
    vfs.disarm();
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT group_concat(x) FROM t", -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "2");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

TEST_CASE("disk full or I/O error during createDraft: an error, and nothing written", "[storage][fault]") {
    walkAll("createDraft");
}

TEST_CASE("disk full or I/O error during saveDraft: an error, and the draft as it was", "[storage][fault]") {
    walkAll("saveDraft");
}

TEST_CASE("disk full or I/O error during finalize: an error, still a draft, outbox untouched",
          "[storage][fault]") {
    walkAll("finalize");
}

TEST_CASE("disk full or I/O error during amend: an error, and no new revision", "[storage][fault]") {
    walkAll("amend");
}

TEST_CASE("disk full or I/O error during backup: an error, and no backup file left behind",
          "[storage][fault]") {
    walkAll("backup");
}
