// Local accounts: roles enforced by the store, key slots per account, the failed-passphrase delay, a stolen
// file, and recovery of a lost passphrase through HQ's recovery key.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <filesystem>
#include <map>

#include "storage/recovery.hpp"
#include "storage/store.hpp"
#include "support/test_support.hpp"

using namespace outpost;
using namespace outpost::storage;
using outpost::test::TempDir;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The cheapest Argon2id libsodium allows: the tests check the slots, not the hardening.
const KdfParams kFast{1, 8192};
const char* kCdrPass = "commander pass 1";

std::string firstUnit() {
    return core::ReferenceData::demo().table("units")[0]["id"];
}

json example(const std::string& name) {
    return json::parse(test::readFile(test::sourcePath("examples/" + name + ".json")));
}

// A store with a commander (cdr.test) and one account of every other role; each passphrase is
// "<name> pass 1".
struct Unit {
    TempDir t;
    std::string dir = t.sub("store");
    Unit() {
        InitOptions io;
        io.unitId = firstUnit();
        io.user = "cdr.test";
        io.kdf = kFast;
        REQUIRE(Store::create(dir, kCdrPass, io).ok());
        auto cdr = as("cdr.test");
        for (auto [name, role] : std::initializer_list<std::pair<const char*, core::Role>>{
                 {"cfp.one", core::Role::ConductFocalPoint},
                 {"to.one", core::Role::TrainingOfficer},
                 {"clerk.one", core::Role::Clerk}}) {
            Account a;
            a.name = name;
            a.role = role;
            auto r = cdr->addAccount(a, std::string(name) + " pass 1", kFast);
            INFO((r ? "" : r.error().message));
            REQUIRE(r.ok());
        }
    }
    static std::string passOf(const std::string& name) {
        return name == "cdr.test" ? kCdrPass : name + " pass 1";
    }
    std::unique_ptr<Store> as(const std::string& name) {
        auto who = Store::signIn(dir, name, passOf(name));
        INFO((who ? "" : who.error().message));
        REQUIRE(who.ok());
        CHECK(who->account == name);
        StoreOptions o;
        o.account = who->account;
        auto s = Store::open(dir, who->key, o);
        REQUIRE(s.ok());
        return std::move(s).value();
    }
    // Every payload blob, by row: what must not change when accounts change.
    std::map<std::string, std::string> blobs() const {
        std::map<std::string, std::string> out;
        sqlite3* db = nullptr;
        sqlite3_open_v2((dir + "/outpost.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db, "SELECT id || ':' || revision, payload FROM record", -1, &st, nullptr);
        while (sqlite3_step(st) == SQLITE_ROW)
            out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] =
                std::string(static_cast<const char*>(sqlite3_column_blob(st, 1)),
                            static_cast<std::size_t>(sqlite3_column_bytes(st, 1)));
        sqlite3_finalize(st);
        sqlite3_close(db);
        return out;
    }
    int slotCount(const std::string& id) const {
        sqlite3* db = nullptr;
        sqlite3_open_v2((dir + "/outpost.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db, "SELECT count(*) FROM key_slot WHERE id = ?", -1, &st, nullptr);
        sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_step(st);
        int n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return n;
    }
};

}  // namespace

TEST_CASE("accounts: the permission table", "[core][roles]") {
    using core::FormAction;
    using core::Role;
    CHECK(core::formRights(Role::ConductFocalPoint, "incident").readSensitive);
    for (Role r : {Role::Commander, Role::TrainingOfficer, Role::Clerk})
        for (const char* f : {"incident", "training", "readiness", "training-gap", "some-hq-form"})
            CHECK_FALSE(core::formRights(r, f).readSensitive);
    CHECK_FALSE(core::allows(Role::Clerk, "incident", FormAction::Read));
    CHECK_FALSE(core::allows(Role::Clerk, "incident", FormAction::Create));
    CHECK(core::allows(Role::Clerk, "training", FormAction::Create));
    CHECK_FALSE(core::allows(Role::Clerk, "training", FormAction::Finalize));
    CHECK_FALSE(core::allows(Role::TrainingOfficer, "incident", FormAction::Read));
    CHECK(core::allows(Role::TrainingOfficer, "training-gap", FormAction::Finalize));
    CHECK(core::allows(Role::Commander, "incident", FormAction::Finalize));
    CHECK(core::mayManageAccounts(Role::Commander));
    for (Role r : {Role::TrainingOfficer, Role::ConductFocalPoint, Role::Clerk})
        CHECK_FALSE(core::mayManageAccounts(r));
    for (Role r : core::allRoles()) CHECK(core::parseRole(core::roleName(r)) == r);
    CHECK_FALSE(core::parseRole("admin").has_value());
    CHECK_FALSE(core::parseRole("").has_value());
}

TEST_CASE("accounts: wrong role reading SEA fields", "[storage][accounts]") {
    Unit u;
    const json sea = example("incident-sea");
    std::string id, draftId;
    {
        auto cfp = u.as("cfp.one");
        auto d = cfp->createDraft("incident", sea);
        INFO((d ? "" : d.error().message));
        REQUIRE(d.ok());
        id = d->meta.id;
        REQUIRE(cfp->finalize(id).ok());
        // Finalized, the sensitive section leaves the record for every role: it waits for HQ's conduct keys
        // (this laptop is not enrolled), then goes sealed to them.
        CHECK_FALSE(cfp->get(id)->payload.contains("victim_reference"));
        CHECK(cfp->sealedSection(id, 1)->state == "waiting");
        draftId = cfp->createDraft("incident", sea)->meta.id;
        CHECK(cfp->get(draftId)->payload["victim_reference"] == sea["victim_reference"]);
    }
    SECTION("the commander sees the incident without its sensitive section") {
        auto cdr = u.as("cdr.test");
        auto r = cdr->get(id);
        REQUIRE(r.ok());
        CHECK(r->payload["description"] == sea["description"]);
        for (const char* f :
             {"victim_reference", "sea_type", "victims_count", "sea_notes", "consent_recorded"})
            CHECK_FALSE(r->payload.contains(f));
        // The commander may take down an allegation with its SEA section, but never reads it back.
        auto c = cdr->createDraft("incident", example("incident-sea"));
        REQUIRE(c.ok());
        CHECK_FALSE(cdr->get(c->meta.id)->payload.contains("victim_reference"));
        CHECK(u.as("cfp.one")->get(c->meta.id)->payload["victim_reference"] == sea["victim_reference"]);
        // A save of what the commander sees keeps the hidden values of the draft.
        json seen = cdr->get(draftId)->payload;
        seen["description"] = "Edited by the commander: the worksite roster was secured.";
        auto saved = cdr->saveDraft(draftId, seen);
        INFO((saved ? "" : saved.error().message));
        REQUIRE(saved.ok());
        auto cfp = u.as("cfp.one");
        json after = cfp->get(draftId)->payload;
        CHECK(after["description"] == seen["description"]);
        CHECK(after["victim_reference"] == sea["victim_reference"]);
        CHECK(after["sea_notes"] == sea["sea_notes"]);
    }
    SECTION("a clerk and a training officer get no conduct record at all") {
        for (const char* who : {"clerk.one", "to.one"}) {
            auto s = u.as(who);
            auto g = s->get(id);
            REQUIRE_FALSE(g.ok());
            CHECK(g.error().code == ErrorCode::Forbidden);
            CHECK_THAT(g.error().message,
                       Catch::Contains(core::roleName(s->role()).data()) && Catch::Contains("read incident"));
            CHECK_FALSE(s->history(id).ok());
            ListFilter all;
            auto listed = s->list(all);
            REQUIRE(listed.ok());
            for (const auto& m : *listed) CHECK(m.formId != "incident");
            ListFilter inc;
            inc.formId = "incident";
            CHECK(s->list(inc)->empty());
            CHECK(*s->count(inc) == 0);
            CHECK(s->search("arrondissement")->empty());
        }
        // The conduct focal point finds it by the same words.
        CHECK(u.as("cfp.one")->search("arrondissement")->size() == 2);
    }
}

TEST_CASE("accounts: a clerk cannot create an incident or finalize, a training officer can finalize training",
          "[storage][accounts]") {
    Unit u;
    auto clerk = u.as("clerk.one");
    json inc = example("incident");
    auto c = clerk->createDraft("incident", inc);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == ErrorCode::Forbidden);
    CHECK(c.error().message == "the clerk role may not create incident records");
    auto imp = clerk->importFinal("incident", {inc});
    REQUIRE_FALSE(imp.ok());
    CHECK(imp.error().code == ErrorCode::Forbidden);
    CHECK(u.blobs().empty());

    auto d = clerk->createDraft("training", example("training"));
    REQUIRE(d.ok());
    auto f = clerk->finalize(d->meta.id);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().message == "the clerk role may not finalize training records");
    clerk.reset();
    auto to = u.as("to.one");
    auto fin = to->finalize(d->meta.id);
    INFO((fin ? "" : fin.error().message));
    CHECK(fin.ok());
    // Account management belongs to the commander.
    Account a;
    a.name = "x.new";
    a.role = core::Role::Commander;
    auto add = to->addAccount(a, "another pass 1", kFast);
    REQUIRE_FALSE(add.ok());
    CHECK(add.error().code == ErrorCode::Forbidden);
    CHECK_FALSE(to->setRole("clerk.one", core::Role::Commander).ok());
    CHECK_FALSE(to->removeAccount("clerk.one").ok());
}

TEST_CASE("accounts: add, remove and role changes re-encrypt nothing", "[storage][accounts]") {
    Unit u;
    {
        auto cfp = u.as("cfp.one");
        REQUIRE(cfp->importFinal("incident", {example("incident-sea")}).ok());
        auto cdr = u.as("cdr.test");
        REQUIRE(cdr->importFinal("training", {example("training")}).ok());
        REQUIRE(cdr->createDraft("readiness", example("readiness")).ok());
    }
    const auto before = u.blobs();
    REQUIRE(before.size() == 3);
    {
        auto cdr = u.as("cdr.test");
        Account a;
        a.name = "clerk.two";
        a.displayName = "Cpl. Second Clerk";
        a.role = core::Role::Clerk;
        REQUIRE(cdr->addAccount(a, "clerk.two pass 1", kFast).ok());
        CHECK(u.slotCount("passphrase:clerk.two") == 1);
        // The same name twice, a bad name, a short passphrase: refused, nothing changed.
        CHECK(cdr->addAccount(a, "clerk.two pass 1", kFast).error().code == ErrorCode::Conflict);
        Account bad = a;
        bad.name = "Bad Name";
        CHECK(cdr->addAccount(bad, "long enough pass", kFast).error().code == ErrorCode::BadInput);
        bad.name = "short.pass";
        CHECK(cdr->addAccount(bad, "short", kFast).error().code == ErrorCode::BadInput);
        CHECK(u.slotCount("passphrase:short.pass") == 0);

        REQUIRE(cdr->setRole("clerk.two", core::Role::TrainingOfficer).ok());
        REQUIRE(cdr->removeAccount("clerk.one").ok());
        CHECK(u.slotCount("passphrase:clerk.one") == 0);
        // Never oneself, never the last commander, never an unknown account.
        CHECK(cdr->removeAccount("cdr.test").error().code == ErrorCode::Conflict);
        CHECK(cdr->setRole("cdr.test", core::Role::Clerk).error().code == ErrorCode::Conflict);
        CHECK(cdr->removeAccount("nobody").error().code == ErrorCode::NotFound);
        CHECK(cdr->setRole("nobody", core::Role::Clerk).error().code == ErrorCode::NotFound);
        REQUIRE(cdr->changePassphrase(kCdrPass, "commander pass 2", kFast).ok());
        CHECK(cdr->changePassphrase("not my passphrase", "commander pass 3", kFast).error().code ==
              ErrorCode::WrongKey);
    }
    CHECK(u.blobs() == before);
    auto accounts = Store::listAccounts(u.dir);
    REQUIRE(accounts.ok());
    std::map<std::string, Account> byName;
    for (const auto& a : *accounts) byName[a.name] = a;
    CHECK(byName["clerk.two"].role == core::Role::TrainingOfficer);
    CHECK(byName["clerk.two"].displayName == "Cpl. Second Clerk");
    CHECK(byName["clerk.one"].disabled);
    // The removed account's passphrase opens nothing; the old commander passphrase neither.
    StoreOptions later;
    later.nowForTests = 4'000'000'000;
    auto removed = Store::signIn(u.dir, "clerk.one", "clerk.one pass 1", later);
    REQUIRE_FALSE(removed.ok());
    CHECK(removed.error().code == ErrorCode::WrongKey);
    later.nowForTests += 10;
    CHECK(Store::signIn(u.dir, "cdr.test", kCdrPass, later).error().code == ErrorCode::WrongKey);
    later.nowForTests += 10;
    auto ok = Store::signIn(u.dir, "clerk.two", "clerk.two pass 1", later);
    REQUIRE(ok.ok());
    StoreOptions o;
    o.account = "clerk.two";
    auto s = Store::open(u.dir, ok->key, o);
    REQUIRE(s.ok());
    CHECK((*s)->role() == core::Role::TrainingOfficer);
    CHECK((*s)->list({})->size() == 2);  // the training and the readiness report, not the incident
    // Every account change is in the audit log, by whom and on whom, and the chain is whole.
    auto log = (*s)->auditLog(0, 10000);
    REQUIRE(log.ok());
    std::vector<std::string> changes;
    for (const auto& e : *log)
        if (e.action.rfind("account", 0) == 0 || e.action == "role change" || e.action == "passphrase change")
            changes.push_back(e.actor + " " + e.action + " " + e.subject);
    CHECK(changes ==
          std::vector<std::string>{"cdr.test account add cfp.one", "cdr.test account add to.one",
                                   "cdr.test account add clerk.one", "cdr.test account add clerk.two",
                                   "cdr.test role change clerk.two", "cdr.test account remove clerk.one",
                                   "cdr.test passphrase change cdr.test"});
    auto verdict = (*s)->verifyAudit();
    REQUIRE(verdict.ok());
    CHECK(verdict->problems.empty());
}

TEST_CASE("accounts: a stolen store file without a passphrase", "[storage][accounts]") {
    Unit u;
    auto hq = RecoveryKeyPair::generate();
    DataKey key;
    {
        auto cdr = u.as("cdr.test");
        REQUIRE(cdr->setRecoveryKey(hq.publicKey).ok());
        REQUIRE(cdr->importFinal("training", {example("training")}).ok());
        key = Store::signIn(u.dir, "cdr.test", kCdrPass)->key;
    }
    // Every slot refuses every wrong passphrase (the delay is stepped over with the test clock).
    StoreOptions o;
    o.nowForTests = 4'000'000'000;
    for (const char* who : {"cdr.test", "cfp.one", "to.one", "clerk.one", "", "recovery", "nobody"})
        for (const char* guess : {"", "password", "commander pass 2", "cfp.one pass 2", "recovery"}) {
            o.nowForTests += 1000;
            auto r = Store::signIn(u.dir, who, guess, o);
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().code == ErrorCode::WrongKey);
        }
    for (const char* guess : {"password", "clerk.one pass 2"})
        CHECK(Store::unlock(u.dir, guess).error().code == ErrorCode::WrongKey);
    // Opening needs the key itself: a wrong one is refused before anything is read.
    unsigned char zero[32] = {};
    CHECK(Store::open(u.dir, DataKey::fromBytes(zero, 32)).error().code == ErrorCode::WrongKey);
    // No file holds the data key (raw, hex, base64) nor any passphrase.
    const std::string raw(reinterpret_cast<const char*>(key.data()), DataKey::kSize);
    Bytes kb(key.data(), key.data() + DataKey::kSize);
    std::string hex;
    for (unsigned char c : kb) {
        const char* d = "0123456789abcdef";
        hex += d[c >> 4];
        hex += d[c & 15];
    }
    std::string where;
    for (const std::string& needle : {raw, hex, toBase64(kb), std::string(kCdrPass),
                                      std::string("cfp.one pass 1"), std::string("clerk.one pass 1")}) {
        INFO(where);
        CHECK_FALSE(test::anyFileContains(u.dir, needle, &where));
    }
    // The recovery slot opens only with HQ's secret key.
    auto request = Store::recoveryRequest(u.dir);
    REQUIRE(request.ok());
    CHECK(answerRecoveryRequest(*request, RecoveryKeyPair::generate()).error().code == ErrorCode::Corrupt);
    CHECK(answerRecoveryRequest(*request, hq).ok());
}

TEST_CASE("accounts: the failed-passphrase delay grows and survives reopening", "[storage][accounts]") {
    Unit u;
    CHECK(failureDelaySeconds(0) == 0);
    CHECK(failureDelaySeconds(1) == 0);  // one typo is free
    CHECK(failureDelaySeconds(2) == 1);
    CHECK(failureDelaySeconds(3) == 2);
    CHECK(failureDelaySeconds(5) == 8);
    CHECK(failureDelaySeconds(10) == 256);
    CHECK(failureDelaySeconds(11) == kMaxFailureDelaySeconds);
    CHECK(failureDelaySeconds(1000) == kMaxFailureDelaySeconds);

    StoreOptions o;
    const std::int64_t t0 = 4'000'000'000;
    o.nowForTests = t0;
    CHECK(Store::signIn(u.dir, "clerk.one", "a typo", o).error().code == ErrorCode::WrongKey);
    CHECK(Store::authDelay(u.dir, o)->failures == 1);
    CHECK(Store::authDelay(u.dir, o)->waitSeconds == 0);
    CHECK(Store::signIn(u.dir, "clerk.one", "a wrong guess", o).error().code == ErrorCode::WrongKey);
    CHECK(Store::authDelay(u.dir, o)->failures == 2);
    CHECK(Store::authDelay(u.dir, o)->waitSeconds == 1);
    // During the wait even the right passphrase is refused at once, and nothing more is counted.
    auto busy = Store::signIn(u.dir, "clerk.one", "clerk.one pass 1", o);
    REQUIRE_FALSE(busy.ok());
    CHECK(busy.error().code == ErrorCode::Busy);
    CHECK_THAT(busy.error().message, Catch::Contains("wait 1 s"));
    CHECK(Store::authDelay(u.dir, o)->failures == 2);

    o.nowForTests = t0 + 1;
    CHECK(Store::signIn(u.dir, "", "another wrong guess", o).error().code == ErrorCode::WrongKey);
    CHECK(Store::authDelay(u.dir, o)->waitSeconds == 2);
    o.nowForTests = t0 + 3;
    auto third = Store::signIn(u.dir, "cdr.test", "a third guess", o);
    CHECK_THAT(third.error().message, Catch::Contains("in 4 s"));
    // Reopening (a new process, a restarted GUI) reads the count from the store file.
    {
        auto again = Store::authDelay(u.dir, o);
        REQUIRE(again.ok());
        CHECK(again->failures == 4);
        CHECK(again->waitSeconds == 4);
    }
    // A clock set back does not shorten the wait.
    o.nowForTests = t0 - 3600;
    CHECK(Store::authDelay(u.dir, o)->waitSeconds == 4);
    CHECK(Store::signIn(u.dir, "clerk.one", "clerk.one pass 1", o).error().code == ErrorCode::Busy);
    // After the wait the right passphrase opens, and the count starts again.
    o.nowForTests = t0 + 7;
    REQUIRE(Store::signIn(u.dir, "clerk.one", "clerk.one pass 1", o).ok());
    CHECK(Store::authDelay(u.dir, o)->failures == 0);
    CHECK(Store::authDelay(u.dir, o)->waitSeconds == 0);
}

TEST_CASE("accounts: a lost passphrase recovered through HQ (unit level)", "[storage][accounts][recovery]") {
    Unit u;
    auto hq = RecoveryKeyPair::generate();
    std::string id;
    {
        auto cdr = u.as("cdr.test");
        CHECK_FALSE(*cdr->hasRecoverySlot());
        // Without a recovery slot there is nothing to ask HQ for.
        CHECK(Store::recoveryRequest(u.dir).error().code == ErrorCode::NotFound);
        REQUIRE(cdr->setRecoveryKey(hq.publicKey).ok());
        CHECK(*cdr->hasRecoverySlot());
        CHECK(cdr->setRecoveryKey(Bytes(5, 1)).error().code == ErrorCode::BadInput);
        id = cdr->importFinal("training", {example("training")})->front();
    }
    const auto before = u.blobs();
    auto request = Store::recoveryRequest(u.dir);
    REQUIRE(request.ok());
    CHECK(fs::exists(u.dir + "/recovery-pending.key"));
    CHECK((fs::status(u.dir + "/recovery-pending.key").permissions() & fs::perms::group_read) ==
          fs::perms::none);

    // Another HQ cannot open it; a damaged request is refused by name.
    auto otherHq = RecoveryKeyPair::generate();
    CHECK(answerRecoveryRequest(*request, otherHq).error().code == ErrorCode::Corrupt);
    CHECK(answerRecoveryRequest("{}", hq).error().code == ErrorCode::BadInput);
    CHECK(answerRecoveryRequest("not json", hq).error().code == ErrorCode::BadInput);
    json cut = json::parse(*request);
    cut["sealed_key"] = "AAAA";
    CHECK(answerRecoveryRequest(cut.dump(), hq).error().code == ErrorCode::BadInput);

    auto answer = answerRecoveryRequest(*request, hq);
    REQUIRE(answer.ok());
    CHECK(answer->unitId == firstUnit());
    const std::string& response = answer->responseText;

    // Bad completions change nothing: unknown account, short passphrase, malformed or foreign response.
    CHECK(Store::recoveryComplete(u.dir, response, "nobody", "new commander pass", {}, kFast).error().code ==
          ErrorCode::NotFound);
    CHECK(Store::recoveryComplete(u.dir, response, "cdr.test", "short", {}, kFast).error().code ==
          ErrorCode::BadInput);
    CHECK(Store::recoveryComplete(u.dir, "{\"outpost_recovery_response\": 1}", "cdr.test",
                                  "new commander pass", {}, kFast)
              .error()
              .code == ErrorCode::BadInput);
    json foreign = json::parse(response);
    foreign["store_id"] = "another-store";
    CHECK(Store::recoveryComplete(u.dir, foreign.dump(), "cdr.test", "new commander pass", {}, kFast)
              .error()
              .code == ErrorCode::BadInput);
    json tampered = json::parse(response);
    auto tamperedKey = sealDataKey(DataKey::random(), Bytes(32, 9));
    tampered["sealed_key"] = toBase64(tamperedKey);
    CHECK(Store::recoveryComplete(u.dir, tampered.dump(), "cdr.test", "new commander pass", {}, kFast)
              .error()
              .code == ErrorCode::Corrupt);
    CHECK(fs::exists(u.dir + "/recovery-pending.key"));
    REQUIRE(Store::signIn(u.dir, "cdr.test", kCdrPass).ok());  // still the old passphrase

    auto done = Store::recoveryComplete(u.dir, response, "cdr.test", "new commander pass", {}, kFast);
    INFO((done ? "" : done.error().message));
    REQUIRE(done.ok());
    CHECK_FALSE(fs::exists(u.dir + "/recovery-pending.key"));
    CHECK(u.blobs() == before);
    auto who = Store::signIn(u.dir, "cdr.test", "new commander pass");
    REQUIRE(who.ok());
    StoreOptions o;
    o.account = "cdr.test";
    auto s = Store::open(u.dir, who->key, o);
    REQUIRE(s.ok());
    CHECK((*s)->get(id).ok());
    // The other accounts keep their passphrases; the old commander passphrase is gone.
    REQUIRE(Store::signIn(u.dir, "clerk.one", "clerk.one pass 1").ok());
    StoreOptions later;
    later.nowForTests = 4'000'000'000;
    CHECK(Store::signIn(u.dir, "cdr.test", kCdrPass, later).error().code == ErrorCode::WrongKey);
    // The response cannot be used twice: its one-time key is gone.
    CHECK(Store::recoveryComplete(u.dir, response, "cdr.test", "third commander pass", {}, kFast)
              .error()
              .code == ErrorCode::NotFound);
}

TEST_CASE("accounts: a store from before accounts signs its user in as a commander",
          "[storage][accounts][migration]") {
    Unit u;
    // As the step before accounts left the file: no account table.
    {
        sqlite3* db = nullptr;
        sqlite3_open((u.dir + "/outpost.db").c_str(), &db);
        const std::string sql =
            "ALTER TABLE outbox DROP COLUMN sig; DROP TABLE sealed_part; DROP TABLE account; DELETE FROM "
            "key_slot WHERE id <> "
            "'passphrase:cdr.test'; "
            "PRAGMA user_version = " +
            std::to_string(kAccountsSchemaStep - 1) + ";";
        REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    auto listed = Store::listAccounts(u.dir);
    REQUIRE(listed.ok());
    REQUIRE(listed->size() == 1);
    CHECK(listed->front().role == core::Role::Commander);
    auto s = u.as("cdr.test");
    CHECK(s->info().schemaVersion == kSchemaVersion);
    CHECK(s->role() == core::Role::Commander);
    CHECK(s->accounts()->size() == 1);
}
