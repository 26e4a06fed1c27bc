// outpostctl end to end: the real binary, as a script or a person runs it, including bad input.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/refdata.hpp"
#include "support/raw_sql.hpp"
#include "support/test_support.hpp"

using outpost::test::TempDir;
using json = nlohmann::json;

namespace {

struct Run {
    int code = -1;
    std::string out;
    std::string err;
};

std::string shellQuote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// Runs outpostctl with args (each quoted), the passphrase in the environment.
Run ctl(const std::string& store, const std::vector<std::string>& args,
        const std::string& pass = "field pass 2026", const std::string& stdinFile = "") {
    TempDir io;
    std::string cmd = "OUTPOST_PASSPHRASE=" + shellQuote(pass) + " " + shellQuote(OUTPOSTCTL) + " --store " +
                      shellQuote(store);
    for (const auto& a : args) cmd += " " + shellQuote(a);
    cmd += " > " + io.sub("out") + " 2> " + io.sub("err");
    cmd += stdinFile.empty() ? " < /dev/null" : " < " + shellQuote(stdinFile);
    int status = std::system(cmd.c_str());
    Run r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = outpost::test::readFile(io.sub("out"));
    r.err = outpost::test::readFile(io.sub("err"));
    return r;
}

std::string writeFile(const TempDir& t, const std::string& name, const std::string& content) {
    std::string p = t.sub(name);
    std::ofstream(p, std::ios::binary) << content;
    return p;
}

std::string unitId() {
    return outpost::core::ReferenceData::demo().table("units")[0]["id"];
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

struct Fixture {
    TempDir t;
    std::string store = t.sub("store");
    Fixture() {
        auto r = ctl(store, {"init", "--unit", unitId(), "--user", "cdr.test"});
        INFO(r.err);
        REQUIRE(r.code == 0);
    }
    std::string example(const std::string& name) {
        return outpost::test::sourcePath("examples/" + name + ".json");
    }
};

}  // namespace

TEST_CASE("cli: a training session goes from draft to final and shows up everywhere", "[client][cli]") {
    Fixture f;
    auto n = ctl(f.store, {"record", "new", "--form", "training", "--json", f.example("training")});
    INFO(n.err);
    REQUIRE(n.code == 0);
    std::string id = trimmed(n.out);
    REQUIRE(id.size() == 36);
    auto fin = ctl(f.store, {"record", "finalize", id});
    INFO(fin.err);
    REQUIRE(fin.code == 0);
    auto show = ctl(f.store, {"record", "show", id, "--json"});
    REQUIRE(show.code == 0);
    json j = json::parse(show.out);
    CHECK(j["meta"]["status"] == "final");
    CHECK(j["meta"]["sync"] == "queued");
    auto ob = ctl(f.store, {"outbox", "--json"});
    CHECK(json::parse(ob.out).size() == 1);
    auto exp = ctl(f.store, {"export", "--form", "training", "--format", "csv"});
    REQUIRE(exp.code == 0);
    CHECK_THAT(exp.out,
               Catch::StartsWith("id,revision,status,author,form_version,finalized_utc,unit,course"));
    CHECK_THAT(exp.out, Catch::Contains(id));
    auto gaps = ctl(f.store, {"gaps", "--unit", unitId(), "--json"});
    REQUIRE(gaps.code == 0);
    CHECK(json::parse(gaps.out).is_array());
    auto v = ctl(f.store, {"verify"});
    CHECK(v.code == 0);
    CHECK_THAT(v.out, Catch::StartsWith("ok"));
}

TEST_CASE("cli: verify reports what a killed backup left, and the next backup removes it", "[client][cli]") {
    namespace fs = std::filesystem;
    Fixture f;
    REQUIRE(ctl(f.store, {"backup"}).code == 0);  // a finished backup: the daily one is not due
    auto finishedBackups = [&] {
        int n = 0;
        for (const auto& e : fs::directory_iterator(f.store + "/backups")) {
            CHECK(e.path().extension() == ".db");
            ++n;
        }
        return n;
    };
    const int before = finishedBackups();
    // A backup killed before it renamed its copy into place leaves the copy and its journal.
    const std::string partial = f.store + "/backups/outpost-20260101T000000000Z.db.partial";
    fs::copy_file(f.store + "/outpost.db", partial);
    std::ofstream(partial + "-journal", std::ios::binary) << std::string(512, 'j');

    auto v = ctl(f.store, {"verify"});
    CHECK(v.code == 8);
    CHECK_THAT(v.out,
               Catch::Contains("problem: backups/outpost-20260101T000000000Z.db.partial (") &&
                   Catch::Contains("problem: backups/outpost-20260101T000000000Z.db.partial-journal") &&
                   Catch::Contains("interrupted"));
    CHECK(fs::exists(partial));

    auto b = ctl(f.store, {"backup"});
    INFO(b.err);
    REQUIRE(b.code == 0);
    CHECK_FALSE(fs::exists(partial));
    CHECK_FALSE(fs::exists(partial + "-journal"));
    CHECK(finishedBackups() == before + 1);
    v = ctl(f.store, {"verify"});
    CHECK(v.code == 0);
    CHECK_THAT(v.out, Catch::StartsWith("ok"));
}

TEST_CASE("cli: bad input exits non-zero with every problem named, and nothing changes", "[client][cli]") {
    Fixture f;
    TempDir t;
    auto before = ctl(f.store, {"info"});
    REQUIRE(before.code == 0);

    auto r = ctl(f.store,
                 {"record", "new", "--form", "training", "--json", writeFile(t, "a.json", "{\"course\": ")});
    CHECK(r.code == 7);
    CHECK_THAT(r.err, Catch::Contains("malformed JSON") && Catch::Contains("a.json"));

    r = ctl(f.store,
            {"record", "new", "--form", "training", "--json",
             writeFile(t, "b.json",
                       R"({"course": 12, "nonsense": true, "attendees_men": -3, "hours": "long"})")});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("course: type") && Catch::Contains("nonsense: unknown_field") &&
                          Catch::Contains("attendees_men: min") && Catch::Contains("hours: type"));

    r = ctl(f.store, {"record", "new", "--form", "trainingg", "--json", writeFile(t, "c.json", "{}")});
    CHECK(r.code == 3);
    CHECK_THAT(r.err, Catch::Contains("unknown form 'trainingg'"));

    r = ctl(f.store, {"record", "new", "--form", "training", "--json",
                      writeFile(t, "d.json", "{\"remarks\": \"caf\xc3\"}")});
    CHECK(r.code == 7);
    CHECK_THAT(r.err, Catch::Contains("not valid UTF-8"));

    r = ctl(f.store, {"record", "new", "--form", "training", "--json", t.sub("missing.json")});
    CHECK(r.code == 7);
    CHECK_THAT(r.err, Catch::Contains("cannot read"));

    json big = {{"remarks", std::string(10 * 1024 * 1024, 'x')}};
    r = ctl(f.store, {"record", "new", "--form", "training", "--json", writeFile(t, "e.json", big.dump())});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("remarks: max_length"));
    CHECK(r.err.size() < 4000);

    r = ctl(f.store, {"record", "new", "--form", "training", "--json", writeFile(t, "f.json", "[1,2,3]")});
    CHECK(r.code == 2);

    r = ctl(f.store, {"record", "finalize", "0190f5a3-0000-7000-8000-000000000000"});
    CHECK(r.code == 3);

    r = ctl(f.store, {"record", "list"}, "not the passphrase");
    CHECK(r.code == 4);
    CHECK_THAT(r.err, Catch::Contains("wrong passphrase"));

    r = ctl(f.store, {"record", "lst"});
    CHECK(r.code == 1);
    r = ctl(f.store, {"record", "list", "--status", "sent"});
    CHECK(r.code == 1);
    r = ctl(f.store, {"export", "--form", "training", "--format", "xlsx"});
    CHECK(r.code == 1);

    r = ctl(f.store, {"search", "'; DROP TABLE record; --"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("no record matches"));

    auto after = ctl(f.store, {"info"});
    CHECK(after.out == before.out);  // nothing was stored or changed
    CHECK(ctl(f.store, {"verify"}).code == 0);
}

TEST_CASE("cli: finalize demands a complete record and lists what is missing", "[client][cli]") {
    Fixture f;
    TempDir t;
    auto n = ctl(f.store, {"record", "new", "--form", "incident", "--json", writeFile(t, "i.json", "{}")});
    REQUIRE(n.code == 0);
    std::string id = trimmed(n.out);
    auto fin = ctl(f.store, {"record", "finalize", id});
    CHECK(fin.code == 2);
    CHECK_THAT(fin.err, Catch::Contains("required"));
    auto show = ctl(f.store, {"record", "show", id, "--json"});
    CHECK(json::parse(show.out)["meta"]["status"] == "draft");
    auto edit = ctl(f.store, {"record", "edit", id, "--json", f.example("incident")});
    INFO(edit.err);
    REQUIRE(edit.code == 0);
    fin = ctl(f.store, {"record", "finalize", id});
    INFO(fin.err);
    CHECK(fin.code == 0);
    auto again = ctl(f.store, {"record", "edit", id, "--json", f.example("incident")});
    CHECK(again.code == 6);
    auto amend = ctl(f.store, {"record", "amend", id});
    CHECK(amend.code == 0);
    CHECK_THAT(amend.out, Catch::Contains("r2"));
}

TEST_CASE("cli: exports never contain the sensitive SEA section", "[client][cli]") {
    Fixture f;
    // The SEA section is written by the conduct focal point; even their export leaves it out.
    const std::string cfp = "focal point pass 1";
    std::string add = "OUTPOST_PASSPHRASE=" + shellQuote("field pass 2026") +
                      " OUTPOST_NEW_PASSPHRASE=" + shellQuote(cfp) + " " + shellQuote(OUTPOSTCTL) +
                      " --store " + shellQuote(f.store) +
                      " account add cfp.test --role conduct-focal-point > /dev/null 2>&1";
    REQUIRE(std::system(add.c_str()) == 0);
    auto n = ctl(f.store, {"record", "new", "--form", "incident", "--json", f.example("incident-sea")}, cfp);
    INFO(n.err);
    REQUIRE(n.code == 0);
    std::string id = trimmed(n.out);
    REQUIRE(ctl(f.store, {"record", "finalize", id}, cfp).code == 0);
    json sea = json::parse(outpost::test::readFile(f.example("incident-sea")));
    std::string ref = sea["victim_reference"];
    for (const char* fmt : {"csv", "json"}) {
        auto e = ctl(f.store, {"export", "--form", "incident", "--format", fmt}, cfp);
        REQUIRE(e.code == 0);
        CHECK_THAT(e.out, Catch::Contains(id));
        CHECK(e.out.find(ref) == std::string::npos);
        CHECK(e.out.find("victim_reference") == std::string::npos);
    }
}

TEST_CASE("cli: init refuses bad set-up input", "[client][cli]") {
    TempDir t;
    auto r = ctl(t.sub("s1"), {"init", "--unit", "NOPE", "--user", "x"});
    CHECK(r.code == 7);
    CHECK_THAT(r.err, Catch::Contains("unknown unit 'NOPE'"));
    r = ctl(t.sub("s2"), {"init", "--unit", unitId(), "--user", "x"}, "short");
    CHECK(r.code == 7);
    CHECK_THAT(r.err, Catch::Contains("at least 8 characters"));
    r = ctl(t.sub("s3"), {"init", "--unit", unitId()});
    CHECK(r.code == 1);
    r = ctl(t.sub("none"), {"record", "list"});
    CHECK(r.code == 3);
    CHECK_THAT(r.err, Catch::Contains("outpostctl init"));
}

TEST_CASE("cli: demo-seed adds final, queued records and refuses a bad count", "[client][cli]") {
    Fixture f;
    auto r = ctl(f.store, {"demo-seed", "--count", "0"});
    CHECK(r.code == 1);
    r = ctl(f.store, {"demo-seed", "--count", "many"});
    CHECK(r.code == 1);
    r = ctl(f.store, {"demo-seed", "--count", "12", "--seed", "3"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto info = json::parse(ctl(f.store, {"info"}).out);
    CHECK(info["final"] == 12);
    CHECK(info["outbox"] == 12);
    CHECK(ctl(f.store, {"verify"}).code == 0);
    // One unit only: an unknown unit is refused and adds nothing.
    r = ctl(f.store, {"demo-seed", "--count", "5", "--unit", "NO-SUCH-UNIT"});
    CHECK(r.code == 3);
    CHECK_THAT(r.err, Catch::Contains("NO-SUCH-UNIT"));
    // Another unit's reports: HQ would refuse them, so the laptop makes none.
    r = ctl(f.store, {"demo-seed", "--count", "5", "--unit", "MINUSCA-PAKBATT-1"});
    CHECK(r.code == 7);
    CHECK_THAT(r.err, Catch::Contains("reports for MINUSCA-RWABATT-1, not MINUSCA-PAKBATT-1"));
    CHECK(json::parse(ctl(f.store, {"info"}).out)["final"] == 12);
    r = ctl(f.store, {"demo-seed", "--count", "5", "--unit", "MINUSCA-RWABATT-1"});
    REQUIRE(r.code == 0);
    CHECK(json::parse(ctl(f.store, {"info"}).out)["final"] == 17);
    for (const auto& row : json::parse(ctl(f.store, {"record", "list", "--json"}).out))
        CHECK(row["unit"] == "MINUSCA-RWABATT-1");
}

namespace {

// Raw SQL on the store file, as someone with the file but without the passphrase would run it.
void rawSql(const std::string& store, const std::string& sql) {
    outpost::test::rawSql(store + "/outpost.db", sql);
}

}  // namespace

TEST_CASE("cli: audit list shows what was done and audit verify finds a tampered log",
          "[client][cli][audit]") {
    Fixture f;
    auto n = ctl(f.store, {"record", "new", "--form", "training", "--json", f.example("training")});
    REQUIRE(n.code == 0);
    std::string id = trimmed(n.out);
    REQUIRE(ctl(f.store, {"record", "finalize", id}).code == 0);
    REQUIRE(ctl(f.store, {"export", "--form", "training", "--format", "json"}).code == 0);

    auto list = ctl(f.store, {"audit", "list", "--json"});
    INFO(list.err);
    REQUIRE(list.code == 0);
    json entries = json::parse(list.out);
    std::vector<std::string> actions;
    for (const auto& e : entries) actions.push_back(e["action"]);
    // Each command signs in (an "unlock" entry); reading the log itself adds nothing to it.
    CHECK(actions == std::vector<std::string>{"audit start", "unlock", "create", "unlock", "finalize",
                                              "unlock", "export"});
    CHECK(entries[1]["subject"] == "cdr.test");
    CHECK(entries[1]["detail"]["via"] == "outpostctl");
    CHECK(entries[2]["subject"] == id + " r1");
    CHECK(entries[2]["actor"] == "cdr.test");
    CHECK(entries[6]["detail"]["records"] == 1);
    auto table = ctl(f.store, {"audit", "list", "--after", "4", "--limit", "1"});
    REQUIRE(table.code == 0);
    CHECK_THAT(table.out, Catch::Contains("finalize") && Catch::Contains("1 entry"));

    auto ok = ctl(f.store, {"audit", "verify"});
    CHECK(ok.code == 0);
    CHECK_THAT(ok.out, Catch::StartsWith("ok: the audit log is whole: 7 entries"));

    SECTION("an edited entry") {
        rawSql(f.store,
               "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET action = 'nothing' WHERE seq = 2;");
        auto bad = ctl(f.store, {"audit", "verify"});
        CHECK(bad.code != 0);
        CHECK_THAT(bad.err, Catch::Contains("audit entry 2"));
    }
    SECTION("the newest entry deleted") {
        rawSql(f.store, "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 7;");
        auto bad = ctl(f.store, {"audit", "verify"});
        CHECK(bad.code == 8);
        CHECK_THAT(bad.out, Catch::Contains("6 entries") && Catch::Contains("says 7"));
    }
}

TEST_CASE("cli: audit commands refuse bad input", "[client][cli][audit]") {
    Fixture f;
    CHECK(ctl(f.store, {"audit"}).code != 0);
    CHECK(ctl(f.store, {"audit", "list", "--limit", "0"}).code != 0);
    CHECK(ctl(f.store, {"audit", "list", "--after", "-3"}).code != 0);
    CHECK(ctl(f.store, {"audit", "list", "--after", "many"}).code != 0);
    CHECK(ctl(f.store, {"audit", "rewrite"}).code != 0);
    auto wrong = ctl(f.store, {"audit", "verify"}, "not the passphrase");
    CHECK(wrong.code != 0);
    CHECK_THAT(wrong.err, Catch::Contains("wrong passphrase"));
    TempDir empty;
    CHECK(ctl(empty.sub("none"), {"audit", "verify"}).code != 0);
}
