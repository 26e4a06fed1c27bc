// The App's sync: the link in words, and the worker it runs against the real outpost-hq process over TLS
// on 127.0.0.1 (started after unlock when enrolled, sends the queue, brings HQ's receipts and reviews into
// the record view, follows HQ going away and coming back, enrolls from the app, stops on revocation and
// on lock). The UI thread is played by a loop of tick() calls, as the window's frames make them.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "client/app.hpp"
#include "client/i18n.hpp"
#include "demo/demo_data.hpp"
#include "support/test_support.hpp"
#ifdef OUTPOST_HQ
#include "testbed/hq_process.hpp"
#endif

using namespace outpost;
using namespace outpost::client;
using outpost::demo::DemoData;
using outpost::test::TempDir;
using Clock = std::chrono::system_clock;
using json = nlohmann::json;

namespace {

const std::string kUnit = "MINUSCA-RWABATT-1";

SyncSnapshot enrolledSnapshot() {
    SyncSnapshot s;
    s.config = storage::SyncConfig{};
    s.config->hqUrl = "https://hq.example.org:8443";
    s.workerActive = true;
    return s;
}

}  // namespace

TEST_CASE("app sync: the link to HQ in words, in English and French", "[client][app][sync]") {
    setLanguage(Lang::En);
    const auto now = Clock::now();
    SyncSnapshot s;
    CHECK(linkText(s, now) == "Not enrolled");
    CHECK(outcomeText(s) == "This laptop is not enrolled with HQ.");

    s = enrolledSnapshot();
    s.link = LinkState::Sending;
    s.running = true;
    s.progress.phase = core::SyncPhase::Pushing;
    s.progress.itemsSent = 120;
    s.progress.itemsTotal = 400;
    CHECK(linkText(s, now) == "Sending 120 of 400");
    CHECK(outcomeText(s).empty());  // the progress says it while a pass runs
    s.progress.itemsTotal = 4000;
    CHECK(linkText(s, now) == "Sending 120 of 4,000");
    s.progress.itemsTotal = 400;
    s.progress.phase = core::SyncPhase::Pulling;
    CHECK(linkText(s, now) == "Receiving from HQ...");

    s = enrolledSnapshot();
    s.link = LinkState::Offline;
    s.lastOutcome = "offline";
    s.nextAttempt = now + std::chrono::seconds(170);
    CHECK(linkText(s, now) == "Offline \xE2\x80\x94 next try in 3 min");
    s.nextAttempt = now + std::chrono::seconds(40);
    CHECK(nextAttemptText(s, now) == "in 40 s");
    s.nextAttempt = Clock::time_point::max();
    CHECK(nextAttemptText(s, now).empty());
    CHECK(linkText(s, now) == "Offline \xE2\x80\x94 no automatic retry");

    // "Up to date - last sync 14:02": the last successful sync in the laptop's local time.
    s = enrolledSnapshot();
    s.link = LinkState::UpToDate;
    s.lastOutcome = "ok";
    const std::time_t t = Clock::to_time_t(now);
    std::tm utc{};
    gmtime_r(&t, &utc);
    char iso[32];
    std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S.000Z", &utc);
    s.config->lastSyncUtc = iso;
    std::tm local{};
    localtime_r(&t, &local);
    char hm[8];
    std::strftime(hm, sizeof hm, "%H:%M", &local);
    CHECK(localClock(iso, now) == hm);
    CHECK(linkText(s, now) == std::string("Up to date \xE2\x80\x94 last sync ") + hm);
    CHECK(outcomeText(s).rfind("Last attempt succeeded", 0) == 0);
    CHECK(localClock("2020-01-02T03:04:05Z", now).rfind("2020-01-0", 0) == 0);  // another day: with its date
    CHECK(localClock("", now).empty());

    setLanguage(Lang::Fr);
    CHECK(linkText(s, now) ==
          std::string("\xC3\x80 jour \xE2\x80\x94 derni\xC3\xA8re synchronisation ") + hm);
    s.link = LinkState::Sending;
    s.running = true;
    s.progress.phase = core::SyncPhase::Pushing;
    s.progress.itemsSent = 120;
    s.progress.itemsTotal = 400;
    CHECK(linkText(s, now) == "Envoi : 120 sur 400");
    s.progress.itemsTotal = 4000;
    CHECK(linkText(s, now) ==
          "Envoi : 120 sur 4\xC2\xA0"
          "000");
    s = enrolledSnapshot();
    s.link = LinkState::Unreachable;
    s.lastOutcome = "offline";
    s.nextAttempt = now + std::chrono::seconds(30);
    CHECK(linkText(s, now) == "QG injoignable \xE2\x80\x94 nouvel essai dans 30 s");
    s.link = LinkState::Revoked;
    CHECK(linkText(s, now) == "R\xC3\xA9voqu\xC3\xA9 par le QG");
    setLanguage(Lang::En);
    CHECK(fill("{2} before {1}, {1} again", {"a", "b"}) == "b before a, a again");
}

TEST_CASE("app sync: a laptop that is not enrolled runs no worker and says so", "[client][app][sync]") {
    TempDir t;
    const auto key = storage::DataKey::random();
    storage::InitOptions io;
    io.unitId = kUnit;
    io.user = "maj.uwase";
    REQUIRE(storage::Store::createWithKey(t.sub("s"), key, io).ok());
    App app({t.sub("s"), {}, {}});
    REQUIRE(app.unlockWithKey(key).ok());
    app.tick(0.1);
    SyncSnapshot s = app.syncSnapshot();
    CHECK_FALSE(s.config.has_value());
    CHECK_FALSE(s.workerActive);
    CHECK(s.link == LinkState::NotEnrolled);
    app.syncNow();  // nothing to poke: no effect, no crash
    app.tick(0.2);
    CHECK(app.syncSnapshot().passes == 0);
    CHECK(app.home().linkState == "Not enrolled");
    app.lock();
    CHECK(app.syncSnapshot().link == LinkState::NotEnrolled);
}

#ifdef OUTPOST_HQ

namespace {

// A fresh outpost-hq serving over TLS on a free port of 127.0.0.1.
struct Hq {
    TempDir dir;
    std::unique_ptr<test::HqProcess> proc;
    Hq() {
        test::HqOptions o;
        o.binary = OUTPOST_HQ;
        o.dataDir = dir.sub("hq");
        proc = std::make_unique<test::HqProcess>(o);
        auto r = proc->admin({"init"});
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
        proc->addConductKey(dir.sub("conduct.key"));
        proc->start();
    }
    void admin(const std::vector<std::string>& args) const {
        auto r = proc->admin(args);
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
    }
};

// A field laptop's store (opened here only while the App is not running).
struct Laptop {
    TempDir t;
    std::string dir = t.sub("store");
    storage::DataKey key = storage::DataKey::random();
    Laptop() {
        storage::InitOptions io;
        io.unitId = kUnit;
        io.user = "maj.uwase";
        REQUIRE(storage::Store::createWithKey(dir, key, io).ok());
    }
    std::unique_ptr<storage::Store> open() {
        auto s = storage::Store::open(dir, key);
        REQUIRE(s.ok());
        return std::move(s).value();
    }
    std::string enroll(const Hq& hq) {
        auto s = open();
        auto r = sync::enroll(*s, hq.proc->url(), hq.proc->enroll(kUnit), "test laptop");
        INFO((r ? "" : r.error().message));
        REQUIRE(r.ok());
        return r->deviceId;
    }
    // n final reports of this unit, oldest first.
    std::vector<std::string> addReports(int n) {
        auto s = open();
        DemoData demo(s->reference(), 5);
        std::vector<std::string> ids;
        for (int i = 0; i < n; ++i) {
            const std::string form = i % 2 ? "training" : "readiness";
            auto r = s->importFinal(form, {demo.next(form, kUnit)});
            REQUIRE(r.ok());
            ids.push_back(r->front());
        }
        return ids;
    }
};

// The window's frame loop without a window: ticks until pred holds or the time is up.
template <typename Pred>
bool tickUntil(App& app, Pred pred, double seconds = 30) {
    const auto start = std::chrono::steady_clock::now();
    static double t = 0;
    while (std::chrono::steady_clock::now() - start < std::chrono::duration<double>(seconds)) {
        app.tick(t += 0.02);
        if (pred(app.syncSnapshot())) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    INFO("link: " << linkStateName(app.syncSnapshot().link)
                  << ", outcome: " << app.syncSnapshot().lastOutcome);
    return false;
}

bool upToDate(const SyncSnapshot& s) {
    return s.link == LinkState::UpToDate && s.queued == 0;
}

}  // namespace

TEST_CASE(
    "app sync: after unlock the worker sends the queue, and receipts and HQ's review reach the record view",
    "[client][app][sync][hq]") {
    setLanguage(Lang::En);
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    const auto ids = lap.addReports(12);
    App app({lap.dir, {}, {}});
    REQUIRE(app.unlockWithKey(lap.key).ok());
    CHECK(app.syncSnapshot().workerActive);
    CHECK(app.home().waiting == 12);
    REQUIRE(tickUntil(app, upToDate));
    SyncSnapshot s = app.syncSnapshot();
    CHECK(s.passes >= 1);
    CHECK(s.quarantined == 0);
    CHECK(s.config->lastSyncUtc.size() > 10);
    CHECK(app.home().waiting == 0);
    CHECK(app.home().linkState.rfind("Up to date", 0) == 0);
    CHECK(app.outbox().empty());

    // The record view shows HQ's receipt; HQ returns the report and the next pass brings the review.
    app.openRecord(ids[0]);
    REQUIRE(app.recordView().has_value());
    REQUIRE(app.recordView()->receipt.has_value());
    CHECK(app.recordView()->receipt->hqSeq > 0);
    CHECK(app.recordView()->record.meta.syncState == core::SyncState::Sent);
    CHECK_FALSE(app.recordView()->feedback.has_value());
    hq.admin({"reports", "review", ids[0], "--revision", "1", "--status", "returned", "--comment",
              "Add the referral date", "--by", "col.mbeki"});
    const auto passes = s.passes;
    app.syncNow();
    REQUIRE(tickUntil(app, [&](const SyncSnapshot& x) { return x.passes > passes && upToDate(x); }));
    REQUIRE(app.recordView()->feedback.has_value());
    CHECK(app.recordView()->feedback->status == core::ReviewStatus::Returned);
    CHECK(app.recordView()->feedback->comment == "Add the referral date");
    CHECK(app.recordView()->feedback->by == "col.mbeki");

    // A report finalized in the app goes at once.
    app.newReport("training");
    app.form().values() =
        nlohmann::json::parse(outpost::test::readFile(outpost::test::sourcePath("examples/training.json")));
    app.form().changed(false);
    auto fin = app.finalizeForm();
    REQUIRE(fin.ok());
    CHECK(app.syncSnapshot().queued == 1);
    REQUIRE(tickUntil(app, upToDate, 20));
    app.openRecord(fin->id);
    CHECK(app.recordView()->receipt.has_value());

    // Lock stops the worker; what the UI shows is forgotten with the key.
    app.lock();
    CHECK_FALSE(app.syncSnapshot().workerActive);
    CHECK_FALSE(app.syncSnapshot().config.has_value());
}

TEST_CASE("app sync: HQ going away is shown, and Sync now sends at once when it is back",
          "[client][app][sync][hq]") {
    setLanguage(Lang::En);
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    lap.addReports(5);
    hq.proc->stop();
    App app({lap.dir, {}, {}});
    REQUIRE(app.unlockWithKey(lap.key).ok());
    REQUIRE(tickUntil(app, [](const SyncSnapshot& s) { return s.link == LinkState::Unreachable; }));
    // Two more failures at once: the backoff doubles twice (20 s, jittered to at least 10 s).
    for (int i = 0; i < 2; ++i) {
        const auto passes = app.syncSnapshot().passes;
        app.syncNow();
        REQUIRE(tickUntil(app, [&](const SyncSnapshot& s) {
            return s.passes > passes && s.link == LinkState::Unreachable;
        }));
    }
    SyncSnapshot s = app.syncSnapshot();
    CHECK(s.queued == 5);
    CHECK(linkText(s, Clock::now()).rfind("HQ unreachable \xE2\x80\x94 next try in ", 0) == 0);
    CHECK(outcomeText(s).rfind("HQ does not answer", 0) == 0);
    const auto planned = s.nextAttempt;
    REQUIRE(planned - Clock::now() > std::chrono::seconds(9));

    hq.proc->start();
    app.syncNow();
    REQUIRE(tickUntil(app, upToDate));
    CHECK(Clock::now() < planned);  // the button did it, not the backoff
}

TEST_CASE("app sync: enrollment runs in the background, then the worker starts", "[client][app][sync][hq]") {
    setLanguage(Lang::En);
    Hq hq;
    Laptop lap;
    lap.addReports(3);
    App app({lap.dir, {}, {}});
    REQUIRE(app.unlockWithKey(lap.key).ok());
    CHECK(app.syncSnapshot().link == LinkState::NotEnrolled);

    app.startEnroll(hq.proc->url(), "OP1.not-a-code");
    REQUIRE(tickUntil(app, [&](const SyncSnapshot&) { return !app.enrolling(); }));
    CHECK_FALSE(app.enrollError().empty());
    CHECK(app.syncSnapshot().link == LinkState::NotEnrolled);
    CHECK_FALSE(app.syncSnapshot().workerActive);

    app.startEnroll(hq.proc->url(), hq.proc->enroll(kUnit));
    CHECK(app.enrolling());  // the UI thread did not wait for HQ
    REQUIRE(tickUntil(app, upToDate));
    CHECK(app.enrollError().empty());
    CHECK_THAT(app.flash(), Catch::Contains(hq.proc->url()));
    CHECK(app.syncSnapshot().config->hqUrl == hq.proc->url());
    CHECK(app.syncSnapshot().workerActive);
}

TEST_CASE("app sync: a rejected report is put back in the queue, and a revoked laptop wipes its store",
          "[client][app][sync][hq]") {
    setLanguage(Lang::En);
    Hq hq;
    Laptop lap;
    const std::string device = lap.enroll(hq);
    lap.addReports(4);
    // A form version only this laptop knows: HQ rejects the report made with it.
    auto def =
        nlohmann::json::parse(outpost::test::readFile(outpost::test::sourcePath("core/forms/training.json")));
    def["version"] = def["version"].get<int>() + 40;
    {
        auto s = lap.open();
        REQUIRE(s->installForm(def, "local").ok());
        DemoData demo(s->reference(), 9);
        REQUIRE(s->importFinal("training", {demo.next("training", kUnit)}).ok());
    }
    App app({lap.dir, {}, {}});
    REQUIRE(app.unlockWithKey(lap.key).ok());
    REQUIRE(tickUntil(app, [](const SyncSnapshot& s) { return s.link == LinkState::UpToDate; }));
    SyncSnapshot s = app.syncSnapshot();
    CHECK(s.queued == 0);
    CHECK(s.quarantined == 1);
    CHECK(app.home().problems == 1);
    auto ob = app.outbox();
    REQUIRE(ob.size() == 1);
    CHECK(ob[0].state == core::OutboxState::Quarantined);
    CHECK_FALSE(ob[0].lastError.empty());

    // HQ learns the form; the report is put back in the queue and goes through.
    TempDir t;
    std::ofstream(t.sub("training.json")) << def.dump();
    hq.admin({"forms", "push", t.sub("training.json")});
    REQUIRE(app.requeue(ob[0].seq).ok());
    CHECK(app.syncSnapshot().queued == 1);
    CHECK(app.syncSnapshot().link == LinkState::Waiting);
    REQUIRE(tickUntil(app, [](const SyncSnapshot& x) { return upToDate(x) && x.quarantined == 0; }));
    CHECK(app.outbox().empty());
    CHECK_FALSE(app.requeue(ob[0].seq).ok());  // not in the outbox any more

    // HQ revokes the device: the next pass learns it, the app locks and wipes the store, and the Unlock
    // screen says why.
    hq.admin({"revoke", "--device", device});
    app.syncNow();
    CHECK(tickUntil(app, [&](const SyncSnapshot&) { return !app.unlocked(); }));
    CHECK(app.screen() == Screen::Unlock);
    CHECK_FALSE(app.syncSnapshot().workerActive);
    CHECK_FALSE(app.storeExists());
    CHECK_FALSE(std::filesystem::exists(lap.dir));
    CHECK(app.wipeNotice().rfind("HQ revoked this laptop", 0) == 0);
    CHECK_FALSE(app.unlockWithKey(lap.key).ok());
}

#endif

TEST_CASE("app sync: the worker's passes are the signed-in account's, and an SEA section goes to HQ sealed",
          "[client][app][sync][hq][sealed]") {
    setLanguage(Lang::En);
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    {
        auto s = lap.open();
        storage::Account a;
        a.name = "cfp.bah";
        a.role = core::Role::ConductFocalPoint;
        REQUIRE(s->addAccount(a, "focal point pass", storage::KdfParams{1, 8192}).ok());
    }
    std::string id;
    {
        App app({lap.dir, {}, {}});
        REQUIRE(app.unlockWithKey(lap.key, "cfp.bah").ok());
        app.newReport("incident");
        json sea =
            json::parse(outpost::test::readFile(outpost::test::sourcePath("examples/incident-sea.json")));
        sea["unit"] = kUnit;
        app.form().values() = sea;
        app.form().changed(false);
        auto fin = app.finalizeForm();
        INFO((fin.ok() ? "" : fin.error().message));
        REQUIRE(fin.ok());
        id = fin->id;
        REQUIRE(tickUntil(app, upToDate));
        app.openRecord(id);
        REQUIRE(app.recordView().has_value());
        CHECK(app.recordView()->record.meta.syncState == core::SyncState::Sent);
        CHECK(app.recordView()->sealed.state == "purged");
        CHECK_FALSE(app.recordView()->record.payload.contains("victim_reference"));
        app.lock();
    }
    auto s = lap.open();
    auto log = s->auditLog();
    REQUIRE(log.ok());
    bool syncByCfp = false;
    for (const auto& e : *log) {
        if (e.action == "sync") {
            CHECK(e.actor == "cfp.bah");
            syncByCfp = true;
        }
    }
    CHECK(syncByCfp);
    // At HQ the section is there, sealed, and opens with the conduct officer's key.
    auto shown = hq.proc->admin({"reports", "show", id, "--open-sealed", "--key", hq.dir.sub("conduct.key")});
    INFO(shown.err);
    REQUIRE(shown.exitCode == 0);
    const json example =
        json::parse(outpost::test::readFile(outpost::test::sourcePath("examples/incident-sea.json")));
    CHECK(json::parse(shown.out)["sealed"]["content"]["victim_reference"] == example["victim_reference"]);
}
