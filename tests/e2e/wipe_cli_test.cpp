// Panic wipe and revocation with the real programs: `outpostctl wipe` wants the unit typed back, and a
// laptop that HQ revoked wipes its store at its next contact.
#include <filesystem>
#include <fstream>

#include "e2e/e2e_support.hpp"

using namespace outpost;
using namespace outpost::test;

namespace {

const char* kUnit = "MINUSCA-RWABATT-1";
const char* kPass = "wipe cli passphrase 5";

// Run once on HQ's SQLite store and once on PostgreSQL (docs/operations.md).
std::string backendUnderTest() {
    return GENERATE(as<std::string>{}, "sqlite", "postgres");
}

CommandResult ctl(const std::string& store, std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env", std::string("OUTPOST_PASSPHRASE=") + kPass, OUTPOSTCTL,
                                     "--store", store};
    argv.insert(argv.end(), args.begin(), args.end());
    return runProgram(argv);
}

void expectOk(const CommandResult& r) {
    INFO("exit " << r.exitCode << "\nstdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exitCode == 0);
}

void addGap(const std::string& store, const std::string& work, int i) {
    const std::string payload = work + "/gap" + std::to_string(i) + ".json";
    std::ofstream(payload) << nlohmann::json{
        {"unit", kUnit},
        {"description", "Culvert survey at the ridge " + std::to_string(i)},
        {"source", "evaluation"},
        {"identified_date", "2025-01-10"},
        {"severity", "minor"},
        {"personnel_affected", 4},
        {"remedy", "in_mission_course"},
        {"target_date", "2025-03-01"},
        {"status", "open"}}.dump();
    auto made = ctl(store, {"record", "new", "--form", "training-gap", "--json", payload});
    expectOk(made);
    expectOk(ctl(store, {"record", "finalize", made.out.substr(0, made.out.find('\n'))}));
}

}  // namespace

TEST_CASE("outpostctl wipe destroys the store only when its unit is typed back") {
    TempDir work;
    const std::string store = work.sub("store");
    expectOk(ctl(store, {"init", "--unit", kUnit, "--user", "cdr.wipe"}));
    addGap(store, work.path(), 0);
    expectOk(ctl(store, {"backup"}));

    // Without the confirmation, with a wrong one, or on a folder with no store: refused, nothing changed.
    auto none = ctl(store, {"wipe"});
    CHECK(none.exitCode == 1);
    CHECK_THAT(none.err, Catch::Contains("--confirm"));
    auto wrong = ctl(store, {"wipe", "--confirm", "MINUSCA-OTHER-9"});
    CHECK(wrong.exitCode == 1);
    CHECK_THAT(wrong.err, Catch::Contains("--confirm " + std::string(kUnit)));
    auto missing = ctl(work.sub("nothing-here"), {"wipe", "--confirm", kUnit});
    CHECK(missing.exitCode == 3);
    CHECK_THAT(missing.err, Catch::Contains("no Outpost store"));
    auto still = ctl(store, {"record", "list"});
    expectOk(still);
    CHECK_THAT(still.out, Catch::Contains("training-gap"));

    // Confirmed: everything goes, and no passphrase is asked for (a panic leaves no time).
    auto w = runProgram({OUTPOSTCTL, "--store", store, "wipe", "--confirm", kUnit});
    INFO(w.out << w.err);
    REQUIRE(w.exitCode == 0);
    CHECK_THAT(w.out, Catch::Contains("key cop"));
    CHECK_FALSE(std::filesystem::exists(store));
}

TEST_CASE("a laptop that HQ revoked wipes its store at its next contact") {
    Hq hq(backendUnderTest());
    TempDir work;
    const std::string store = work.sub("store");
    expectOk(ctl(store, {"init", "--unit", kUnit, "--user", "cdr.revoked"}));
    expectOk(
        ctl(store, {"enroll", "--hq", hq.proc->url(), "--code", hq.proc->enroll(kUnit), "--name", "lost-7"}));
    addGap(store, work.path(), 1);
    expectOk(ctl(store, {"sync"}));
    auto devices = hq.store()->devices();
    REQUIRE(devices.ok());
    REQUIRE(devices->size() == 1);
    auto rv = hq.proc->admin({"revoke", "--device", devices->front().id});
    INFO(rv.out << rv.err);
    REQUIRE(rv.exitCode == 0);
    addGap(store, work.path(), 2);
    auto r = ctl(store, {"sync"});
    CHECK(r.exitCode == 10);
    CHECK_THAT(r.err, Catch::Contains("revoked"));
    CHECK_THAT(r.err, Catch::Contains("wiped"));
    CHECK_FALSE(std::filesystem::exists(store));
    // HQ kept what it had received before the revocation, and nothing after.
    CHECK(hq.store()->reportCount().value() == 1);
}
