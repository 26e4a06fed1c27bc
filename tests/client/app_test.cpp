// The field client's view-models without a window: unlock, form filling and autosave, lists, navigation.
#include <catch2/catch.hpp>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "client/app.hpp"
#include "client/app_test_access.hpp"
#include "client/i18n.hpp"
#include "client/settings.hpp"
#include "support/test_support.hpp"

using namespace outpost;
using namespace outpost::client;
using outpost::test::TempDir;

namespace {

const char* kPass = "view-model pass";

struct Fixture {
    TempDir t;
    std::string store = t.sub("store");
    App app{{store, {}}};
    Fixture() {
        storage::InitOptions io;
        io.unitId = "MINUSCA-RWABATT-1";
        io.user = "maj.uwase";
        REQUIRE(storage::Store::create(store, kPass, io).ok());
        REQUIRE(app.unlock(kPass).ok());
    }
};

json trainingPayload() {
    return json::parse(outpost::test::readFile(outpost::test::sourcePath("examples/training.json")));
}

}  // namespace

TEST_CASE("app: unlock refuses a wrong passphrase and lock forgets everything", "[client][app]") {
    TempDir t;
    storage::InitOptions io;
    io.unitId = "MINUSCA-RWABATT-1";
    io.user = "maj.uwase";
    REQUIRE(storage::Store::create(t.sub("s"), kPass, io).ok());
    App app({t.sub("s"), {}});
    CHECK(app.screen() == Screen::Unlock);
    auto r = app.unlock("not it at all");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::WrongKey);
    CHECK_FALSE(app.unlocked());
    REQUIRE(app.unlock(kPass).ok());
    CHECK(app.screen() == Screen::Home);
    CHECK(app.home().unitId == "MINUSCA-RWABATT-1");
    app.lock();
    CHECK_FALSE(app.unlocked());
    CHECK(app.screen() == Screen::Unlock);
    CHECK(AppTestAccess::store(app) == nullptr);
}

TEST_CASE("app: a new report is stored on the first change and saved after a pause in typing",
          "[client][app]") {
    Fixture f;
    f.app.newReport("training");
    REQUIRE(f.app.screen() == Screen::Form);
    FormModel& form = f.app.form();
    CHECK(form.recordId().empty());
    CHECK(form.values()["unit"] == "MINUSCA-RWABATT-1");  // the laptop's unit, filled in
    form.tick(10.0);
    form.values()["trainers"] = "Mission training centre";
    form.changed(false);
    CHECK(form.dirty());
    form.tick(10.3);
    CHECK(form.recordId().empty());  // still typing
    form.tick(11.0);
    CHECK_FALSE(form.dirty());
    REQUIRE_FALSE(form.recordId().empty());
    CHECK(form.saveState() == SaveState::Saved);
    auto rec = AppTestAccess::store(f.app)->get(form.recordId());
    REQUIRE(rec.ok());
    CHECK(rec->payload["trainers"] == "Mission training centre");
}

TEST_CASE("app: a bad entry is shown at its field, blocks the save and finalize, and never reaches the store",
          "[client][app]") {
    Fixture f;
    f.app.newReport("training");
    FormModel& form = f.app.form();
    form.values()["trainers"] = "Team A";
    form.changed(true);
    REQUIRE(form.saveState() == SaveState::Saved);
    std::string id = form.recordId();
    form.values()["attendees_men"] = "forty";
    form.changed(true);
    CHECK(form.saveState() == SaveState::Blocked);
    REQUIRE(form.issueAt("attendees_men") != nullptr);
    CHECK(form.issueAt("attendees_men")->rule == "type");
    CHECK_FALSE(AppTestAccess::store(f.app)->get(id)->payload.contains("attendees_men"));
    auto fin = f.app.finalizeForm();
    REQUIRE_FALSE(fin.ok());
    CHECK(fin.error().code == ErrorCode::Invalid);
    // Esc warns once, then leaves without the bad entry; the saved draft is intact.
    f.app.back();
    CHECK(f.app.screen() == Screen::Form);
    CHECK(f.app.flashIsError());
    f.app.back();
    CHECK(f.app.screen() == Screen::Home);
    CHECK(AppTestAccess::store(f.app)->get(id)->payload["trainers"] == "Team A");
}

TEST_CASE("app: finalize goes to the record view and the report waits for sync", "[client][app]") {
    Fixture f;
    f.app.newReport("training");
    FormModel& form = f.app.form();
    form.values() = trainingPayload();
    form.changed(false);
    CHECK(form.finalCheck().ok());
    auto fin = f.app.finalizeForm();
    INFO((fin.ok() ? "" : fin.error().message));
    REQUIRE(fin.ok());
    CHECK(f.app.screen() == Screen::Record);
    REQUIRE(f.app.recordView().has_value());
    CHECK(f.app.recordView()->record.meta.status == core::RecordStatus::Final);
    CHECK(f.app.home().waiting == 1);
    CHECK(f.app.outbox().size() == 1);
    // Amend opens a new draft revision in the form.
    f.app.amendRecord(fin->id);
    CHECK(f.app.screen() == Screen::Form);
    CHECK(f.app.form().revision() == 2);
}

TEST_CASE("app: a report for another unit is saved with a warning at the unit and cannot be finalized",
          "[client][app]") {
    Fixture f;
    f.app.newReport("training");
    FormModel& form = f.app.form();
    form.values() = trainingPayload();
    form.values()["unit"] = "MINUSCA-PAKBATT-1";
    form.changed(true);
    // Saved as typed: nothing is lost, and the form says why HQ would not take it.
    CHECK(form.saveState() == SaveState::Saved);
    const core::Issue* w = form.issueAt("unit");
    REQUIRE(w != nullptr);
    CHECK(w->rule == "own_unit");
    CHECK(w->warning);
    CHECK_THAT(w->message, Catch::Contains("this laptop reports for MINUSCA-RWABATT-1"));
    CHECK_FALSE(form.finalCheck().ok());
    auto fin = f.app.finalizeForm();
    REQUIRE_FALSE(fin.ok());
    CHECK(f.app.screen() == Screen::Form);
    CHECK(f.app.home().waiting == 0);
    // In French the message follows the language.
    setLanguage(Lang::Fr);
    CHECK_THAT(issueText(*w), Catch::Contains("cet ordinateur rend compte pour MINUSCA-RWABATT-1"));
    setLanguage(Lang::En);
    // The laptop's own unit again: it finalizes.
    form.values()["unit"] = "MINUSCA-RWABATT-1";
    form.changed(true);
    CHECK(form.issueAt("unit") == nullptr);
    REQUIRE(f.app.finalizeForm().ok());
}

TEST_CASE("app: record lists page through many rows and follow their filter", "[client][app]") {
    Fixture f;
    std::vector<json> many(300, trainingPayload());
    REQUIRE(AppTestAccess::store(f.app)->importFinal("training", many).ok());
    REQUIRE(AppTestAccess::store(f.app)->createDraft("training-gap", json::object()).ok());
    RecordListModel& list = f.app.records();
    list.invalidate();
    CHECK(list.size() == 301);
    const ListRow* first = list.row(0);
    REQUIRE(first != nullptr);
    CHECK(first->meta.formId == "training-gap");  // newest first
    const ListRow* last = list.row(300);
    REQUIRE(last != nullptr);
    CHECK_FALSE(last->summary.empty());
    CHECK(list.row(301) == nullptr);
    RecordListModel::Filter flt;
    flt.status = core::RecordStatus::Draft;
    list.setFilter(flt);
    CHECK(list.size() == 1);
    flt = {};
    flt.search = "'; DROP TABLE record; --";
    list.setFilter(flt);
    CHECK(list.size() == 0);
    CHECK(list.error().empty());
    flt.search = "!!";
    list.setFilter(flt);
    CHECK(list.size() == 0);
    CHECK_FALSE(list.error().empty());  // shown to the person, not thrown
}

TEST_CASE("settings: saved and read back, and a damaged file is named, not trusted", "[client][settings]") {
    TempDir t;
    Settings s;
    s.hqUrl = "https://hq.example.int";
    s.theme = Theme::Night;
    s.lang = Lang::Fr;
    s.largeText = true;
    REQUIRE(s.save(t.path()).ok());
    auto r = Settings::load(t.path());
    REQUIRE(r.ok());
    CHECK(r->theme == Theme::Night);
    CHECK(r->lang == Lang::Fr);
    CHECK(r->largeText);
    CHECK(r->hqUrl == "https://hq.example.int");
    std::ofstream(t.sub("settings.json")) << "{ not json";
    auto bad = Settings::load(t.path());
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error().message, Catch::Contains("settings.json is damaged"));
    std::ofstream(t.sub("settings.json"), std::ios::trunc) << R"({"font_size": 9000, "theme": "pink"})";
    auto odd = Settings::load(t.path());
    REQUIRE(odd.ok());
    CHECK(odd->fontSize == Approx(17.0f));
    CHECK(odd->theme == Theme::Day);
}

TEST_CASE("i18n: every catalog key has English and French", "[client][i18n]") {
    std::set<std::string> keys;
    for (const auto& e : catalog()) {
        INFO(e.key);
        CHECK(std::string(e.en).size() > 0);
        CHECK(std::string(e.fr).size() > 0);
        CHECK(keys.insert(e.key).second);  // no key twice
    }
    setLanguage(Lang::Fr);
    CHECK(std::string(tr("nav.records")) == "Rapports");
    setLanguage(Lang::En);
    CHECK(std::string(tr("nav.records")) == "Reports");
}

TEST_CASE("i18n: every key the window uses is in the catalog", "[client][i18n]") {
    std::set<std::string> keys;
    for (const auto& e : catalog()) keys.insert(e.key);
    std::size_t checked = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(outpost::test::sourcePath("ui"))) {
        if (entry.path().extension() != ".cpp") continue;
        std::string src = outpost::test::readFile(entry.path().string());
        for (std::size_t p = src.find("tr(\""); p != std::string::npos; p = src.find("tr(\"", p + 4)) {
            if (p > 0 && (std::isalnum(static_cast<unsigned char>(src[p - 1])) || src[p - 1] == '_'))
                continue;
            std::size_t end = src.find('"', p + 4);
            std::string key = src.substr(p + 4, end - p - 4);
            INFO(entry.path().filename().string() << ": " << key);
            CHECK(keys.count(key) == 1);
            ++checked;
        }
    }
    CHECK(checked > 100);
}

TEST_CASE("app: an SEA section leaves the record at finalize, and an amendment need not repeat it",
          "[client][app][sealed]") {
    TempDir t;
    storage::InitOptions io;
    io.unitId = "MINUSCA-RWABATT-1";
    io.user = "cfp.bah";
    io.role = core::Role::ConductFocalPoint;
    REQUIRE(storage::Store::create(t.sub("s"), kPass, io).ok());
    App app({t.sub("s"), {}});
    REQUIRE(app.unlock(kPass).ok());
    app.newReport("incident");
    json sea = json::parse(outpost::test::readFile(outpost::test::sourcePath("examples/incident-sea.json")));
    sea["unit"] = "MINUSCA-RWABATT-1";
    app.form().values() = sea;
    app.form().changed(false);
    REQUIRE(app.form().finalCheck().ok());
    auto fin = app.finalizeForm();
    INFO((fin.ok() ? "" : fin.error().message));
    REQUIRE(fin.ok());
    REQUIRE(app.recordView().has_value());
    CHECK_FALSE(app.recordView()->record.payload.contains("victim_reference"));
    CHECK(app.recordView()->sealed.state == "waiting");  // not enrolled: no HQ conduct key yet
    CHECK(app.recordView()->sealedRevision == 1);

    app.amendRecord(fin->id);
    REQUIRE(app.screen() == Screen::Form);
    CHECK(app.form().sealedRevision() == 1);
    CHECK_FALSE(app.form().values().contains("victim_reference"));
    CHECK(app.form().finalCheck().ok());
    auto again = app.finalizeForm();
    INFO((again.ok() ? "" : again.error().message));
    REQUIRE(again.ok());
    CHECK(again->revision == 2);
    CHECK(app.recordView()->sealedRevision == 1);  // r2 shows where r1's section is
}

TEST_CASE("app: the outbox view counts what the queue carries off the UI thread, and lock forgets it",
          "[client][app]") {
    Fixture f;
    CHECK(f.app.outboxView().items.empty());
    f.app.reloadOutbox();
    CHECK(f.app.outboxView().items.empty());
    CHECK_FALSE(f.app.outboxView().counting);  // nothing queued: no count to run

    std::uint64_t expected = 0;
    for (int i = 0; i < 3; ++i)
        REQUIRE(AppTestAccess::store(f.app)->importFinal("training", {trainingPayload()}).ok());
    auto queued = AppTestAccess::store(f.app)->outbox();
    REQUIRE(queued.ok());
    REQUIRE(queued->size() == 3);
    for (const auto& item : *queued)
        expected += AppTestAccess::store(f.app)->get(item.recordId, item.revision)->payload.dump().size();

    f.app.reloadOutbox();
    const OutboxView& view = f.app.outboxView();
    CHECK(view.items.size() == 3);
    CHECK(view.titles.count("training") == 1);
    CHECK(view.errors.empty());
    CHECK(view.quarantined == 0);
    // The count runs on its own thread; tick() picks up where it stands.
    for (int i = 0; i < 500 && view.counting; ++i) {
        f.app.tick(0);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK_FALSE(view.counting);
    CHECK(expected > 0);
    CHECK(view.bytes == expected);

    // A new read starts the count again (the old one is abandoned), and a lock drops it all.
    f.app.reloadOutbox();
    f.app.lock();
    CHECK(f.app.outboxView().items.empty());
    CHECK(f.app.outboxView().bytes == 0);
    CHECK_FALSE(f.app.outboxView().counting);
}

TEST_CASE("app: the view-models the panels read instead of the store", "[client][app]") {
    Fixture f;
    CHECK(f.app.unitId() == "MINUSCA-RWABATT-1");
    CHECK(f.app.accountName() == AppTestAccess::store(f.app)->account().name);
    CHECK(f.app.mayManageAccounts());  // the first account is the commander
    auto accounts = f.app.storeAccounts();
    REQUIRE(accounts.ok());
    CHECK(accounts->size() == 1);
    CHECK_FALSE(f.app.reference().table("units").empty());
    const auto create = f.app.forms(core::FormAction::Create);
    std::vector<std::string> ids;
    for (const auto& fc : create) {
        CHECK_FALSE(fc.title.empty());
        ids.push_back(fc.id);
    }
    CHECK(ids == std::vector<std::string>{"incident", "readiness", "training", "training-gap"});
    CHECK(f.app.sensitiveHidden("incident"));  // a commander never reads a conduct report's sensitive section

    f.app.lock();
    CHECK(f.app.unitId().empty());
    CHECK_FALSE(f.app.mayManageAccounts());
    CHECK_FALSE(f.app.storeAccounts().ok());
    CHECK(f.app.forms(core::FormAction::Read).empty());
    CHECK(f.app.reference().table("units").empty());
}
