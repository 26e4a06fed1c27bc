// Every built-in form filled with marker strings through the real programs, then every byte Outpost
// leaves on the laptop's disk scanned for them: the database, its WAL and journal, backups, a USB
// bundle and the temporary folder the programs were given.
#include <filesystem>
#include <fstream>

#include "core/form.hpp"
#include "core/validate.hpp"
#include "e2e/e2e_support.hpp"

using namespace outpost;
using namespace outpost::test;
using json = nlohmann::json;

namespace {

const char* kUnit = "MINUSCA-RWABATT-1";
const char* kPass = "scan passphrase 77";

// Run once on HQ's SQLite store and once on PostgreSQL (docs/operations.md).
std::string backendUnderTest() {
    return GENERATE(as<std::string>{}, "sqlite", "postgres");
}

struct Env {
    std::string store, tmp;
};

CommandResult ctl(const Env& e, std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env",    std::string("OUTPOST_PASSPHRASE=") + kPass,
                                     "TMPDIR=" + e.tmp, OUTPOSTCTL,
                                     "--store",         e.store};
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

// Replaces every free-text value (text and multiline fields, in repeat rows too) with a marker unique to
// the form, field and row, keeping a marker only where the record stays valid; every other string a
// person typed or chose that is long enough to be recognisable is a marker as it is (an SEA case's
// pseudonymous reference, for one).
void markFields(const core::FormDef& form, const std::vector<core::FieldDef>& fields, json& obj,
                const std::string& prefix, std::vector<std::pair<std::string, std::string>>& slots) {
    for (const auto& f : fields) {
        auto it = obj.find(f.name);
        if (it == obj.end()) continue;
        if (f.type == core::FieldType::Repeat && it->is_array()) {
            for (std::size_t i = 0; i < it->size(); ++i)
                markFields(form, f.fields, (*it)[i], prefix + f.name + std::to_string(i) + "-", slots);
        } else if ((f.type == core::FieldType::Text || f.type == core::FieldType::Multiline) &&
                   it->is_string()) {
            slots.emplace_back(prefix + f.name, it->get<std::string>());
            std::string marker = "Mkr" + form.id + "-" + prefix + f.name + "-Zq81";
            marker.erase(std::remove(marker.begin(), marker.end(), '_'), marker.end());
            *it = marker;
        }
    }
}

json markedPayload(const core::FormDef& form, json payload, const core::ReferenceData& ref,
                   std::vector<std::string>& markers) {
    std::vector<std::pair<std::string, std::string>> slots;
    json marked = payload;
    markFields(form, form.fields, marked, "", slots);
    // A marker that breaks a pattern or a length rule goes back to the generated value, which is then
    // scanned for as it is.
    auto result = core::validateRecord(form, marked, core::ValidationMode::Final, ref);
    if (!result.ok()) marked = payload;
    std::function<void(const json&)> collect = [&](const json& v) {
        if (v.is_string()) {
            const auto& s = v.get_ref<const std::string&>();
            // Free text and references, not the short codes every laptop shares (choice values, unit ids).
            if (s.size() >= 10 && s.find(' ') != std::string::npos) markers.push_back(s.substr(0, 40));
            if (s.rfind("Mkr", 0) == 0 || s.rfind("CDT-", 0) == 0) markers.push_back(s);
        } else if (v.is_array() || v.is_object()) {
            for (const auto& e : v) collect(e);
        }
    };
    collect(marked);
    return marked;
}

}  // namespace

TEST_CASE(
    "every form's text is nowhere on the laptop's disk in plaintext: store, WAL, backups, bundle, "
    "temp files") {
    const std::string backend = backendUnderTest();
    Hq hq(backend);
    TempDir work;
    Env env{work.sub("store"), work.sub("tmp")};
    std::filesystem::create_directories(env.tmp);
    expectOk(ctl(env, {"init", "--unit", kUnit, "--user", "cdr.scan"}));
    expectOk(
        ctl(env, {"enroll", "--hq", hq.proc->url(), "--code", hq.proc->enroll(kUnit), "--name", "scan"}));

    const auto ref = core::ReferenceData::demo();
    const auto forms = core::builtinForms(ref);
    outpost::demo::DemoData demo(ref, 4242);
    std::vector<std::string> markers;
    std::vector<std::string> ids;
    int n = 0;
    auto add = [&](const std::string& formId, json payload, bool finalize) {
        auto form = forms.latest(formId);
        REQUIRE(form);
        json marked = markedPayload(*form, std::move(payload), ref, markers);
        const std::string file = work.sub("in" + std::to_string(n++) + ".json");
        std::ofstream(file) << marked.dump();
        auto made = ctl(env, {"record", "new", "--form", formId, "--json", file});
        expectOk(made);
        ids.push_back(firstLine(made.out));
        if (finalize) expectOk(ctl(env, {"record", "finalize", ids.back()}));
        // The input file is the user's own, outside the store: it goes before the scan.
        std::filesystem::remove(file);
    };
    for (const auto& formId : outpost::demo::DemoData::formIds()) {
        if (formId == "incident") continue;
        add(formId, demo.next(formId, kUnit), true);
        add(formId, demo.next(formId, kUnit), false);  // left as a draft
    }
    add("incident", demo.incident(kUnit, true), true);
    add("incident", demo.incident(kUnit, true), false);
    add("incident", demo.incident(kUnit, false), true);
    // A marker in each form's text fields at least (a pattern may have sent some back to their values).
    std::size_t markerCount = 0;
    for (const auto& m : markers) markerCount += m.rfind("Mkr", 0) == 0;
    CHECK(markerCount >= 8);
    INFO(markerCount << " markers put in text fields, " << markers.size() << " strings scanned for");
    REQUIRE(markers.size() >= 20);

    // An amended record (a draft revision of a final one), a backup, a sync with HQ and a USB bundle.
    expectOk(ctl(env, {"record", "amend", ids[0]}));
    expectOk(ctl(env, {"backup"}));
    expectOk(ctl(env, {"search", "Mkrtraining"}));
    const std::string stick = work.sub("stick");
    std::filesystem::create_directories(stick);
    expectOk(ctl(env, {"bundle", "export", stick + "/outpost.bundle"}));
    expectOk(ctl(env, {"sync"}));
    expectOk(ctl(env, {"verify"}));
    REQUIRE(std::filesystem::exists(stick + "/outpost.bundle"));

    // HQ has the reports (they are what HQ is for), so the check is not scanning an empty store.
    CHECK(hq.store()->reportCount().value() == 5);
    // The scan finds what is there: HQ keeps what it received as it is, so its SQLite store's files show the
    // markers (PostgreSQL's files are the server's), and so does its JSON export on either store.
    if (backend == "sqlite")
        CHECK(anyFileContains(hq.proc->options().dataDir, "Mkrtraining-gap-description-Zq81"));
    const std::string exportDir = work.sub("hq-export");
    std::filesystem::create_directories(exportDir);
    expectOk(hq.proc->admin({"reports", "export", "--format", "json", "--out", exportDir + "/reports.json"}));
    CHECK(anyFileContains(exportDir, "Mkrtraining-gap-description-Zq81"));

    std::string where;
    for (const auto& m : markers) {
        INFO("marker: " << m);
        for (const auto& dir : {env.store, env.tmp, stick}) {
            CHECK_FALSE(anyFileContains(dir, m, &where));
            INFO(where);
        }
    }
    // The files scanned include what SQLite keeps beside the database, and the backups.
    CHECK(std::filesystem::exists(env.store + "/outpost.db"));
    CHECK_FALSE(std::filesystem::is_empty(env.store + "/backups"));
}
