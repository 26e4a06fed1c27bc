// A laptop whose SEA report waits for HQ's conduct keys, driven with outpostctl against the real
// outpost-hq: the sync says the queue is not drained (its own exit code), outbox and verify say why, and
// the report goes with the first sync after HQ publishes a key.
#include <cstdlib>

#include "e2e/e2e_support.hpp"

using namespace outpost;
using namespace outpost::test;
using json = nlohmann::json;

namespace {

const char* kUnit = "MINUSCA-RWABATT-1";
const char* kPass = "held report pass 2026";

CommandResult ctl(const std::string& store, std::vector<std::string> args) {
    ::setenv("OUTPOST_PASSPHRASE", kPass, 1);
    args.insert(args.begin(), {OUTPOSTCTL, "--store", store});
    return runProgram(args);
}

std::string lastLine(const std::string& s) {
    auto end = s.find_last_not_of('\n');
    auto start = s.rfind('\n', end);
    return s.substr(start == std::string::npos ? 0 : start + 1,
                    end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace

TEST_CASE("e2e: an SEA report held for HQ's conduct keys: sync exits 11 and says why, outbox and verify too",
          "[e2e][cli][sealed]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgres");
    Hq hq(backend, 0, {}, /*withConductKey=*/false);
    TempDir t;
    const std::string store = t.sub("store");
    auto r = ctl(store, {"init", "--unit", kUnit, "--user", "maj.held"});
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    r = ctl(store, {"enroll", "--hq", hq.proc->url(), "--code", hq.proc->enroll(kUnit), "--name", "held"});
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    for (const char* example : {"incident-sea", "training"}) {
        const std::string form = std::string(example) == "training" ? "training" : "incident";
        auto n = ctl(store, {"record", "new", "--form", form, "--json",
                             sourcePath(std::string("examples/") + example + ".json")});
        INFO(n.out << n.err);
        REQUIRE(n.exitCode == 0);
        REQUIRE(ctl(store, {"record", "finalize", lastLine(n.out)}).exitCode == 0);
    }

    // The training session goes; the incident stays, and the exit code says the queue is not drained.
    r = ctl(store, {"sync"});
    INFO(r.out << r.err);
    CHECK(r.exitCode == 11);
    CHECK_THAT(r.out,
               Catch::Contains("1 stored") && Catch::Contains("1 waiting (1 held for HQ's conduct keys)"));
    CHECK_THAT(r.err, Catch::Contains("1 report(s) not sent") &&
                          Catch::Contains("waits for HQ's conduct-and-discipline keys") &&
                          Catch::Contains("outpost-hq conduct-key add"));
    CHECK(hq.store()->reportCount().value() == 1);

    // outbox names the state and the reason, in text and JSON.
    auto ob = ctl(store, {"outbox"});
    REQUIRE(ob.exitCode == 0);
    CHECK_THAT(ob.out, Catch::Contains("incident") && Catch::Contains("held") &&
                           Catch::Contains("waits for HQ's conduct-and-discipline keys"));
    auto obj = json::parse(ctl(store, {"outbox", "--json"}).out);
    REQUIRE(obj.size() == 1);
    CHECK(obj[0]["state"] == "held");
    CHECK_THAT(obj[0]["held_reason"].get<std::string>(), Catch::Contains("conduct-and-discipline keys"));
    // verify is not silent about it (the store itself is healthy: exit 0).
    auto v = ctl(store, {"verify"});
    CHECK(v.exitCode == 0);
    CHECK_THAT(v.out, Catch::Contains("note: 1 report(s) held on this laptop"));

    // Once HQ publishes a key, the next sync seals the section to it and drains the queue.
    hq.proc->addConductKey(hq.conductKeyFile);
    r = ctl(store, {"sync"});
    INFO(r.out << r.err);
    CHECK(r.exitCode == 0);
    CHECK(json::parse(ctl(store, {"outbox", "--json"}).out).empty());
    CHECK(hq.store()->reportCount().value() == 2);
    v = ctl(store, {"verify"});
    CHECK(v.exitCode == 0);
    CHECK(v.out.find("held") == std::string::npos);
}
