// The laptop's audit log: what the store records by itself, the chain and its anchor, and raw-SQL
// tampering (an edited, deleted, swapped or cut entry) detected and named by verifyAudit().
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <string>
#include <vector>

#include "storage/store.hpp"
#include "support/raw_sql.hpp"
#include "support/test_support.hpp"

using namespace outpost;
using namespace outpost::storage;
using outpost::test::TempDir;
using json = nlohmann::json;

namespace {

DataKey auditKey() {
    const unsigned char fill = 0x3c;
    unsigned char b[DataKey::kSize];
    std::fill(std::begin(b), std::end(b), fill);
    return DataKey::fromBytes(b, DataKey::kSize);
}

std::string firstUnit() {
    return core::ReferenceData::demo().table("units")[0]["id"];
}

json sinkPayload(const std::string& title) {
    json p = json::parse(R"({"count": 3, "day": "2026-11-01", "kind": "alpha", "tags": ["x"],
        "lines": [{"qty": 10, "ok": 9}], "notes": "routine"})");
    p["title"] = title;
    p["unit"] = firstUnit();
    return p;
}

std::unique_ptr<Store> openStore(const std::string& dir, const DataKey& key = auditKey()) {
    auto s = Store::open(dir, key);
    INFO((s.ok() ? "" : s.error().message));
    REQUIRE(s.ok());
    return std::move(s).value();
}

std::unique_ptr<Store> makeStore(const TempDir& t) {
    InitOptions io;
    io.unitId = firstUnit();
    io.user = "cdr.audit";
    REQUIRE(Store::createWithKey(t.path(), auditKey(), io).ok());
    auto s = openStore(t.path());
    REQUIRE(s->installForm(test::fixture("kitchen_sink.json")).ok());
    return s;
}

// Runs raw SQL on the store file, as an insider with the file (but not the passphrase) would.
void rawExec(const std::string& dir, const std::string& sql) {
    outpost::test::rawSql(dir + "/outpost.db", sql);
}

// create, finalize, amend, discard, create, finalize: six entries after "audit start" and the form install.
std::vector<std::string> someHistory(Store& s) {
    auto a = s.createDraft("kitchen-sink", sinkPayload("Alpha"));
    REQUIRE(a.ok());
    REQUIRE(s.finalize(a->meta.id).ok());
    REQUIRE(s.amend(a->meta.id).ok());
    REQUIRE(s.discardDraft(a->meta.id).ok());
    auto b = s.createDraft("kitchen-sink", sinkPayload("Bravo"));
    REQUIRE(b.ok());
    REQUIRE(s.finalize(b->meta.id).ok());
    return {a->meta.id, b->meta.id};
}

AuditVerdict verdict(Store& s) {
    auto v = s.verifyAudit();
    INFO((v.ok() ? "" : v.error().message));
    REQUIRE(v.ok());
    return std::move(v).value();
}

const char* kUnlocked = "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; ";

}  // namespace

TEST_CASE("the audit log records the store's writes, chained, and verifies whole", "[storage][audit]") {
    TempDir t;
    auto s = makeStore(t);
    auto ids = someHistory(*s);
    auto log = s->auditLog();
    REQUIRE(log.ok());
    std::vector<std::string> actions;
    for (const auto& e : *log) actions.push_back(e.action);
    CHECK(actions == std::vector<std::string>{"audit start", "form install", "create", "finalize", "amend",
                                              "discard", "create", "finalize"});
    CHECK(log->at(3).subject == ids[0] + " r1");
    CHECK(log->at(4).subject == ids[0] + " r2");
    CHECK(log->at(2).actor == "cdr.audit");
    CHECK(log->at(0).actor == "outpost");
    CHECK(log->at(0).prevHash.empty());
    for (std::size_t i = 1; i < log->size(); ++i) {
        CHECK(log->at(i).seq == static_cast<std::int64_t>(i + 1));
        CHECK(log->at(i).prevHash == log->at(i - 1).hash);
    }
    // The accounts work records unlock and role changes through the public call.
    auto seq = s->appendAudit("role change", "cpl.martin", {{"role", "clerk"}}, "cdr.audit");
    REQUIRE(seq.ok());
    CHECK(*seq == 9);
    auto v = verdict(*s);
    CHECK(v.problems.empty());
    CHECK(v.entries == 9);
    CHECK(v.firstBad == 0);
    // Paging.
    CHECK(s->auditLog(6, 10)->size() == 3);
    CHECK(s->auditLog(0, 3)->size() == 3);

    // Survives reopening.
    s.reset();
    s = openStore(t.path());
    CHECK(verdict(*s).problems.empty());
}

TEST_CASE("the audit log refuses bad input and changes nothing", "[storage][audit]") {
    TempDir t;
    auto s = makeStore(t);
    auto before = verdict(*s).entries;
    CHECK_FALSE(s->appendAudit(std::string(300, 'a'), "x").ok());
    CHECK_FALSE(s->appendAudit("export", std::string("bad\xff\xfe utf8")).ok());
    CHECK_FALSE(s->appendAudit("export", "x", {{"blob", std::string(5000, 'z')}}).ok());
    auto v = verdict(*s);
    CHECK(v.problems.empty());
    CHECK(v.entries == before);
}

TEST_CASE("the audit log is append-only even to raw SQL, unless its triggers are dropped",
          "[storage][audit]") {
    TempDir t;
    auto s = makeStore(t);
    someHistory(*s);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((t.path() + "/outpost.db").c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE audit_log SET actor = 'x' WHERE seq = 2", nullptr, nullptr, nullptr) !=
          SQLITE_OK);
    CHECK(sqlite3_exec(db, "DELETE FROM audit_log WHERE seq = 2", nullptr, nullptr, nullptr) != SQLITE_OK);
    sqlite3_close(db);
    CHECK(verdict(*s).problems.empty());
}

TEST_CASE("audit verify names the first bad entry after raw-SQL tampering", "[storage][audit]") {
    TempDir t;
    auto s = makeStore(t);
    someHistory(*s);  // entries 1..8
    REQUIRE(verdict(*s).entries == 8);

    SECTION("an edited entry") {
        rawExec(t.path(),
                std::string(kUnlocked) + "UPDATE audit_log SET actor = 'someone.else' WHERE seq = 4");
        auto v = verdict(*s);
        REQUIRE_FALSE(v.problems.empty());
        CHECK(v.firstBad == 4);
        CHECK_THAT(v.problems[0], Catch::Contains("audit entry 4") && Catch::Contains("edited"));
    }
    SECTION("an entry deleted in the middle") {
        rawExec(t.path(), std::string(kUnlocked) + "DELETE FROM audit_log WHERE seq = 3");
        auto v = verdict(*s);
        CHECK(v.firstBad == 3);
        CHECK_THAT(v.problems[0], Catch::Contains("audit entry 3 is missing"));
    }
    SECTION("the newest entries deleted") {
        rawExec(t.path(), std::string(kUnlocked) + "DELETE FROM audit_log WHERE seq >= 6");
        auto v = verdict(*s);
        CHECK(v.firstBad == 6);
        CHECK_THAT(v.problems[0], Catch::Contains("5 entries") && Catch::Contains("says 8"));
    }
    SECTION("the newest entries deleted and the head rewritten without the key") {
        // The insider copies the older entry's hash into the head, but cannot make its MAC.
        rawExec(t.path(),
                std::string(kUnlocked) +
                    "DELETE FROM audit_log WHERE seq = 8; "
                    "UPDATE meta SET value = json_object('count', 7, 'hash', "
                    "(SELECT hash FROM audit_log WHERE seq = 7), 'mac', json_extract(value, '$.mac')) "
                    "WHERE key = 'audit_head'");
        auto v = verdict(*s);
        CHECK(v.firstBad == 7);
        CHECK_THAT(v.problems[0], Catch::Contains("head does not carry this store's MAC"));
    }
    SECTION("two entries swapped") {
        rawExec(t.path(), std::string(kUnlocked) +
                              "UPDATE audit_log SET seq = 1000 WHERE seq = 3; "
                              "UPDATE audit_log SET seq = 3 WHERE seq = 4; "
                              "UPDATE audit_log SET seq = 4 WHERE seq = 1000;");
        auto v = verdict(*s);
        CHECK(v.firstBad == 3);
        CHECK_THAT(v.problems[0], Catch::Contains("audit entry 3 does not follow entry 2"));
    }
    SECTION("an entry appended by someone without the passphrase") {
        // A well-formed link of the chain (its hash is public arithmetic), but no MAC under the store's key.
        auto log = s->auditLog();
        REQUIRE(log.ok());
        rawExec(t.path(),
                "INSERT INTO audit_log(seq, at_utc, actor, action, subject, detail, prev_hash, hash, mac) "
                "VALUES (9, 'x', 'x', 'x', 'x', '{}', '" +
                    log->back().hash + "', 'h', 'm')");
        auto v = verdict(*s);
        CHECK(v.firstBad == 9);
    }
    SECTION("the whole log removed, head included") {
        rawExec(t.path(),
                std::string(kUnlocked) + "DELETE FROM audit_log; DELETE FROM meta WHERE key = 'audit_head'");
        auto v = verdict(*s);
        CHECK(v.firstBad == 1);
        CHECK_THAT(v.problems[0], Catch::Contains("head is missing"));
    }
}

TEST_CASE("the audit log holds no text a user typed", "[storage][audit]") {
    TempDir t;
    auto s = makeStore(t);
    auto d = s->createDraft("kitchen-sink", sinkPayload("MARKERAUDIT7781"));
    REQUIRE(d.ok());
    REQUIRE(s->finalize(d->meta.id).ok());
    auto log = s->auditLog();
    REQUIRE(log.ok());
    REQUIRE(log->size() >= 3);
    for (const auto& e : *log) {
        CHECK(e.detail.find("MARKERAUDIT7781") == std::string::npos);
        CHECK(e.subject.find("MARKERAUDIT7781") == std::string::npos);
    }
}
