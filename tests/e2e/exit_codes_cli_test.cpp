// outpostctl and outpost-hq share one table of exit codes (cli/exit_code.hpp, docs/cli.md): the same failure
// gives the same code from both programs.
#include <fstream>

#include "cli/exit_code.hpp"
#include "e2e/e2e_support.hpp"

using namespace outpost;
using namespace outpost::test;
using cli::ExitCode;
using json = nlohmann::json;

namespace {

const char* kUnit = "MINUSCA-RWABATT-1";
const char* kPass = "exit codes pass 1";

// outpostctl with, when given, the passphrase in its environment only.
CommandResult ctl(const std::string& store, std::vector<std::string> args, const std::string& pass = kPass) {
    std::vector<std::string> argv = {"/usr/bin/env", "-u", "OUTPOST_PASSPHRASE", "-u", "OUTPOST_ACCOUNT"};
    if (!pass.empty()) argv.push_back("OUTPOST_PASSPHRASE=" + pass);
    argv.insert(argv.end(), {OUTPOSTCTL, "--store", store});
    argv.insert(argv.end(), args.begin(), args.end());
    return runProgram(argv);
}

// outpost-hq ... --data DATA, with, when given, a conduct officer's passphrase in its environment only.
CommandResult hqAdmin(const std::string& data, std::vector<std::string> args,
                      const std::string& conductPass = "") {
    std::vector<std::string> argv = {"/usr/bin/env", "-u", "OUTPOST_CONDUCT_PASSPHRASE"};
    if (!conductPass.empty()) argv.push_back("OUTPOST_CONDUCT_PASSPHRASE=" + conductPass);
    argv.push_back(hqBinary());
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data", data});
    return runProgram(argv);
}

void expectOk(const CommandResult& r) {
    INFO("exit " << r.exitCode << "\nstdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exitCode == 0);
}

// Both programs failed with the code expected, and each said why on stderr.
void bothExit(const CommandResult& fromCtl, const CommandResult& fromHq, ExitCode expected) {
    INFO("outpostctl: exit " << fromCtl.exitCode << ": " << fromCtl.err);
    INFO("outpost-hq: exit " << fromHq.exitCode << ": " << fromHq.err);
    CHECK(fromCtl.exitCode == cli::exitStatus(expected));
    CHECK(fromHq.exitCode == cli::exitStatus(expected));
    CHECK_THAT(fromCtl.err, Catch::StartsWith("outpostctl: "));
    CHECK_THAT(fromHq.err, Catch::StartsWith("outpost-hq: "));
}

std::string write(const TempDir& t, const std::string& name, const std::string& content) {
    std::ofstream(t.sub(name), std::ios::binary) << content;
    return t.sub(name);
}

}  // namespace

TEST_CASE("e2e: outpostctl and outpost-hq give the same exit code for the same failure", "[e2e][cli]") {
    Hq hq("sqlite");
    const std::string data = hq.proc->options().dataDir;
    TempDir work;
    const std::string store = work.sub("store");
    expectOk(ctl(store, {"init", "--unit", kUnit, "--user", "cdr.codes"}));
    expectOk(ctl(store, {"enroll", "--hq", hq.proc->url(), "--code", hq.proc->enroll(kUnit)}));

    // An SEA incident at HQ, its section sealed to HQ's conduct key: what a conduct passphrase opens.
    Laptop lap(kUnit);
    lap.enroll(hq);
    json sea = json::parse(readFile(sourcePath("examples/incident-sea.json")));
    sea["unit"] = kUnit;
    auto draft = lap.store->createDraft("incident", sea);
    REQUIRE(draft.ok());
    REQUIRE(lap.store->finalize(draft->meta.id).ok());
    REQUIRE(lap.sync().ok);
    const std::string sealedId = draft->meta.id;
    expectOk(hqAdmin(data, {"reports", "show", sealedId, "--open-sealed", "--key", hq.conductKeyFile},
                     HqProcess::kConductPassphrase));

    // A wrong passphrase: the laptop's store, HQ's conduct key.
    bothExit(ctl(store, {"info"}, "not the passphrase"),
             hqAdmin(data, {"reports", "show", sealedId, "--open-sealed", "--key", hq.conductKeyFile},
                     "not the officer's passphrase"),
             ExitCode::Auth);

    // Bad input files: malformed JSON, invalid UTF-8, a missing file, a file that is no bundle.
    const std::string malformed = write(work, "malformed.json", "{\"form\": ");
    bothExit(ctl(store, {"record", "new", "--form", "training", "--json", malformed}),
             hqAdmin(data, {"forms", "push", malformed}), ExitCode::Input);
    const std::string binary = write(work, "binary.json", std::string("\xff\xfe{}", 4));
    bothExit(ctl(store, {"record", "new", "--form", "training", "--json", binary}),
             hqAdmin(data, {"forms", "push", binary}), ExitCode::Input);
    bothExit(ctl(store, {"record", "new", "--form", "training", "--json", work.sub("missing.json")}),
             hqAdmin(data, {"forms", "push", work.sub("missing.json")}), ExitCode::Input);
    const std::string junk = write(work, "junk.bundle", "not a bundle, not a receipt\n");
    bothExit(ctl(store, {"bundle", "import", junk}),
             hqAdmin(data, {"import-bundle", junk, "--out", work.sub("r")}), ExitCode::Input);

    // Well-formed content that breaks its rules: a record its form's, a form definition the form rules.
    bothExit(ctl(store, {"record", "new", "--form", "training", "--json",
                         write(work, "wrong.json", R"({"course": 12, "attendees_men": -3})")}),
             hqAdmin(data, {"forms", "push", write(work, "form.json", R"({"form": "x", "version": 2})")}),
             ExitCode::Invalid);

    // Usage: an unknown command, a malformed option value.
    bothExit(ctl(store, {"frobnicate"}), hqAdmin(data, {"frobnicate"}), ExitCode::Usage);
    bothExit(ctl(store, {"audit", "list", "--limit", "0"}), hqAdmin(data, {"audit", "list", "--limit", "0"}),
             ExitCode::Usage);

    // Not found: no store in the folder, no HQ in the folder; an unknown record or report.
    bothExit(ctl(work.sub("no-store"), {"info"}), hqAdmin(work.sub("no-hq"), {"devices"}),
             ExitCode::NotFound);
    const std::string unknownId = "0190f5a3-0000-7000-8000-000000000000";
    bothExit(ctl(store, {"record", "show", unknownId}), hqAdmin(data, {"reports", "show", unknownId}),
             ExitCode::NotFound);

    // The state does not allow it: a final revision edited, an HQ initialised twice.
    auto n =
        ctl(store, {"record", "new", "--form", "training", "--json", sourcePath("examples/training.json")});
    expectOk(n);
    const std::string id = n.out.substr(0, n.out.find('\n'));
    expectOk(ctl(store, {"record", "finalize", id}));
    bothExit(ctl(store, {"record", "edit", id, "--json", sourcePath("examples/training.json")}),
             hqAdmin(data, {"init"}), ExitCode::Conflict);
}
