// outpostctl's accounts, roles, failed-passphrase delay and recovery commands, with the real binary.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/refdata.hpp"
#include "support/test_support.hpp"

using outpost::test::TempDir;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Run {
    int code = -1;
    std::string out;
    std::string err;
};

std::string q(const std::string& s) {
    std::string r = "'";
    for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return r + "'";
}

// outpostctl with the passphrase (and, when given, the new passphrase) in its environment only.
Run ctl(const std::string& store, const std::vector<std::string>& args, const std::string& pass,
        const std::string& newPass = "") {
    TempDir io;
    std::string cmd = "env -u OUTPOST_ACCOUNT";
    if (!pass.empty()) cmd += " OUTPOST_PASSPHRASE=" + q(pass);
    if (!newPass.empty()) cmd += " OUTPOST_NEW_PASSPHRASE=" + q(newPass);
    cmd += " " + q(OUTPOSTCTL) + " --store " + q(store);
    for (const auto& a : args) cmd += " " + q(a);
    cmd += " > " + io.sub("out") + " 2> " + io.sub("err") + " < /dev/null";
    int status = std::system(cmd.c_str());
    Run r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = outpost::test::readFile(io.sub("out"));
    r.err = outpost::test::readFile(io.sub("err"));
    return r;
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string example(const std::string& name) {
    return outpost::test::sourcePath("examples/" + name + ".json");
}

const char* kCdr = "commander pass 1";
const char* kCfp = "focal point pass 1";
const char* kClerk = "clerk pass 1";

struct Unit {
    TempDir t;
    std::string store = t.sub("store");
    Unit() {
        std::string unit = outpost::core::ReferenceData::demo().table("units")[0]["id"];
        auto r = ctl(store, {"init", "--unit", unit, "--user", "cdr.amani"}, kCdr);
        INFO(r.err);
        REQUIRE(r.code == 0);
        CHECK_THAT(r.out, Catch::Contains("commander"));
        auto a = ctl(store, {"account", "add", "cfp.bah", "--role", "conduct-focal-point"}, kCdr, kCfp);
        INFO(a.err);
        REQUIRE(a.code == 0);
        auto b =
            ctl(store, {"account", "add", "clerk.moussa", "--role", "clerk", "--display-name", "Cpl. Moussa"},
                kCdr, kClerk);
        INFO(b.err);
        REQUIRE(b.code == 0);
    }
    std::string seaIncident() {
        auto n = ctl(store, {"record", "new", "--form", "incident", "--json", example("incident-sea")}, kCfp);
        INFO(n.err);
        REQUIRE(n.code == 0);
        std::string id = trimmed(n.out);
        REQUIRE(ctl(store, {"record", "finalize", id}, kCfp).code == 0);
        return id;
    }
};

}  // namespace

TEST_CASE("cli: wrong role reading SEA fields", "[client][cli][accounts]") {
    Unit u;
    const std::string id = u.seaIncident();
    const json sea = json::parse(outpost::test::readFile(example("incident-sea")));
    const std::string ref = sea["victim_reference"];

    // Finalized, the section left the record even for the focal point: it waits, encrypted, for HQ's
    // conduct keys and then goes sealed to them.
    auto cfp = ctl(u.store, {"record", "show", id, "--json"}, kCfp);
    REQUIRE(cfp.code == 0);
    CHECK(cfp.out.find(ref) == std::string::npos);
    CHECK(json::parse(cfp.out)["history"][0]["sensitive_section"]["state"] == "waiting");
    auto text = ctl(u.store, {"record", "show", id}, kCfp);
    CHECK_THAT(text.out, Catch::Contains("confidential section waiting for HQ's conduct keys"));
    // A draft's section is the focal point's to read, and only theirs.
    auto n = ctl(u.store, {"record", "new", "--form", "incident", "--json", example("incident-sea")}, kCfp);
    REQUIRE(n.code == 0);
    const std::string draft = trimmed(n.out);
    CHECK_THAT(ctl(u.store, {"record", "show", draft, "--json"}, kCfp).out, Catch::Contains(ref));
    CHECK(ctl(u.store, {"record", "show", draft, "--json"}, kCdr).out.find(ref) == std::string::npos);

    auto cdr = ctl(u.store, {"record", "show", id, "--json"}, kCdr);
    REQUIRE(cdr.code == 0);
    CHECK_THAT(cdr.out, Catch::Contains("description"));
    CHECK(cdr.out.find(ref) == std::string::npos);
    CHECK(cdr.out.find("victim_reference") == std::string::npos);
    CHECK(cdr.out.find("sea_notes") == std::string::npos);

    auto clerk = ctl(u.store, {"record", "show", id}, kClerk);
    CHECK(clerk.code == 4);
    CHECK_THAT(clerk.err, Catch::Contains("the clerk role may not read incident records"));
    CHECK(clerk.out.find(ref) == std::string::npos);
    auto list = ctl(u.store, {"record", "list"}, kClerk);
    REQUIRE(list.code == 0);
    CHECK(list.out.find(id) == std::string::npos);
    auto exp = ctl(u.store, {"export", "--form", "incident", "--format", "json"}, kClerk);
    REQUIRE(exp.code == 0);
    CHECK(exp.out.find(id) == std::string::npos);
    // --account must match the passphrase: the clerk's passphrase does not sign in the focal point.
    auto wrongAccount = ctl(u.store, {"--account", "cfp.bah", "record", "show", id}, kClerk);
    CHECK(wrongAccount.code == 4);
    CHECK_THAT(wrongAccount.err, Catch::Contains("wrong passphrase"));
}

TEST_CASE("cli: a clerk cannot create an incident nor manage accounts", "[client][cli][accounts]") {
    Unit u;
    auto inc = ctl(u.store, {"record", "new", "--form", "incident", "--json", example("incident")}, kClerk);
    CHECK(inc.code == 4);
    CHECK_THAT(inc.err, Catch::Contains("the clerk role may not create incident records"));
    CHECK(ctl(u.store, {"record", "list", "--form", "incident"}, kCdr).out == "no records\n");
    auto add = ctl(u.store, {"account", "add", "x.y", "--role", "commander"}, kClerk, "new pass 1234");
    CHECK(add.code == 4);
    CHECK_THAT(add.err, Catch::Contains("clerk role may not add accounts"));
    auto role = ctl(u.store, {"account", "role", "clerk.moussa", "commander"}, kClerk);
    CHECK(role.code == 4);
    auto accounts = ctl(u.store, {"account", "list", "--json"}, kCdr);
    REQUIRE(accounts.code == 0);
    json a = json::parse(accounts.out);
    REQUIRE(a.size() == 3);
    for (const auto& x : a)
        if (x["name"] == "clerk.moussa") CHECK(x["role"] == "clerk");
    // A clerk enters a training session; finalizing it is for the commander.
    auto d = ctl(u.store, {"record", "new", "--form", "training", "--json", example("training")}, kClerk);
    REQUIRE(d.code == 0);
    auto fin = ctl(u.store, {"record", "finalize", trimmed(d.out)}, kClerk);
    CHECK(fin.code == 4);
    CHECK_THAT(fin.err, Catch::Contains("the clerk role may not finalize training records"));
    CHECK(ctl(u.store, {"record", "finalize", trimmed(d.out)}, kCdr).code == 0);
}

TEST_CASE("cli: account commands refuse bad input and change nothing", "[client][cli][accounts]") {
    Unit u;
    auto before = ctl(u.store, {"account", "list", "--json"}, kCdr).out;
    struct Case {
        std::vector<std::string> args;
        std::string newPass;
        int code;
        std::string message;
    };
    const std::vector<Case> cases = {
        {{"account", "add", "x.one", "--role", "general"}, "new pass 1234", 1, "unknown role 'general'"},
        {{"account", "add", "Bad Name", "--role", "clerk"}, "new pass 1234", 7, "not a valid account name"},
        {{"account", "add", "x.two", "--role", "clerk"}, "short", 7, "at least 8 characters"},
        {{"account", "add", "clerk.moussa", "--role", "clerk"}, "new pass 1234", 6, "exists already"},
        {{"account", "remove", "nobody"}, "", 3, "no active account 'nobody'"},
        {{"account", "remove", "cdr.amani"}, "", 6, "cannot remove itself"},
        {{"account", "role", "nobody", "clerk"}, "", 3, "no active account"},
        {{"account", "role", "clerk.moussa", "general"}, "", 1, "unknown role"},
        {{"account", "role", "cdr.amani", "clerk"}, "", 6, "last commander"},
        {{"recovery", "request", "--out", "/tmp/never-written-request.json"}, "", 3, "no recovery slot"},
        {{"recovery", "complete", "--response", "/nonexistent/file", "--account", "cdr.amani"},
         "new pass 1234",
         7,
         "cannot read"},
    };
    for (const auto& c : cases) {
        auto r = ctl(u.store, c.args, kCdr, c.newPass);
        INFO(c.args[0] << " " << c.args[1] << ": " << r.err);
        CHECK(r.code == c.code);
        CHECK_THAT(r.err, Catch::Contains(c.message));
    }
    CHECK_FALSE(fs::exists("/tmp/never-written-request.json"));
    CHECK(ctl(u.store, {"account", "list", "--json"}, kCdr).out == before);
    // Every passphrase still opens its account.
    for (const char* p : {kCdr, kCfp, kClerk}) CHECK(ctl(u.store, {"info"}, p).code == 0);
    // passwd: the new passphrase opens, the old one does not.
    REQUIRE(ctl(u.store, {"account", "passwd"}, kClerk, "clerk pass 2").code == 0);
    CHECK(ctl(u.store, {"info"}, "clerk pass 2").code == 0);
    auto old = ctl(u.store, {"info"}, kClerk);
    CHECK(old.code == 4);
    // remove: the account's passphrase opens nothing any more.
    REQUIRE(ctl(u.store, {"account", "remove", "clerk.moussa"}, kCdr).code == 0);
    auto removed = ctl(u.store, {"info"}, "clerk pass 2");
    CHECK(removed.code == 4);
}

TEST_CASE("cli: the wait after a wrong passphrase is shown and kept between runs",
          "[client][cli][accounts]") {
    Unit u;
    auto typo = ctl(u.store, {"info"}, "a typo in it");
    CHECK(typo.code == 4);
    CHECK_THAT(typo.err, Catch::Contains("wrong passphrase"));
    CHECK(typo.err.find("next try") == std::string::npos);  // one typo costs nothing
    auto wrong = ctl(u.store, {"info"}, "not the passphrase");
    CHECK(wrong.code == 4);
    CHECK_THAT(wrong.err,
               Catch::Contains("wrong passphrase") && Catch::Contains("next try is possible in 1 s"));
    // The next run (another process) waits out the delay, says so, then signs in.
    const auto start = std::chrono::steady_clock::now();
    auto right = ctl(u.store, {"info"}, kCdr);
    const auto took = std::chrono::steady_clock::now() - start;
    INFO(right.err);
    CHECK(right.code == 0);
    if (right.err.find("waiting") != std::string::npos) {
        CHECK_THAT(right.err, Catch::Contains("2 wrong passphrase(s) in a row: waiting 1 s"));
        CHECK(took >= std::chrono::milliseconds(900));
    }
    // The right passphrase cleared the count; three wrong ones in a row, and the wait doubles.
    CHECK(ctl(u.store, {"info"}, "wrong once").code == 4);
    CHECK(ctl(u.store, {"info"}, "wrong twice").code == 4);
    auto third = ctl(u.store, {"info"}, "wrong thrice");
    CHECK(third.code == 4);
    // (it waited out the 1 s first when it came sooner than that)
    CHECK_THAT(third.err, Catch::Contains("in 2 s"));
}
