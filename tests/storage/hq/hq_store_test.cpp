// HQ's store: one conformance suite run against both backends (SQLite folder, PostgreSQL database),
// plus what only one backend can show (a full disk for SQLite, a lost connection for PostgreSQL).
#include <catch2/catch.hpp>

#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "storage/hq/store.hpp"
#include "support/skip_policy.hpp"
#include "support/test_support.hpp"
#include "testbed/pg_cluster.hpp"

using namespace outpost;
using namespace outpost::storage::hq;
using outpost::test::cannotRunHere;
using outpost::test::PgCluster;
using outpost::test::TempDir;

namespace {

constexpr const char* kUnitA = "unit-alpha";
constexpr const char* kUnitB = "unit-bravo";
constexpr const char* kNow = "2026-11-27T10:00:00.000Z";
constexpr const char* kLater = "2026-12-31T10:00:00.000Z";

std::string hashOf(const std::string& bytes) {
    REQUIRE(sodium_init() >= 0);
    unsigned char out[32];
    crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                       nullptr, 0);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, out, sizeof out);
    return hex;
}

// One final revision as hq::HqService would hand it over; `note` changes the bytes.
IncomingItem makeItem(const std::string& id, int rev, const std::string& note = "all quiet",
                      const std::string& unit = kUnitA, const std::string& form = "incident") {
    IncomingItem it;
    it.recordId = id;
    it.revision = rev;
    if (rev > 1) it.parent = rev - 1;
    it.formId = form;
    it.formVersion = 1;
    it.unitId = unit;
    it.author = "cpl.dupont";
    it.createdUtc = "2026-11-20T08:00:00.000Z";
    it.createdOffset = 60;
    it.finalizedUtc = "2026-11-20T09:30:00.000Z";
    json env = {{"id", id},
                {"rev", rev},
                {"form", form},
                {"fv", 1},
                {"unit", unit},
                {"author", it.author},
                {"created", it.createdUtc},
                {"offset", 60},
                {"final", it.finalizedUtc},
                {"payload", {{"note", note}, {"count", 3}}}};
    if (it.parent) env["parent"] = *it.parent;
    it.canonical = env.dump();
    it.hash = hashOf(it.canonical);
    return it;
}

IncomingItem rejectedItem(const std::string& id, const std::string& reason) {
    IncomingItem it = makeItem(id, 1);
    it.rejectReason = reason;
    return it;
}

std::string describe(const std::vector<ItemOutcome>& rs) {
    std::string s;
    for (const auto& r : rs) s += std::string(core::toText(r.status)) + ":" + std::to_string(r.hqSeq) + " ";
    return s;
}

// Runs SQL on a PostgreSQL database outside the product (to tamper, or to break things on purpose).
void pgExec(const std::string& uri, const std::string& sql) {
    PGconn* c = PQconnectdb(uri.c_str());
    INFO(PQerrorMessage(c));
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    PGresult* r = PQexec(c, sql.c_str());
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    std::string msg = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    INFO(sql << ": " << msg);
    REQUIRE(ok);
}

// A fresh, empty store location of one backend: a new folder or a new database.
class Backend {
public:
    explicit Backend(std::string kind) : m_kind(std::move(kind)) {
        if (m_kind == "sqlite") {
            m_dir = std::make_unique<TempDir>();
            m_location = m_dir->sub("hq");
        } else {
            m_location = PgCluster::shared().createDatabase();
        }
    }
    const std::string& kind() const { return m_kind; }
    const std::string& location() const { return m_location; }

    std::unique_ptr<HqStore> open() const {
        auto s = openHqStore(m_location);
        INFO((s.ok() ? "" : s.error().message));
        REQUIRE(s.ok());
        return std::move(s).value();
    }

    // Raw SQL on the store's database, as an insider with direct access would run it.
    void raw(const std::string& sql) const {
        if (m_kind == "postgres") return pgExec(m_location, sql);
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((m_location + "/hq.db").c_str(), &db) == SQLITE_OK);
        sqlite3_busy_timeout(db, 10000);
        char* err = nullptr;
        int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
        std::string msg = err ? err : "";
        sqlite3_free(err);
        sqlite3_close(db);
        INFO(sql << ": " << msg);
        REQUIRE(rc == SQLITE_OK);
    }

private:
    std::string m_kind;
    std::string m_location;
    std::unique_ptr<TempDir> m_dir;
};

std::string backendKind() {
    return GENERATE(as<std::string>{}, "sqlite", "postgres");
}

// Enrolls a new device of `unit` and returns its id.
std::string enroll(HqStore& s, const std::string& unit, const std::string& name = "laptop") {
    static std::atomic<int> n{0};
    std::string secret = hashOf("secret-" + std::to_string(++n) + name + unit);
    REQUIRE(s.addEnrollment(secret, unit, kLater).ok());
    auto d = s.redeemEnrollment(secret, name, "cHVibGljLWtleQ==", kNow);
    INFO((d.ok() ? "" : d.error().message));
    REQUIRE(d.ok());
    return d->id;
}

BatchOutcome ingestOk(HqStore& s, const std::string& device, const std::string& batch,
                      const std::vector<IncomingItem>& items, const std::string& requestHash = "") {
    auto r = s.ingest(device, batch, requestHash.empty() ? hashOf(batch) : requestHash, items, kNow);
    INFO((r.ok() ? "" : r.error().message));
    REQUIRE(r.ok());
    REQUIRE(r->results.size() == items.size());
    return std::move(r).value();
}

void requireClean(HqStore& s) {
    auto v = s.verify();
    INFO((v.ok() ? "" : v.error().message));
    REQUIRE(v.ok());
    std::string text;
    for (const auto& p : *v) text += "\n  " + p;
    INFO("verify:" << text);
    CHECK(v->empty());
}

// Every hqSeq reports() pages through (with no push in flight: all of them), checked against the
// results the pushes gave (expected): the same set, and with the void ranges it is 1..the highest,
// each number once. Returns the highest.
std::int64_t requireNumbersAccountedFor(HqStore& s, const std::set<std::int64_t>& expected) {
    std::set<std::int64_t> paged;
    ReportFilter f;
    f.limit = 97;
    for (;;) {
        auto page = s.reports(f);
        REQUIRE(page.ok());
        for (const auto& r : *page) CHECK(paged.insert(r.hqSeq).second);
        if (page->size() < static_cast<std::size_t>(f.limit)) break;
        f.afterSeq = page->back().hqSeq;
    }
    CHECK(paged == expected);
    auto voids = s.voidRanges();
    REQUIRE(voids.ok());
    std::set<std::int64_t> numbers = paged;
    for (const auto& v : *voids) {
        INFO("void " << v.first << "-" << v.last << ": " << v.why);
        CHECK(v.first <= v.last);
        for (std::int64_t n = v.first; n <= v.last; ++n) CHECK(numbers.insert(n).second);
    }
    const std::int64_t highest = numbers.empty() ? 0 : *numbers.rbegin();
    CHECK(numbers.size() == static_cast<std::size_t>(highest));
    if (!numbers.empty()) CHECK(*numbers.begin() == 1);
    return highest;
}

}  // namespace

TEST_CASE("HQ store: the epoch is stable across reopening and changed by rotateEpoch", "[hq][store]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    std::string first;
    {
        auto s = b.open();
        auto e = s->epoch();
        REQUIRE(e.ok());
        first = *e;
        CHECK(first.size() >= 16);
        CHECK(*s->epoch() == first);
    }
    auto s = b.open();
    CHECK(*s->epoch() == first);
    auto rotated = s->rotateEpoch();
    REQUIRE(rotated.ok());
    CHECK(*rotated != first);
    CHECK(*s->epoch() == *rotated);
    s.reset();
    CHECK(*b.open()->epoch() == *rotated);
}

TEST_CASE("HQ store: an enrollment code is redeemed once, before it expires", "[hq][store]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    auto s = b.open();
    std::string secret = hashOf("one-time secret");
    REQUIRE(s->addEnrollment(secret, kUnitA, kLater).ok());

    auto again = s->addEnrollment(secret, kUnitB, kLater);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == ErrorCode::Conflict);

    auto d = s->redeemEnrollment(secret, "Laptop 7", "a2V5", kNow);
    INFO((d.ok() ? "" : d.error().message));
    REQUIRE(d.ok());
    CHECK(d->unitId == kUnitA);
    CHECK(d->name == "Laptop 7");
    CHECK(d->publicKey == "a2V5");
    CHECK(d->enrolledUtc == kNow);
    CHECK_FALSE(d->revoked);
    CHECK_FALSE(d->id.empty());

    auto found = s->device(d->id);
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    CHECK((*found)->unitId == kUnitA);
    CHECK((*found)->name == "Laptop 7");
    auto none = s->device("no-such-device");
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());

    SECTION("the same code again is refused (used) and makes no device") {
        auto used = s->redeemEnrollment(secret, "Laptop 8", "b3RoZXI=", kNow);
        REQUIRE_FALSE(used.ok());
        CHECK(used.error().code == ErrorCode::Conflict);
        CHECK(used.error().domain != ErrorDomain::State);
        auto all = s->devices();
        REQUIRE(all.ok());
        REQUIRE(all->size() == 1);
        CHECK((*all)[0].id == d->id);
    }
    SECTION("an expired code is refused with State") {
        std::string old = hashOf("old secret");
        REQUIRE(s->addEnrollment(old, kUnitB, "2026-11-01T00:00:00.000Z").ok());
        auto expired = s->redeemEnrollment(old, "Laptop 9", "a2V5", kNow);
        REQUIRE_FALSE(expired.ok());
        CHECK(expired.error().domain == ErrorDomain::State);
        CHECK(expired.error().code != ErrorCode::Conflict);
        CHECK(expired.error().code != ErrorCode::NotFound);
        CHECK(s->devices()->size() == 1);
    }
    SECTION("an unknown code is NotFound") {
        auto unknown = s->redeemEnrollment(hashOf("never issued"), "Laptop 9", "a2V5", kNow);
        REQUIRE_FALSE(unknown.ok());
        CHECK(unknown.error().code == ErrorCode::NotFound);
    }
}

TEST_CASE("HQ store: revoking a device", "[hq][store]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    auto s = b.open();
    std::string d1 = enroll(*s, kUnitA, "one");
    std::string d2 = enroll(*s, kUnitA, "two");
    REQUIRE(s->revoke(d1).ok());
    REQUIRE(s->revoke(d1).ok());  // again: still revoked, no error
    CHECK((*s->device(d1))->revoked);
    CHECK_FALSE((*s->device(d2))->revoked);
    auto unknown = s->revoke("no-such-device");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == ErrorCode::NotFound);
    s.reset();
    CHECK((*b.open()->device(d1))->revoked);
}

TEST_CASE("HQ store: a nonce is accepted once per device", "[hq][store]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    auto s = b.open();
    std::string d1 = enroll(*s, kUnitA, "one");
    std::string d2 = enroll(*s, kUnitB, "two");
    CHECK(*s->useNonce(d1, "AAAAAAAAAAAAAAAAAAAAAA") == true);
    CHECK(*s->useNonce(d1, "AAAAAAAAAAAAAAAAAAAAAA") == false);
    CHECK(*s->useNonce(d1, "BBBBBBBBBBBBBBBBBBBBBB") == true);
    CHECK(*s->useNonce(d2, "AAAAAAAAAAAAAAAAAAAAAA") == true);
    s.reset();
    auto s2 = b.open();
    CHECK(*s2->useNonce(d1, "BBBBBBBBBBBBBBBBBBBBBB") == false);
    auto unknown = s2->useNonce("no-such-device", "CCCCCCCCCCCCCCCCCCCCCC");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == ErrorCode::NotFound);
}

TEST_CASE("HQ store: ingest stores, finds duplicates and conflicts, passes rejects through", "[hq][store]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    auto s = b.open();
    std::string dev = enroll(*s, kUnitA);
    auto a1 = makeItem("rec-a", 1), b1 = makeItem("rec-b", 1, "fine", kUnitA, "readiness");
    auto a1other = makeItem("rec-a", 1, "edited elsewhere");

    auto first =
        ingestOk(*s, dev, "batch-1",
                 {a1, b1, rejectedItem("rec-x", "readiness v9 is not a form HQ knows"), a1, a1other});
    INFO(describe(first.results));
    CHECK_FALSE(first.replayed);
    CHECK(first.results[0].status == core::ItemStatus::Stored);
    CHECK(first.results[0].hqSeq == 1);
    CHECK(first.results[1].status == core::ItemStatus::Stored);
    CHECK(first.results[1].hqSeq == 2);
    CHECK(first.results[2].status == core::ItemStatus::Rejected);
    CHECK(first.results[2].hqSeq == 0);
    CHECK(first.results[2].reason == "readiness v9 is not a form HQ knows");
    CHECK(first.results[3].status == core::ItemStatus::Duplicate);  // the same revision twice in one batch
    CHECK(first.results[3].hqSeq == 1);
    CHECK(first.results[4].status == core::ItemStatus::Conflict);
    CHECK(first.results[4].hqSeq == 1);
    CHECK_FALSE(first.results[4].reason.empty());

    auto a2 = makeItem("rec-a", 2, "amended");
    auto second = ingestOk(*s, dev, "batch-2", {a1, a2, a1other, makeItem("rec-a", 1, "third version")});
    INFO(describe(second.results));
    CHECK(second.results[0].status == core::ItemStatus::Duplicate);
    CHECK(second.results[0].hqSeq == 1);
    CHECK(second.results[1].status == core::ItemStatus::Stored);
    CHECK(second.results[1].hqSeq == 3);
    CHECK(second.results[2].status == core::ItemStatus::Conflict);
    CHECK(second.results[3].status == core::ItemStatus::Conflict);

    CHECK(*s->reportCount() == 3);
    CHECK(s->heads()->reports == 3);

    // The stored revision is untouched by the conflicts.
    auto kept = s->report("rec-a", 1);
    REQUIRE(kept.ok());
    REQUIRE(kept->has_value());
    const Report& r = **kept;
    CHECK(r.hqSeq == 1);
    CHECK(r.hash == a1.hash);
    CHECK(r.canonical == a1.canonical);
    CHECK_FALSE(r.parent.has_value());
    CHECK(r.formId == "incident");
    CHECK(r.formVersion == 1);
    CHECK(r.unitId == kUnitA);
    CHECK(r.deviceId == dev);
    CHECK(r.author == "cpl.dupont");
    CHECK(r.createdUtc == a1.createdUtc);
    CHECK(r.createdOffset == 60);
    CHECK(r.finalizedUtc == a1.finalizedUtc);
    CHECK(r.receivedUtc == kNow);
    CHECK(r.reviewStatus == core::ReviewStatus::Received);
    CHECK(r.reviewComment.empty());

    auto newest = s->report("rec-a", std::nullopt);
    REQUIRE(newest.ok());
    REQUIRE(newest->has_value());
    CHECK((*newest)->revision == 2);
    CHECK((*newest)->parent == std::optional<int>(1));
    CHECK_FALSE(s->report("rec-x", std::nullopt)->has_value());
    CHECK_FALSE(s->report("rec-a", 7)->has_value());

    // Other bytes are kept once per distinct hash.
    auto cs = s->conflicts();
    REQUIRE(cs.ok());
    REQUIRE(cs->size() == 2);
    CHECK((*cs)[0].recordId == "rec-a");
    CHECK((*cs)[0].revision == 1);
    CHECK((*cs)[0].deviceId == dev);
    CHECK((*cs)[0].hash == a1other.hash);
    CHECK((*cs)[0].keptHash == a1.hash);
    CHECK((*cs)[0].canonical == a1other.canonical);
    CHECK((*cs)[0].receivedUtc == kNow);
    CHECK((*cs)[1].hash == makeItem("rec-a", 1, "third version").hash);
    CHECK((*cs)[0].id < (*cs)[1].id);

    SECTION("reports are listed in HQ's order, filtered by unit, form and cursor") {
        auto other = enroll(*s, kUnitB, "bravo laptop");
        ingestOk(*s, other, "batch-b", {makeItem("rec-c", 1, "b", kUnitB)});
        auto all = s->reports({});
        REQUIRE(all.ok());
        REQUIRE(all->size() == 4);
        for (std::size_t i = 0; i < all->size(); ++i)
            CHECK((*all)[i].hqSeq == static_cast<std::int64_t>(i + 1));
        ReportFilter f;
        f.unitId = kUnitB;
        auto bravo = s->reports(f);
        REQUIRE(bravo->size() == 1);
        CHECK((*bravo)[0].recordId == "rec-c");
        CHECK((*bravo)[0].deviceId == other);
        f = {};
        f.formId = "readiness";
        REQUIRE(s->reports(f)->size() == 1);
        f = {};
        f.afterSeq = 1;
        f.limit = 2;
        auto page = s->reports(f);
        REQUIRE(page->size() == 2);
        CHECK((*page)[0].hqSeq == 2);
        CHECK((*page)[1].hqSeq == 3);
    }
    SECTION("hasReport checks the sequence, the record and its unit together") {
        CHECK(*s->hasReport(1, "rec-a", kUnitA) == true);
        CHECK(*s->hasReport(3, "rec-a", kUnitA) == true);
        CHECK(*s->hasReport(2, "rec-a", kUnitA) == false);
        CHECK(*s->hasReport(2, "rec-b", kUnitA) == true);
        CHECK(*s->hasReport(99, "rec-a", kUnitA) == false);
        CHECK(*s->hasReport(1, "rec-a", kUnitB) == false);  // another unit learns nothing
    }
    SECTION("an unknown device cannot ingest") {
        auto r2 = s->ingest("no-such-device", "batch-9", "h", {makeItem("rec-z", 1)}, kNow);
        REQUIRE_FALSE(r2.ok());
        CHECK(r2.error().code == ErrorCode::NotFound);
        CHECK(*s->reportCount() == 3);
    }
    requireClean(*s);
}

TEST_CASE("HQ store: a push batch replayed gives the recorded results and changes nothing", "[hq][store]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    auto s = b.open();
    std::string dev = enroll(*s, kUnitA);
    std::vector<IncomingItem> items{makeItem("rec-a", 1), makeItem("rec-b", 1), rejectedItem("rec-x", "bad"),
                                    makeItem("rec-a", 1, "other bytes")};
    auto first = ingestOk(*s, dev, "batch-1", items, "request-hash-1");
    CHECK_FALSE(first.replayed);
    auto heads = *s->heads();
    auto conflictCount = s->conflicts()->size();

    // Stored meanwhile by someone else: a replay still answers what was recorded, not what would happen now.
    std::string other = enroll(*s, kUnitA, "other");
    ingestOk(*s, other, "batch-o", {makeItem("rec-c", 1)});
    heads = *s->heads();

    auto again = ingestOk(*s, dev, "batch-1", items, "request-hash-1");
    CHECK(again.replayed);
    REQUIRE(again.results.size() == first.results.size());
    for (std::size_t i = 0; i < first.results.size(); ++i) {
        CHECK(again.results[i].status == first.results[i].status);
        CHECK(again.results[i].hqSeq == first.results[i].hqSeq);
        CHECK(again.results[i].reason == first.results[i].reason);
    }
    CHECK(s->heads()->reports == heads.reports);
    CHECK(s->conflicts()->size() == conflictCount);

    auto reused = s->ingest(dev, "batch-1", "request-hash-2", {makeItem("rec-d", 1)}, kNow);
    REQUIRE_FALSE(reused.ok());
    CHECK(reused.error().code == ErrorCode::Conflict);
    CHECK_FALSE(s->report("rec-d", std::nullopt)->has_value());

    // The batch id is the device's: another device may use the same id for its own batch.
    auto theirs = ingestOk(*s, other, "batch-1", items, "their-hash");
    CHECK_FALSE(theirs.replayed);
    CHECK(theirs.results[0].status == core::ItemStatus::Duplicate);
    CHECK(s->heads()->reports == heads.reports);

    // An all-rejected batch is recorded too.
    auto rej = ingestOk(*s, dev, "batch-r", {rejectedItem("rec-y", "no")}, "rh");
    auto rej2 = ingestOk(*s, dev, "batch-r", {rejectedItem("rec-y", "no")}, "rh");
    CHECK(rej2.replayed);
    CHECK(rej2.results[0].status == core::ItemStatus::Rejected);
    CHECK(rej2.results[0].reason == "no");
    CHECK_FALSE(rej.replayed);
    requireClean(*s);
}

TEST_CASE("HQ store: a failure in the middle of a batch leaves nothing half-written", "[hq][store]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    auto s = b.open();
    std::string dev = enroll(*s, kUnitA);
    ingestOk(*s, dev, "batch-0", {makeItem("rec-0", 1)});
    // An insider's rule the store does not know about refuses one record, late in the batch.
    if (b.kind() == "sqlite")
        b.raw(
            "CREATE TRIGGER poison BEFORE INSERT ON report WHEN NEW.record_id = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned record'); END");
    else
        b.raw("ALTER TABLE report ADD CONSTRAINT poison CHECK (record_id <> 'poison')");
    std::vector<IncomingItem> items;
    for (int i = 0; i < 50; ++i) items.push_back(makeItem("rec-" + std::to_string(i + 1), 1));
    items.push_back(makeItem("rec-0", 1, "other bytes"));  // a conflict in the same batch
    items.push_back(makeItem("poison", 1));
    auto r = s->ingest(dev, "batch-1", "h1", items, kNow);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().domain == ErrorDomain::Storage);
    CHECK(*s->reportCount() == 1);
    CHECK(s->heads()->reports == 1);
    CHECK(s->conflicts()->empty());

    if (b.kind() == "sqlite")
        b.raw("DROP TRIGGER poison");
    else
        b.raw("ALTER TABLE report DROP CONSTRAINT poison");
    // Nothing of the failed attempt was recorded: the same batch now goes through as new. On
    // PostgreSQL the 51 numbers the failed attempt reserved are recorded as void, and the batch gets
    // the next ones.
    const std::int64_t first = b.kind() == "postgres" ? 53 : 2;
    auto voids = s->voidRanges();
    REQUIRE(voids.ok());
    if (b.kind() == "postgres") {
        REQUIRE(voids->size() == 1);
        CHECK((*voids)[0].first == 2);
        CHECK((*voids)[0].last == 52);
        CHECK((*voids)[0].why.find("poison") != std::string::npos);
    } else {
        CHECK(voids->empty());
    }
    auto ok = ingestOk(*s, dev, "batch-1", items, "h1");
    CHECK_FALSE(ok.replayed);
    CHECK(ok.results[0].status == core::ItemStatus::Stored);
    CHECK(ok.results[0].hqSeq == first);
    CHECK(ok.results.back().hqSeq == first + 50);
    CHECK(*s->reportCount() == 52);
    CHECK(s->conflicts()->size() == 1);
    requireClean(*s);
}

TEST_CASE("HQ store: a review updates the report and tells its unit only", "[hq][store]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    auto s = b.open();
    std::string dev = enroll(*s, kUnitA);
    ingestOk(*s, dev, "batch-1", {makeItem("rec-a", 1)});
    auto e = s->review("rec-a", 1, core::ReviewStatus::Returned, "Casualty count missing", "maj.hq", kLater);
    INFO((e.ok() ? "" : e.error().message));
    REQUIRE(e.ok());
    CHECK(e->kind == "feedback");
    CHECK(e->unitId == kUnitA);
    CHECK(e->seq == 1);
    CHECK(e->body == json{{"record", "rec-a"},
                          {"rev", 1},
                          {"status", "returned"},
                          {"comment", "Casualty count missing"},
                          {"by", "maj.hq"},
                          {"at", kLater}});
    auto r = s->report("rec-a", 1);
    CHECK((*r)->reviewStatus == core::ReviewStatus::Returned);
    CHECK((*r)->reviewComment == "Casualty count missing");
    CHECK((*r)->canonical == makeItem("rec-a", 1).canonical);

    auto mine = s->feed(kUnitA, 0, 100);
    REQUIRE(mine.ok());
    REQUIRE(mine->size() == 1);
    CHECK((*mine)[0].seq == e->seq);
    CHECK((*mine)[0].body == e->body);
    CHECK(s->feed(kUnitB, 0, 100)->empty());
    CHECK(s->heads()->feed == 1);

    auto bad =
        s->review("rec-a", 1, static_cast<core::ReviewStatus>(99), "", "maj.hq", kLater);  // no such status
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == ErrorCode::BadInput);
    auto unknown = s->review("rec-a", 5, core::ReviewStatus::Accepted, "", "maj.hq", kLater);
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == ErrorCode::NotFound);
    CHECK(s->heads()->feed == 1);
    REQUIRE(s->review("rec-a", 1, core::ReviewStatus::Accepted, "", "maj.hq", kLater).ok());
    CHECK((*s->report("rec-a", 1))->reviewStatus == core::ReviewStatus::Accepted);
    CHECK(s->feed(kUnitA, 1, 100)->size() == 1);
}

TEST_CASE("HQ store: forms and reference data reach every unit through the feed", "[hq][store]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    auto s = b.open();
    json form = {{"id", "patrol"}, {"version", 2}, {"title", {{"en", "Patrol"}, {"fr", "Patrouille"}}}};
    REQUIRE(s->putForm("patrol", 2, form, kNow).ok());
    REQUIRE(s->putForm("patrol", 2, form, kNow).ok());  // the same again: nothing new
    json changed = form;
    changed["title"]["en"] = "Foot patrol";
    auto clash = s->putForm("patrol", 2, changed, kNow);
    REQUIRE_FALSE(clash.ok());
    CHECK(clash.error().code == ErrorCode::Conflict);
    json form1 = {{"id", "patrol"}, {"version", 1}};
    REQUIRE(s->putForm("patrol", 1, form1, kNow).ok());
    auto fs = s->forms();
    REQUIRE(fs.ok());
    REQUIRE(fs->size() == 2);
    CHECK((*fs)[0] == form1);
    CHECK((*fs)[1] == form);

    CHECK_FALSE(s->reference()->has_value());
    json ref1 = {{"version", 1}, {"units", json::array({{{"id", kUnitA}}})}};
    json ref2 = {{"version", 2}, {"units", json::array({{{"id", kUnitA}}, {{"id", kUnitB}}})}};
    REQUIRE(s->putReference(ref1, kNow).ok());
    REQUIRE(s->putReference(ref2, kNow).ok());
    CHECK(**s->reference() == ref2);

    auto own = s->appendFeed(kUnitB, "feedback", {{"record", "r"}}, kNow);
    REQUIRE(own.ok());
    CHECK(own->seq == 5);

    auto alpha = s->feed(kUnitA, 0, 100);
    REQUIRE(alpha.ok());
    REQUIRE(alpha->size() == 4);
    CHECK((*alpha)[0].kind == "form");
    CHECK((*alpha)[0].unitId.empty());
    CHECK((*alpha)[0].body == form);
    CHECK((*alpha)[1].kind == "form");
    CHECK((*alpha)[1].body == form1);
    CHECK((*alpha)[2].kind == "reference");
    CHECK((*alpha)[3].body == ref2);
    for (std::size_t i = 0; i < alpha->size(); ++i)
        CHECK((*alpha)[i].seq == static_cast<std::int64_t>(i + 1));

    auto bravo = s->feed(kUnitB, 0, 100);
    REQUIRE(bravo->size() == 5);
    CHECK((*bravo)[4].unitId == kUnitB);
    auto after = s->feed(kUnitB, 3, 1);
    REQUIRE(after->size() == 1);
    CHECK((*after)[0].seq == 4);
    CHECK(s->feed(kUnitB, 5, 100)->empty());
    CHECK(s->feed(kUnitA, 4, 100)->empty());
    REQUIRE(s->feedEntry(5)->has_value());
    CHECK(s->feedEntry(5)->value().seq == 5);
    CHECK_FALSE(s->feedEntry(6)->has_value());
    CHECK(s->heads()->feed == 5);

    auto noKind = s->appendFeed(kUnitA, "", json::object(), kNow);
    REQUIRE_FALSE(noKind.ok());
    CHECK(noKind.error().code == ErrorCode::BadInput);
}

TEST_CASE("HQ store: verify finds nothing on a sound store and finds a tampered report", "[hq][store]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    auto s = b.open();
    std::string dev = enroll(*s, kUnitA);
    ingestOk(*s, dev, "batch-1", {makeItem("rec-a", 1), makeItem("rec-b", 1), makeItem("rec-a", 1, "other")});
    requireClean(*s);

    b.raw(
        "UPDATE report SET canonical = replace(canonical, 'all quiet', 'all calm') WHERE record_id = "
        "'rec-b'");
    auto v = s->verify();
    REQUIRE(v.ok());
    REQUIRE(v->size() == 1);
    CHECK_THAT((*v)[0], Catch::Contains("report 2") && Catch::Contains("hash"));

    b.raw("UPDATE conflict SET hash = 'x' || hash");
    v = s->verify();
    REQUIRE(v.ok());
    CHECK(v->size() == 2);
}

TEST_CASE("HQ store: concurrent pushes of the same records store each revision exactly once", "[hq][store]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    constexpr int kThreads = 4, kRecords = 150, kRevisions = 2, kBatch = 40;
    std::vector<std::string> devices;
    {
        auto s = b.open();
        for (int t = 0; t < kThreads; ++t)
            devices.push_back(enroll(*s, kUnitA, "laptop " + std::to_string(t)));
    }
    // Every thread pushes every (record, revision) in its own order; thread 0 has other bytes for
    // every tenth record, so those race as conflicts.
    struct Seen {
        std::string id;
        int rev;
        std::string hash;
        ItemOutcome outcome;
    };
    std::vector<std::vector<Seen>> seen(kThreads);
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            try {
                auto opened = openHqStore(b.location());
                if (!opened) {
                    errors[t] = opened.error().message;
                    return;
                }
                auto store = std::move(opened).value();
                std::vector<IncomingItem> all;
                for (int r = 0; r < kRecords; ++r)
                    for (int v = 1; v <= kRevisions; ++v)
                        all.push_back(makeItem("rec-" + std::to_string(r), v,
                                               t == 0 && r % 10 == 0 ? "thread zero's version" : "shared"));
                std::shuffle(all.begin(), all.end(), std::mt19937(1234 + t));
                for (std::size_t start = 0, n = 0; start < all.size(); start += kBatch, ++n) {
                    std::vector<IncomingItem> batch(
                        all.begin() + static_cast<long>(start),
                        all.begin() + static_cast<long>(std::min(start + kBatch, all.size())));
                    std::string id = "t" + std::to_string(t) + "-b" + std::to_string(n);
                    auto r = store->ingest(devices[t], id, "h-" + id, batch, kNow);
                    if (!r) {
                        errors[t] = r.error().message;
                        return;
                    }
                    for (std::size_t i = 0; i < batch.size(); ++i)
                        seen[t].push_back(
                            {batch[i].recordId, batch[i].revision, batch[i].hash, r->results[i]});
                }
            } catch (const std::exception& e) {
                errors[t] = e.what();
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
        INFO("thread " << t << ": " << errors[t]);
        REQUIRE(errors[t].empty());
    }

    std::map<std::pair<std::string, int>, std::int64_t> storedSeq;
    std::map<std::pair<std::string, int>, std::string> storedHash;
    std::set<std::int64_t> seqs;
    int stored = 0;
    for (const auto& list : seen)
        for (const auto& x : list)
            if (x.outcome.status == core::ItemStatus::Stored) {
                ++stored;
                auto key = std::make_pair(x.id, x.rev);
                INFO(x.id << " r" << x.rev);
                CHECK(storedSeq.emplace(key, x.outcome.hqSeq).second);
                storedHash[key] = x.hash;
                CHECK(seqs.insert(x.outcome.hqSeq).second);
            }
    constexpr int kTotal = kRecords * kRevisions;
    CHECK(stored == kTotal);
    REQUIRE(seqs.size() == static_cast<std::size_t>(kTotal));
    auto numbered = b.open();
    // SQLite: 1..kTotal. PostgreSQL: the numbers of attempts that lost a race are recorded as void.
    const std::int64_t highest = requireNumbersAccountedFor(*numbered, seqs);
    if (b.kind() == "sqlite") CHECK(highest == kTotal);
    for (const auto& list : seen)
        for (const auto& x : list) {
            auto key = std::make_pair(x.id, x.rev);
            INFO(x.id << " r" << x.rev << " " << core::toText(x.outcome.status));
            CHECK(x.outcome.hqSeq == storedSeq[key]);
            bool same = x.hash == storedHash[key];
            if (same)
                CHECK((x.outcome.status == core::ItemStatus::Stored ||
                       x.outcome.status == core::ItemStatus::Duplicate));
            else
                CHECK(x.outcome.status == core::ItemStatus::Conflict);
        }

    auto s = b.open();
    CHECK(*s->reportCount() == kTotal);
    CHECK(s->heads()->reports == *seqs.rbegin());  // the highest report (a void range may be higher)
    CHECK(highest >= *seqs.rbegin());
    // One conflict per raced identity: whichever bytes lost are kept once.
    auto cs = s->conflicts();
    REQUIRE(cs.ok());
    CHECK(cs->size() == static_cast<std::size_t>(kRecords / 10 * kRevisions));
    std::set<std::pair<std::string, int>> conflicted;
    for (const auto& c : *cs) {
        CHECK(conflicted.insert({c.recordId, c.revision}).second);
        CHECK(c.keptHash == storedHash[{c.recordId, c.revision}]);
    }
    requireClean(*s);
}

TEST_CASE("HQ store: concurrent redemptions, nonces and feed entries", "[hq][store]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    constexpr int kThreads = 4, kEntries = 25;
    std::string secret = hashOf("contested code");
    std::string dev;
    {
        auto s = b.open();
        REQUIRE(s->addEnrollment(secret, kUnitA, kLater).ok());
        dev = enroll(*s, kUnitA);
    }
    std::vector<std::string> outcome(kThreads), errors(kThreads);
    std::vector<int> freshNonces(kThreads, 0);
    std::vector<std::vector<std::int64_t>> seqs(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            auto opened = openHqStore(b.location());
            if (!opened) {
                errors[t] = opened.error().message;
                return;
            }
            auto s = std::move(opened).value();
            auto d = s->redeemEnrollment(secret, "laptop " + std::to_string(t), "a2V5", kNow);
            outcome[t] = d.ok()                                  ? "device"
                         : d.error().code == ErrorCode::Conflict ? "used"
                                                                 : d.error().message;
            for (int i = 0; i < kEntries; ++i) {
                auto n = s->useNonce(dev, "nonce-" + std::to_string(i));
                if (!n) {
                    errors[t] = n.error().message;
                    return;
                }
                freshNonces[t] += *n ? 1 : 0;
                auto e = s->appendFeed(kUnitA, "feedback", {{"thread", t}, {"i", i}}, kNow);
                if (!e) {
                    errors[t] = e.error().message;
                    return;
                }
                seqs[t].push_back(e->seq);
            }
        });
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
        INFO("thread " << t << ": " << errors[t]);
        REQUIRE(errors[t].empty());
    }
    CHECK(std::count(outcome.begin(), outcome.end(), "device") == 1);
    CHECK(std::count(outcome.begin(), outcome.end(), "used") == kThreads - 1);
    int fresh = 0;
    for (int n : freshNonces) fresh += n;
    CHECK(fresh == kEntries);  // each nonce accepted by exactly one of the racing requests
    std::set<std::int64_t> all;
    for (const auto& list : seqs) {
        CHECK(std::is_sorted(list.begin(), list.end()));
        for (auto q : list) CHECK(all.insert(q).second);
    }
    REQUIRE(all.size() == static_cast<std::size_t>(kThreads * kEntries));
    CHECK(*all.begin() == 1);
    CHECK(*all.rbegin() == kThreads * kEntries);  // gap-free
    auto s = b.open();
    CHECK(s->devices()->size() == 2);
    CHECK(s->feed(kUnitA, 0, 1000)->size() == static_cast<std::size_t>(kThreads * kEntries));
    requireClean(*s);
}

TEST_CASE("HQ store: openHqStore picks the backend from the location", "[hq][store]") {
    TempDir t;
    std::string dir = t.sub("nested/hq-data");
    auto s = openHqStore(dir);
    INFO((s.ok() ? "" : s.error().message));
    REQUIRE(s.ok());
    struct stat st {};
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    CHECK(std::filesystem::exists(dir + "/hq.db"));

    std::string uri = PgCluster::shared().createDatabase();
    auto pg = openHqStore(uri);
    INFO((pg.ok() ? "" : pg.error().message));
    REQUIRE(pg.ok());
    std::string alt = "postgres://" + uri.substr(std::string("postgresql://").size());
    auto pg2 = openHqStore(alt);
    INFO((pg2.ok() ? "" : pg2.error().message));
    REQUIRE(pg2.ok());
    CHECK(*(*pg)->epoch() == *(*pg2)->epoch());  // the same database
    CHECK_FALSE(openHqStore("").ok());
}

TEST_CASE("HQ store on PostgreSQL: a lost connection is an I/O error and the next call reconnects",
          "[hq][store][postgres]") {
    auto& cluster = PgCluster::shared();
    Backend b("postgres");
    auto s = b.open();
    std::string dev = enroll(*s, kUnitA);
    std::string db = b.location().substr(b.location().rfind('/') + 1);

    // The server drops every connection: the store reconnects on its own and the call succeeds.
    pgExec(cluster.uri(),
           "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db + "'");
    auto after = s->ingest(dev, "batch-1", "h", {makeItem("rec-a", 1)}, kNow);
    INFO((after.ok() ? "" : after.error().message));
    REQUIRE(after.ok());
    CHECK(after->results[0].status == core::ItemStatus::Stored);

    // Now the database refuses new connections: the call fails with Storage/Io and nothing changes.
    pgExec(cluster.uri(), "ALTER DATABASE " + db + " ALLOW_CONNECTIONS false");
    pgExec(cluster.uri(),
           "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db + "'");
    auto down = s->ingest(dev, "batch-2", "h2", {makeItem("rec-b", 1)}, kNow);
    REQUIRE_FALSE(down.ok());
    CHECK(down.error().domain == ErrorDomain::Storage);
    CHECK(down.error().code == ErrorCode::Io);
    auto down2 = s->epoch();
    REQUIRE_FALSE(down2.ok());
    CHECK(down2.error().code == ErrorCode::Io);

    pgExec(cluster.uri(), "ALTER DATABASE " + db + " ALLOW_CONNECTIONS true");
    auto back = s->ingest(dev, "batch-2", "h2", {makeItem("rec-b", 1)}, kNow);
    INFO((back.ok() ? "" : back.error().message));
    REQUIRE(back.ok());
    CHECK_FALSE(back->replayed);
    CHECK(back->results[0].hqSeq == 2);
    CHECK(*s->reportCount() == 2);

    // No server at all: opening fails with Storage/Io.
    auto nowhere = openHqStore("postgresql://outpost@127.0.0.1:1/postgres?connect_timeout=2");
    REQUIRE_FALSE(nowhere.ok());
    CHECK(nowhere.error().domain == ErrorDomain::Storage);
    CHECK(nowhere.error().code == ErrorCode::Io);
}

namespace {

// What a forked child found, as one line on a pipe ("ok" or what went wrong).
std::string runChild(const std::function<std::string()>& body) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::fflush(nullptr);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        std::string out;
        try {
            out = body();
        } catch (const std::exception& e) {
            out = std::string("exception: ") + e.what();
        }
        (void)!::write(fds[1], out.data(), out.size());
        ::_exit(0);  // no exit handlers: the parent owns the test cluster and Catch2's state
    }
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    INFO("child exit status " << status);
    REQUIRE(WIFEXITED(status));
    return out;
}

std::vector<IncomingItem> bigBatch(const std::string& prefix, int n, std::size_t bytes) {
    std::vector<IncomingItem> items;
    for (int i = 0; i < n; ++i)
        items.push_back(
            makeItem(prefix + std::to_string(i), 1, std::string(bytes, static_cast<char>('a' + i % 26))));
    return items;
}

// In the child: ingest must fail with `want` (or one of them), leave the store as it was, and work
// once space is back (`release`).
std::string failThenRecover(HqStore& s, const std::string& dev, const std::vector<IncomingItem>& items,
                            const std::set<ErrorCode>& want, const std::function<void()>& release) {
    auto before = s.reportCount();
    if (!before) return "reportCount: " + before.error().message;
    auto r = s.ingest(dev, "big-batch", "big-hash", items, kNow);
    if (r.ok()) return "the ingest succeeded although the disk had no room";
    if (r.error().domain != ErrorDomain::Storage || !want.count(r.error().code))
        return "unexpected error " + std::to_string(static_cast<int>(r.error().code)) + ": " +
               r.error().message;
    std::string message = r.error().message;
    auto after = s.reportCount();
    if (!after || *after != *before) return "reports changed by the failed ingest";
    release();
    auto v = s.verify();
    if (!v || !v->empty()) return "verify after the failure: " + (v ? (*v)[0] : v.error().message);
    auto again = s.ingest(dev, "big-batch", "big-hash", items, kNow);
    if (!again) return "the ingest failed again once space was back: " + again.error().message;
    if (again->replayed) return "the failed batch was recorded";
    if (*s.reportCount() != *before + static_cast<std::int64_t>(items.size()))
        return "wrong report count after";
    return "ok: " + message;
}

}  // namespace

TEST_CASE("HQ store on SQLite: a full disk is DiskFull and leaves nothing half-written",
          "[hq][store][sqlite]") {
    // A real full file system: a 3 MiB tmpfs in a private mount namespace of a child process (needs
    // root or unprivileged user namespaces; without either this case fails, unless
    // OUTPOST_ALLOW_SKIP=fulldisk, outside CI, lets it say SKIPPED: support/skip_policy.hpp).
    TempDir t;
    std::string mnt = t.sub("small-disk");
    std::filesystem::create_directories(mnt);
    std::string out = runChild([&]() -> std::string {
        if (::unshare(CLONE_NEWNS) != 0) {
            // Not root: a user namespace of our own may still mount a tmpfs.
            unsigned uid = ::getuid(), gid = ::getgid();
            if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return "unavailable: unshare";
            std::ofstream("/proc/self/setgroups") << "deny";
            std::ofstream("/proc/self/uid_map") << "0 " << uid << " 1";
            std::ofstream("/proc/self/gid_map") << "0 " << gid << " 1";
        }
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            return "unavailable: private /";
        if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=3m") != 0) return "unavailable: mount tmpfs";
        auto opened = openHqStore(mnt + "/hq");
        if (!opened) return "open: " + opened.error().message;
        auto s = std::move(opened).value();
        std::string secret = hashOf("disk secret");
        if (!s->addEnrollment(secret, kUnitA, kLater)) return "enroll";
        auto d = s->redeemEnrollment(secret, "laptop", "a2V5", kNow);
        if (!d) return "redeem: " + d.error().message;
        if (!s->ingest(d->id, "small", "h", {makeItem("rec-small", 1)}, kNow)) return "first ingest";
        // Fill the disk but for 200 KiB; the batch needs about 1 MiB.
        struct statvfs fsStat {};
        ::statvfs(mnt.c_str(), &fsStat);
        std::uint64_t freeBytes = static_cast<std::uint64_t>(fsStat.f_bavail) * fsStat.f_frsize;
        std::string filler = mnt + "/filler";
        {
            std::ofstream f(filler, std::ios::binary);
            std::string block(64 * 1024, 'x');
            for (std::uint64_t w = 0; w + block.size() + 200 * 1024 < freeBytes; w += block.size())
                f << block;
        }
        return failThenRecover(*s, d->id, bigBatch("big-", 200, 5000), {ErrorCode::DiskFull},
                               [&] { std::filesystem::remove(filler); });
    });
    if (out.rfind("unavailable", 0) == 0) {
        cannotRunHere("fulldisk", "no tmpfs in a private mount namespace here (" + out +
                                      "): the real full-disk case on SQLite did not run");
        return;
    }
    INFO(out);
    CHECK(out.rfind("ok", 0) == 0);
}

TEST_CASE("HQ store on SQLite: a write refused by the file-size limit is an I/O error and changes nothing",
          "[hq][store][sqlite]") {
    TempDir t;
    std::string dir = t.sub("hq");
    std::string dev;
    {
        auto s = openHqStore(dir);
        REQUIRE(s.ok());
        dev = enroll(**s, kUnitA);
        ingestOk(**s, dev, "small", {makeItem("rec-small", 1)});
    }
    auto items = bigBatch("big-", 200, 5000);
    std::string out = runChild([&]() -> std::string {
        std::signal(SIGXFSZ, SIG_IGN);  // a write past the limit then fails with EFBIG instead of killing us
        auto opened = openHqStore(dir);
        if (!opened) return "open: " + opened.error().message;
        auto s = std::move(opened).value();
        std::uintmax_t largest = 0;
        for (const auto& e : std::filesystem::directory_iterator(dir))
            largest = std::max(largest, std::filesystem::file_size(e.path()));
        rlimit limit{static_cast<rlim_t>(largest + 128 * 1024), RLIM_INFINITY};
        if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return "setrlimit failed";
        return failThenRecover(*s, dev, items, {ErrorCode::Io, ErrorCode::DiskFull}, [] {
            rlimit none{RLIM_INFINITY, RLIM_INFINITY};
            ::setrlimit(RLIMIT_FSIZE, &none);
        });
    });
    INFO(out);
    CHECK(out.rfind("ok", 0) == 0);
    // The parent sees what the child left: the small batch and the big one, each once.
    auto s = openHqStore(dir);
    REQUIRE(s.ok());
    CHECK(*(*s)->reportCount() == 201);
    requireClean(**s);
}

TEST_CASE("HQ store: ingest throughput, batches of 200", "[.][hq][perf]") {
    Backend b(backendKind());
    auto s = b.open();
    std::string dev = enroll(*s, kUnitA);
    constexpr int kItems = 20000, kBatch = 200;
    std::vector<std::vector<IncomingItem>> batches;
    for (int i = 0; i < kItems; i += kBatch) {
        std::vector<IncomingItem> batch;
        for (int j = i; j < i + kBatch; ++j)
            batch.push_back(makeItem("rec-" + std::to_string(j), 1, "report body"));
        batches.push_back(std::move(batch));
    }
    auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < batches.size(); ++i) {
        auto r = s->ingest(dev, "batch-" + std::to_string(i), "h", batches[i], kNow);
        REQUIRE(r.ok());
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s: %d items in %.2f s: %.0f items/s\n", b.kind().c_str(), kItems, seconds,
                kItems / seconds);
    CHECK(*s->reportCount() == kItems);
}

// --- The audit log -----------------------------------------------------------------------------------
namespace {

struct AuditKeys {
    std::vector<unsigned char> pk = std::vector<unsigned char>(crypto_sign_PUBLICKEYBYTES);
    std::vector<unsigned char> sk = std::vector<unsigned char>(crypto_sign_SECRETKEYBYTES);
    AuditKeys() {
        REQUIRE(sodium_init() >= 0);
        crypto_sign_keypair(pk.data(), sk.data());
    }
};

AuditCheck auditCheck(HqStore& s, const std::vector<unsigned char>& pk) {
    auto c = verifyAudit(s, pk);
    INFO((c.ok() ? "" : c.error().message));
    REQUIRE(c.ok());
    std::string text;
    for (const auto& p : c->problems) text += "\n  " + p;
    INFO("audit:" << text);
    return std::move(c).value();
}

// Enrollment code and redemption, a batch, a review, a revocation and one appended entry: 6 entries.
void auditedHistory(HqStore& s) {
    std::string dev = enroll(s, kUnitA);
    ingestOk(s, dev, "batch-a", {makeItem("rec-a", 1), makeItem("rec-b", 1), rejectedItem("rec-c", "bad")});
    REQUIRE(s.review("rec-a", 1, core::ReviewStatus::Returned, "fix it", "maj.review", kNow).ok());
    REQUIRE(s.revoke(dev).ok());
    REQUIRE(s.appendAudit("admin:ops", "export", "csv", {{"reports", 2}}, kNow).ok());
}

}  // namespace

TEST_CASE("HQ store: every audited write appends a signed entry to one chain", "[hq][store][audit]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    AuditKeys keys;
    auto s = b.open();
    s->setAuditKey(keys.sk);
    s->setAuditActor("admin:ops");
    auditedHistory(*s);
    auto entries = s->audit(0, 100);
    REQUIRE(entries.ok());
    std::vector<std::string> actions;
    for (const auto& e : *entries) actions.push_back(e.action);
    CHECK(actions ==
          std::vector<std::string>{"enrollment code", "enroll", "push", "review", "revoke", "export"});
    const auto& push = entries->at(2);
    auto detail = json::parse(push.detail);
    CHECK(push.subject == "batch-a");
    CHECK(detail["stored"] == 2);
    CHECK(detail["rejected"] == 1);
    CHECK(detail["items"].size() == 3);
    CHECK(entries->at(3).actor == "maj.review");
    CHECK(entries->at(4).actor == "admin:ops");
    auto c = auditCheck(*s, keys.pk);
    CHECK(c.problems.empty());
    CHECK(c.entries == 6);
    auto head = s->auditHead();
    REQUIRE(head.ok());
    CHECK(head->count == 6);
    CHECK(head->hash == entries->back().hash);

    // A replayed batch changes nothing, so it records nothing.
    std::string dev2 = enroll(*s, kUnitA, "second");
    ingestOk(*s, dev2, "batch-b", {makeItem("rec-d", 1)});
    ingestOk(*s, dev2, "batch-b", {makeItem("rec-d", 1)});
    CHECK(auditCheck(*s, keys.pk).entries == 9);  // code, enroll, one push: the replay adds nothing

    // Another key does not verify HQ's entries.
    AuditKeys other;
    auto foreign = auditCheck(*s, other.pk);
    REQUIRE_FALSE(foreign.problems.empty());
    CHECK(foreign.firstBad == 1);
}

TEST_CASE("HQ store: audit verify names the first bad entry after raw-SQL tampering", "[hq][store][audit]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    AuditKeys keys;
    auto s = b.open();
    s->setAuditKey(keys.sk);
    auditedHistory(*s);
    REQUIRE(auditCheck(*s, keys.pk).problems.empty());

    SECTION("an edited entry") {
        b.raw("UPDATE audit SET detail = replace(detail, '\"stored\":2', '\"stored\":0') WHERE seq = 3");
        auto c = auditCheck(*s, keys.pk);
        CHECK(c.firstBad == 3);
        CHECK_THAT(c.problems.at(0), Catch::Contains("audit entry 3 was edited"));
    }
    SECTION("an edited entry with its hash recomputed, but no key to sign it") {
        b.raw("UPDATE audit SET actor = 'someone' WHERE seq = 2");
        auto e = s->audit(1, 1)->at(0);
        // The chain is public arithmetic: an insider can recompute this entry's hash...
        std::string canonical = json::array({e.seq, e.atUtc, e.actor, e.action, e.subject, e.detail}).dump();
        std::string h = hashOf(e.prevHash + canonical);
        b.raw("UPDATE audit SET hash = '" + h + "' WHERE seq = 2");
        // ... but not its signature.
        auto c = auditCheck(*s, keys.pk);
        CHECK(c.firstBad == 2);
        CHECK_THAT(c.problems.at(0), Catch::Contains("audit entry 2's signature does not verify"));
    }
    SECTION("an entry deleted in the middle") {
        b.raw("DELETE FROM audit WHERE seq = 3");
        auto c = auditCheck(*s, keys.pk);
        CHECK(c.firstBad == 3);
        CHECK_THAT(c.problems.at(0), Catch::Contains("audit entry 3 is missing"));
    }
    SECTION("the newest entry deleted") {
        b.raw("DELETE FROM audit WHERE seq = 6");
        auto c = auditCheck(*s, keys.pk);
        CHECK(c.firstBad == 6);
        CHECK_THAT(c.problems.at(0), Catch::Contains("5 entries") && Catch::Contains("signed head says 6"));
    }
    SECTION("the whole log removed, head included") {
        b.raw("DELETE FROM audit");
        b.raw("DELETE FROM meta WHERE key = 'audit_head'");
        auto c = auditCheck(*s, keys.pk);
        CHECK(c.firstBad == 1);
        CHECK_THAT(c.problems.at(0), Catch::Contains("the log was removed"));
    }
    SECTION("two entries swapped") {
        b.raw("UPDATE audit SET seq = 1000 WHERE seq = 2");
        b.raw("UPDATE audit SET seq = 2 WHERE seq = 3");
        b.raw("UPDATE audit SET seq = 3 WHERE seq = 1000");
        auto c = auditCheck(*s, keys.pk);
        CHECK(c.firstBad == 2);
        CHECK_THAT(c.problems.at(0), Catch::Contains("audit entry 2 does not follow entry 1"));
    }
}

TEST_CASE("HQ store: entries written without HQ's key are reported as unsigned", "[hq][store][audit]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    AuditKeys keys;
    auto s = b.open();
    REQUIRE(s->appendAudit("admin:ops", "backup", "/backups/1", json::object(), kNow).ok());
    auto c = auditCheck(*s, keys.pk);
    CHECK(c.firstBad == 1);
    CHECK_THAT(c.problems.at(0), Catch::Contains("audit entry 1 is not signed"));
}

TEST_CASE("HQ store: audit appends from several connections keep one linear chain", "[hq][store][audit]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    AuditKeys keys;
    constexpr int kThreads = 4;
    constexpr int kEach = 20;
    {
        auto s = b.open();
        s->setAuditKey(keys.sk);
        (void)enroll(*s, kUnitA);
    }
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            auto opened = openHqStore(b.location());
            if (!opened) {
                ++failures;
                return;
            }
            auto s = std::move(opened).value();
            s->setAuditKey(keys.sk);
            for (int i = 0; i < kEach; ++i)
                if (!s->appendAudit("admin:" + std::to_string(t), "export", std::to_string(i), json::object(),
                                    kNow))
                    ++failures;
        });
    for (auto& th : threads) th.join();
    CHECK(failures == 0);
    auto s = b.open();
    auto c = auditCheck(*s, keys.pk);
    CHECK(c.problems.empty());
    CHECK(c.entries == 2 + kThreads * kEach);
}

TEST_CASE("HQ store: a report keeps the device's signature", "[hq][store]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    auto s = b.open();
    std::string dev = enroll(*s, kUnitA);
    IncomingItem it = makeItem("rec-s", 1);
    it.signature = "c2lnbmF0dXJl";
    ingestOk(*s, dev, "batch-s", {it});
    auto r = s->report("rec-s", 1);
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    CHECK((*r)->signature == "c2lnbmF0dXJl");
    auto listed = s->reports({});
    REQUIRE(listed.ok());
    REQUIRE(listed->size() == 1);
    CHECK(listed->at(0).signature == "c2lnbmF0dXJl");
}

TEST_CASE(
    "HQ store: record ids are scoped by unit: the same id in two units is two reports, never a conflict",
    "[hq][store][unit]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    auto s = b.open();
    std::string devA = enroll(*s, kUnitA);
    std::string devB = enroll(*s, kUnitB);
    auto a1 = makeItem("rec-shared", 1, "alpha's report", kUnitA);
    auto b1 = makeItem("rec-shared", 1, "bravo's copy", kUnitB);
    // Bravo pushes the id first (it learned it); alpha's real report still arrives as stored.
    auto first = ingestOk(*s, devB, "batch-b", {b1});
    CHECK(first.results[0].status == core::ItemStatus::Stored);
    auto second = ingestOk(*s, devA, "batch-a", {a1, a1});
    CHECK(second.results[0].status == core::ItemStatus::Stored);
    CHECK(second.results[0].reason.empty());
    CHECK(second.results[1].status == core::ItemStatus::Duplicate);
    CHECK(second.results[1].hqSeq == second.results[0].hqSeq);
    // Bravo again, with other bytes for its own copy: a conflict with its own unit's report only.
    auto b1other = makeItem("rec-shared", 1, "bravo edited", kUnitB);
    auto third = ingestOk(*s, devB, "batch-b2", {b1other});
    CHECK(third.results[0].status == core::ItemStatus::Conflict);
    CHECK(third.results[0].hqSeq == first.results[0].hqSeq);
    CHECK(third.results[0].reason.find(a1.hash) == std::string::npos);
    CHECK(*s->reportCount() == 2);
    // Each unit's report is found by unit; without a unit HQ refuses to guess.
    CHECK((*s->report("rec-shared", 1, kUnitA))->hash == a1.hash);
    CHECK((*s->report("rec-shared", std::nullopt, kUnitB))->hash == b1.hash);
    auto either = s->report("rec-shared", 1);
    REQUIRE_FALSE(either.ok());
    CHECK(either.error().code == ErrorCode::Conflict);
    CHECK(either.error().message.find(kUnitA) != std::string::npos);
    CHECK_FALSE(s->review("rec-shared", 1, core::ReviewStatus::Accepted, "", "maj.hq", kLater).ok());
    auto fb = s->review("rec-shared", 1, core::ReviewStatus::Returned, "redo", "maj.hq", kLater, kUnitA);
    REQUIRE(fb.ok());
    CHECK(fb->unitId == kUnitA);
    CHECK((*s->report("rec-shared", 1, kUnitA))->reviewStatus == core::ReviewStatus::Returned);
    CHECK((*s->report("rec-shared", 1, kUnitB))->reviewStatus == core::ReviewStatus::Received);
    // An id one unit alone holds needs no unit.
    REQUIRE(ingestOk(*s, devA, "batch-a2", {makeItem("rec-alone", 1)}).results[0].status ==
            core::ItemStatus::Stored);
    CHECK(s->report("rec-alone", 1)->has_value());
    requireClean(*s);
}

TEST_CASE("HQ store: a store from before unit-scoped record ids is migrated with its reports",
          "[hq][store][unit]") {
    Backend b(backendKind());
    CAPTURE(b.kind());
    std::string devA, devB;
    {
        auto s = b.open();
        devA = enroll(*s, kUnitA);
        devB = enroll(*s, kUnitB);
        REQUIRE(ingestOk(*s, devA, "batch-1", {makeItem("rec-old", 1), makeItem("rec-old", 2)})
                    .results[1]
                    .hqSeq == 2);
    }
    // Back to schema 3: reports unique by (record_id, revision) alone.
    if (b.kind() == "sqlite") {
        b.raw(
            "PRAGMA foreign_keys = OFF; BEGIN;"
            "CREATE TABLE report_v3 AS SELECT * FROM report; DROP TABLE report;"
            "CREATE TABLE report (hq_seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL, "
            "revision "
            "INTEGER NOT NULL, parent_revision INTEGER, form_id TEXT NOT NULL, form_version INTEGER NOT "
            "NULL, "
            "unit_id TEXT NOT NULL, device_id TEXT NOT NULL REFERENCES device(id), author TEXT NOT NULL, "
            "created_utc TEXT NOT NULL, created_offset INTEGER NOT NULL, finalized_utc TEXT NOT NULL, "
            "received_utc TEXT NOT NULL, hash TEXT NOT NULL, canonical TEXT NOT NULL, review_status TEXT NOT "
            "NULL DEFAULT 'received', review_comment TEXT NOT NULL DEFAULT '', review_by TEXT, review_utc "
            "TEXT, signature TEXT NOT NULL DEFAULT '', sealed TEXT NOT NULL DEFAULT '', UNIQUE (record_id, "
            "revision)) STRICT;"
            "INSERT INTO report SELECT * FROM report_v3; DROP TABLE report_v3;"
            "CREATE INDEX report_unit ON report (unit_id, hq_seq); CREATE INDEX report_form ON report "
            "(form_id, hq_seq); PRAGMA user_version = 3; COMMIT;");
    } else {
        b.raw(
            "ALTER TABLE report DROP CONSTRAINT report_unit_record_revision_key;"
            "ALTER TABLE report ADD CONSTRAINT report_record_id_revision_key UNIQUE (record_id, revision);"
            "DROP INDEX report_record; DROP TABLE reservation, void_range;"
            "UPDATE meta SET value = '3' WHERE key = 'schema'");
    }
    auto s = b.open();
    auto old = s->report("rec-old", std::nullopt);
    REQUIRE(old.ok());
    REQUIRE(old->has_value());
    CHECK((*old)->hqSeq == 2);
    CHECK((*old)->revision == 2);
    auto r = ingestOk(*s, devB, "batch-2", {makeItem("rec-old", 1, "bravo", kUnitB), makeItem("rec-new", 1)});
    CHECK(r.results[0].status == core::ItemStatus::Stored);
    CHECK(r.results[0].hqSeq == 3);  // the sequence goes on after the migrated reports
    CHECK(r.results[1].hqSeq == 4);
    CHECK(*s->reportCount() == 4);
    requireClean(*s);
}

namespace {

// A session of its own on a PostgreSQL database, kept open across statements (pgExec closes at once):
// it stands for another HQ process that stalls while it holds a lock.
class PgSession {
public:
    explicit PgSession(const std::string& uri) : m_c(PQconnectdb(uri.c_str())) {
        INFO(PQerrorMessage(m_c));
        REQUIRE(PQstatus(m_c) == CONNECTION_OK);
    }
    ~PgSession() { PQfinish(m_c); }
    PgSession(const PgSession&) = delete;
    PgSession& operator=(const PgSession&) = delete;
    void exec(const std::string& sql) {
        PGresult* r = PQexec(m_c, sql.c_str());
        const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        std::string msg = PQresultErrorMessage(r);
        PQclear(r);
        INFO(sql << ": " << msg);
        REQUIRE(ok);
    }
    // The first column of the first row ("" when there is none).
    std::string value(const std::string& sql) {
        PGresult* r = PQexec(m_c, sql.c_str());
        const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        std::string msg = PQresultErrorMessage(r);
        std::string v = ok && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
        PQclear(r);
        INFO(sql << ": " << msg);
        REQUIRE(ok);
        return v;
    }
    int pid() const { return PQbackendPID(m_c); }

private:
    PGconn* m_c;
};

double secondsSince(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

TEST_CASE(
    "HQ store on PostgreSQL: a session that holds the report counter stops ingest only for the lock "
    "wait, and says why",
    "[hq][store][postgres]") {
    Backend b("postgres");
    SessionLimits limits;
    limits.lockWait = std::chrono::milliseconds(1000);
    limits.idleInTransaction = std::chrono::milliseconds(2000);
    auto opened = openHqStore(b.location(), limits);
    REQUIRE(opened.ok());
    auto& s = **opened;
    std::string dev = enroll(s, kUnitA);

    // Another process's session takes the counter row and stalls inside its transaction.
    PgSession stalled(b.location());
    stalled.exec("BEGIN");
    stalled.exec("SELECT value FROM counter WHERE name = 'report' FOR UPDATE");
    const auto start = std::chrono::steady_clock::now();
    auto blocked = s.ingest(dev, "batch-1", "h", {makeItem("rec-a", 1)}, kNow);
    const double waited = secondsSince(start);
    REQUIRE_FALSE(blocked.ok());
    INFO(blocked.error().message << " after " << waited << " s");
    CHECK(blocked.error().code == ErrorCode::Busy);
    CHECK(blocked.error().message.find("another HQ process") != std::string::npos);
    CHECK(blocked.error().message.find("nothing was written") != std::string::npos);
    CHECK(waited >= 0.9);
    CHECK(waited < 5);
    CHECK(*s.reportCount() == 0);

    // Once the holder lets go, ingest goes on, with the next sequence number.
    stalled.exec("ROLLBACK");
    auto after = s.ingest(dev, "batch-1", "h", {makeItem("rec-a", 1)}, kNow);
    INFO((after.ok() ? "" : after.error().message));
    REQUIRE(after.ok());
    CHECK(after->results[0].hqSeq == 1);
}

TEST_CASE(
    "HQ store on PostgreSQL: a process stalled while it holds the schema lock does not stop others "
    "from opening the store",
    "[hq][store][postgres]") {
    Backend b("postgres");
    { REQUIRE(openHqStore(b.location()).ok()); }  // the schema exists and is current
    // Another process is inside its start-up schema check, holding the schema lock, and stalls there.
    PgSession stalled(b.location());
    stalled.exec("BEGIN");
    stalled.exec("SELECT pg_advisory_xact_lock(" + std::to_string(0x6f7574706f7374LL) + ")");
    SessionLimits limits;
    limits.lockWait = std::chrono::milliseconds(10000);
    const auto start = std::chrono::steady_clock::now();
    auto opened = openHqStore(b.location(), limits);
    const double waited = secondsSince(start);
    INFO((opened.ok() ? "" : opened.error().message) << " after " << waited << " s");
    REQUIRE(opened.ok());
    CHECK(waited < 2);
    CHECK((*opened)->epoch().ok());
    stalled.exec("ROLLBACK");
}

namespace {

std::unique_ptr<HqStore> openWith(const Backend& b, const SessionLimits& limits) {
    auto s = openHqStore(b.location(), limits);
    INFO((s.ok() ? "" : s.error().message));
    REQUIRE(s.ok());
    return std::move(s).value();
}

// Reserves n numbers as a push does, for the transaction open on holder: what a process leaves when it
// is stopped right after reserving. Returns the first number.
std::int64_t reserveFor(const Backend& b, PgSession& holder, std::int64_t n) {
    PgSession reserver(b.location());
    const std::string pid = std::to_string(holder.pid());
    const std::string n_ = std::to_string(n);
    return std::stoll(reserver.value(
        "WITH r AS (UPDATE counter SET value = value + " + n_ +
        " WHERE name = 'report' RETURNING value) INSERT INTO reservation(first, last, holder_pid, "
        "holder_start, holder) SELECT value - " +
        n_ + " + 1, value, " + pid + ", (SELECT backend_start FROM pg_stat_activity WHERE pid = " + pid +
        "), 'outpost-hq/test' FROM r RETURNING first"));
}

// Waits until `count` sessions of the database wait for a lock (at most 10 s).
void waitForLockWaiters(PgSession& watcher, int count) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        const int waiting = std::stoi(watcher.value(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = "
            "'Lock'"));
        if (waiting >= count) return;
        REQUIRE(secondsSince(start) < 10);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace

TEST_CASE(
    "HQ store on PostgreSQL: many sessions ingesting at once: every revision once, every number a "
    "report or void",
    "[hq][store][postgres][reservation]") {
    Backend b("postgres");
    constexpr int kThreads = 8, kBatches = 12, kItems = 25;
    std::vector<std::string> devices;
    {
        auto s = b.open();
        for (int t = 0; t < kThreads; ++t)
            devices.push_back(enroll(*s, kUnitA, "laptop " + std::to_string(t)));
    }
    // Each thread pushes records of its own, and every batch also carries revisions of shared records,
    // which the threads race for: the losers' attempts leave void ranges and retry.
    std::vector<std::vector<std::pair<IncomingItem, ItemOutcome>>> seen(kThreads);
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            try {
                auto opened = openHqStore(b.location());
                if (!opened) {
                    errors[t] = opened.error().message;
                    return;
                }
                for (int n = 0; n < kBatches; ++n) {
                    std::vector<IncomingItem> batch;
                    for (int i = 0; i < kItems; ++i)
                        batch.push_back(
                            makeItem("own-" + std::to_string(t) + "-" + std::to_string(n * kItems + i), 1));
                    for (int i = 0; i < 3; ++i)
                        batch.push_back(makeItem("shared-" + std::to_string(n), i + 1));
                    const std::string id = "t" + std::to_string(t) + "-b" + std::to_string(n);
                    auto r = (*opened)->ingest(devices[t], id, "h-" + id, batch, kNow);
                    if (!r) {
                        errors[t] = r.error().message;
                        return;
                    }
                    for (std::size_t i = 0; i < batch.size(); ++i)
                        seen[t].emplace_back(batch[i], r->results[i]);
                }
            } catch (const std::exception& e) {
                errors[t] = e.what();
            }
        });
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
        INFO("thread " << t << ": " << errors[t]);
        REQUIRE(errors[t].empty());
    }
    std::map<std::pair<std::string, int>, std::int64_t> storedAt;
    std::set<std::int64_t> seqs;
    for (const auto& list : seen)
        for (const auto& [item, outcome] : list) {
            INFO(item.recordId << " r" << item.revision << " " << core::toText(outcome.status));
            if (outcome.status == core::ItemStatus::Stored) {
                CHECK(storedAt.emplace(std::make_pair(item.recordId, item.revision), outcome.hqSeq).second);
                CHECK(seqs.insert(outcome.hqSeq).second);
            } else {
                CHECK(outcome.status == core::ItemStatus::Duplicate);
            }
        }
    for (const auto& list : seen)
        for (const auto& [item, outcome] : list)
            CHECK(outcome.hqSeq == storedAt[{item.recordId, item.revision}]);
    constexpr int kTotal = kThreads * kBatches * kItems + kBatches * 3;
    CHECK(storedAt.size() == static_cast<std::size_t>(kTotal));
    auto s = b.open();
    CHECK(*s->reportCount() == kTotal);
    requireNumbersAccountedFor(*s, seqs);
    requireClean(*s);
}

TEST_CASE(
    "HQ store on PostgreSQL: a push that fails after reserving leaves its numbers void, and the next "
    "push gets the next ones",
    "[hq][store][postgres][reservation]") {
    Backend b("postgres");
    SessionLimits limits;
    limits.lockWait = std::chrono::milliseconds(500);
    auto s = openWith(b, limits);
    std::string dev = enroll(*s, kUnitA);
    ingestOk(*s, dev, "batch-0", {makeItem("rec-0", 1), makeItem("rec-1", 1)});

    // A stalled process holds the audit row: the push reserves 3 numbers and stores its reports, then
    // waits for that row longer than its lock wait, and rolls back.
    PgSession stalled(b.location());
    stalled.exec("BEGIN");
    stalled.exec("SELECT value FROM counter WHERE name = 'audit' FOR UPDATE");
    std::vector<IncomingItem> items{makeItem("rec-2", 1), makeItem("rec-3", 1), makeItem("rec-4", 1)};
    auto failed = s->ingest(dev, "batch-1", "h1", items, kNow);
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().code == ErrorCode::Busy);
    auto voids = s->voidRanges();
    REQUIRE(voids.ok());
    REQUIRE(voids->size() == 1);
    CHECK((*voids)[0].first == 3);
    CHECK((*voids)[0].last == 5);
    CHECK((*voids)[0].why.find("the push failed") != std::string::npos);
    CHECK(*s->reportCount() == 2);
    CHECK(b.open()->verify()->empty());  // the holder still has the audit row; verify only reads
    stalled.exec("ROLLBACK");
    requireClean(*s);

    auto ok = ingestOk(*s, dev, "batch-1", items, "h1");
    CHECK(ok.results[0].hqSeq == 6);
    CHECK(ok.results[2].hqSeq == 8);
    requireNumbersAccountedFor(*s, {1, 2, 6, 7, 8});
    requireClean(*s);

    // An insider's delete of the void record is found by verify.
    b.raw("DELETE FROM void_range");
    auto v = s->verify();
    REQUIRE(v.ok());
    REQUIRE(v->size() == 1);
    CHECK((*v)[0] == "numbers 3-5 are neither a report nor recorded as void");
}

TEST_CASE("HQ store on PostgreSQL: a reservation left by a session that ended is voided",
          "[hq][store][postgres][reservation]") {
    Backend b("postgres");
    auto s = b.open();
    std::string dev = enroll(*s, kUnitA);
    ingestOk(*s, dev, "batch-0", {makeItem("rec-0", 1)});
    const std::string how = GENERATE(as<std::string>{}, "disconnected", "rolled back");
    CAPTURE(how);
    {
        // A process reserves 4 numbers inside its push's transaction, and then its session ends (or its
        // transaction does) without storing them.
        auto holder = std::make_unique<PgSession>(b.location());
        holder->exec("BEGIN");
        holder->exec("SELECT 1");
        CHECK(reserveFor(b, *holder, 4) == 2);
        // While its transaction is open the reservation holds: nothing is voided, and verify accepts it.
        ingestOk(*s, dev, "batch-1", {makeItem("rec-1", 1)});
        CHECK(s->voidRanges()->empty());
        requireClean(*s);
        if (how == "rolled back") {
            holder->exec("ROLLBACK");
        } else {
            const std::string pid = std::to_string(holder->pid());
            holder.reset();
            PgSession watcher(b.location());
            const auto start = std::chrono::steady_clock::now();
            while (watcher.value("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid) != "0") {
                REQUIRE(secondsSince(start) < 10);
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
    }
    auto r = ingestOk(*s, dev, "batch-2", {makeItem("rec-2", 1)});
    CHECK(r.results[0].hqSeq == 7);
    auto voids = s->voidRanges();
    REQUIRE(voids.ok());
    REQUIRE(voids->size() == 1);
    CHECK((*voids)[0].first == 2);
    CHECK((*voids)[0].last == 5);
    CHECK((*voids)[0].why.find("abandoned by outpost-hq/test") != std::string::npos);
    requireNumbersAccountedFor(*s, {1, 6, 7});
    requireClean(*s);
}

TEST_CASE("HQ store on PostgreSQL: readers paging by 'after N' stop below a reservation in flight",
          "[hq][store][postgres][reservation]") {
    Backend b("postgres");
    auto s = b.open();
    std::string dev = enroll(*s, kUnitA);
    std::vector<IncomingItem> first;
    for (int i = 1; i <= 9; ++i) first.push_back(makeItem("rec-" + std::to_string(i), 1));
    ingestOk(*s, dev, "batch-0", first);

    // A push in flight holds 10..12; a later push commits 13 before it.
    PgSession holder(b.location());
    holder.exec("BEGIN");
    holder.exec("SELECT 1");
    REQUIRE(reserveFor(b, holder, 3) == 10);
    REQUIRE(ingestOk(*s, dev, "batch-1", {makeItem("rec-13", 1)}).results[0].hqSeq == 13);
    auto readAfter = [&](std::int64_t after) {
        ReportFilter f;
        f.afterSeq = after;
        auto r = s->reports(f);
        REQUIRE(r.ok());
        std::vector<std::int64_t> seqs;
        for (const auto& x : *r) seqs.push_back(x.hqSeq);
        return seqs;
    };
    CHECK(readAfter(9).empty());
    CHECK(readAfter(0).size() == 9);
    CHECK(readAfter(0).back() == 9);
    CHECK(*s->reportCount() == 10);  // reads other than paging are not held back
    CHECK(s->report("rec-13", 1)->has_value());
    requireClean(*s);

    // The holder stores its reports and ends its reservation in one commit.
    std::string rows;
    for (int n = 10; n <= 12; ++n) {
        IncomingItem it = makeItem("rec-" + std::to_string(n), 1);
        rows += std::string(rows.empty() ? "" : ", ") + "(" + std::to_string(n) + ", '" + it.recordId +
                "', 1, 'incident', 1, '" + kUnitA + "', '" + dev + "', 'cpl.dupont', '" + it.createdUtc +
                "', 60, '" + it.finalizedUtc + "', '" + kNow + "', '" + it.hash + "', '" + it.canonical +
                "')";
    }
    holder.exec(
        "INSERT INTO report(hq_seq, record_id, revision, form_id, form_version, unit_id, device_id, author, "
        "created_utc, created_offset, finalized_utc, received_utc, hash, canonical) VALUES " +
        rows);
    holder.exec("DELETE FROM reservation WHERE first = 10");
    CHECK(readAfter(9).empty());
    holder.exec("COMMIT");
    CHECK(readAfter(9) == std::vector<std::int64_t>{10, 11, 12, 13});
    requireClean(*s);
}

TEST_CASE(
    "HQ store on PostgreSQL: the same revision or batch pushed through two processes at once is "
    "stored once",
    "[hq][store][postgres][reservation]") {
    Backend b("postgres");
    const std::string what = GENERATE(as<std::string>{}, "revision", "batch");
    CAPTURE(what);
    auto s1 = b.open();
    auto s2 = b.open();
    std::string dev1 = enroll(*s1, kUnitA, "laptop 1");
    std::string dev2 = what == "batch" ? dev1 : enroll(*s1, kUnitA, "laptop 2");
    ingestOk(*s1, dev1, "batch-0", {makeItem("rec-0", 1)});
    const std::vector<IncomingItem> items{makeItem("rec-shared", 1), makeItem("rec-shared", 2)};
    const std::string batch2 = what == "batch" ? "batch-1" : "batch-2";

    // The first push stops at the audit row (held by a stalled session) with its reports inserted; the
    // second, which found nothing held, stops at the first's uncommitted rows.
    PgSession stalled(b.location());
    stalled.exec("BEGIN");
    stalled.exec("SELECT value FROM counter WHERE name = 'audit' FOR UPDATE");
    Result<BatchOutcome> r1 = Error{}, r2 = Error{};
    std::thread t1([&] { r1 = s1->ingest(dev1, "batch-1", "h1", items, kNow); });
    PgSession watcher(b.location());
    waitForLockWaiters(watcher, 1);
    std::thread t2([&] { r2 = s2->ingest(dev2, batch2, "h1", items, kNow); });
    waitForLockWaiters(watcher, 2);
    stalled.exec("ROLLBACK");
    t1.join();
    t2.join();
    INFO((r1.ok() ? "" : r1.error().message) << (r2.ok() ? "" : r2.error().message));
    REQUIRE(r1.ok());
    REQUIRE(r2.ok());
    CHECK(describe(r1->results) == "stored:2 stored:3 ");
    CHECK_FALSE(r1->replayed);
    if (what == "batch") {
        CHECK(r2->replayed);
        CHECK(describe(r2->results) == "stored:2 stored:3 ");
    } else {
        CHECK_FALSE(r2->replayed);
        CHECK(describe(r2->results) == "duplicate:2 duplicate:3 ");
    }
    CHECK(*s1->reportCount() == 3);
    // The second push's first attempt reserved 4..5 and lost the race.
    auto voids = s1->voidRanges();
    REQUIRE(voids.ok());
    REQUIRE(voids->size() == 1);
    CHECK((*voids)[0].first == 4);
    CHECK((*voids)[0].last == 5);
    requireNumbersAccountedFor(*s1, {1, 2, 3});
    requireClean(*s1);
}

TEST_CASE("HQ store on PostgreSQL: the stores of one process reserve numbers on one shared session",
          "[hq][store][postgres][reservation]") {
    Backend b("postgres");
    std::vector<std::unique_ptr<HqStore>> stores;
    for (int i = 0; i < 4; ++i) stores.push_back(b.open());
    std::string dev = enroll(*stores[0], kUnitA);
    for (int i = 0; i < 4; ++i) {
        auto r = ingestOk(*stores[static_cast<std::size_t>(i)], dev, "batch-" + std::to_string(i),
                          {makeItem("rec-" + std::to_string(i), 1)});
        CHECK(r.results[0].hqSeq == i + 1);
    }
    // Four stores' own sessions and one for reservations.
    PgSession watcher(b.location());
    CHECK(watcher.value("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                        "application_name = 'outpost-hq/" +
                        std::to_string(::getpid()) + "'") == "5");
    requireClean(*stores[0]);
}
