// Sites with no network, with the real programs: `outpostctl bundle export`, `outpost-hq import-bundle` on
// HQ's data folder (the server stopped), `outpostctl bundle import`, and the refusals each makes.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "e2e/e2e_support.hpp"

using namespace outpost;
using namespace outpost::test;

namespace {

const char* kUnit = "MINUSCA-RWABATT-1";
const char* kPass = "bundle passphrase 1";
const char* kMarker = "Okapi-ridge latrine survey 5521";

// Run once on HQ's SQLite store and once on PostgreSQL (docs/operations.md).
std::string backendUnderTest() {
    return GENERATE(as<std::string>{}, "sqlite", "postgres");
}

// outpostctl --store STORE ARGS..., with the passphrase in its environment only.
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

std::string firstLine(const std::string& s) {
    return s.substr(0, s.find('\n'));
}

}  // namespace

TEST_CASE("USB bundles with the real programs: export at the site and import at HQ and back") {
    Hq hq(backendUnderTest());
    TempDir work;
    const std::string store = work.sub("store");
    expectOk(ctl(store, {"init", "--unit", kUnit, "--user", "lt.bundle"}));
    // Enrolled once, where there was a link; from then on the site has none.
    expectOk(
        ctl(store, {"enroll", "--hq", hq.proc->url(), "--code", hq.proc->enroll(kUnit), "--name", "site-7"}));
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        const std::string payload = work.sub("gap" + std::to_string(i) + ".json");
        std::ofstream(payload) << nlohmann::json{
            {"unit", kUnit},
            {"description", std::string(kMarker) + " " + std::to_string(i)},
            {"source", "evaluation"},
            {"identified_date", "2025-01-10"},
            {"severity", "minor"},
            {"personnel_affected", 12},
            {"remedy", "in_mission_course"},
            {"target_date", "2025-03-01"},
            {"status", "open"}}.dump();
        auto made = ctl(store, {"record", "new", "--form", "training-gap", "--json", payload});
        expectOk(made);
        ids.push_back(firstLine(made.out));
        expectOk(ctl(store, {"record", "finalize", ids.back()}));
    }
    hq.proc->stop();

    const std::string bundle = work.sub("stick/outpost.bundle");
    std::filesystem::create_directories(work.sub("stick"));
    auto exported = ctl(store, {"bundle", "export", bundle});
    expectOk(exported);
    CHECK_THAT(exported.out, Catch::Contains("3 report(s) in 1 push(es)"));
    struct stat st {};
    REQUIRE(::stat(bundle.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(readFile(bundle).rfind("OUTPOST-BUNDLE/2\n", 0) == 0);
    // Nothing of the reports is readable on the stick.
    CHECK_FALSE(anyFileContains(work.sub("stick"), kMarker));
    CHECK_FALSE(anyFileContains(work.sub("stick"), "Okapi"));
    CHECK_FALSE(anyFileContains(work.sub("stick"), ids[0]));
    // Still queued: exporting removes nothing.
    CHECK_THAT(ctl(store, {"outbox"}).out, Catch::Contains("3 waiting for HQ"));

    const std::string receipt = work.sub("stick/outpost.receipt");
    auto imported = hq.proc->admin({"import-bundle", bundle, "--out", receipt});
    expectOk(imported);
    CHECK_THAT(imported.out, Catch::Contains("3 report(s) stored, 0 already there"));
    CHECK_THAT(imported.out, !Catch::Contains("imported before"));
    CHECK(readFile(receipt).rfind("OUTPOST-RECEIPT/2\n", 0) == 0);
    CHECK_FALSE(anyFileContains(work.sub("stick"), kMarker));
    CHECK(hq.store()->reportCount().value() == 3);

    auto applied = ctl(store, {"bundle", "import", receipt});
    expectOk(applied);
    CHECK_THAT(applied.out, Catch::Contains("3 stored"));
    CHECK_THAT(applied.out, Catch::Contains("0 waiting"));
    CHECK_THAT(ctl(store, {"outbox"}).out, Catch::Contains("0 waiting for HQ"));
    CHECK_THAT(ctl(store, {"record", "show", ids[1]}).out, Catch::Contains("(HQ #"));

    // Both files again, HQ's server running this time: harmless on both sides.
    hq.proc->start();
    const std::string receipt2 = work.sub("stick/outpost-2.receipt");
    auto again = hq.proc->admin({"import-bundle", bundle, "--out", receipt2});
    expectOk(again);
    CHECK(hq.store()->reportCount().value() == 3);
    // Said and audited as it happened: stored the first time, already there the second.
    CHECK_THAT(again.out, Catch::Contains("0 report(s) stored, 3 already there"));
    CHECK_THAT(again.out, Catch::Contains("note: 1 of the 1 push(es) had been imported before"));
    {
        std::vector<nlohmann::json> imports;
        const auto entries = hq.store()->audit(0, 1000).value();
        for (const auto& e : entries)
            if (e.action == "bundle import") imports.push_back(nlohmann::json::parse(e.detail));
        REQUIRE(imports.size() == 2);
        CHECK(imports[0]["stored"] == 3);
        CHECK(imports[0]["duplicate"] == 0);
        CHECK(imports[0]["replayed"] == 0);
        CHECK(imports[1]["stored"] == 0);
        CHECK(imports[1]["duplicate"] == 3);
        CHECK(imports[1]["replayed"] == 1);
    }
    auto againLaptop = ctl(store, {"bundle", "import", receipt2});
    expectOk(againLaptop);
    CHECK_THAT(againLaptop.out, Catch::Contains("3 applied before"));
    expectOk(ctl(store, {"bundle", "import", receipt}));
    expectOk(ctl(store, {"verify"}));

    // The wrong file on each side, a cut file, and --out naming the bundle itself.
    auto wrongSide = ctl(store, {"bundle", "import", bundle});
    CHECK(wrongSide.exitCode == 7);
    CHECK_THAT(wrongSide.err, Catch::Contains("bundle for HQ"));
    CHECK_THAT(wrongSide.err, Catch::Contains("nothing was changed"));
    const std::string other = work.sub("stick/other.receipt");
    auto wrongHq = hq.proc->admin({"import-bundle", receipt, "--out", other});
    CHECK(wrongHq.exitCode == 7);
    CHECK_THAT(wrongHq.err, Catch::Contains("receipt for a laptop"));
    const std::string cut = work.sub("stick/cut.bundle");
    std::string bytes = readFile(bundle);
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    auto truncated = hq.proc->admin({"import-bundle", cut, "--out", other});
    CHECK(truncated.exitCode == 7);
    CHECK_THAT(truncated.err, Catch::Contains("truncated"));
    CHECK(hq.proc->admin({"import-bundle", bundle, "--out", bundle}).exitCode == 1);
    auto missing = ctl(store, {"bundle", "import", work.sub("nothing-here")});
    CHECK(missing.exitCode == 3);
    CHECK_FALSE(std::filesystem::exists(other));

    // A revoked laptop's bundle is refused, and no receipt is made.
    auto devices = hq.proc->admin({"devices", "--format", "json"});
    expectOk(devices);
    const std::string device = nlohmann::json::parse(devices.out).at(0).at("id");
    expectOk(hq.proc->admin({"revoke", "--device", device}));
    const std::string late = work.sub("stick/late.bundle");
    expectOk(ctl(store, {"bundle", "export", late}));
    auto revoked = hq.proc->admin({"import-bundle", late, "--out", other});
    CHECK(revoked.exitCode == 6);
    CHECK_THAT(revoked.err, Catch::Contains("revoked"));
    CHECK_FALSE(std::filesystem::exists(other));
    CHECK(hq.store()->reportCount().value() == 3);
}

TEST_CASE(
    "USB bundles with the real programs: HQ's receipt for sixty demo reports with sealed SEA sections "
    "imports on the laptop") {
    // The field report: an enrolled laptop whose HQ is offline, demo-seed --count 60 --seed 9, bundle
    // export, outpost-hq import-bundle, bundle import. The laptop knows HQ's conduct keys (a first sync
    // brought them), so the SEA incidents among the reports travel sealed.
    Hq hq("sqlite");
    TempDir work;
    const std::string store = work.sub("store");
    expectOk(ctl(store, {"init", "--unit", kUnit, "--user", "lt.bundle"}));
    expectOk(
        ctl(store, {"enroll", "--hq", hq.proc->url(), "--code", hq.proc->enroll(kUnit), "--name", "site-9"}));
    expectOk(ctl(store, {"sync"}));
    hq.proc->stop();
    for (const auto& [count, seed] : std::vector<std::pair<int, int>>{{60, 9}, {70, 10}}) {
        INFO(count << " reports, seed " << seed);
        expectOk(ctl(store, {"demo-seed", "--count", std::to_string(count), "--seed", std::to_string(seed),
                             "--unit", kUnit}));
        const std::string bundle = work.sub("b" + std::to_string(seed) + ".bundle");
        const std::string receipt = work.sub("r" + std::to_string(seed) + ".receipt");
        expectOk(ctl(store, {"bundle", "export", bundle}));
        auto in = hq.proc->admin({"import-bundle", bundle, "--out", receipt});
        INFO(in.out << in.err);
        REQUIRE(in.exitCode == 0);
        CHECK_THAT(in.out, Catch::Contains(std::to_string(count) + " report(s) stored"));
        auto applied = ctl(store, {"bundle", "import", receipt});
        expectOk(applied);
        CHECK_THAT(applied.out, Catch::Contains(std::to_string(count) + " stored"));
        CHECK_THAT(ctl(store, {"outbox"}).out, Catch::Contains("0 waiting for HQ"));
        expectOk(ctl(store, {"verify"}));
    }
    // Some of them were SEA incidents whose section went sealed and is now purged on the laptop.
    auto shown = ctl(store, {"record", "list", "--form", "incident", "--json"});
    expectOk(shown);
    CHECK(nlohmann::json::parse(shown.out).size() >= 10);
}
