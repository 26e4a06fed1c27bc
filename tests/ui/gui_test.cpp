// GUI flows in the real window under Xvfb, driven by scripts of key presses, checked in the store.
#include <catch2/catch.hpp>
#include <ctime>

#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "demo/demo_data.hpp"
#include "storage/store.hpp"
#include "support/test_support.hpp"
#ifdef OUTPOST_HQ
#include "testbed/hq_process.hpp"
#endif

using outpost::test::TempDir;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* kPass = "gui-test-passphrase";

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// Where screenshots go: OUTPOST_SHOTS when set (to look at them), else the test's temp folder.
std::string shotsDir(const TempDir& t) {
    const char* e = std::getenv("OUTPOST_SHOTS");
    std::string d = e && *e ? e : t.sub("shots");
    fs::create_directories(d);
    return d;
}

// A script of keys and text, as a person would type them.
class Script {
public:
    Script& line(const std::string& l) {
        m_text += l + "\n";
        return *this;
    }
    Script& unlock() {
        return line("wait 3").line(std::string("type ") + kPass).line("key Enter").line("wait 4");
    }
    Script& tab(int n = 1) {
        for (int i = 0; i < n; ++i) line("key Tab");
        return *this;
    }
    Script& type(const std::string& s) { return line("type " + s); }
    Script& field(const std::string& s) { return tab().type(s); }  // next field, then type
    Script& key(const std::string& k) { return line("key " + k); }
    Script& expect(const std::string& screen) { return line("expect-screen " + screen); }
    Script& shot(const std::string& name) { return line("screenshot " + name); }
    const std::string& text() const { return m_text; }

private:
    std::string m_text;
};

struct Gui {
    TempDir t;
    std::string store = t.sub("store");
    std::string unit = "MINUSCA-RWABATT-1";

    Gui() {
        outpost::storage::InitOptions io;
        io.unitId = unit;
        io.user = "maj.uwase";
        auto r = outpost::storage::Store::create(store, kPass, io);
        REQUIRE(r.ok());
    }

    int run(const Script& s, const std::string& extra = "") {
        std::string path = t.sub("script.txt");
        std::ofstream(path) << s.text();
        // The window's own exit code goes to a file: xvfb-run answers with its own code when it fails to
        // clean up after itself (it happens on a loaded machine), which says nothing about the window.
        const std::string codeFile = t.sub("gui.code");
        std::filesystem::remove(codeFile);
        std::string inner = quote(OUTPOST_GUI) + " --store " + quote(store) + " --script " + quote(path) +
                            " --screenshot-dir " + quote(shotsDir(t)) + " " + extra + "; echo $? > " +
                            quote(codeFile);
        std::string cmd = "xvfb-run -a -s '-screen 0 1366x768x24' sh -c " + quote(inner) + " > " +
                          t.sub("gui.log") + " 2>&1";
        int status = std::system(cmd.c_str());
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (std::ifstream in(codeFile); in) {
            int own = -1;
            if (in >> own) code = own;
        }
        if (code != 0) WARN("outpost exited " << code << ":\n" << outpost::test::readFile(t.sub("gui.log")));
        return code;
    }

    // Runs outpostctl; fails the test when it does not succeed.
    void ctlRun(const std::string& args) {
        std::string cmd = "OUTPOST_PASSPHRASE=" + quote(kPass) + " " + quote(OUTPOSTCTL) + " --store " +
                          quote(store) + " " + args + " > /dev/null 2>&1";
        int status = std::system(cmd.c_str());
        REQUIRE(WIFEXITED(status));
        REQUIRE(WEXITSTATUS(status) == 0);
    }

    // The store, opened here while no window holds it.
    std::unique_ptr<outpost::storage::Store> open() {
        auto key = outpost::storage::Store::unlock(store, kPass);
        REQUIRE(key.ok());
        auto st = outpost::storage::Store::open(store, *key);
        REQUIRE(st.ok());
        return std::move(st).value();
    }

    // The test form with every field type, as HQ would publish a form.
    void installKitchenSink() {
        REQUIRE(open()->installForm(outpost::test::fixture("kitchen_sink.json")).ok());
    }

    // n final reports of the laptop's unit (readiness and training in turn).
    void addReports(int n) {
        auto st = open();
        outpost::demo::DemoData demo(st->reference(), 21);
        for (int i = 0; i < n; ++i) {
            const std::string form = i % 2 ? "training" : "readiness";
            REQUIRE(st->importFinal(form, {demo.next(form, unit)}).ok());
        }
    }

    json ctl(const std::string& args) {
        std::string out = t.sub("ctl.out");
        std::string cmd = "OUTPOST_PASSPHRASE=" + quote(kPass) + " " + quote(OUTPOSTCTL) + " --store " +
                          quote(store) + " " + args + " > " + out + " 2>/dev/null";
        int status = std::system(cmd.c_str());
        REQUIRE(WIFEXITED(status));
        REQUIRE(WEXITSTATUS(status) == 0);
        return json::parse(outpost::test::readFile(out));
    }

    // The one final record of a form, with its payload.
    json onlyFinal(const std::string& form) {
        json list = ctl("record list --form " + form + " --status final --json");
        REQUIRE(list.size() == 1);
        return ctl("record show " + list[0]["id"].get<std::string>() + " --json");
    }
};

// Home's quick-start buttons are in form-id order: incident, readiness, training, training-gap.
Script& startForm(Script& s, int index) {
    s.expect("home").tab(index + 1).key("Enter").line("wait 3").expect("form");
    return s;
}

}  // namespace

TEST_CASE("gui: a training session is filled and finalized with the keyboard only", "[ui][gui]") {
    Gui g;
    Script s;
    s.unlock();
    startForm(s, 2);
    s.field("cptm_3_4").field("in_mission").field("unit").field("2026-11-02").field("2026-11-06").field("30");
    s.field("fr").field("Mission training centre team").field("4.3612").field("18.555").tab();
    s.field("40").field("8").field("pre_post_test").field("45").field("Keyboard only session");
    s.shot("training-filled.png").key("Ctrl+Enter").line("wait 2").shot("training-confirm.png");
    s.key("Enter").line("wait 3").expect("record").shot("training-final.png");
    REQUIRE(g.run(s) == 0);
    json r = g.onlyFinal("training");
    const json& p = r["payload"];
    CHECK(p["course"] == "cptm_3_4");
    CHECK(p["kind"] == "in_mission");
    CHECK(p["language"] == "fr");
    CHECK(p["attendees_total"] == 48);
    CHECK(p["passed"] == 45);
    CHECK(p["location"]["lat"].get<double>() == Approx(4.3612));
    CHECK(p["remarks"] == "Keyboard only session");
    CHECK(r["meta"]["sync"] == "queued");
}

TEST_CASE("gui: a training gap is filled and finalized with the keyboard only", "[ui][gui]") {
    Gui g;
    Script s;
    s.unlock();
    startForm(s, 3);
    s.field("ied_awareness").field("A third of the new rotation has not done IED awareness.");
    s.field("needs_assessment").field("2026-11-10").field("major").field("240");
    s.field("Rotation arrived before the course").field("mobile_training_team").field("2027-01-15");
    s.field("open").tab().type("Requested through the sector");
    s.key("Ctrl+Enter").line("wait 2").key("Enter").line("wait 3").expect("record");
    REQUIRE(g.run(s) == 0);
    const json p = g.onlyFinal("training-gap")["payload"];
    CHECK(p["course"] == "ied_awareness");
    CHECK(p["severity"] == "major");
    CHECK(p["personnel_affected"] == 240);
    CHECK(p["status"] == "open");
    CHECK_FALSE(p.contains("closed_date"));
}

TEST_CASE("gui: a conduct incident is filled and finalized with the keyboard only", "[ui][gui]") {
    Gui g;
    Script s;
    s.unlock();
    startForm(s, 0);
    s.field("RWABATT1-CD-2026-031").field("MINUSCA-WEST").field("2026-11-20").field("2026-11-19");
    s.tab(2).key("Space");  // "approximate": the Yes button comes first, No second
    s.field("hotline").field("misconduct").field("rules").field("curfew_breach");
    s.field("Two soldiers were found outside the camp after curfew.");
    s.tab();  // "Add row" of the alleged perpetrators: none recorded here
    s.field("Confined to camp pending the preliminary assessment.").field("2026-11-20T09:15+01:00");
    s.tab(3).key("Space");  // referral: the third body (contingent commander)
    s.tab(2).field("preliminary_assessment");
    s.tab(7).field("pending");  // past the seven interim actions
    s.line("wait 1").shot("incident-filled.png");
    s.key("Ctrl+Enter").line("wait 2").shot("incident-confirm.png");
    s.key("Enter").line("wait 3").expect("record").shot("incident-final.png");
    REQUIRE(g.run(s) == 0);
    const json r = g.onlyFinal("incident");
    const json& p = r["payload"];
    CHECK(p["incident_type"] == "curfew_breach");
    CHECK(p["incident_date_approximate"] == false);
    CHECK(p["cdt_notified_at"] == "2026-11-20T09:15+01:00");
    CHECK(p["referral"] == json::array({"contingent_commander"}));
    CHECK(p["investigation_status"] == "preliminary_assessment");
    CHECK(p["is_sea"] == false);
    CHECK(r["meta"]["sync"] == "queued");
}

TEST_CASE("gui: a readiness report with an equipment line is filled and finalized with the keyboard only",
          "[ui][gui]") {
    Gui g;
    Script s;
    s.unlock();
    startForm(s, 1);
    s.field("monthly_self_assessment")
        .field("Battalion operations officer")
        .field("2026-10-01")
        .field("2026-10-31");
    s.field("780").field("70").field("760").field("66").field("700").field("60");
    for (int i = 0; i < 7; ++i) s.field("3");
    s.field("120").field("118").field("4");
    s.field("Two patrols cancelled for flooding on the Bouar road.");
    s.tab(2).key("Enter");  // past "add task", then "add equipment line": typing goes on in the new row
    s.type("apc_wheeled").field("Wheeled APC, MOU line 4").field("12").field("11").field("10");
    s.line("wait 1").shot("readiness-filled.png");
    s.key("Ctrl+Enter")
        .line("wait 2")
        .key("Enter")
        .line("wait 3")
        .expect("record")
        .shot("readiness-final.png");
    REQUIRE(g.run(s) == 0);
    const json p = g.onlyFinal("readiness")["payload"];
    CHECK(p["present_total"] == 760);
    CHECK(p["women_present_pct"].get<double>() == Approx(7.9));
    CHECK(p["rating_force_protection"] == 3);
    CHECK(p["patrols_conducted"] == 118);
    REQUIRE(p["equipment"].size() == 1);
    CHECK(p["equipment"][0]["category"] == "apc_wheeled");
    CHECK(p["equipment"][0]["serviceable"] == 10);
    CHECK(p["equipment"][0]["below_threshold"] == true);  // 10 of 12 is under 90 %
}

TEST_CASE("gui: a bad entry gets its message at the field and blocks finalize", "[ui][gui]") {
    Gui g;
    Script s;
    s.unlock();
    startForm(s, 2);
    s.field("no such course").field("in_mission").field("unit").field("2026-02-30").field("2026-11-06");
    s.field("many").field("en").tab(2).type("95").field("18.5").tab();
    s.field("-4").field("8,5");
    s.line("wait 1").shot("form-bad-entries.png");
    s.key("Ctrl+Enter").line("wait 2").shot("form-bad-finalize.png").expect("form");
    // Esc with entries that cannot be saved warns first; a second Esc leaves without them.
    s.key("Escape").line("wait 2").expect("form").shot("form-bad-leave.png");
    s.key("Escape").line("wait 2").expect("home");
    REQUIRE(g.run(s) == 0);
    CHECK(g.ctl("record list --form training --status final --json").empty());
    // What was valid before the first bad entry is kept as a draft.
    json drafts = g.ctl("record list --form training --status draft --json");
    REQUIRE(drafts.size() == 1);
    json d = g.ctl("record show " + drafts[0]["id"].get<std::string>() + " --json")["payload"];
    CHECK(d["kind"] == "in_mission");
    CHECK_FALSE(d.contains("start_date"));
    CHECK_FALSE(d.contains("course"));
}

TEST_CASE("gui: the panic wipe in Settings needs the unit typed back, then leaves nothing", "[ui][gui]") {
    Gui g;
    g.ctlRun("demo-seed --count 20 --seed 3");
    Script s;
    s.unlock().line("click nav.settings").line("wait 2").expect("settings");
    // A wrong unit keeps the button disabled: the click does nothing.
    s.line("click wipe.confirm").type("MINUSCA-OTHER-1").line("click wipe.button").line("wait 2");
    s.expect("settings").shot("settings-wipe-en-day.png");
    s.line("click wipe.confirm").key("Ctrl+A").key("Backspace").type(g.unit).line("wait 1");
    s.line("click wipe.button").line("wait-for unlock.wiped 10").expect("unlock").shot("wiped-en-day.png");
    REQUIRE(g.run(s) == 0);
    CHECK_FALSE(fs::exists(g.store));
}

TEST_CASE("gui: French and the night theme, chosen in Settings, on every screen", "[ui][gui]") {
    Gui g;
    g.ctlRun("demo-seed --count 300 --seed 7");
    Script s;
    s.unlock().shot("home-en-day.png");
    s.line("click nav.gaps").line("wait 3").shot("gaps-en-day.png");
    s.line("click nav.settings").line("wait 2").expect("settings");
    s.line("click settings.fr").line("click settings.night").line("click settings.save").line("wait 4");
    s.shot("settings-fr-night.png");
    s.line("click nav.home").line("wait 3").expect("home").shot("home-fr-night.png");
    s.line("click nav.records").line("wait 3").expect("records").shot("records-fr-night.png");
    s.line("click nav.gaps").line("wait 3").expect("gaps").shot("gaps-fr-night.png");
    s.line("click nav.sync").line("wait 3").expect("sync").shot("sync-fr-night.png");
    s.line("click nav.home").line("wait 2").line("click new.readiness").line("wait 3").expect("form");
    s.field("commander_evaluation").tab(3).type("2026-13-40").tab().type("-5");
    s.key("Ctrl+Enter").line("wait 3").shot("form-fr-night.png");
    REQUIRE(g.run(s) == 0);
    // The choice is kept: the next start opens in French at night.
    std::string settings = outpost::test::readFile(g.store + "/settings.json");
    CHECK(json::parse(settings)["language"] == "fr");
    CHECK(json::parse(settings)["theme"] == "night");
    for (const char* shot :
         {"home-fr-night.png", "records-fr-night.png", "gaps-fr-night.png", "form-fr-night.png"})
        CHECK(fs::file_size(fs::path(shotsDir(g.t)) / shot) > 10000);
}

TEST_CASE("gui: a list of 100,000 records opens and scrolls", "[ui][gui][slow]") {
    Gui g;
    g.ctlRun("demo-seed --count 100000 --seed 11");
    Script s;
    s.unlock().line("click nav.records").line("wait 3").expect("records");
    s.line("click records.row0").key("PageDown").key("PageDown").key("End").line("wait 3");
    s.shot("records-100k.png").key("Enter").line("wait 3").expect("record").shot("record-from-100k.png");
    REQUIRE(g.run(s) == 0);
    CHECK(fs::file_size(fs::path(shotsDir(g.t)) / "records-100k.png") > 10000);
}

TEST_CASE("gui: bad command-line options and scripts are refused with the reason", "[ui]") {
    TempDir t;
    auto runGui = [&](const std::string& args) {
        std::string cmd = quote(OUTPOST_GUI) + " " + args + " > " + t.sub("out") + " 2>&1";
        int status = std::system(cmd.c_str());
        return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                              outpost::test::readFile(t.sub("out")));
    };
    auto [code, out] = runGui("--size big");
    CHECK(code == 1);
    CHECK_THAT(out, Catch::Contains("--size must be WIDTHxHEIGHT"));
    std::tie(code, out) = runGui("--script " + t.sub("missing.txt"));
    CHECK(code == 1);
    CHECK_THAT(out, Catch::Contains("cannot read the script"));
    std::ofstream(t.sub("bad.txt")) << "wait 2\nfly to the moon\n";
    std::tie(code, out) = runGui("--script " + t.sub("bad.txt"));
    CHECK(code == 1);
    CHECK_THAT(out, Catch::Contains("bad.txt:2: unknown command 'fly'"));
    std::ofstream(t.sub("badkey.txt")) << "key Ctrl+Hyper\n";
    std::tie(code, out) = runGui("--script " + t.sub("badkey.txt"));
    CHECK(code == 1);
    CHECK_THAT(out, Catch::Contains("unknown key"));
    std::tie(code, out) = runGui("--theme purple");
    CHECK(code != 0);
}

TEST_CASE("gui: a click on a widget that is not on screen fails the script, naming it", "[ui][gui]") {
    Gui g;
    Script s;
    s.unlock().line("click nav.nowhere");
    CHECK(g.run(s) == 3);
    CHECK_THAT(outpost::test::readFile(g.t.sub("gui.log")), Catch::Contains("no widget named 'nav.nowhere'"));
}

TEST_CASE("gui: a bad entry in every field type gets its message and blocks finalize, never a crash",
          "[ui][gui]") {
    Gui g;
    g.installKitchenSink();
    Script s;
    s.unlock();
    startForm(s, 1);  // incident, kitchen-sink, readiness, ...
    s.field("bad # title").field("Call Marie Dupont on +236 72 12 34 56").field("101").field("1.5");
    s.field("1999-12-31").field("1999-01-01").field("yesterday");
    s.tab().key("Space").tab();                                  // flag: Yes
    s.field("charlie");                                          // not a choice
    s.tab().key("Space").tab().key("Space").tab().key("Space");  // three tags where two are allowed
    s.field("7").field("91").field("200");
    s.line("wait 1").shot("every-type-bad.png");
    s.key("Ctrl+Enter").line("wait 3").expect("form").shot("every-type-finalize.png");
    REQUIRE(g.run(s) == 0);
    CHECK(g.ctl("record list --form kitchen-sink --status final --json").empty());
}

TEST_CASE("gui: text in a choice box that matches no choice blocks finalize until it is fixed", "[ui][gui]") {
    Gui g;
    g.installKitchenSink();
    Script s;
    s.unlock();
    startForm(s, 1);
    s.field("Weekly check").tab(9).type("charlie").tab();  // "kind" is optional, but this is no choice
    s.key("Ctrl+Enter").line("wait 3").expect("form").shot("unmatched-choice.png");
    s.line("click field.kind").key("Ctrl+A").type("alpha").tab();
    s.key("Ctrl+Enter").line("wait 2").key("Enter").line("wait 3").expect("record");
    REQUIRE(g.run(s) == 0);
    json r = g.onlyFinal("kitchen-sink");
    CHECK(r["payload"]["kind"] == "alpha");
    CHECK(r["payload"]["title"] == "Weekly check");
}

#ifdef OUTPOST_HQ

namespace {

// The real outpost-hq, serving over TLS on a free port of 127.0.0.1.
struct Hq {
    TempDir dir;
    std::unique_ptr<outpost::test::HqProcess> proc;
    Hq() {
        outpost::test::HqOptions o;
        o.binary = OUTPOST_HQ;
        o.dataDir = dir.sub("hq");
        proc = std::make_unique<outpost::test::HqProcess>(o);
        admin({"init"});
        proc->addConductKey(dir.sub("conduct.key"));
        proc->start();
    }
    void admin(const std::vector<std::string>& args) const {
        auto r = proc->admin(args);
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
    }
};

// Unlocks and opens the Sync screen, where the link state can be waited for.
Script& syncScreen(Script& s) {
    s.unlock().line("click nav.sync").line("wait 2").expect("sync");
    return s;
}

}  // namespace

TEST_CASE(
    "gui: Sync now sends the queue to HQ, a rejected report goes back in the queue, and HQ's review, "
    "HQ gone and a revoked laptop are shown",
    "[ui][gui][sync]") {
    Hq hq;
    Gui g;
    g.ctlRun("enroll --hq " + hq.proc->url() + " --code " + hq.proc->enroll(g.unit) + " --name gui-test");
    g.addReports(30);
    // A form version only this laptop knows: HQ rejects the report made with it.
    auto def = json::parse(outpost::test::readFile(outpost::test::sourcePath("core/forms/training.json")));
    def["version"] = def["version"].get<int>() + 40;
    {
        auto st = g.open();
        REQUIRE(st->installForm(def, "local").ok());
        outpost::demo::DemoData demo(st->reference(), 8);
        REQUIRE(st->importFinal("training", {demo.next("training", g.unit)}).ok());
    }

    // English, day: Sync now, and the queue drains but for the rejected report.
    Script s;
    syncScreen(s).line("click sync.now").line("wait-for sync.link.up-to-date 60").line("wait 2");
    s.shot("sync-en-day.png").line("click nav.home").line("wait 2").expect("home");
    s.line("wait-for home.link.up-to-date 5")
        .line("wait-for status.link.up-to-date 5")
        .shot("home-synced-en-day.png");
    REQUIRE(g.run(s, "--lang en --theme day") == 0);
    json info = g.ctl("info");
    CHECK(info["sync"]["receipts"] == 30);
    CHECK(info["sync"]["last_sync_utc"].is_string());
    json ob = g.ctl("outbox --json");
    REQUIRE(ob.size() == 1);
    CHECK(ob[0]["state"] == "quarantined");
    const std::string seq = std::to_string(ob[0]["seq"].get<long long>());

    // HQ learns the form and returns the newest report it holds. French, night: the rejected report is put
    // back in the queue and goes; the returned report says so and offers to amend.
    std::ofstream(g.t.sub("training.json")) << def.dump();
    hq.admin({"forms", "push", g.t.sub("training.json")});
    json list = g.ctl("record list --json");  // newest first, as the window lists them
    REQUIRE(list.size() == 31);
    const std::string returned = list[1]["id"];
    hq.admin({"reports", "review", returned, "--revision", "1", "--status", "returned", "--comment",
              "La date de renvoi manque : merci de compléter et de renvoyer.", "--by", "col.mbeki"});
    Script f;
    syncScreen(f).line("wait-for sync.link.up-to-date 60").line("wait 2").shot("sync-fr-night-rejected.png");
    f.line("click sync.requeue." + seq)
        .line("wait 3")
        .line("wait-for sync.link.up-to-date 60")
        .line("wait 2");
    f.shot("sync-fr-night.png");
    f.line("click nav.records")
        .line("wait 3")
        .line("click records.row1")
        .key("Enter")
        .line("wait 3")
        .expect("record");
    f.line("wait-for record.amend_returned 10").shot("record-returned-fr-night.png");
    f.line("click record.amend_returned").line("wait 3").expect("form");
    REQUIRE(g.run(f, "--lang fr --theme night") == 0);
    CHECK(g.ctl("outbox --json").empty());
    CHECK(g.ctl("info")["sync"]["receipts"] == 31);
    // The returned report's button opened its amendment: a draft revision 2.
    json amended = g.ctl("record show " + returned + " --json");
    CHECK(amended["meta"]["revision"] == 2);
    CHECK(amended["meta"]["status"] == "draft");

    // The two other looks of the screen, for review.
    for (const auto& [opts, name] :
         {std::pair<std::string, std::string>{"--lang en --theme night", "sync-en-night.png"},
          {"--lang fr --theme day", "sync-fr-day.png"}}) {
        Script l;
        syncScreen(l).line("wait-for sync.link.up-to-date 60").line("wait 2").shot(name);
        REQUIRE(g.run(l, opts) == 0);
        CHECK(fs::file_size(fs::path(shotsDir(g.t)) / name) > 10000);
    }

    // HQ gone: the screen and the status bar say HQ does not answer.
    hq.proc->stop();
    Script u;
    syncScreen(u)
        .line("wait-for sync.link.unreachable 60")
        .line("wait-for status.link.unreachable 5")
        .line("wait 2");
    u.shot("sync-unreachable-en-day.png");
    REQUIRE(g.run(u, "--lang en --theme day") == 0);

    // Revoked: at its first contact the laptop locks, wipes its store and says why on the Unlock screen.
    hq.proc->start();
    hq.admin({"revoke", "--device", info["sync"]["device"].get<std::string>()});
    Script r;
    r.unlock().line("wait-for unlock.wiped 60").expect("unlock").line("wait 1");
    r.shot("sync-revoked-en-day.png");
    REQUIRE(g.run(r, "--lang en --theme day") == 0);
    CHECK_FALSE(fs::exists(g.store));
}

TEST_CASE("gui: a laptop is enrolled from the Sync screen, then sends its queue", "[ui][gui][sync]") {
    Hq hq;
    Gui g;
    g.addReports(3);
    Script fr;
    syncScreen(fr).line("wait-for sync.link.not-enrolled 5").line("wait-for status.link.not-enrolled 5");
    fr.shot("sync-not-enrolled-fr-night.png");
    REQUIRE(g.run(fr, "--lang fr --theme night") == 0);

    Script s;
    syncScreen(s).line("wait-for sync.link.not-enrolled 5").shot("sync-not-enrolled-en-day.png");
    s.line("click sync.hq_url").type(hq.proc->url()).line("click sync.code").type("OP1.not-a-real-code");
    s.line("click sync.enroll")
        .line("wait-for sync.enroll_error 30")
        .line("wait 2")
        .shot("sync-enroll-error.png");
    s.line("click sync.code").key("Ctrl+A").type(hq.proc->enroll(g.unit)).line("click sync.enroll");
    s.line("wait-for sync.link.up-to-date 60").line("wait 2").shot("sync-enrolled-en-day.png");
    REQUIRE(g.run(s, "--lang en --theme day") == 0);
    json info = g.ctl("info");
    REQUIRE(info["sync"].is_object());
    CHECK(info["sync"]["hq"] == hq.proc->url());
    CHECK(info["sync"]["receipts"] == 3);
    CHECK(g.ctl("outbox --json").empty());
}

#endif

TEST_CASE("gui: a clerk does not see the SEA section, and an idle lock leaves nothing of the previous view",
          "[ui][gui][accounts]") {
    Gui g;
    const char* kClerkPass = "gui clerk pass 1";
    {
        // A conduct focal point's SEA incident and the commander's two reports are in the store.
        auto cdr = g.open();
        const outpost::storage::KdfParams fast{1, 8192};
        for (auto [name, role, pass] :
             std::initializer_list<std::tuple<const char*, outpost::core::Role, const char*>>{
                 {"clerk.gui", outpost::core::Role::Clerk, kClerkPass},
                 {"cfp.gui", outpost::core::Role::ConductFocalPoint, "gui focal pass 1"}}) {
            outpost::storage::Account a;
            a.name = name;
            a.role = role;
            REQUIRE(cdr->addAccount(a, pass, fast).ok());
        }
        auto who = outpost::storage::Store::signIn(g.store, "cfp.gui", "gui focal pass 1");
        REQUIRE(who.ok());
        outpost::storage::StoreOptions o;
        o.account = "cfp.gui";
        auto cfp = outpost::storage::Store::open(g.store, who->key, o);
        REQUIRE(cfp.ok());
        json sea =
            json::parse(outpost::test::readFile(outpost::test::sourcePath("examples/incident-sea.json")));
        REQUIRE((*cfp)->importFinal("incident", {sea}).ok());
    }
    g.addReports(2);
    {
        // Four wrong passphrases an hour ago (their waits are over): the next one in the window waits 8 s,
        // long enough to be seen however slowly a loaded machine draws frames.
        outpost::storage::StoreOptions past;
        const auto hourAgo = static_cast<std::int64_t>(std::time(nullptr)) - 3600;
        for (int i = 0; i < 4; ++i) {
            past.nowForTests = hourAgo + 60 * i;
            REQUIRE_FALSE(outpost::storage::Store::signIn(g.store, "", "not the passphrase", past).ok());
        }
        auto d = outpost::storage::Store::authDelay(g.store);
        REQUIRE(d.ok());
        REQUIRE(d->failures == 4);
        REQUIRE(d->waitSeconds == 0);
    }
    Script s;
    s.line("wait 3").shot("unlock-accounts.png");
    // A wrong passphrase: the unlock screen shows the wait, then offers the button again.
    s.type("a typo").key("Enter");
    s.line("wait-for unlock.wait 10").shot("unlock-wait.png");
    s.line("expect-absent unlock.button").line("wait-for unlock.button 30");
    s.line("click unlock.account.clerk.gui").line("wait 2").type(kClerkPass).key("Enter").line("wait 4");
    s.expect("home").line("expect-absent new.incident");
    s.shot("clerk-home.png");
    s.line("click nav.records").line("wait 4").expect("records").shot("clerk-records.png");
    // Two reports listed (readiness and training); the incident is not there.
    s.line("expect-absent records.row2");
    s.line("click records.search").type("Berberati").line("wait 3").line("expect-absent records.row0");
    // No input now: the idle lock (3 s in this test) brings back the unlock screen, and nothing else.
    s.line("wait-for unlock.passphrase 30").expect("unlock");
    s.line("expect-absent records.").line("expect-absent nav.").line("expect-absent field.");
    s.shot("unlock-after-idle.png");
    REQUIRE(g.run(s, "--idle-lock-seconds 3") == 0);
    const std::string log = outpost::test::readFile(g.t.sub("gui.log"));
    CHECK(log.find("Berberati") == std::string::npos);
}

TEST_CASE("gui: a screen that throws while it is drawn shows the failure, and the window goes on",
          "[ui][gui]") {
    Gui g;
    const std::string log = g.t.sub("gui.log");
    SECTION("a screen inside the frame, in English then in French") {
        for (const std::string lang : {"en", "fr"}) {
            Script s;
            s.unlock().line("click nav.records").line("wait-for shell.failed 10").expect("records");
            s.line("wait 5").shot("panel-failed-" + lang + ".png");
            // The failure stays until the person leaves or tries again (here it fails again).
            s.line("click shell.retry").line("wait 3").line("wait-for shell.failed 10");
            // The rest of the window still works: the navigation, the other screens, and a return.
            s.line("click nav.home").line("wait 3").expect("home").line("expect-absent shell.failed");
            s.line("wait-for new.training 5").key("Ctrl+F").line("wait 3").expect("records");
            s.line("wait-for shell.failed 10").line("click nav.sync").line("wait 3").expect("sync");
            s.line("wait-for sync.link.not-enrolled 5").line("quit");
            INFO(lang);
            REQUIRE(g.run(s, "--test-fail-screen records --lang " + lang) == 0);
            const std::string out = outpost::test::readFile(log);
            CHECK_THAT(out,
                       Catch::Contains("outpost: the records screen failed: a failure injected for a test"));
        }
    }
    SECTION("the unlock screen, drawn without the frame") {
        Script s;
        s.line("wait-for shell.failed 10").line("click shell.retry").line("wait 3");
        s.line("wait-for shell.failed 10").expect("unlock").shot("unlock-failed.png").line("quit");
        REQUIRE(g.run(s, "--test-fail-screen unlock") == 0);
        CHECK_THAT(outpost::test::readFile(log), Catch::Contains("outpost: the unlock screen failed"));
    }
}
