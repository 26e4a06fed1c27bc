// A conduct incident's SEA section end to end: sealed on the laptop to HQ's conduct keys, sent, purged from
// the laptop after HQ's receipt, opened at HQ only with a conduct officer's key file and passphrase (and the
// opening audited), through a key rotation; with the real outpost-hq over TLS, on both HQ stores.
#include <cstdlib>

#include "e2e/e2e_support.hpp"
#include "support/raw_sql.hpp"

using namespace outpost;
using namespace outpost::test;
using json = nlohmann::json;

namespace {

const char* kUnit = "MINUSCA-RWABATT-1";

std::string backendUnderTest() {
    return GENERATE(as<std::string>{}, "sqlite", "postgres");
}

json seaPayload(const std::string& marker) {
    json p = json::parse(readFile(sourcePath("examples/incident-sea.json")));
    p["unit"] = kUnit;
    p["sea_notes"] = marker;
    p["victim_reference"] = "CDT-26-" + marker.substr(marker.size() - 4);
    return p;
}

std::string finalSea(Laptop& lap, const std::string& marker) {
    auto d = lap.store->createDraft("incident", seaPayload(marker));
    INFO((d ? "" : d.error().message));
    REQUIRE(d.ok());
    REQUIRE(lap.store->finalize(d->meta.id).ok());
    return d->meta.id;
}

struct Shown {
    int exitCode = 0;
    json doc;
    std::string out, err;
};

Shown show(const Hq& hq, const std::string& id, const std::string& keyFile = {}) {
    std::vector<std::string> args{"reports", "show", id};
    if (!keyFile.empty()) args.insert(args.end(), {"--open-sealed", "--key", keyFile});
    auto r = hq.proc->admin(args);
    Shown s{r.exitCode, json(), r.out, r.err};
    if (r.exitCode == 0) s.doc = json::parse(r.out);
    return s;
}

void admin(const Hq& hq, const std::vector<std::string>& args, int expectExit = 0) {
    auto r = hq.proc->admin(args);
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == expectExit);
}

}  // namespace

TEST_CASE(
    "an SEA section reaches HQ sealed: only a conduct key opens it, the laptop purges its copy, keys "
    "rotate") {
    auto backend = backendUnderTest();
    Hq hq(backend);
    Laptop lap(kUnit);
    lap.enroll(hq);
    const std::string first = finalSea(lap, "marker-sealed-0001");
    lap.addReports(12);  // other forms go along
    auto r = lap.sync();
    REQUIRE(r.ok);
    checkExactlyOnce(hq, {&lap});
    // The laptop keeps no copy once HQ's receipt is in, only the hash.
    auto sec = lap.store->sealedSection(first, 1);
    REQUIRE(sec.ok());
    CHECK(sec->state == "purged");
    CHECK(sec->recipients == std::vector<std::string>{hq.conductKeyId});

    // An HQ user without a conduct key sees the incident, who it is sealed to, and nothing of the section.
    auto plain = show(hq, first);
    REQUIRE(plain.exitCode == 0);
    CHECK(plain.out.find("marker-sealed-0001") == std::string::npos);
    CHECK_FALSE(plain.doc["payload"].contains("victim_reference"));
    CHECK(plain.doc["payload"].contains("description"));
    CHECK(plain.doc["sealed"]["recipients"] == json::array({hq.conductKeyId}));
    CHECK_FALSE(plain.doc["sealed"].contains("content"));
    // Nor does an export.
    auto exported = hq.proc->admin({"reports", "export", "--format", "json"});
    REQUIRE(exported.exitCode == 0);
    CHECK(exported.out.find("marker-sealed-0001") == std::string::npos);

    // The conduct officer opens it with the key file and passphrase; the opening is in HQ's audit log.
    auto opened = show(hq, first, hq.conductKeyFile);
    INFO(opened.err);
    REQUIRE(opened.exitCode == 0);
    CHECK(opened.doc["sealed"]["content"]["sea_notes"] == "marker-sealed-0001");
    CHECK(opened.doc["sealed"]["content"]["victim_reference"] == "CDT-26-0001");
    auto audit = hq.proc->admin({"audit", "list"});
    CHECK_THAT(audit.out, Catch::Contains("open sealed") && Catch::Contains(first));
    // A wrong passphrase opens nothing (exit 4), and --open-sealed without a key file is a usage error.
    ::setenv("OUTPOST_CONDUCT_PASSPHRASE", "not the officer's passphrase", 1);
    auto wrong = show(hq, first, hq.conductKeyFile);
    ::setenv("OUTPOST_CONDUCT_PASSPHRASE", HqProcess::kConductPassphrase, 1);
    CHECK(wrong.exitCode == 4);
    CHECK_THAT(wrong.err, Catch::Contains("wrong passphrase"));
    CHECK(wrong.out.find("marker-sealed-0001") == std::string::npos);
    CHECK(hq.proc->admin({"reports", "show", first, "--open-sealed"}).exitCode == 1);

    // Rotation: officer B's key added, A's retired; the laptop learns it at its next sync.
    TempDir keys;
    const std::string bFile = keys.sub("b.key");
    const std::string bId = hq.proc->addConductKey(bFile, "Officer B");
    admin(hq, {"conduct-key", "retire", hq.conductKeyId});
    admin(hq, {"conduct-key", "retire", bId}, 6);  // the last key in use stays
    admin(hq, {"conduct-key", "retire", "0123456789abcdef"}, 3);
    auto list = hq.proc->admin({"conduct-key", "list"});
    CHECK_THAT(list.out, Catch::Contains("1 key(s) in use") && Catch::Contains("retired"));
    REQUIRE(lap.sync().ok);
    const std::string second = finalSea(lap, "marker-sealed-0002");
    REQUIRE(lap.sync().ok);
    checkExactlyOnce(hq, {&lap});
    CHECK(lap.store->sealedSection(second, 1)->recipients == std::vector<std::string>{bId});
    auto byB = show(hq, second, bFile);
    REQUIRE(byB.exitCode == 0);
    CHECK(byB.doc["sealed"]["content"]["sea_notes"] == "marker-sealed-0002");
    auto byA = show(hq, second, hq.conductKeyFile);  // retired: not a recipient of new sections
    CHECK(byA.exitCode == 4);
    CHECK_THAT(byA.err, Catch::Contains("not sealed to conduct key " + hq.conductKeyId));
    auto oldByA = show(hq, first, hq.conductKeyFile);  // what was sealed to A still opens with A
    REQUIRE(oldByA.exitCode == 0);
    CHECK(oldByA.doc["sealed"]["content"]["sea_notes"] == "marker-sealed-0001");

    // An amendment that leaves the section empty keeps the sealed one: HQ shows r1's.
    REQUIRE(lap.store->amend(first).ok());
    json d = lap.store->get(first)->payload;
    d["description"] = d["description"].get<std::string>() + " The inquiry has started.";
    REQUIRE(lap.store->saveDraft(first, d).ok());
    REQUIRE(lap.store->finalize(first).ok());
    REQUIRE(lap.sync().ok);
    auto amended = show(hq, first, hq.conductKeyFile);
    REQUIRE(amended.exitCode == 0);
    CHECK(amended.doc["report"]["revision"] == 2);
    CHECK(amended.doc["sealed"]["revision"] == 1);
    CHECK(amended.doc["sealed"]["content"]["sea_notes"] == "marker-sealed-0001");
    checkExactlyOnce(hq, {&lap});

    // An insider who swaps a sealed section in HQ's database (here: the second incident's into the first)
    // is found by verify, which checks each section against the hash the device signed.
    if (backend == "sqlite") {
        rawSql(hq.proc->options().dataDir + "/hq.db",
               "UPDATE report SET sealed = (SELECT sealed FROM report WHERE record_id = '" + second +
                   "') WHERE record_id = '" + first + "' AND revision = 1");
        auto v = hq.proc->admin({"verify"});
        CHECK(v.exitCode == 8);
        CHECK_THAT(v.out, Catch::Contains(first) && Catch::Contains("not the one the device signed"));
    }
}
