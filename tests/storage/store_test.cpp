// The field store: create/unlock, drafts, finalize with the outbox, amend, search, facts, plaintext scan.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "storage/store.hpp"
#include "support/test_support.hpp"

using namespace outpost;
using namespace outpost::storage;
using outpost::test::TempDir;
using json = nlohmann::json;

namespace {

DataKey testKey(unsigned char fill = 7) {
    unsigned char b[32];
    std::fill(std::begin(b), std::end(b), fill);
    return DataKey::fromBytes(b, 32);
}

std::string firstUnit() {
    return core::ReferenceData::demo().table("units")[0]["id"];
}

std::unique_ptr<Store> makeStore(const TempDir& t, const StoreOptions& o = {}) {
    InitOptions io;
    io.unitId = firstUnit();
    io.user = "cdr.test";
    auto c = Store::createWithKey(t.path(), testKey(), io);
    INFO((c.ok() ? "" : c.error().message));
    REQUIRE(c.ok());
    auto s = Store::open(t.path(), testKey(), o);
    REQUIRE(s.ok());
    auto store = std::move(s).value();
    REQUIRE(store->installForm(test::fixture("kitchen_sink.json")).ok());
    return store;
}

json sinkPayload(const std::string& title = "Weekly check") {
    json p = json::parse(R"({"count": 3, "day": "2026-11-01", "kind": "alpha", "tags": ["x"],
        "lines": [{"qty": 10, "ok": 9}], "notes": "routine"})");
    p["title"] = title;
    p["unit"] = firstUnit();
    return p;
}

// Runs raw SQL on the store file, as an insider with the file would.
void rawExec(const std::string& dir, const std::string& sql, int* rcOut = nullptr) {
    sqlite3* db = nullptr;
    sqlite3_open((dir + "/outpost.db").c_str(), &db);
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    if (rcOut) *rcOut = rc;
    sqlite3_close(db);
}

}  // namespace

TEST_CASE("a store is created with a passphrase and opens only with it", "[storage]") {
    TempDir t;
    InitOptions io;
    io.unitId = firstUnit();
    io.user = "cdr.test";
    REQUIRE(Store::create(t.path(), "correct horse battery", io).ok());
    auto again = Store::create(t.path(), "correct horse battery", io);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == ErrorCode::Conflict);

    auto wrong = Store::unlock(t.path(), "wrong horse battery");
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == ErrorCode::WrongKey);
    CHECK_THAT(wrong.error().message, Catch::Contains("wrong passphrase"));

    auto key = Store::unlock(t.path(), "correct horse battery");
    REQUIRE(key.ok());
    auto s = Store::open(t.path(), *key);
    REQUIRE(s.ok());
    CHECK((*s)->unitId() == firstUnit());
    CHECK((*s)->info().schemaVersion == kSchemaVersion);

    auto other = Store::open(t.path(), testKey(9));
    REQUIRE_FALSE(other.ok());
    CHECK(other.error().code == ErrorCode::WrongKey);
}

TEST_CASE("bad set-up input is refused with a clear message", "[storage]") {
    TempDir t;
    InitOptions io;
    io.unitId = "NO-SUCH-UNIT";
    io.user = "x";
    auto r = Store::create(t.sub("a"), "long enough pass", io);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("unknown unit 'NO-SUCH-UNIT'"));
    io.unitId = firstUnit();
    r = Store::create(t.sub("b"), "short", io);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("at least 8 characters"));
    CHECK_FALSE(std::filesystem::exists(t.sub("b/outpost.db")));
    auto missing = Store::unlock(t.sub("nothing-here"), "whatever123");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == ErrorCode::NotFound);
}

TEST_CASE("drafts save incomplete data, finalize freezes it and queues it in one step", "[storage]") {
    TempDir t;
    auto s = makeStore(t);
    json p = sinkPayload();
    p.erase("title");
    auto d = s->createDraft("kitchen-sink", p);
    REQUIRE(d.ok());
    CHECK(d->meta.status == core::RecordStatus::Draft);
    CHECK(d->meta.revision == 1);
    CHECK(s->outbox()->empty());
    CHECK(s->draftCount().value() == 1);

    auto f = s->finalize(d->meta.id);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().code == ErrorCode::Invalid);
    CHECK_THAT(f.error().message, Catch::Contains("title: required"));
    CHECK(s->get(d->meta.id)->meta.status == core::RecordStatus::Draft);  // nothing changed

    p["title"] = "Weekly check";
    REQUIRE(s->saveDraft(d->meta.id, p).ok());
    f = s->finalize(d->meta.id);
    REQUIRE(f.ok());
    CHECK(f->meta.status == core::RecordStatus::Final);
    CHECK(f->meta.localSeq > 0);
    auto ob = s->outbox();
    REQUIRE(ob->size() == 1);
    CHECK((*ob)[0].recordId == d->meta.id);
    CHECK(s->outboxCounts()->queued == 1);
    CHECK(s->outboxCounts()->quarantined == 0);
    auto rec = s->get(d->meta.id);
    CHECK(rec->payload["total"] == 10);  // computed values are stored

    auto edit = s->saveDraft(d->meta.id, p);
    REQUIRE_FALSE(edit.ok());
    CHECK(edit.error().code == ErrorCode::Conflict);
    CHECK(s->finalize(d->meta.id).error().code == ErrorCode::Conflict);
}

TEST_CASE("malformed drafts are refused with every problem listed, nothing stored", "[storage]") {
    TempDir t;
    auto s = makeStore(t);
    json p = sinkPayload();
    p["count"] = "three";
    p["colour"] = "red";
    p["lines"][0]["qty"] = -5;
    auto d = s->createDraft("kitchen-sink", p);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().code == ErrorCode::Invalid);
    CHECK_THAT(d.error().message, Catch::Contains("count: type") &&
                                      Catch::Contains("colour: unknown_field") &&
                                      Catch::Contains("lines[0].qty: min"));
    CHECK(s->count({}).value() == 0);
    auto u = s->createDraft("no-such-form", sinkPayload());
    REQUIRE_FALSE(u.ok());
    CHECK(u.error().code == ErrorCode::NotFound);
    CHECK_THAT(u.error().message, Catch::Contains("known forms:"));
}

TEST_CASE("a report for another unit is a warning while a draft and refused at finalize", "[storage]") {
    TempDir t;
    auto s = makeStore(t);
    const std::string other = core::ReferenceData::demo().table("units")[1]["id"];
    REQUIRE(other != firstUnit());
    json p = sinkPayload();
    p["unit"] = other;
    // A draft keeps what was typed, with the warning at the unit field.
    auto d = s->createDraft("kitchen-sink", p);
    REQUIRE(d.ok());
    const core::Issue* w = d->validation.firstAt("unit");
    REQUIRE(w);
    CHECK(w->rule == "own_unit");
    CHECK(w->warning);
    CHECK_THAT(w->message, Catch::Contains("reports for " + firstUnit() + ", not " + other));
    // Finalize refuses it, names the unit, and leaves the draft as it was, out of the outbox.
    auto f = s->finalize(d->meta.id);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().code == ErrorCode::Invalid);
    CHECK_THAT(f.error().message, Catch::Contains("unit: own_unit") && Catch::Contains(other));
    CHECK(s->get(d->meta.id)->meta.status == core::RecordStatus::Draft);
    CHECK(s->outboxCounts()->queued == 0);
    // Corrected, it finalizes.
    p["unit"] = firstUnit();
    REQUIRE(s->saveDraft(d->meta.id, p).ok());
    REQUIRE(s->finalize(d->meta.id).ok());
    // A bulk import of another unit's report is refused whole.
    json q = sinkPayload("Other unit");
    q["unit"] = other;
    auto imp = s->importFinal("kitchen-sink", {sinkPayload("Ours"), q});
    REQUIRE_FALSE(imp.ok());
    CHECK_THAT(imp.error().message, Catch::Contains("item 1") && Catch::Contains("own_unit"));
    CHECK(s->outboxCounts()->queued == 1);
}

TEST_CASE("final revisions cannot be changed, even with raw SQL", "[storage]") {
    TempDir t;
    auto s = makeStore(t);
    auto d = s->createDraft("kitchen-sink", sinkPayload());
    {
        auto fin = s->finalize(d->meta.id);
        INFO((fin.ok() ? "" : fin.error().message));
        REQUIRE(fin.ok());
    }
    int rc = 0;
    rawExec(t.path(), "UPDATE record SET unit_id = 'X' WHERE id = '" + d->meta.id + "'", &rc);
    CHECK(rc == SQLITE_CONSTRAINT);
    rawExec(t.path(), "DELETE FROM record WHERE id = '" + d->meta.id + "'", &rc);
    CHECK(rc == SQLITE_CONSTRAINT);
    CHECK(s->get(d->meta.id)->meta.unitId == firstUnit());
}

TEST_CASE("amend starts a new revision pointing at its parent", "[storage]") {
    TempDir t;
    auto s = makeStore(t);
    auto d = s->createDraft("kitchen-sink", sinkPayload());
    {
        auto fin = s->finalize(d->meta.id);
        INFO((fin.ok() ? "" : fin.error().message));
        REQUIRE(fin.ok());
    }
    auto a = s->amend(d->meta.id);
    REQUIRE(a.ok());
    CHECK(a->meta.revision == 2);
    CHECK(a->meta.parentRevision == 1);
    CHECK(a->meta.status == core::RecordStatus::Draft);
    CHECK(s->amend(d->meta.id).error().code == ErrorCode::Conflict);  // one draft at a time
    json p = s->get(d->meta.id)->payload;
    CHECK(p["total"] == 10);  // shown in the draft; recomputed on every save
    p["count"] = 4;
    REQUIRE(s->saveDraft(d->meta.id, p).ok());
    {
        auto fin = s->finalize(d->meta.id);
        INFO((fin.ok() ? "" : fin.error().message));
        REQUIRE(fin.ok());
    }
    auto h = s->history(d->meta.id);
    REQUIRE(h->size() == 2);
    CHECK(s->get(d->meta.id, 1)->payload["count"] == 3);
    CHECK(s->get(d->meta.id, 2)->payload["count"] == 4);
    CHECK(s->outbox()->size() == 2);
}

TEST_CASE("search finds words by prefix, ignoring case and accents, never sensitive fields", "[storage]") {
    TempDir t;
    auto s = makeStore(t);
    auto a = s->createDraft("kitchen-sink", sinkPayload("Évacuation sanitaire Bangassou"));
    auto b = s->createDraft("kitchen-sink", sinkPayload("Patrouille longue portée"));
    json sec = sinkPayload("Report");
    sec["flag"] = true;
    sec["secret"] = "ZULUSECRET";
    REQUIRE(s->createDraft("kitchen-sink", sec).ok());
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    auto r = s->search("evacuation");
    REQUIRE(r->size() == 1);
    CHECK((*r)[0].id == a->meta.id);
    CHECK(s->search("SANIT")->size() == 1);
    CHECK(s->search("patrouille portee")->size() == 1);
    CHECK(s->search("patrouille bangassou")->empty());
    CHECK(s->search("zulusecret")->empty());
    CHECK(s->search("'); DROP TABLE record; --")->empty());
    CHECK(s->count({}).value() == 3);
    auto bad = s->search("!");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == ErrorCode::BadInput);
}

TEST_CASE("nothing a user typed is on disk in plaintext: db, WAL, backups", "[storage][plaintext]") {
    TempDir t;
    std::string where;
    {
        auto s = makeStore(t);
        json p = sinkPayload("MARKERTITLE4471");
        p["notes"] = "MARKERNOTES9920 more words";
        p["lines"][0]["qty"] = 77;
        auto d = s->createDraft("kitchen-sink", p);
        REQUIRE(d.ok());
        {
            auto fin = s->finalize(d->meta.id);
            INFO((fin.ok() ? "" : fin.error().message));
            REQUIRE(fin.ok());
        }
        auto d2 = s->createDraft("kitchen-sink", sinkPayload("MARKERDRAFT5531"));
        REQUIRE(d2.ok());
        REQUIRE(s->backup().ok());
        // Scanned while open, so the WAL still holds the pages.
        for (const char* m :
             {"MARKERTITLE4471", "MARKERNOTES9920", "MARKERDRAFT5531", "markertitle", "markernotes"}) {
            INFO(m);
            CHECK_FALSE(test::anyFileContains(t.path(), m, &where));
        }
    }
    for (const char* m : {"MARKERTITLE4471", "MARKERNOTES9920", "MARKERDRAFT5531"})
        CHECK_FALSE(test::anyFileContains(t.path(), m));
}

TEST_CASE("migrations 1 -> latest keep the data and build search and facts from it", "[storage][migration]") {
    TempDir t;
    InitOptions io;
    io.unitId = firstUnit();
    io.user = "cdr.test";
    REQUIRE(Store::createWithKey(t.path(), testKey(), io).ok());
    // Roll the file back to schema 1, as an older release left it, with records in it.
    std::string id;
    {
        auto s = Store::open(t.path(), testKey());
        REQUIRE(s.ok());
        auto d = (*s)->createDraft("training-gap", json::object());
        REQUIRE(d.ok());
        id = d->meta.id;
    }
    rawExec(t.path(),
            "ALTER TABLE outbox DROP COLUMN sig; DROP TABLE sealed_part; DROP TABLE account; DROP TABLE "
            "audit_log; DELETE FROM meta WHERE key = "
            "'audit_head'; "
            "DROP TABLE feedback; DROP TABLE receipt; DROP TABLE receipt_doc; "
            "DROP INDEX record_drafts; DROP TABLE search_doc; DROP TABLE search_fts; DROP TABLE record_fact; "
            "PRAGMA user_version = 1;");
    {
        sqlite3* db = nullptr;
        sqlite3_open((t.path() + "/outpost.db").c_str(), &db);
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
        sqlite3_step(st);
        CHECK(sqlite3_column_int(st, 0) == 1);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    auto s = Store::open(t.path(), testKey());
    REQUIRE(s.ok());
    CHECK((*s)->info().schemaVersion == kSchemaVersion);
    CHECK((*s)->get(id).ok());
    auto v = (*s)->verify();
    REQUIRE(v.ok());
    CHECK(v->empty());
}

TEST_CASE("verify passes on a healthy store and reports a damaged payload", "[storage]") {
    TempDir t;
    auto s = makeStore(t);
    auto d = s->createDraft("kitchen-sink", sinkPayload());
    {
        auto fin = s->finalize(d->meta.id);
        INFO((fin.ok() ? "" : fin.error().message));
        REQUIRE(fin.ok());
    }
    auto v = s->verify();
    REQUIRE(v.ok());
    CHECK(v->empty());
    auto d2 = s->createDraft("kitchen-sink", sinkPayload());
    rawExec(t.path(), "UPDATE record SET payload = zeroblob(60) WHERE id = '" + d2->meta.id + "'");
    v = s->verify();
    REQUIRE(v.ok());
    REQUIRE(v->size() == 1);
    CHECK_THAT((*v)[0], Catch::Contains(d2->meta.id) && Catch::Contains("damaged"));
    CHECK_FALSE(s->get(d2->meta.id).ok());
}

TEST_CASE("backups are consistent copies and only the newest N are kept", "[storage]") {
    TempDir t;
    StoreOptions o;
    o.keepBackups = 2;
    auto s = makeStore(t, o);
    auto d = s->createDraft("kitchen-sink", sinkPayload());
    {
        auto fin = s->finalize(d->meta.id);
        INFO((fin.ok() ? "" : fin.error().message));
        REQUIRE(fin.ok());
    }
    std::string last;
    for (int i = 0; i < 4; ++i) {
        auto b = s->backup();
        REQUIRE(b.ok());
        last = *b;
    }
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(t.sub("backups")))
        n += e.path().extension() == ".db";
    CHECK(n == 2);
    // The backup opens as a store with the same key and holds the record.
    TempDir r;
    std::filesystem::copy_file(last, r.sub("outpost.db"));
    auto rs = Store::open(r.path(), testKey());
    REQUIRE(rs.ok());
    CHECK((*rs)->get(d->meta.id)->meta.status == core::RecordStatus::Final);
    CHECK((*rs)->verify()->empty());
}

namespace {

// What a backup killed before it renamed its copy into place leaves: the half-written copy and its journal.
std::vector<std::string> leaveKilledBackup(const TempDir& t, const std::string& stamp) {
    namespace fs = std::filesystem;
    fs::create_directories(t.sub("backups"));
    const std::string partial = t.sub("backups/outpost-" + stamp + ".db.partial");
    fs::copy_file(t.sub("outpost.db"), partial, fs::copy_options::overwrite_existing);
    std::ofstream(partial + "-journal", std::ios::binary) << std::string(4096, 'j');
    return {partial, partial + "-journal"};
}

std::vector<std::string> backupFiles(const TempDir& t) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(t.sub("backups"), ec))
        out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

bool exists(const std::string& p) {
    return std::filesystem::exists(p);
}

}  // namespace

TEST_CASE("what a killed backup left is reported by verify and removed by the next backup or open",
          "[storage][backup]") {
    TempDir t;
    auto s = makeStore(t);
    REQUIRE(s->backup().ok());
    REQUIRE(backupFiles(t).size() == 1);
    const auto left = leaveKilledBackup(t, "20260101T000000000Z");

    // verify names each file; nothing is removed by looking.
    auto v = s->verify();
    REQUIRE(v.ok());
    REQUIRE(v->size() == 2);
    CHECK_THAT((*v)[0], Catch::Contains("outpost-20260101T000000000Z.db.partial (") &&
                            Catch::Contains("interrupted") && Catch::Contains("removes it"));
    CHECK_THAT((*v)[1], Catch::Contains("outpost-20260101T000000000Z.db.partial-journal"));
    CHECK(exists(left[0]));
    CHECK(exists(left[1]));

    SECTION("the next backup removes them, and they never count among the backups kept") {
        auto b = s->backup();
        REQUIRE(b.ok());
        CHECK_FALSE(exists(left[0]));
        CHECK_FALSE(exists(left[1]));
        CHECK(backupFiles(t).size() == 2);
        CHECK(s->verify()->empty());
    }
    SECTION("the next open removes them; an open for checking keeps them to report") {
        s.reset();
        StoreOptions keep;
        keep.removeBackupLeftovers = false;
        auto k = Store::open(t.path(), testKey(), keep);
        REQUIRE(k.ok());
        CHECK(exists(left[0]));
        CHECK((*k)->verify()->size() == 2);
        k.value().reset();
        auto o = Store::open(t.path(), testKey());
        REQUIRE(o.ok());
        CHECK_FALSE(exists(left[0]));
        CHECK_FALSE(exists(left[1]));
        CHECK((*o)->verify()->empty());
        CHECK(backupFiles(t).size() == 1);
    }
    SECTION("the files of a backup being written by another process are left alone") {
        // That process holds the backups folder's lock shared while it writes.
        int fd = ::open(t.sub("backups").c_str(), O_RDONLY | O_DIRECTORY);
        REQUIRE(fd >= 0);
        REQUIRE(::flock(fd, LOCK_SH) == 0);
        CHECK(s->verify()->empty());
        auto o = Store::open(t.path(), testKey());
        REQUIRE(o.ok());
        CHECK(exists(left[0]));
        CHECK(exists(left[1]));
        ::close(fd);
        CHECK((*o)->verify()->size() == 2);
    }
}

TEST_CASE("a killed first backup does not pass for a recent one: the next open takes the daily backup",
          "[storage][backup]") {
    TempDir t;
    makeStore(t).reset();
    const auto left = leaveKilledBackup(t, "20260101T000000000Z");
    StoreOptions o;
    o.autoBackup = true;
    auto s = Store::open(t.path(), testKey(), o);
    REQUIRE(s.ok());
    auto files = backupFiles(t);
    REQUIRE(files.size() == 1);
    CHECK(files[0].rfind("outpost-", 0) == 0);
    CHECK(std::filesystem::path(files[0]).extension() == ".db");
    CHECK_FALSE(exists(left[0]));
}

TEST_CASE("migration 2 -> latest maps search rows and rebuilds the index from the payloads",
          "[storage][migration]") {
    TempDir t;
    auto s = makeStore(t);
    auto a = s->createDraft("kitchen-sink", sinkPayload("Convoi vers Bangassou"));
    REQUIRE(a.ok());
    {
        auto fin = s->finalize(a->meta.id);
        REQUIRE(fin.ok());
    }
    auto b = s->createDraft("kitchen-sink", sinkPayload("Patrouille de nuit"));
    REQUIRE(b.ok());
    s.reset();
    // As a schema-2 store was: no search_doc, and an index the new code cannot map.
    rawExec(t.path(),
            "ALTER TABLE outbox DROP COLUMN sig; DROP TABLE sealed_part; DROP TABLE account; DROP TABLE "
            "audit_log; DELETE FROM meta WHERE key = "
            "'audit_head'; "
            "DROP TABLE feedback; DROP TABLE receipt; DROP TABLE receipt_doc; "
            "DROP INDEX record_drafts; DROP TABLE search_doc; PRAGMA user_version = 2;");
    auto r = Store::open(t.path(), testKey());
    REQUIRE(r.ok());
    auto& st = *r;
    CHECK(st->info().schemaVersion == kSchemaVersion);
    CHECK(st->search("bangassou")->size() == 1);
    CHECK(st->search("patrouille")->size() == 1);
    // Editing after the migration replaces the record's words instead of adding to them.
    json p = sinkPayload("Escorte de carburant");
    REQUIRE(st->saveDraft(b->meta.id, p).ok());
    CHECK(st->search("patrouille")->empty());
    CHECK(st->search("carburant")->size() == 1);
    REQUIRE(st->discardDraft(b->meta.id).ok());
    CHECK(st->search("carburant")->empty());
    CHECK(st->verify()->empty());
}
