// A lost passphrase recovered through HQ, with the real programs: enrollment gives the laptop HQ's
// recovery key, `outpostctl recovery request`, `outpost-hq recovery open`, `outpostctl recovery complete`.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "e2e/e2e_support.hpp"

using namespace outpost;
using namespace outpost::test;
namespace fs = std::filesystem;

namespace {

const char* kUnit = "MINUSCA-RWABATT-1";
const char* kOld = "forgotten passphrase 1";
const char* kNew = "recovered passphrase 1";
const char* kClerk = "clerk passphrase 1";

// Run once on HQ's SQLite store and once on PostgreSQL (docs/operations.md).
std::string backendUnderTest() {
    return GENERATE(as<std::string>{}, "sqlite", "postgres");
}

// outpostctl with, when given, the passphrase and the new passphrase in its environment only.
CommandResult ctl(const std::string& store, std::vector<std::string> args, const std::string& pass = "",
                  const std::string& newPass = "") {
    std::vector<std::string> argv = {"/usr/bin/env", "-u", "OUTPOST_PASSPHRASE", "-u", "OUTPOST_ACCOUNT"};
    if (!pass.empty()) argv.push_back("OUTPOST_PASSPHRASE=" + pass);
    if (!newPass.empty()) argv.push_back("OUTPOST_NEW_PASSPHRASE=" + newPass);
    argv.insert(argv.end(), {OUTPOSTCTL, "--store", store});
    argv.insert(argv.end(), args.begin(), args.end());
    return runProgram(argv);
}

CommandResult hqAdmin(const std::string& data, std::vector<std::string> args) {
    std::vector<std::string> argv = {hqBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data", data});
    return runProgram(argv);
}

void expectOk(const CommandResult& r) {
    INFO("exit " << r.exitCode << "\nstdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exitCode == 0);
}

}  // namespace

TEST_CASE("a lost passphrase recovered through HQ, with the real programs", "[e2e][recovery]") {
    const std::string backend = backendUnderTest();
    Hq hq(backend);
    const std::string hqData = hq.proc->options().dataDir;
    TempDir work;
    const std::string store = work.sub("store");
    expectOk(ctl(store, {"init", "--unit", kUnit, "--user", "cdr.rec"}, kOld));
    expectOk(ctl(store, {"account", "add", "clerk.rec", "--role", "clerk"}, kOld, kClerk));
    CHECK(nlohmann::json::parse(ctl(store, {"info"}, kOld).out)["recovery_slot"] == false);
    expectOk(ctl(store,
                 {"enroll", "--hq", hq.proc->url(), "--code", hq.proc->enroll(kUnit), "--name", "rec-1"},
                 kOld));
    CHECK(nlohmann::json::parse(ctl(store, {"info"}, kOld).out)["recovery_slot"] == true);
    struct stat st {};
    REQUIRE(::stat((hqData + "/hq-recovery.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    const std::string payload = work.sub("training.json");
    fs::copy_file(sourcePath("examples/training.json"), payload);
    auto made = ctl(store, {"record", "new", "--form", "training", "--json", payload}, kOld);
    expectOk(made);
    const std::string id = made.out.substr(0, made.out.find('\n'));
    expectOk(ctl(store, {"record", "finalize", id}, kOld));

    // The commander's passphrase is lost. The request needs none.
    const std::string request = work.sub("stick/request.json");
    const std::string response = work.sub("stick/response.json");
    fs::create_directories(work.sub("stick"));
    auto req = ctl(store, {"recovery", "request", "--data", store, "--out", request});
    expectOk(req);
    REQUIRE(fs::exists(request));
    REQUIRE(fs::exists(store + "/recovery-pending.key"));
    // The request holds no key a finder could use: only sealed data and a public key.
    CHECK_FALSE(anyFileContains(work.sub("stick"), readFile(store + "/recovery-pending.key").substr(45, 44)));

    // HQ refuses what is not a request, and writes nothing.
    const std::string junk = work.sub("stick/junk.json");
    std::ofstream(junk) << "{\"outpost_recovery_request\": 1, \"store_id\": \"x\"}";
    auto bad = hqAdmin(hqData, {"recovery", "open", "--request", junk, "--out", response});
    CHECK(bad.exitCode != 0);
    CHECK_THAT(bad.err, Catch::Contains("not an Outpost recovery request"));
    CHECK_FALSE(fs::exists(response));
    // Another HQ cannot open it.
    Hq other(backend);
    auto foreign =
        hqAdmin(other.proc->options().dataDir, {"recovery", "open", "--request", request, "--out", response});
    CHECK(foreign.exitCode != 0);
    CHECK_THAT(foreign.err, Catch::Contains("not sealed to this HQ's recovery key"));
    CHECK_FALSE(fs::exists(response));

    auto opened = hqAdmin(hqData, {"recovery", "open", "--request", request, "--out", response});
    expectOk(opened);
    CHECK_THAT(opened.out, Catch::Contains(kUnit));
    REQUIRE(fs::exists(response));

    // Bad completions change nothing.
    auto unknown =
        ctl(store, {"recovery", "complete", "--data", store, "--response", response, "--account", "nobody"},
            "", kNew);
    CHECK(unknown.exitCode == 3);
    auto shortPass =
        ctl(store, {"recovery", "complete", "--data", store, "--response", response, "--account", "cdr.rec"},
            "", "short");
    CHECK(shortPass.exitCode == 7);
    auto wrongFile =
        ctl(store, {"recovery", "complete", "--data", store, "--response", request, "--account", "cdr.rec"},
            "", kNew);
    CHECK(wrongFile.exitCode == 7);
    CHECK_THAT(wrongFile.err, Catch::Contains("not an Outpost recovery response"));
    CHECK(fs::exists(store + "/recovery-pending.key"));

    auto done =
        ctl(store, {"recovery", "complete", "--data", store, "--response", response, "--account", "cdr.rec"},
            "", kNew);
    expectOk(done);
    CHECK_FALSE(fs::exists(store + "/recovery-pending.key"));
    // The new passphrase opens the commander's account, with every report; the clerk's is unchanged.
    auto shown = ctl(store, {"record", "show", id}, kNew);
    expectOk(shown);
    CHECK(nlohmann::json::parse(ctl(store, {"info"}, kNew).out)["role"] == "commander");
    expectOk(ctl(store, {"info"}, kClerk));
    auto old = ctl(store, {"info"}, kOld);
    CHECK(old.exitCode == 4);
    // The response cannot be used a second time.
    auto again =
        ctl(store, {"recovery", "complete", "--data", store, "--response", response, "--account", "cdr.rec"},
            "", "third passphrase 1");
    CHECK(again.exitCode == 3);
    CHECK_THAT(again.err, Catch::Contains("no recovery request is pending"));
}
