// outpostctl: every command of the field store, parsed with CLI11, results on stdout, problems on stderr.
// Exit codes: cli/exit_code.hpp (docs/cli.md).
//
// [SECTION] plumbing: the store, passphrases, input files
// [SECTION] output helpers
// [SECTION] commands
// [SECTION] accounts and recovery
// [SECTION] runCli
#include "client/cli.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "cli/command.hpp"
#include "cli/input.hpp"
#include "cli/output.hpp"
#include "core/roles.hpp"
#include "core/status.hpp"
#include "core/utf8.hpp"
#include "storage/crypto.hpp"
#include "storage/store.hpp"
#include "storage/store_wipe.hpp"
#include "sync/bundle.hpp"
#include "sync/client.hpp"

namespace outpost::client {

namespace fs = std::filesystem;
using json = nlohmann::json;
using cli::check;
using cli::ExitCode;
using cli::fail;
using storage::Store;

// [SECTION] plumbing: the store, passphrases, input files
namespace {

// Largest JSON input accepted; bigger is refused before parsing (a record is a few KB).
constexpr std::uintmax_t kMaxInputBytes = 64ull * 1024 * 1024;

std::string passphrase(bool confirm) {
    return cli::readSecret({"OUTPOST_PASSPHRASE", "Outpost passphrase: ",
                            confirm ? "Repeat the passphrase: " : "", "nothing was created"},
                           "outpostctl");
}

// A new passphrase (account add, passwd, recovery complete): $OUTPOST_NEW_PASSPHRASE, or asked twice.
std::string newPassphrase() {
    return cli::readSecret(
        {"OUTPOST_NEW_PASSPHRASE", "New passphrase: ", "Repeat the new passphrase: ", "nothing was changed"},
        "outpostctl");
}

// Where the wait after failed passphrases is shown (runCli points it at its error stream).
std::ostream* g_err = &std::cerr;
// The account to sign in as: --account, else $OUTPOST_ACCOUNT, else whichever account the passphrase opens.
std::string g_account;

// auditUnlock: the sign-in goes in the audit log (every command but the audit log's own: reading or checking
// the log must not change it). tidyBackups: what an interrupted backup left is removed (not for verify,
// which reports it).
std::unique_ptr<Store> openStore(const std::string& dir, bool auditUnlock = true, bool tidyBackups = true) {
    std::string account = g_account;
    if (account.empty())
        if (const char* e = std::getenv("OUTPOST_ACCOUNT"); e && *e) account = e;
    std::string pass = passphrase(false);
    auto signedIn = Store::signIn(dir, account, pass);
    if (!signedIn && signedIn.error().domain == ErrorDomain::Auth &&
        signedIn.error().code == ErrorCode::Busy) {
        // The growing delay after failed passphrases: shown, waited out, then the passphrase is tried.
        auto d = check(Store::authDelay(dir));
        // The store counts in whole seconds: the refusal above means some wait was left, even when the
        // clock turned a second between the two reads.
        d.waitSeconds = std::max<std::int64_t>(d.waitSeconds, 1);
        *g_err << "outpostctl: " << d.failures << " wrong passphrase(s) in a row: waiting " << d.waitSeconds
               << " s before trying\n";
        std::this_thread::sleep_for(std::chrono::seconds(d.waitSeconds));
        signedIn = Store::signIn(dir, account, pass);
    }
    storage::wipeSecret(pass);
    auto who = check(std::move(signedIn));
    storage::StoreOptions o;
    o.autoBackup = true;
    o.removeBackupLeftovers = tidyBackups;
    o.account = who.account;
    auto store = check(Store::open(dir, who.key, o));
    if (auditUnlock)
        (void)check(store->appendAudit("unlock", who.account,
                                       json{{"via", "outpostctl"}, {"failed_before", who.failedBefore}}));
    return store;
}

json readJsonInput(const std::string& path) {
    return cli::readJsonInput(path, kMaxInputBytes);
}

// [SECTION] output helpers
json metaJson(const storage::RecordMeta& m) {
    json j = {{"id", m.id},
              {"revision", m.revision},
              {"form", m.formId},
              {"form_version", m.formVersion},
              {"unit", m.unitId},
              {"author", m.author},
              {"status", core::toText(m.status)},
              {"created_utc", m.createdUtc},
              {"created_offset_minutes", m.createdOffsetMinutes},
              {"updated_utc", m.updatedUtc},
              {"sync", core::toText(m.syncState)}};
    j["parent_revision"] = m.parentRevision ? json(*m.parentRevision) : json(nullptr);
    j["finalized_utc"] = m.finalizedUtc.empty() ? json(nullptr) : json(m.finalizedUtc);
    return j;
}

void printIssues(std::ostream& err, const core::ValidationResult& v) {
    for (const auto& i : v.issues) err << (i.warning ? "warning: " : "error: ") << i.text() << "\n";
}

std::string summaryOf(const Store& s, const storage::RecordMeta& m, const json& payload) {
    auto form = s.forms().find(m.formId, m.formVersion);
    if (!form) return {};
    std::string out;
    for (const auto& name : form->summaryFields) {
        auto it = payload.find(name);
        if (it == payload.end() || it->is_null()) continue;
        std::string v = it->is_string() ? it->get<std::string>() : it->dump();
        if (core::codePointCount(v) > 40) v = v.substr(0, 40) + "...";
        out += (out.empty() ? "" : " | ") + v;
    }
    return out;
}

// [SECTION] commands
struct Options {
    std::string store = storage::defaultStoreDir();
    bool asJson = false;
    // init
    std::string unit, user, kdf = "interactive";
    // forms
    std::string form;
    int version = 0;
    // records
    std::string id, input;
    int revision = 0;
    std::string status;
    int limit = 50;
    std::string text;
    std::string today;
    std::string format = "csv";
    std::string outPath;
    bool includeDrafts = false;
    // sync
    std::string hqUrl, code, deviceName;
    bool insecureHttp = false;
    bool verbose = false;  // sync, enroll: the transport library's own words for a failed connection too
    std::int64_t seq = 0;
    // audit list
    std::int64_t auditAfter = 0;
    int auditLimit = 1000;
    // bundle
    std::string bundleFile;
    // wipe
    std::string confirm;
    // accounts and recovery
    std::string account, role = "commander", displayName, requestPath, responsePath;
};

void cmdInit(const Options& o, std::ostream& out) {
    storage::InitOptions io;
    io.unitId = o.unit;
    io.user = o.user;
    io.role = *core::parseRole(o.role);
    if (o.kdf == "moderate") io.kdf = storage::KdfParams::moderate();
    check(Store::create(o.store, passphrase(true), io));
    out << "created an Outpost store in " << o.store << " for unit " << o.unit << " (user " << o.user << ", "
        << o.role << ")\n";
}

void cmdFormsList(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    json arr = json::array();
    for (const auto& f : s->forms().latestAll()) {
        if (o.asJson) {
            arr.push_back({{"form", f->id},
                           {"version", f->version},
                           {"title", {{"en", f->title.en}, {"fr", f->title.fr}}},
                           {"fields", f->allFields().size()},
                           {"sensitive", f->hasSensitiveFields()}});
        } else {
            out << std::left << std::setw(14) << f->id << " v" << std::setw(4) << f->version << f->title.en
                << (f->hasSensitiveFields() ? "  (has a sensitive section)" : "") << "\n";
        }
    }
    if (o.asJson) cli::printJson(out, arr);
}

void cmdFormsShow(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    auto f = o.version ? s->forms().find(o.form, o.version) : s->forms().latest(o.form);
    if (!f)
        fail(ExitCode::NotFound,
             "unknown form '" + o.form + "'" + (o.version ? " v" + std::to_string(o.version) : ""));
    cli::printJson(out, f->source);
}

void cmdRecordNew(const Options& o, std::ostream& out, std::ostream& err) {
    json payload = readJsonInput(o.input);
    auto s = openStore(o.store);
    auto saved = s->createDraft(o.form, payload);
    if (!saved) fail(saved.error());
    printIssues(err, saved->validation);
    out << saved->meta.id << "\n";
}

void cmdRecordEdit(const Options& o, std::ostream& out, std::ostream& err) {
    json payload = readJsonInput(o.input);
    auto s = openStore(o.store);
    auto saved = check(s->saveDraft(o.id, payload));
    printIssues(err, saved.validation);
    out << saved.meta.id << " r" << saved.meta.revision << " saved (draft)\n";
}

void cmdRecordFinalize(const Options& o, std::ostream& out, std::ostream& err) {
    auto s = openStore(o.store);
    auto saved = check(s->finalize(o.id));
    printIssues(err, saved.validation);
    out << saved.meta.id << " r" << saved.meta.revision << " finalized and queued for HQ\n";
}

void cmdRecordAmend(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    auto saved = check(s->amend(o.id));
    out << saved.meta.id << " r" << saved.meta.revision << " draft started from r"
        << *saved.meta.parentRevision << "\n";
}

void cmdRecordDiscard(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    check(s->discardDraft(o.id));
    out << o.id << ": draft discarded\n";
}

json receiptJson(const std::optional<storage::ReceiptInfo>& r) {
    if (!r) return nullptr;
    return {{"status", core::toText(r->status)},
            {"hq_seq", r->hqSeq},
            {"hash", r->hash},
            {"received_utc", r->receivedUtc},
            {"batch", r->batchId}};
}

json feedbackJson(const storage::Feedback& f) {
    return {{"id", f.recordId},
            {"revision", f.revision},
            {"status", core::toText(f.status)},
            {"comment", f.comment},
            {"by", f.by},
            {"at_utc", f.atUtc},
            {"feed_seq", f.feedSeq}};
}

void printFeedback(const storage::Feedback& f, std::ostream& out, bool withId) {
    // Everything here came from HQ over the network: escaped before it reaches the terminal.
    out << (withId ? cli::printable(f.recordId) + " " : std::string("  ")) << "r" << f.revision << " "
        << core::toText(f.status);
    if (!f.by.empty()) out << " by " << cli::printable(f.by);
    if (!f.atUtc.empty()) out << " at " << cli::printable(f.atUtc);
    if (!f.comment.empty()) out << ": " << cli::printable(f.comment);
    out << "\n";
}

void cmdRecordShow(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    auto rec = check(s->get(o.id, o.revision ? std::optional<int>(o.revision) : std::nullopt));
    auto hist = check(s->history(o.id));
    auto feedback = check(s->feedback(o.id));
    std::map<int, std::optional<storage::ReceiptInfo>> receipts;
    for (const auto& m : hist)
        if (m.status == core::RecordStatus::Final) receipts[m.revision] = check(s->receipt(m.id, m.revision));
    // Where each final revision's sensitive section stands: sealed for HQ, never shown here.
    std::map<int, storage::SealedSection> sealed;
    for (const auto& m : hist)
        if (m.status == core::RecordStatus::Final)
            sealed[m.revision] = check(s->sealedSection(m.id, m.revision));
    auto sealedJson = [](const storage::SealedSection& x) -> json {
        if (x.state.empty()) return nullptr;
        return json{{"state", x.state}, {"recipients", x.recipients}};
    };
    if (o.asJson) {
        json h = json::array();
        for (const auto& m : hist) {
            json j = metaJson(m);
            j["receipt"] = receiptJson(receipts[m.revision]);
            if (m.status == core::RecordStatus::Final)
                j["sensitive_section"] = sealedJson(sealed[m.revision]);
            h.push_back(std::move(j));
        }
        json fb = json::array();
        for (const auto& f : feedback) fb.push_back(feedbackJson(f));
        cli::printJson(
            out, {{"meta", metaJson(rec.meta)}, {"payload", rec.payload}, {"history", h}, {"feedback", fb}});
        return;
    }
    auto form = s->forms().find(rec.meta.formId, rec.meta.formVersion);
    out << rec.meta.formId << " " << rec.meta.id << " r" << rec.meta.revision << " ("
        << core::toText(rec.meta.status) << ", " << core::toText(rec.meta.syncState) << ")\n";
    out << "unit " << rec.meta.unitId << ", author " << rec.meta.author << ", created " << rec.meta.createdUtc
        << "\n";
    if (form)
        for (const auto& f : form->fields) {
            auto it = rec.payload.find(f.name);
            if (it == rec.payload.end() || it->is_null()) continue;
            out << "  " << f.label.en << ": " << (it->is_string() ? it->get<std::string>() : it->dump())
                << "\n";
        }
    out << "revisions:\n";
    for (const auto& m : hist) {
        out << "  r" << m.revision << " " << core::toText(m.status) << " " << core::toText(m.syncState) << " "
            << (m.finalizedUtc.empty() ? m.updatedUtc : m.finalizedUtc);
        if (const auto& r = receipts[m.revision])
            out << " (HQ #" << r->hqSeq << ", " << core::toText(r->status) << ", receipt " << r->receivedUtc
                << ")";
        if (const auto& x = sealed[m.revision]; !x.state.empty())
            out << "; confidential section "
                << (x.state == "waiting"  ? "waiting for HQ's conduct keys"
                    : x.state == "sealed" ? "sealed for HQ conduct and discipline"
                                          : "with HQ (sealed; this laptop's copy purged)");
        out << "\n";
    }
    if (!feedback.empty()) {
        out << "HQ feedback:\n";
        for (const auto& f : feedback) printFeedback(f, out, false);
    }
}

void printMetaList(Store& s, const std::vector<storage::RecordMeta>& rows, bool asJson, std::ostream& out) {
    if (asJson) {
        json arr = json::array();
        for (const auto& m : rows) arr.push_back(metaJson(m));
        cli::printJson(out, arr);
        return;
    }
    for (const auto& m : rows) {
        std::string summary;
        if (auto r = s.get(m.id, m.revision)) summary = summaryOf(s, m, r->payload);
        out << m.id << "  r" << m.revision << "  " << std::left << std::setw(13) << m.formId << std::setw(7)
            << core::toText(m.status) << std::setw(12) << core::toText(m.syncState) << summary << "\n";
    }
}

void cmdRecordList(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    storage::ListFilter f;
    f.formId = o.form;
    f.unitId = o.unit;
    if (!o.status.empty()) f.status = check(core::parseText<core::RecordStatus>(o.status));
    f.limit = o.limit;
    auto rows = check(s->list(f));
    printMetaList(*s, rows, o.asJson, out);
    if (!o.asJson && rows.empty()) out << "no records\n";
}

void cmdSearch(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    auto rows = check(s->search(o.text, o.limit));
    printMetaList(*s, rows, o.asJson, out);
    if (!o.asJson && rows.empty()) out << "no record matches\n";
}

void cmdGaps(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    std::vector<std::string> units;
    if (!o.unit.empty()) units.push_back(o.unit);
    auto cells = check(s->trainingGaps(units, o.today));
    if (o.asJson) {
        json arr = json::array();
        for (const auto& c : cells)
            arr.push_back({{"unit", c.unitId},
                           {"course", c.courseId},
                           {"due", c.due},
                           {"status", core::gapStatusName(c.status)},
                           {"sessions", c.sessions},
                           {"attendees", c.attendees},
                           {"passed", c.passed},
                           {"last_date", c.lastDate.empty() ? json(nullptr) : json(c.lastDate)},
                           {"due_by", c.dueBy.empty() ? json(nullptr) : json(c.dueBy)},
                           {"strength", c.strength ? json(*c.strength) : json(nullptr)},
                           {"coverage_pct", c.coveragePct ? json(*c.coveragePct) : json(nullptr)}});
        cli::printJson(out, arr);
        return;
    }
    int open = 0;
    for (const auto& c : cells) {
        out << std::left << std::setw(22) << c.unitId << std::setw(22) << c.courseId << std::setw(19) << c.due
            << std::setw(9) << core::gapStatusName(c.status) << c.sessions << " session(s), " << c.attendees
            << " trained" << (c.coveragePct ? " (" + json(*c.coveragePct).dump() + "% of strength)" : "")
            << (c.lastDate.empty() ? "" : ", last " + c.lastDate) << "\n";
        open += c.status != core::GapStatus::Met;
    }
    out << cells.size() << " requirement(s), " << open << " gap(s)\n";
}

void cmdReadiness(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    std::string unit = o.unit.empty() ? s->unitId() : o.unit;
    auto r = check(s->readiness(unit));
    json j = {{"unit", r.unitId}, {"reports", r.reports}, {"has_report", r.hasReport}};
    if (r.hasReport) {
        j["record"] = r.recordId;
        j["period_end"] = r.periodEnd;
        j["facts"] = r.facts;
        j["women_pct"] = r.womenPct ? json(*r.womenPct) : json(nullptr);
        j["parity_target_pct"] = r.parityTarget ? json(*r.parityTarget) : json(nullptr);
        j["parity_colour"] = r.parityColour;
    }
    cli::printJson(out, j);
}

void cmdExport(const Options& o, std::ostream& out) {
    if (o.format != "csv" && o.format != "json") fail(ExitCode::Usage, "--format must be csv or json");
    auto s = openStore(o.store);
    auto form = s->forms().latest(o.form);
    if (!form) fail(ExitCode::NotFound, "unknown form '" + o.form + "'");
    storage::ListFilter f;
    f.formId = o.form;
    f.unitId = o.unit;
    if (!o.includeDrafts) f.status = core::RecordStatus::Final;
    f.limit = 1 << 30;
    auto rows = check(s->list(f));
    std::ofstream file;
    std::ostream* dst = &out;
    if (!o.outPath.empty()) {
        file.open(o.outPath, std::ios::binary | std::ios::trunc);
        if (!file) fail(ExitCode::Input, "cannot write " + o.outPath);
        dst = &file;
    }
    std::vector<const core::FieldDef*> cols;
    for (const auto& fd : form->fields)
        if (fd.hasValue() && !fd.sensitive) cols.push_back(&fd);
    if (o.format == "csv") {
        // The unit is the form's own unit field; the record's columns are the ones a form has not.
        *dst << "id,revision,status,author,form_version,finalized_utc";
        for (auto* c : cols) *dst << "," << c->name;
        *dst << "\r\n";
    }
    json arr = json::array();
    for (const auto& m : rows) {
        auto rec = check(s->get(m.id, m.revision));
        auto def = s->forms().find(m.formId, m.formVersion);
        json p = def ? cli::withoutSensitive(*def, rec.payload) : json::object();
        if (o.format == "json") {
            json meta = metaJson(m);
            arr.push_back({{"meta", meta}, {"payload", p}});
            continue;
        }
        *dst << m.id << "," << m.revision << "," << core::toText(m.status) << "," << cli::csvCell(m.author)
             << "," << m.formVersion << "," << m.finalizedUtc;
        for (auto* c : cols) *dst << "," << cli::csvCell(p.value(c->name, json()));
        *dst << "\r\n";
    }
    if (o.format == "json") cli::printJson(*dst, arr);
    if (!dst->good()) fail(ExitCode::Storage, "writing the export failed (disk full?)");
    // Not the file name: it is text a user typed.
    check(s->appendAudit("export", o.form,
                         {{"format", o.format}, {"records", rows.size()}, {"drafts", o.includeDrafts}}));
}

void cmdVerify(const Options& o, std::ostream& out) {
    auto s = openStore(o.store, true, false);
    auto problems = check(s->verify());
    auto info = s->info();
    const auto counts = check(s->outboxCounts());
    if (counts.held > 0)
        out << "note: " << counts.held << " report(s) held on this laptop: "
            << "their confidential section waits for HQ's conduct-and-discipline keys; they are not sent "
               "until a sync brings them ('outpostctl outbox' lists them)\n";
    if (problems.empty()) {
        out << "ok: integrity check passed; " << info.records << " revision(s), " << info.finals << " final, "
            << info.outbox << " waiting for HQ\n";
        return;
    }
    for (const auto& p : problems) out << "problem: " << p << "\n";
    fail(ExitCode::Verify, std::to_string(problems.size()) + " problem(s) found");
}

void cmdAuditVerify(const Options& o, std::ostream& out) {
    auto s = openStore(o.store, false);
    auto v = check(s->verifyAudit());
    if (v.problems.empty()) {
        out << "ok: the audit log is whole: " << v.entries << " entr" << (v.entries == 1 ? "y" : "ies")
            << ", chained and anchored under this store's key\n";
        return;
    }
    for (const auto& p : v.problems) out << "problem: " << p << "\n";
    fail(ExitCode::Verify, "the audit log was tampered with: " + v.problems.front());
}

void cmdAuditList(const Options& o, std::ostream& out) {
    auto s = openStore(o.store, false);
    auto entries = check(s->auditLog(o.auditAfter, o.auditLimit));
    if (o.asJson) {
        json arr = json::array();
        for (const auto& e : entries) arr.push_back(cli::auditEntryJson(e));
        cli::printJson(out, arr);
        return;
    }
    for (const auto& e : entries)
        out << e.seq << "  " << e.atUtc << "  " << e.actor << "  " << e.action << "  " << e.subject << "  "
            << e.detail << "\n";
    out << entries.size() << " entr" << (entries.size() == 1 ? "y" : "ies") << "\n";
}

void cmdBackup(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    out << check(s->backup()) << "\n";
}

void cmdOutbox(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    auto items = check(s->outbox());
    if (o.asJson) {
        json arr = json::array();
        for (const auto& i : items)
            arr.push_back({{"seq", i.seq},
                           {"id", i.recordId},
                           {"revision", i.revision},
                           {"form", i.formId},
                           {"priority", i.priority},
                           {"enqueued_utc", i.enqueuedUtc},
                           {"attempts", i.attempts},
                           {"state", core::toText(i.state)},
                           {"held_reason", i.heldReason.empty() ? json(nullptr) : json(i.heldReason)},
                           {"last_error", i.lastError}});
        cli::printJson(out, arr);
        return;
    }
    for (const auto& i : items)
        out << i.seq << "  " << i.recordId << " r" << i.revision << "  " << std::left << std::setw(13)
            << i.formId << std::setw(12) << core::toText(i.state)
            << (i.heldReason.empty() ? "" : "  " + cli::printable(i.heldReason))
            << (i.lastError.empty() ? "" : "  " + cli::printable(i.lastError)) << "\n";
    out << items.size() << " waiting for HQ\n";
}

void cmdOutboxRequeue(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    check(s->requeue(o.seq));
    out << "outbox item " << o.seq << " is queued again; it goes with the next sync\n";
}

void cmdFeedback(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    if (!o.id.empty()) check(s->history(o.id));  // an unknown record is an error, not an empty list
    auto items = check(s->feedback(o.id));
    if (o.asJson) {
        json arr = json::array();
        for (const auto& f : items) arr.push_back(feedbackJson(f));
        cli::printJson(out, arr);
        return;
    }
    for (const auto& f : items) printFeedback(f, out, true);
    if (items.empty()) out << "no feedback from HQ\n";
}

std::string hostName() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "laptop";
    return buf;
}

// --verbose: libcurl's own words for each failed connection, on standard error (the messages say what
// happened in plain words).
void logTransport(const Options& o, sync::ClientOptions& co) {
    if (o.verbose)
        co.transportLog = [](const std::string& detail) {
            *g_err << "outpostctl: detail: " << cli::printable(detail) << "\n";
        };
}

void cmdEnroll(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    sync::ClientOptions co;
    co.allowInsecureHttp = o.insecureHttp;
    logTransport(o, co);
    auto cfg = check(sync::enroll(*s, o.hqUrl, o.code, o.deviceName.empty() ? hostName() : o.deviceName, co));
    out << "enrolled with HQ " << cli::printable(cfg.hqId) << " at " << cli::printable(cfg.hqUrl)
        << " as device " << cli::printable(cfg.deviceId) << " (unit " << cli::printable(s->unitId()) << ")\n";
}

// Ctrl-C during a sync stops the transfers at once; what HQ acknowledged so far is kept.
std::atomic<bool> g_cancelSync{false};
extern "C" void onSyncSignal(int) {
    g_cancelSync.store(true);
}

void cmdSync(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    sync::ClientOptions co;
    co.allowInsecureHttp = o.insecureHttp;
    logTransport(o, co);
    g_cancelSync = false;
    struct sigaction sa = {};
    struct sigaction oldInt = {};
    struct sigaction oldTerm = {};
    sa.sa_handler = onSyncSignal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &oldInt);
    ::sigaction(SIGTERM, &sa, &oldTerm);
    auto r = sync::syncOnce(*s, co, {}, &g_cancelSync);
    ::sigaction(SIGINT, &oldInt, nullptr);
    ::sigaction(SIGTERM, &oldTerm, nullptr);
    auto result = check(std::move(r));
    const auto& p = result.progress;
    auto counts = check(s->outboxCounts());
    out << (result.ok ? "sync done: " : "sync failed: ") << p.itemsSent << " report(s) answered by HQ ("
        << p.stored << " stored, " << p.duplicates << " already there, " << p.conflicts << " conflict(s), "
        << p.rejected << " rejected), " << p.pulled << " feed entr" << (p.pulled == 1 ? "y" : "ies")
        << " pulled; " << counts.queued << " waiting"
        << (counts.held > 0 ? " (" + std::to_string(counts.held) + " held for HQ's conduct keys)" : "")
        << ", " << counts.quarantined << " quarantined"
        << (result.resynced ? "; HQ was restored from a backup, so what it had lost was sent again" : "")
        << "\n";
    // The quarantined reports, each with HQ's reason (the first few: 'outpostctl outbox' lists them all).
    constexpr int kShown = 20;
    int shown = 0;
    for (const auto& i : check(s->outbox())) {
        if (i.state != core::OutboxState::Quarantined) continue;
        if (shown++ == kShown) {
            out << "... and " << (counts.quarantined - kShown)
                << " more quarantined ('outpostctl outbox' lists them)\n";
            break;
        }
        out << "quarantined: " << i.seq << " " << cli::printable(i.recordId) << " r" << i.revision << " "
            << cli::printable(i.formId) << ": " << cli::printable(i.lastError) << "\n";
    }
    if (counts.quarantined > 0)
        out << "fix the cause, then put an item back with 'outpostctl outbox requeue SEQ'\n";
    if (result.revoked) {
        // A revoked laptop may be lost or in the wrong hands: its store goes at this contact.
        s.reset();
        auto w = storage::wipeStore(o.store);
        if (!w)
            fail(ExitCode::Revoked, p.message + "; wiping this laptop's store failed: " + w.error().message);
        fail(ExitCode::Revoked, p.message + "; this laptop's store was wiped (" +
                                    std::to_string(w->keyCopiesDestroyed) + " key cop" +
                                    (w->keyCopiesDestroyed == 1 ? "y" : "ies") + " destroyed, " +
                                    std::to_string(w->filesRemoved) + " file(s) erased)");
    }
    if (!result.ok) fail(ExitCode::Network, p.message);
    if (counts.held > 0)
        fail(ExitCode::Held, std::to_string(counts.held) +
                                 " report(s) not sent: their confidential section waits for HQ's "
                                 "conduct-and-discipline keys, which HQ has not published yet (an HQ "
                                 "officer runs 'outpost-hq conduct-key add'); the next sync after that "
                                 "sends them");
}

// Panic wipe: the keys first, then every file. The unit id typed back is the confirmation.
void cmdWipe(const Options& o, std::ostream& out) {
    std::string unit = check(storage::storeUnitId(o.store));
    if (o.confirm != unit)
        fail(ExitCode::Usage, "to wipe the store in " + o.store + ", confirm with its unit: --confirm " +
                                  unit + " (everything not yet at HQ is lost)");
    auto w = check(storage::wipeStore(o.store));
    out << "wiped: " << w.keyCopiesDestroyed << " key cop" << (w.keyCopiesDestroyed == 1 ? "y" : "ies")
        << " destroyed, " << w.filesRemoved << " file(s) erased, " << o.store << " removed\n";
}

// A bundle for HQ on a USB stick: the queued reports and a request for HQ's feed, sealed to HQ.
void cmdBundleExport(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    auto b = check(sync::exportBundle(*s));
    check(sync::writeBundleFile(o.bundleFile, b.file));
    check(s->appendAudit("bundle export", b.bundleId, {{"reports", b.reports}, {"pushes", b.batches}}));
    out << "bundle " << b.bundleId << " written to " << o.bundleFile << ": " << b.reports << " report(s) in "
        << b.batches << " push(es), and a request for HQ's feed after entry " << b.cursor << "\n";
    if (b.left > 0)
        out << b.left << " more queued report(s) did not fit: export another bundle once this one's receipt "
            << "is imported\n";
    if (b.tooLarge > 0)
        out << b.tooLarge << " report(s) are larger than HQ accepts in one request and were left out\n";
    if (b.held > 0)
        out << b.held << " report(s) held back: their confidential section waits for HQ's conduct-and-"
            << "discipline keys; a receipt from an HQ that has published them brings the keys\n";
    out << "the reports stay queued until HQ's receipt is imported: take the file to HQ ('outpost-hq "
           "import-bundle'), bring back the receipt and run 'outpostctl bundle import RECEIPT'\n";
}

// HQ's receipt for a bundle: outcomes, receipts and HQ's feed, applied as a sync would apply them.
void cmdBundleImport(const Options& o, std::ostream& out) {
    auto bytes = sync::readBundleFile(o.bundleFile);
    if (!bytes) fail(bytes.error());
    auto s = openStore(o.store);
    auto r = sync::importReceipt(*s, bytes.value());
    if (!r) {
        Error e = r.error();
        e.message = o.bundleFile + ": " + e.message + "; nothing was changed";
        fail(e);
    }
    const auto& a = r.value();
    check(s->appendAudit("bundle import", a.bundleId,
                         {{"stored", a.stored},
                          {"duplicate", a.duplicates},
                          {"conflict", a.conflicts},
                          {"rejected", a.rejected},
                          {"pulled", a.pulled},
                          {"stale", a.stale}}));
    auto counts = check(s->outboxCounts());
    if (a.stale) {
        for (const auto& n : a.notes) out << n << "\n";
        return;
    }
    out << "receipt for bundle " << a.bundleId << " applied: " << a.stored << " stored, " << a.duplicates
        << " already there, " << a.conflicts << " conflict(s), " << a.rejected << " rejected";
    if (a.alreadyDone > 0) out << ", " << a.alreadyDone << " applied before";
    out << "; " << a.pulled << " feed entr" << (a.pulled == 1 ? "y" : "ies") << " from HQ"
        << "; " << counts.queued << " waiting, " << counts.quarantined << " quarantined\n";
    for (const auto& n : a.notes) out << n << "\n";
    if (a.more) out << "HQ has more for this laptop: the next bundle's receipt brings it\n";
    if (counts.quarantined > 0)
        out << "'outpostctl outbox' lists the quarantined reports with HQ's reasons\n";
}

void cmdInfo(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    auto i = s->info();
    json j = {{"store", i.dir},    {"schema", i.schemaVersion}, {"unit", i.unitId},
              {"user", i.user},    {"revisions", i.records},    {"drafts", i.drafts},
              {"final", i.finals}, {"outbox", i.outbox}};
    j["role"] = std::string(core::roleName(s->role()));
    j["recovery_slot"] = check(s->hasRecoverySlot());
    j["sync"] = nullptr;
    if (auto cfg = check(s->syncConfig()))
        j["sync"] = {{"hq", cfg->hqUrl},
                     {"hq_id", cfg->hqId},
                     {"device", cfg->deviceId},
                     {"epoch", cfg->epoch},
                     {"revoked", cfg->revoked},
                     {"receipts", check(s->receiptCount())},
                     {"last_sync_utc", cfg->lastSyncUtc.empty() ? json(nullptr) : json(cfg->lastSyncUtc)},
                     {"last_error", cfg->lastError.empty() ? json(nullptr) : json(cfg->lastError)}};
    cli::printJson(out, j);
}

// [SECTION] accounts and recovery
core::Role roleArg(const std::string& name) {
    auto r = core::parseRole(name);
    if (!r) fail(ExitCode::Usage, "unknown role '" + name + "'; roles: " + core::roleNamesText());
    return *r;
}

void cmdAccountList(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    auto all = check(s->accounts());
    if (o.asJson) {
        json arr = json::array();
        for (const auto& a : all)
            arr.push_back({{"name", a.name},
                           {"display_name", a.displayName},
                           {"role", std::string(core::roleName(a.role))},
                           {"created_utc", a.createdUtc},
                           {"removed", a.disabled}});
        cli::printJson(out, arr);
        return;
    }
    for (const auto& a : all)
        out << std::left << std::setw(20) << a.name << std::setw(22) << core::roleName(a.role)
            << a.displayName << (a.disabled ? "  (removed)" : "")
            << (a.name == s->account().name ? "  (signed in)" : "") << "\n";
}

void cmdAccountAdd(const Options& o, std::ostream& out) {
    core::Role role = roleArg(o.role);
    auto s = openStore(o.store);
    storage::Account a;
    a.name = o.account;
    a.displayName = o.displayName;
    a.role = role;
    // Checked before a new passphrase is asked for: a refused add asks nothing.
    if (!core::mayManageAccounts(s->role()) || !storage::isValidAccountName(a.name))
        check(s->addAccount(a, ""));
    std::string pass = newPassphrase();
    auto r = s->addAccount(a, pass);
    storage::wipeSecret(pass);
    check(std::move(r));
    out << "account " << a.name << " added (" << o.role << ")\n";
}

void cmdAccountRemove(const Options& o, std::ostream& out) {
    auto s = openStore(o.store);
    check(s->removeAccount(o.account));
    out << "account " << o.account << " removed: its passphrase no longer opens this store\n";
}

void cmdAccountRole(const Options& o, std::ostream& out) {
    core::Role role = roleArg(o.role);
    auto s = openStore(o.store);
    check(s->setRole(o.account, role));
    out << "account " << o.account << " is now " << core::roleName(role) << "\n";
}

void cmdAccountPasswd(const Options& o, std::ostream& out) {
    std::string old = passphrase(false);
    auto s = openStore(o.store);
    std::string pass = newPassphrase();
    auto r = s->changePassphrase(old, pass);
    storage::wipeSecret(pass);
    storage::wipeSecret(old);
    check(std::move(r));
    out << "the passphrase of " << s->account().name << " was changed\n";
}

void cmdRecoveryRequest(const Options& o, std::ostream& out) {
    if (o.requestPath.empty()) fail(ExitCode::Usage, "--out is required");
    auto text = check(Store::recoveryRequest(o.store));
    std::ofstream f(o.requestPath, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) fail(ExitCode::Input, "cannot write " + o.requestPath);
    out << "recovery request written to " << o.requestPath
        << ": take it to HQ ('outpost-hq recovery open'), bring back the response and run 'outpostctl "
           "recovery "
           "complete'\n";
}

void cmdRecoveryComplete(const Options& o, std::ostream& out) {
    const std::string response = cli::readInputFile(o.responsePath, 64 * 1024, "not a recovery response");
    // The account is checked before a passphrase is asked for.
    bool known = false;
    for (const auto& a : check(Store::listAccounts(o.store))) known = known || a.name == o.account;
    if (!known)
        fail(ExitCode::NotFound, "no account '" + o.account + "' on this laptop; nothing was changed");
    std::string pass = newPassphrase();
    auto r = Store::recoveryComplete(o.store, response, o.account, pass);
    storage::wipeSecret(pass);
    if (!r) {
        Error e = r.error();
        e.message = o.responsePath + ": " + e.message;
        fail(e);
    }
    out << "recovered: " << o.account << " has a new passphrase; the other accounts are unchanged\n";
}

}  // namespace

// [SECTION] runCli
int runCli(int argc, char** argv, std::ostream& out, std::ostream& err, const std::vector<CliCommand>& more) {
    CLI::App app{"outpostctl - the Outpost field store from the command line (see docs/cli.md)",
                 "outpostctl"};
    app.require_subcommand(1);
    Options o;
    app.add_option("--store", o.store, "store folder (default: $OUTPOST_STORE or ~/.local/share/outpost)");
    std::function<void()> action;
    auto on = [&](CLI::App* sub, std::function<void()> f) { sub->callback([&action, f] { action = f; }); };

    auto* init = app.add_subcommand("init", "create a new encrypted store for a unit");
    init->add_option("--unit", o.unit, "the unit this laptop reports for")->required();
    init->add_option("--user", o.user, "your account name, recorded as author")->required();
    init->add_option("--kdf", o.kdf, "passphrase hardening: interactive (default) or moderate")
        ->check(CLI::IsMember({"interactive", "moderate"}));
    init->add_option("--role", o.role, "the first account's role (default commander)")
        ->check(CLI::IsMember({"commander", "training-officer", "conduct-focal-point", "clerk"}));
    on(init, [&] { cmdInit(o, out); });

    auto* forms = app.add_subcommand("forms", "the form definitions in the store");
    forms->require_subcommand(1);
    auto* fl = forms->add_subcommand("list", "list forms");
    fl->add_flag("--json", o.asJson, "print JSON");
    on(fl, [&] { cmdFormsList(o, out); });
    auto* fsh = forms->add_subcommand("show", "print a form definition");
    fsh->add_option("form", o.form, "form id")->required();
    fsh->add_option("--version", o.version, "version (default: latest)");
    on(fsh, [&] { cmdFormsShow(o, out); });

    auto* record = app.add_subcommand("record", "create, edit, finalize, amend and read records");
    record->require_subcommand(1);
    auto* rn =
        record->add_subcommand("new", "create a draft from a JSON file ('-' for stdin); prints its id");
    rn->add_option("--form", o.form, "form id")->required();
    rn->add_option("--json", o.input, "payload file")->required();
    on(rn, [&] { cmdRecordNew(o, out, err); });
    auto* re = record->add_subcommand("edit", "replace a draft's values from a JSON file");
    re->add_option("id", o.id, "record id")->required();
    re->add_option("--json", o.input, "payload file")->required();
    on(re, [&] { cmdRecordEdit(o, out, err); });
    auto* rf = record->add_subcommand("finalize", "validate completely, freeze and queue for HQ");
    rf->add_option("id", o.id, "record id")->required();
    on(rf, [&] { cmdRecordFinalize(o, out, err); });
    auto* ra = record->add_subcommand("amend", "start a new draft revision of a final record");
    ra->add_option("id", o.id, "record id")->required();
    on(ra, [&] { cmdRecordAmend(o, out); });
    auto* rd = record->add_subcommand("discard", "delete a draft revision");
    rd->add_option("id", o.id, "record id")->required();
    on(rd, [&] { cmdRecordDiscard(o, out); });
    auto* rs = record->add_subcommand("show", "print a record and its revisions");
    rs->add_option("id", o.id, "record id")->required();
    rs->add_option("--revision", o.revision, "revision (default: latest)");
    rs->add_flag("--json", o.asJson, "print JSON");
    on(rs, [&] { cmdRecordShow(o, out); });
    auto* rl = record->add_subcommand("list", "list records, newest first");
    rl->add_option("--form", o.form, "only this form");
    rl->add_option("--unit", o.unit, "only this unit");
    rl->add_option("--status", o.status, "draft or final")->check(CLI::IsMember({"draft", "final"}));
    rl->add_option("--limit", o.limit, "at most this many (default 50)")->check(CLI::Range(1, 1000000));
    rl->add_flag("--json", o.asJson, "print JSON");
    on(rl, [&] { cmdRecordList(o, out); });

    auto* search = app.add_subcommand("search", "find records by words (case and accents ignored)");
    search->add_option("text", o.text, "words")->required();
    search->add_option("--limit", o.limit, "at most this many (default 50)")->check(CLI::Range(1, 100000));
    search->add_flag("--json", o.asJson, "print JSON");
    on(search, [&] { cmdSearch(o, out); });

    auto* gaps = app.add_subcommand("gaps", "training gaps: requirements minus completed sessions");
    gaps->add_option("--unit", o.unit, "only this unit (default: every unit)");
    gaps->add_option("--today", o.today, "compute as of this date (YYYY-MM-DD)");
    gaps->add_flag("--json", o.asJson, "print JSON");
    on(gaps, [&] { cmdGaps(o, out); });

    auto* rdy = app.add_subcommand("readiness", "the latest readiness figures of a unit");
    rdy->add_option("--unit", o.unit, "unit (default: this laptop's unit)");
    on(rdy, [&] { cmdReadiness(o, out); });

    auto* exp =
        app.add_subcommand("export", "export records of a form (sensitive fields are never exported)");
    exp->add_option("--form", o.form, "form id")->required();
    exp->add_option("--format", o.format, "csv or json")->check(CLI::IsMember({"csv", "json"}));
    exp->add_option("--unit", o.unit, "only this unit");
    exp->add_option("--out", o.outPath, "write to this file instead of stdout");
    exp->add_flag("--drafts", o.includeDrafts, "include drafts (default: final revisions only)");
    on(exp, [&] { cmdExport(o, out); });

    auto* ver = app.add_subcommand("verify", "integrity check of the store; exit 8 when problems are found");
    on(ver, [&] { cmdVerify(o, out); });
    auto* bak =
        app.add_subcommand("backup", "write a consistent copy into STORE/backups (the newest 7 are kept)");
    on(bak, [&] { cmdBackup(o, out); });
    auto* ob = app.add_subcommand("outbox", "reports waiting to be sent to HQ, in sending order");
    ob->add_flag("--json", o.asJson, "print JSON");
    auto* obr =
        ob->add_subcommand("requeue", "put a quarantined report back in the queue (once its cause is fixed)");
    obr->add_option("seq", o.seq, "its number in 'outpostctl outbox'")->required();
    // The listing runs only when no subcommand was given (callbacks of both run otherwise).
    ob->callback([&action, &o, &out, obr] {
        if (obr->count() == 0) action = [&] { cmdOutbox(o, out); };
    });
    obr->callback([&action, &o, &out] { action = [&] { cmdOutboxRequeue(o, out); }; });

    auto* fbk =
        app.add_subcommand("feedback", "HQ's review of this laptop's reports (received, accepted, returned)");
    fbk->add_option("id", o.id, "only this record");
    fbk->add_flag("--json", o.asJson, "print JSON");
    on(fbk, [&] { cmdFeedback(o, out); });

    auto* enr = app.add_subcommand("enroll", "enroll this laptop with HQ, using a one-time code from HQ");
    enr->add_option("--hq", o.hqUrl, "HQ's address, https://host:port")->required();
    enr->add_option("--code", o.code, "the enrollment code (OP1....) from 'outpost-hq enroll'")->required();
    enr->add_option("--name", o.deviceName, "this laptop's name as HQ lists it (default: the host name)");
    enr->add_flag("--verbose", o.verbose,
                  "when HQ cannot be reached, also print the transport library's own words");
    enr->add_flag("--insecure-http-for-development", o.insecureHttp)->group("");
    on(enr, [&] { cmdEnroll(o, out); });

    auto* syn = app.add_subcommand("sync", "one sync with HQ: send the outbox, receive forms and feedback");
    syn->add_flag("--verbose", o.verbose,
                  "when HQ cannot be reached, also print the transport library's own words");
    syn->add_flag("--insecure-http-for-development", o.insecureHttp)->group("");
    on(syn, [&] { cmdSync(o, out); });
    auto* bundle = app.add_subcommand("bundle", "sync by USB stick for sites with no network (docs/cli.md)");
    bundle->require_subcommand(1);
    auto* bex = bundle->add_subcommand("export", "write the queued reports to a file sealed for HQ");
    bex->add_option("file", o.bundleFile, "the bundle file to write")->required();
    on(bex, [&] { cmdBundleExport(o, out); });
    auto* bim = bundle->add_subcommand("import", "apply HQ's receipt (from 'outpost-hq import-bundle')");
    bim->add_option("file", o.bundleFile, "the receipt file from HQ")->required();
    on(bim, [&] { cmdBundleImport(o, out); });

    for (const auto& c : more)
        on(c.declare(app), [&o, &out, &c] { c.run([&o] { return openStore(o.store); }, out); });

    app.add_option("--account", g_account,
                   "the account to sign in as (default: $OUTPOST_ACCOUNT, else the one "
                   "whose passphrase is given)");
    auto* acc = app.add_subcommand("account", "the people on this laptop and their roles (docs/security.md)");
    acc->require_subcommand(1);
    auto* al = acc->add_subcommand("list", "list the accounts");
    al->add_flag("--json", o.asJson, "print JSON");
    on(al, [&] { cmdAccountList(o, out); });
    auto* aa = acc->add_subcommand("add",
                                   "add an account (commander; new passphrase from $OUTPOST_NEW_PASSPHRASE "
                                   "or a prompt)");
    aa->add_option("name", o.account, "account name (a-z, 0-9, '.', '-', '_')")->required();
    aa->add_option("--role", o.role, "commander, training-officer, conduct-focal-point or clerk")->required();
    aa->add_option("--display-name", o.displayName, "the name shown on the unlock screen");
    on(aa, [&] { cmdAccountAdd(o, out); });
    auto* ar = acc->add_subcommand("remove", "remove an account: its key slot is deleted (commander)");
    ar->add_option("name", o.account, "account name")->required();
    on(ar, [&] { cmdAccountRemove(o, out); });
    auto* arl = acc->add_subcommand("role", "change an account's role (commander)");
    arl->add_option("name", o.account, "account name")->required();
    arl->add_option("role", o.role, "the new role")->required();
    on(arl, [&] { cmdAccountRole(o, out); });
    auto* ap = acc->add_subcommand("passwd",
                                   "change your own passphrase (new one from $OUTPOST_NEW_PASSPHRASE "
                                   "or a prompt)");
    on(ap, [&] { cmdAccountPasswd(o, out); });

    auto* rec = app.add_subcommand("recovery", "recover a lost passphrase through HQ (docs/operations.md)");
    rec->require_subcommand(1);
    auto* rq = rec->add_subcommand("request", "write a recovery request for HQ (no passphrase needed)");
    rq->add_option("--data", o.store, "the store folder (default: --store)");
    rq->add_option("--out", o.requestPath, "the request file to write")->required();
    on(rq, [&] { cmdRecoveryRequest(o, out); });
    auto* rc = rec->add_subcommand("complete", "apply HQ's response: a new passphrase for an account");
    rc->add_option("--data", o.store, "the store folder (default: --store)");
    rc->add_option("--response", o.responsePath, "the response file from 'outpost-hq recovery open'")
        ->required();
    rc->add_option("--account", o.account, "the account that gets the new passphrase")->required();
    on(rc, [&] { cmdRecoveryComplete(o, out); });

    auto* wipe = app.add_subcommand(
        "wipe", "panic wipe: destroy the store's keys, then every file (what HQ has not received is lost)");
    wipe->add_option("--confirm", o.confirm, "the store's unit id, typed back as confirmation")->required();
    on(wipe, [&] { cmdWipe(o, out); });

    auto* aud = app.add_subcommand("audit", "the store's hash-chained audit log");
    aud->require_subcommand(1);
    auto* av =
        aud->add_subcommand("verify", "check the whole chain and its anchor; exit non-zero on tampering");
    on(av, [&] { cmdAuditVerify(o, out); });
    auto* aul = aud->add_subcommand("list", "print audit entries, oldest first");
    aul->add_option("--after", o.auditAfter, "only entries after this sequence number")
        ->check(CLI::NonNegativeNumber);
    aul->add_option("--limit", o.auditLimit, "at most this many (default 1000)")
        ->check(CLI::Range(1, 1000000));
    aul->add_flag("--json", o.asJson, "print JSON");
    on(aul, [&] { cmdAuditList(o, out); });

    auto* inf = app.add_subcommand("info", "the store's unit, user, schema and counts");
    on(inf, [&] { cmdInfo(o, out); });

    g_err = &err;
    g_account.clear();
    return cli::runCommandLine(app, argc, argv, out, err, action);
}

}  // namespace outpost::client
