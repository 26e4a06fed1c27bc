// outpost-hq: every command, parsed with CLI11; results on stdout, problems on stderr.
// Exit codes: cli/exit_code.hpp (docs/cli.md).
//
// [SECTION] plumbing: the store, input files, time
// [SECTION] catalog: reference data and forms as HQ knows them
// [SECTION] output helpers
// [SECTION] commands: init, serve
// [SECTION] commands: devices and enrollment
// [SECTION] commands: forms and reference data
// [SECTION] commands: reports and conflicts
// [SECTION] commands: bundles
// [SECTION] commands: recovery
// [SECTION] commands: conduct keys
// [SECTION] commands: verify, backup, restore, rotate-epoch
// [SECTION] commands: audit
// [SECTION] runHqCli
#include "hq/cli.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "cli/command.hpp"
#include "cli/input.hpp"
#include "cli/output.hpp"
#include "core/builtin.hpp"
#include "core/form.hpp"
#include "core/refdata.hpp"
#include "core/sensitive.hpp"
#include "core/status.hpp"
#include "core/time.hpp"
#include "core/utf8.hpp"
#include "hq/bundle_import.hpp"
#include "hq/http_server.hpp"
#include "hq/identity.hpp"
#include "hq/memory_budget.hpp"
#include "hq/service.hpp"
#include "hq/tls.hpp"
#include "hq/tuning.hpp"
#include "storage/durable_file.hpp"
#include "storage/hq/backup.hpp"
#include "storage/hq/store.hpp"
#include "storage/sealed.hpp"
#include "sync/bundle_format.hpp"
#include "sync/protocol.hpp"

namespace outpost::hq {

namespace fs = std::filesystem;
using json = nlohmann::json;
using cli::check;
using cli::ExitCode;
using cli::fail;
using storage::hq::HqStore;

// [SECTION] plumbing: the store, input files, time
namespace {

// Largest form definition or reference document accepted (both are a few hundred KB at most).
constexpr std::uintmax_t kMaxInputBytes = 16ull * 1024 * 1024;

struct Options {
    std::string data;
    std::string db;
    // serve
    std::string listen = "127.0.0.1:8443";
    int threads = hq::tuning::kDefaultWorkerThreads;
    std::size_t maxConnectionsPerAddress = hq::tuning::kDefaultMaxConnectionsPerAddress;
    bool insecureHttp = false;
    bool logRequests = false;
    std::size_t memoryBudgetMib = hq::tuning::kRequestMemoryBudgetBytes >> 20;
    // enroll, revoke
    std::string unit;
    int expiresDays = 7;
    std::string device;
    // forms, reference
    std::string file;
    // reports
    std::string form;
    std::string format;
    std::string id;
    int revision = 0;
    std::string outPath;
    std::string status;
    std::string comment;
    std::string by;
    // backup, restore
    std::string from;
    // recovery
    std::string request;
    // audit list
    std::int64_t after = 0;
    int limit = 1000;
    // conduct keys and sealed sections
    std::string name;
    std::string keyFile;
    bool openSealed = false;
    std::string kdf = "moderate";
};

bool isPostgres(const std::string& location) {
    return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::string storeLocation(const Options& o) {
    return o.db.empty() ? o.data : o.db;
}

// Who the admin commands' audit entries name: the account that ran them.
std::string adminActor() {
    const char* user = std::getenv("USER");
    std::string name = user && *user && core::isValidUtf8(user) ? user : "unknown";
    if (name.size() > 64) name.resize(64);
    return "admin:" + name;
}

// The store signs its audit entries with HQ's key (kept in the data folder, outside the database).
void attachAudit(HqStore& store, const Options& o) {
    if (auto id = loadIdentity(o.data)) store.setAuditKey(id.value().signing.secretKey);
    store.setAuditActor(adminActor());
}

std::unique_ptr<HqStore> openStore(const Options& o) {
    if (o.db.empty() && identityState(DataPaths(o.data)) == IdentityState::Missing)
        fail(ExitCode::NotFound,
             o.data + " is not an HQ data folder (run 'outpost-hq init --data " + o.data + "')");
    auto store = check(storage::hq::openHqStore(storeLocation(o)));
    attachAudit(*store, o);
    return store;
}

std::string readTextFile(const std::string& path) {
    return cli::readTextInput(path, kMaxInputBytes);
}

json readJsonFile(const std::string& path) {
    return cli::readJsonInput(path, kMaxInputBytes);
}

std::string utcNow() {
    return core::nowTimestamp().utc;
}

// "YYYY-MM-DDTHH:MM:SS.000Z", days from now: the same shape as core::nowTimestamp(), so the two compare as
// text.
std::string utcInDays(int days) {
    auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() +
                                                  std::chrono::hours(24 * days));
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    return buf;
}

// [SECTION] catalog: reference data and forms as HQ knows them

// HQ's current reference data (the pushed document, else the built-in demo data) and every form
// version it accepts reports for (built-in and pushed).
struct Catalog {
    std::shared_ptr<const core::ReferenceData> reference;
    bool referencePushed = false;
    core::FormRegistry forms;
    std::vector<json> pushedForms;
};

Catalog loadCatalog(HqStore& s, const core::ReferenceData* referenceOverride = nullptr) {
    Catalog c;
    if (referenceOverride) {
        c.reference = std::shared_ptr<const core::ReferenceData>(referenceOverride, [](auto*) {});
    } else if (auto doc = check(s.reference())) {
        c.reference = std::make_shared<const core::ReferenceData>(check(core::ReferenceData::fromJson(*doc)));
        c.referencePushed = true;
    } else {
        c.reference = std::shared_ptr<const core::ReferenceData>(&core::ReferenceData::demo(), [](auto*) {});
    }
    for (auto source : core::builtinFormSources())
        if (auto f = core::parseFormDefText(source, *c.reference))
            c.forms.add(std::make_shared<const core::FormDef>(std::move(f).value()));
    c.pushedForms = check(s.forms());
    for (const auto& def : c.pushedForms)
        if (auto f = core::parseFormDef(def, *c.reference))
            c.forms.add(std::make_shared<const core::FormDef>(std::move(f).value()));
    return c;
}

// [SECTION] output helpers

json reportMeta(const storage::hq::Report& r) {
    return json{{"hq_seq", r.hqSeq},
                {"record_id", r.recordId},
                {"revision", r.revision},
                {"parent_revision", r.parent ? json(*r.parent) : json(nullptr)},
                {"form", r.formId},
                {"form_version", r.formVersion},
                {"unit", r.unitId},
                {"author", r.author},
                {"device", r.deviceId},
                {"created_utc", r.createdUtc},
                {"created_offset_minutes", r.createdOffset},
                {"finalized_utc", r.finalizedUtc},
                {"received_utc", r.receivedUtc},
                {"hash", r.hash},
                {"review_status", core::toText(r.reviewStatus)},
                {"review_comment", r.reviewComment}};
}

json payloadOf(const storage::hq::Report& r) {
    auto env = json::parse(r.canonical, nullptr, false);
    if (env.is_object() && env.contains("payload") && env["payload"].is_object()) return env["payload"];
    return json::object();
}

// A payload without the fields its form marks sensitive: what may leave HQ in an export.
json withoutSensitive(const core::FormDef* form, json payload) {
    return form ? cli::withoutSensitive(*form, std::move(payload)) : payload;
}

// Every report that matches, oldest first (the store pages by HQ sequence).
std::vector<storage::hq::Report> allReports(HqStore& s, const std::string& unit, const std::string& form) {
    std::vector<storage::hq::Report> out;
    storage::hq::ReportFilter f;
    f.unitId = unit;
    f.formId = form;
    f.limit = 1000;
    while (true) {
        auto page = check(s.reports(f));
        if (page.empty()) break;
        f.afterSeq = page.back().hqSeq;
        const bool last = page.size() < static_cast<std::size_t>(f.limit);
        for (auto& r : page) out.push_back(std::move(r));
        if (last) break;
    }
    return out;
}

// [SECTION] commands: init, serve

hq::HqIdentity initialise(const Options& o, std::ostream& err, bool mustBeNew) {
    DataPaths paths(o.data);
    auto state = identityState(paths);
    if (state == IdentityState::Complete) {
        if (mustBeNew) fail(ExitCode::Conflict, o.data + " holds an HQ already; nothing was changed");
        return check(loadIdentity(o.data));
    }
    if (state == IdentityState::Partial) {
        std::string missing;
        std::error_code ec;
        for (const auto& f : paths.identityFiles())
            if (!fs::exists(f, ec)) missing += (missing.empty() ? "" : ", ") + f;
        fail(ExitCode::Storage,
             o.data + " holds part of an HQ identity (missing: " + missing +
                 "); restore the missing files from a backup, or start from an empty folder");
    }
    auto id = check(createIdentity(o.data));
    auto store = check(storage::hq::openHqStore(storeLocation(o)));
    (void)check(store->epoch());
    if (!mustBeNew) err << "outpost-hq: initialised a new HQ (" << id.hqId << ") in " << o.data << "\n";
    return id;
}

void cmdInit(const Options& o, std::ostream& out, std::ostream& err) {
    auto id = initialise(o, err, true);
    out << "initialised HQ " << id.hqId << " in " << o.data << "\n"
        << "TLS pin " << id.tlsPin << "\n";
}

std::pair<std::string, int> parseListen(const std::string& listen) {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= listen.size())
        fail(ExitCode::Usage,
             "--listen must be HOST:PORT (for example 127.0.0.1:8443), not '" + listen + "'");
    std::string host = listen.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    int port = -1;
    try {
        std::size_t used = 0;
        port = std::stoi(listen.substr(colon + 1), &used);
        if (used != listen.size() - colon - 1) port = -1;
    } catch (const std::exception&) {
        port = -1;
    }
    if (port < 0 || port > 65535)
        fail(ExitCode::Usage, "--listen: the port must be 0 to 65535, not in '" + listen + "'");
    return {host, port};
}

void cmdServe(const Options& o, std::ostream& out, std::ostream& err) {
    auto [host, port] = parseListen(o.listen);
    auto identity = initialise(o, err, false);
    {
        // Fail at once, with the store's own words, when the store cannot be opened.
        auto store = check(storage::hq::openHqStore(storeLocation(o)));
        (void)check(store->epoch());
    }
    const std::string location = storeLocation(o);
    storage::hq::SessionLimits bounds;
    bounds.lockWait = hq::tuning::kDbLockWait;
    bounds.statement = hq::tuning::kDbStatement;
    bounds.idleInTransaction = hq::tuning::kDbIdleInTransaction;
    bounds.keepaliveIdle = hq::tuning::kDbKeepaliveIdle;
    bounds.keepaliveInterval = hq::tuning::kDbKeepaliveInterval;
    bounds.keepaliveCount = hq::tuning::kDbKeepaliveCount;
    bounds.tcpUserTimeout = hq::tuning::kDbTcpUserTimeout;
    hq::HqService service([location, bounds] { return storage::hq::openHqStore(location, bounds); },
                          identity);
    service.setMemoryBudget(
        std::make_shared<hq::MemoryBudget>(o.memoryBudgetMib << 20, hq::tuning::kRequestMemoryWait));
    hq::returnLargeBlocksWhenFreed();
    service.warm();
    DataPaths paths(o.data);
    hq::HqHttpOptions ho;
    ho.host = host;
    ho.port = port;
    ho.threads = o.threads;
    ho.maxConnectionsPerAddress = o.maxConnectionsPerAddress;
    ho.insecureHttp = o.insecureHttp;
    ho.certFile = paths.tlsCert;
    ho.keyFile = paths.tlsKey;
    ho.logRequests = o.logRequests;
    hq::HqHttpServer server(service, ho);

    // SIGINT and SIGTERM are taken by one waiting thread (blocked everywhere else, including the
    // server's pool, which inherits this mask): it stops the server, which finishes what it is doing.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGINT);
    sigaddset(&stopSignals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    const int bound = check(server.bind());
    std::thread waiter([&] {
        int sig = 0;
        sigwait(&stopSignals, &sig);
        server.stop();
    });
    if (o.insecureHttp)
        err << "outpost-hq: WARNING: plain HTTP for development; devices' data and keys cross the network in "
               "the clear\n";
    out << "outpost-hq listening on " << (o.insecureHttp ? "http" : "https") << "://" << host << ":" << bound
        << " pin " << identity.tlsPin << std::endl;
    auto ran = server.run();
    // Wakes the waiter when the server ended by itself.
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    check(ran);
    err << "outpost-hq: stopped\n";
}

// [SECTION] commands: devices and enrollment

void cmdEnroll(const Options& o, std::ostream& out, std::ostream& err) {
    auto identity = check(loadIdentity(o.data));
    auto store = openStore(o);
    auto catalog = loadCatalog(*store);
    if (!catalog.reference->row("units", o.unit))
        fail(ExitCode::NotFound, "unknown unit '" + o.unit + "': it is not in HQ's reference data" +
                                     (catalog.referencePushed ? "" : " (the built-in demo data)"));
    auto code = sync::EnrollmentCode::generate(identity.tlsPin);
    const std::string expires = utcInDays(o.expiresDays);
    check(store->addEnrollment(code.secretHash(), o.unit, expires));
    out << code.text() << "\n";
    err << "outpost-hq: one-time enrollment code for unit " << o.unit << ", valid until " << expires
        << "; give it to the unit by a trusted channel\n";
}

void cmdRevoke(const Options& o, std::ostream& out) {
    auto store = openStore(o);
    check(store->revoke(o.device));
    out << "device " << o.device << " revoked: HQ refuses its requests from now on\n";
}

void cmdDevices(const Options& o, std::ostream& out) {
    auto store = openStore(o);
    auto devices = check(store->devices());
    if (o.format == "json") {
        json arr = json::array();
        for (const auto& d : devices)
            arr.push_back({{"id", d.id},
                           {"unit", d.unitId},
                           {"name", d.name},
                           {"public_key", d.publicKey},
                           {"enrolled_utc", d.enrolledUtc},
                           {"revoked", d.revoked}});
        cli::printJson(out, arr);
        return;
    }
    for (const auto& d : devices)
        out << std::left << std::setw(40) << cli::printable(d.id) << std::setw(22) << cli::printable(d.unitId)
            << std::setw(26) << cli::printable(d.enrolledUtc) << (d.revoked ? "revoked  " : "active   ")
            << cli::printable(d.name) << "\n";
    out << devices.size() << " device(s)\n";
}

// [SECTION] commands: forms and reference data

void cmdFormsPush(const Options& o, std::ostream& out) {
    json def = readJsonFile(o.file);
    auto store = openStore(o);
    auto catalog = loadCatalog(*store);
    auto parsed = core::parseFormDef(def, *catalog.reference);
    if (!parsed)
        fail(ExitCode::Invalid,
             o.file + " is not a valid form definition; nothing was pushed:\n" + parsed.error().message);
    const auto& form = parsed.value();
    if (auto known = catalog.forms.find(form.id, form.version)) {
        if (known->source == def) {
            out << "form " << form.id << " v" << form.version << " is already at HQ; nothing changed\n";
            return;
        }
        fail(ExitCode::Conflict, "HQ already has form " + form.id + " v" + std::to_string(form.version) +
                                     " with other content; give the changed form a new version");
    }
    if (auto latest = catalog.forms.latest(form.id); latest && latest->version > form.version)
        fail(ExitCode::Conflict, "HQ already has form " + form.id + " v" + std::to_string(latest->version) +
                                     ", newer than v" + std::to_string(form.version));
    check(store->putForm(form.id, form.version, def, utcNow()));
    out << "form " << form.id << " v" << form.version << " pushed; devices get it at their next sync\n";
}

void cmdReferencePush(const Options& o, std::ostream& out, std::ostream& err) {
    json doc = readJsonFile(o.file);
    auto reference = core::ReferenceData::fromJson(doc);
    if (!reference)
        fail(ExitCode::Invalid,
             o.file + " is not valid reference data; nothing was pushed:\n" + reference.error().message);
    auto store = openStore(o);
    if (auto current = check(store->reference()); current && *current == doc) {
        out << "this reference data is already HQ's; nothing changed\n";
        return;
    }
    // The newest version of every form HQ knows must still load against the new data, or devices
    // would be left with forms they cannot open.
    auto before = loadCatalog(*store);
    auto after = loadCatalog(*store, &reference.value());
    std::string broken;
    for (const auto& f : before.forms.latestAll()) {
        if (after.forms.find(f->id, f->version)) continue;
        auto why = core::parseFormDef(f->source, reference.value());
        broken +=
            "\n  " + f->id + " v" + std::to_string(f->version) + ": " + (why ? "" : why.error().message);
    }
    if (!broken.empty())
        fail(ExitCode::Invalid, o.file + " would break forms HQ uses; nothing was pushed:" + broken);
    for (const auto& u : before.reference->table("units"))
        if (u.is_object() && u.contains("id") && u["id"].is_string() &&
            !reference.value().row("units", u["id"].get<std::string>()))
            err << "outpost-hq: note: unit " << u["id"].get<std::string>()
                << " is no longer in the reference data\n";
    check(store->putReference(doc, utcNow()));
    out << "reference data pushed (" << reference.value().table("units").size()
        << " units); devices get it at their next sync\n";
}

// [SECTION] commands: reports and conflicts

void cmdReportsList(const Options& o, std::ostream& out) {
    auto store = openStore(o);
    auto reports = allReports(*store, o.unit, o.form);
    if (o.format == "json") {
        json arr = json::array();
        for (const auto& r : reports) arr.push_back(reportMeta(r));
        cli::printJson(out, arr);
        return;
    }
    for (const auto& r : reports)
        out << std::left << std::setw(8) << r.hqSeq << std::setw(38) << cli::printable(r.recordId)
            << std::setw(5) << ("r" + std::to_string(r.revision)) << std::setw(18)
            << cli::printable(r.formId + " v" + std::to_string(r.formVersion)) << std::setw(22)
            << cli::printable(r.unitId) << std::setw(10) << core::toText(r.reviewStatus)
            << cli::printable(r.receivedUtc) << "\n";
    out << reports.size() << " report(s)\n";
}

// A conduct officer's passphrase: $OUTPOST_CONDUCT_PASSPHRASE, or asked on the terminal (twice when new).
std::string conductPassphrase(bool isNew) {
    return cli::readSecret({"OUTPOST_CONDUCT_PASSPHRASE",
                            isNew ? "Passphrase for the new conduct key: " : "Conduct key passphrase: ",
                            isNew ? "Repeat the passphrase: " : "", "no key was made"},
                           "outpost-hq");
}

// The revision whose sealed section stands for report r: r itself, or the newest earlier revision that
// carried one (an amendment that left the section empty keeps the sealed one).
std::optional<storage::hq::Report> sealedSource(HqStore& s, const storage::hq::Report& r) {
    for (int rev = r.revision; rev >= 1; --rev) {
        auto x = rev == r.revision ? std::optional<storage::hq::Report>(r)
                                   : check(s.report(r.recordId, rev, r.unitId));
        if (x && !x->sealedPart.empty()) return x;
    }
    return std::nullopt;
}

std::string sealedHashOf(const storage::hq::Report& r) {
    auto env = json::parse(r.canonical, nullptr, false);
    return env.is_object() ? env.value("sealed", std::string()) : std::string();
}

void cmdReportsShow(const Options& o, std::ostream& out) {
    auto store = openStore(o);
    auto report =
        check(store->report(o.id, o.revision > 0 ? std::optional<int>(o.revision) : std::nullopt, o.unit));
    if (!report)
        fail(ExitCode::NotFound,
             "HQ holds no report " + o.id + (o.revision > 0 ? " r" + std::to_string(o.revision) : ""));
    if (o.openSealed && o.keyFile.empty())
        fail(ExitCode::Usage, "--open-sealed needs the conduct key file: --key FILE");
    json shown = {{"report", reportMeta(*report)}, {"payload", payloadOf(*report)}};
    // The sensitive section: who it was sealed to, and its content only with a conduct key's file and
    // passphrase.
    auto source = sealedSource(*store, *report);
    json sealed = json::object();
    if (source) {
        auto blob = sync::base64Decode(source->sealedPart).value_or(sync::Bytes{});
        sealed["revision"] = source->revision;
        try {
            sealed["recipients"] = storage::sealedRecipients(blob);
        } catch (const Failure& f) {
            fail(ExitCode::Storage, "report " + o.id + " r" + std::to_string(source->revision) +
                                        ": the stored sealed section is damaged: " + f.error().message);
        }
        if (o.openSealed) {
            auto secret = storage::openConductKeyFile(readTextFile(o.keyFile), conductPassphrase(false));
            std::string context = storage::sealedContext(source->recordId, source->revision, source->formId,
                                                         source->formVersion);
            json part;
            try {
                part = storage::openPart(blob, secret.key.publicKey, secret.secretKey, context);
            } catch (const Failure& f) {
                fail(f.error());
            }
            // Opening is accountable: who, with which key, which revision.
            (void)check(store->appendAudit(adminActor(), "open sealed",
                                           source->recordId + " r" + std::to_string(source->revision),
                                           json{{"key", secret.key.id}}, utcNow()));
            sealed["content"] = std::move(part);
            sealed["opened_with"] = secret.key.id;
        }
    } else if (!sealedHashOf(*report).empty()) {
        sealed["missing"] =
            "this revision was sealed on the laptop, but its sealed section never reached this HQ (the "
            "laptop "
            "purged it after an earlier HQ acknowledged it: restore HQ from a newer backup)";
    } else if (o.openSealed) {
        fail(ExitCode::NotFound, "report " + o.id + " has no sealed sensitive section");
    }
    if (!sealed.empty()) shown["sealed"] = std::move(sealed);
    cli::printJson(out, shown);
}

void cmdReportsExport(const Options& o, std::ostream& out) {
    auto store = openStore(o);
    auto catalog = loadCatalog(*store);
    if (!o.form.empty() && !catalog.forms.latest(o.form))
        fail(ExitCode::NotFound, "unknown form '" + o.form + "'");
    auto reports = allReports(*store, o.unit, o.form);

    std::ofstream file;
    std::ostream* dst = &out;
    const std::string partial = o.outPath + ".partial";
    if (!o.outPath.empty()) {
        file.open(partial, std::ios::binary | std::ios::trunc);
        if (!file) fail(ExitCode::Input, "cannot write " + o.outPath);
        dst = &file;
    }
    const std::vector<std::string> metaColumns = {
        "hq_seq", "record_id", "revision",    "form",          "form_version", "unit",
        "author", "device",    "created_utc", "finalized_utc", "received_utc", "review_status"};
    const std::set<std::string> metaNames(metaColumns.begin(), metaColumns.end());

    if (o.format == "json") {
        json arr = json::array();
        for (const auto& r : reports) {
            auto form = catalog.forms.find(r.formId, r.formVersion);
            arr.push_back(
                {{"report", reportMeta(r)}, {"payload", withoutSensitive(form.get(), payloadOf(r))}});
        }
        cli::printJson(*dst, arr);
    } else {
        // The payload columns: each form's fields in its own order, first seen first; values that a
        // form does not describe come after, by name. The unit field is the unit column already.
        std::vector<std::string> columns;
        std::set<std::string> seen;
        std::vector<json> payloads;
        payloads.reserve(reports.size());
        for (const auto& r : reports) {
            auto form = catalog.forms.find(r.formId, r.formVersion);
            json p = withoutSensitive(form.get(), payloadOf(r));
            if (form) {
                if (!form->unitField.empty()) p.erase(form->unitField);
                for (const auto& f : form->fields)
                    if (f.hasValue() && !f.sensitive && f.name != form->unitField &&
                        seen.insert(f.name).second)
                        columns.push_back(f.name);
            }
            for (auto it = p.begin(); it != p.end(); ++it)
                if (seen.insert(it.key()).second) columns.push_back(it.key());
            payloads.push_back(std::move(p));
        }
        std::string header;
        for (const auto& c : metaColumns) header += (header.empty() ? "" : ",") + c;
        // A payload field named like a report column is told apart by a prefix.
        for (const auto& c : columns) header += "," + cli::csvQuote(metaNames.count(c) ? "payload." + c : c);
        *dst << header << "\r\n";
        for (std::size_t i = 0; i < reports.size(); ++i) {
            const auto& r = reports[i];
            *dst << r.hqSeq << "," << cli::csvCell(r.recordId) << "," << r.revision << ","
                 << cli::csvCell(r.formId) << "," << r.formVersion << "," << cli::csvCell(r.unitId) << ","
                 << cli::csvCell(r.author) << "," << cli::csvCell(r.deviceId) << ","
                 << cli::csvCell(r.createdUtc) << "," << cli::csvCell(r.finalizedUtc) << ","
                 << cli::csvCell(r.receivedUtc) << ","
                 << cli::csvCell(std::string(core::toText(r.reviewStatus)));
            for (const auto& c : columns) {
                auto it = payloads[i].find(c);
                *dst << "," << (it == payloads[i].end() ? std::string() : cli::csvCell(*it));
            }
            *dst << "\r\n";
        }
    }
    dst->flush();
    if (!dst->good()) {
        if (!o.outPath.empty()) {
            file.close();
            std::error_code ec;
            fs::remove(partial, ec);
        }
        fail(ExitCode::Storage, "writing the export failed (disk full?)");
    }
    if (!o.outPath.empty()) {
        file.close();
        std::error_code ec;
        fs::rename(partial, o.outPath, ec);
        if (ec) fail(ExitCode::Storage, "cannot write " + o.outPath + ": " + ec.message());
    }
    (void)check(store->appendAudit(store->auditActor(), "export", o.format,
                                   json{{"reports", reports.size()}, {"form", o.form}, {"unit", o.unit}},
                                   utcNow()));
}

void cmdReportsReview(const Options& o, std::ostream& out) {
    auto store = openStore(o);
    if (o.status == "returned" && o.comment.empty())
        fail(ExitCode::Usage, "a returned report needs a --comment telling the unit what to amend");
    const auto status = check(core::parseText<core::ReviewStatus>(o.status));
    auto entry = check(store->review(o.id, o.revision, status, o.comment, o.by, utcNow(), o.unit));
    out << cli::printable(o.id) << " r" << o.revision << " " << o.status
        << "; the unit sees it at its next sync (feed " << entry.seq << ")\n";
}

void cmdConflicts(const Options& o, std::ostream& out) {
    auto store = openStore(o);
    auto conflicts = check(store->conflicts());
    if (o.format == "json") {
        json arr = json::array();
        for (const auto& c : conflicts) {
            auto other = json::parse(c.canonical, nullptr, false);
            arr.push_back({{"id", c.id},
                           {"record_id", c.recordId},
                           {"revision", c.revision},
                           {"device", c.deviceId},
                           {"hash", c.hash},
                           {"kept_hash", c.keptHash},
                           {"received_utc", c.receivedUtc},
                           {"envelope", other.is_discarded() ? json(c.canonical) : other}});
        }
        cli::printJson(out, arr);
        return;
    }
    for (const auto& c : conflicts)
        out << std::left << std::setw(6) << c.id << std::setw(38) << cli::printable(c.recordId)
            << std::setw(5) << ("r" + std::to_string(c.revision)) << std::setw(40)
            << cli::printable(c.deviceId) << cli::printable(c.receivedUtc) << "  other bytes "
            << cli::printable(c.hash.substr(0, 12)) << ", kept " << cli::printable(c.keptHash.substr(0, 12))
            << "\n";
    out << conflicts.size() << " conflict(s)\n";
}

// [SECTION] commands: bundles

// A laptop's bundle from a site with no network: ingested through the protocol's handlers, answered
// with a receipt file sealed to the laptop.
void cmdImportBundle(const Options& o, std::ostream& out) {
    auto identity = check(loadIdentity(o.data));
    (void)check(openStore(o)->epoch());
    std::error_code ec;
    if (o.outPath == o.file || fs::equivalent(o.outPath, o.file, ec))
        fail(ExitCode::Usage, "--out must name another file than the bundle");
    auto bytes = sync::readBundleFile(o.file);
    if (!bytes) fail(bytes.error());
    const std::string location = storeLocation(o);
    hq::HqService service([location] { return storage::hq::openHqStore(location); }, identity);
    auto r = hq::importBundle(service, bytes.value());
    if (!r) {
        Error e = r.error();
        e.message = o.file + ": " + e.message;
        fail(e);
    }
    const auto& b = r.value();
    check(sync::writeBundleFile(o.outPath, b.receiptFile));
    out << "bundle " << cli::printable(b.bundleId) << " from device " << cli::printable(b.deviceId)
        << " (unit " << cli::printable(b.unitId) << "): " << b.pushes << " push(es), " << b.stored
        << " report(s) stored, " << b.duplicates << " already there, " << b.conflicts << " conflict(s), "
        << b.rejected << " rejected; " << b.pulled << " feed entr" << (b.pulled == 1 ? "y" : "ies")
        << " for the laptop" << (b.more ? " (more with its next bundle)" : "") << "\n";
    for (const auto& n : b.notes) out << "note: " << cli::printable(n) << "\n";
    out << "receipt written to " << o.outPath
        << ": take it back to the laptop and import it with 'outpostctl bundle import'\n";
}

// [SECTION] commands: recovery

// A laptop's lost passphrase (docs/operations.md): HQ opens the recovery copy of its data key with HQ's
// recovery key and seals it again to the one-time key in the request. An HQ admin runs it after checking
// who asks; the request's store and unit are printed for HQ's records.
void cmdRecoveryOpen(const Options& o, std::ostream& out) {
    (void)check(loadIdentity(o.data));  // an HQ data folder, not any folder that a new key would land in
    auto keys = check(loadRecoveryKey(o.data));
    std::error_code ec;
    if (o.outPath == o.request || fs::equivalent(o.outPath, o.request, ec))
        fail(ExitCode::Usage, "--out must name another file than the request");
    const std::string request = cli::readInputFile(o.request, 64 * 1024, "not a recovery request");
    auto r = storage::answerRecoveryRequest(request, keys);
    if (!r) {
        Error e = r.error();
        e.message = o.request + ": " + e.message + "; no response was written";
        fail(e);
    }
    try {
        storage::writeFileDurably(o.outPath, r->responseText, 0600).value();
    } catch (const Failure& f) {
        fail(f.error());
    }
    out << "recovery response for store " << cli::printable(r->storeId) << " (unit "
        << cli::printable(r->unitId) << ") written to " << o.outPath
        << ": carry it to the laptop and run 'outpostctl recovery complete'\n";
}

// [SECTION] commands: conduct keys

// HQ's current conduct key list, its signature checked with HQ's own key (version 0 and no keys before the
// first key is added).
storage::ConductKeyList currentConductKeys(HqStore& s, const hq::HqIdentity& id) {
    auto doc = check(s.conductKeys());
    if (!doc) return {};
    try {
        return storage::readConductKeyDocument(*doc, id.signing.publicKey);
    } catch (const Failure& f) {
        fail(ExitCode::Storage, "HQ's stored conduct key list does not verify: " + f.error().message);
    }
}

void publishConductKeys(HqStore& s, const hq::HqIdentity& id, const storage::ConductKeyList& list,
                        const std::string& action, const std::string& subject) {
    json doc = storage::signConductKeyDocument(storage::conductKeyDocument(list.version + 1, list.keys),
                                               id.signing.secretKey);
    check(s.putConductKeys(doc, action, subject, utcNow()));
}

// A new key pair for a conduct-and-discipline officer: the secret goes to --out (protected by the officer's
// passphrase, never into HQ's data folder), the public key to every laptop with the next sync.
void cmdConductKeyAdd(const Options& o, std::ostream& out) {
    auto identity = check(loadIdentity(o.data));
    auto store = openStore(o);
    std::error_code ec;
    if (fs::exists(o.keyFile, ec))
        fail(ExitCode::Conflict, o.keyFile + " exists already; choose a new file for the key");
    auto list = currentConductKeys(*store, identity);
    auto made = [&] {
        try {
            return storage::makeConductKey(
                o.name, conductPassphrase(true), utcNow(),
                o.kdf == "interactive" ? storage::KdfParams::interactive() : storage::KdfParams::moderate());
        } catch (const Failure& f) {
            fail(f.error());
        }
    }();
    try {
        storage::writeFileDurably(o.keyFile, made.fileText, 0600).value();
    } catch (const Failure& f) {
        fail(f.error());
    }
    list.keys.push_back(made.key);
    try {
        publishConductKeys(*store, identity, list, "conduct-key add", made.key.id);
    } catch (...) {
        fs::remove(o.keyFile, ec);  // a key HQ does not publish would open nothing
        throw;
    }
    out << "conduct key " << made.key.id << " (" << made.key.name << ") added; its secret is in " << o.keyFile
        << ", protected by the passphrase. Laptops seal new sensitive sections to it after their next "
           "sync.\n";
}

void cmdConductKeyList(const Options& o, std::ostream& out) {
    auto identity = check(loadIdentity(o.data));
    auto store = openStore(o);
    auto list = currentConductKeys(*store, identity);
    if (o.format == "json") {
        cli::printJson(out, storage::conductKeyDocument(list.version, list.keys));
        return;
    }
    for (const auto& k : list.keys)
        out << k.id << "  " << std::left << std::setw(28) << k.name << " added " << k.addedUtc
            << (k.active() ? "" : "  retired " + k.retiredUtc) << "\n";
    out << list.active().size() << " key(s) in use, list version " << list.version << "\n";
}

// A retired key is no longer sealed to; what was sealed to it still opens with its file.
void cmdConductKeyRetire(const Options& o, std::ostream& out) {
    auto identity = check(loadIdentity(o.data));
    auto store = openStore(o);
    auto list = currentConductKeys(*store, identity);
    auto it = std::find_if(list.keys.begin(), list.keys.end(), [&](const auto& k) { return k.id == o.id; });
    if (it == list.keys.end())
        fail(ExitCode::NotFound, "HQ has no conduct key " + o.id + " ('conduct-key list')");
    if (!it->active()) fail(ExitCode::Conflict, "conduct key " + o.id + " was retired on " + it->retiredUtc);
    if (list.active().size() == 1)
        fail(ExitCode::Conflict,
             "conduct key " + o.id +
                 " is the last one in use: laptops could seal nothing to HQ; add its successor first");
    it->retiredUtc = utcNow();
    publishConductKeys(*store, identity, list, "conduct-key retire", o.id);
    out << "conduct key " << o.id << " retired: laptops stop sealing to it after their next sync; sections "
        << "already sealed to it still open with its file\n";
}

// [SECTION] commands: verify, backup, restore, rotate-epoch

void cmdVerify(const Options& o, std::ostream& out) {
    std::vector<std::string> problems;
    auto identity = loadIdentity(o.data);
    if (!identity) {
        if (identity.error().code == ErrorCode::NotFound) fail(identity.error());
        problems.push_back(identity.error().message);
    } else if (!sync::verify(identity.value().signing.publicKey, "outpost-hq verify",
                             sync::sign(identity.value().signing.secretKey, "outpost-hq verify"))) {
        problems.push_back("the receipt-signing key in " + DataPaths(o.data).signingKey + " does not verify");
    }
    auto store = openStore(o);
    for (auto& p : check(store->verify())) problems.push_back(std::move(p));
    // Every report's device signature, checked again with the key the device enrolled with.
    std::map<std::string, sync::Bytes> keys;
    for (const auto& d : check(store->devices()))
        keys[d.id] = sync::base64Decode(d.publicKey).value_or(sync::Bytes{});
    for (const auto& r : allReports(*store, {}, {})) {
        auto key = keys.find(r.deviceId);
        std::string why = key == keys.end()
                              ? std::string("its device is unknown")
                              : sync::revisionSignatureProblem(key->second, r.canonical, r.signature);
        // A sealed section must be the one the device signed (its hash is inside the signed bytes).
        if (why.empty() && !r.sealedPart.empty()) {
            auto blob = sync::base64Decode(r.sealedPart);
            if (!blob || sync::hex(sync::blake2b256(std::string_view(
                             reinterpret_cast<const char*>(blob->data()), blob->size()))) != sealedHashOf(r))
                why = "its sealed section is not the one the device signed";
        }
        if (!why.empty())
            problems.push_back("report " + std::to_string(r.hqSeq) + " (" + r.recordId + " r" +
                               std::to_string(r.revision) + "): " + why);
    }
    if (identity) {
        auto audit = check(storage::hq::verifyAudit(*store, identity.value().signing.publicKey));
        for (auto& p : audit.problems) problems.push_back(std::move(p));
    }
    auto count = check(store->reportCount());
    if (problems.empty()) {
        out << "ok: HQ's identity and store are sound; " << count << " report(s)\n";
        return;
    }
    for (const auto& p : problems) out << "problem: " << cli::printable(p) << "\n";
    fail(ExitCode::Verify, std::to_string(problems.size()) + " problem(s) found");
}

void copyIdentityFiles(const DataPaths& from, const DataPaths& to, bool overwrite) {
    auto files = from.identityFiles();
    files.push_back(from.recoveryKey);  // HQ's recovery key opens the laptops' recovery slots: keep it too
    for (const auto& src : files) {
        std::error_code ec;
        if (!fs::exists(src, ec)) continue;
        fs::path dst = fs::path(to.dir) / fs::path(src).filename();
        if (!overwrite && fs::exists(dst, ec)) continue;
        std::ifstream in(src, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        if (!in) fail(ExitCode::Storage, "cannot read " + src);
        struct stat st {};
        unsigned mode = ::stat(src.c_str(), &st) == 0 ? (st.st_mode & 0777u) : 0600u;
        try {
            storage::writeFileDurably(dst.string(), ss.str(), mode).value();
        } catch (const Failure& f) {
            fail(f.error());
        }
    }
}

void cmdBackup(const Options& o, std::ostream& out) {
    if (isPostgres(storeLocation(o)))
        fail(ExitCode::Usage,
             "backup copies an SQLite store; back up a PostgreSQL store with pg_dump -Fc (and keep a copy "
             "of the data folder's key and certificate files); after pg_restore, run 'outpost-hq "
             "rotate-epoch' (docs/operations.md)");
    (void)check(loadIdentity(o.data));
    std::error_code ec;
    if (fs::exists(fs::path(o.outPath) / "hq.db", ec))
        fail(ExitCode::Conflict, o.outPath + " holds a backup already; choose an empty folder");
    fs::create_directories(o.outPath, ec);
    if (ec) fail(ExitCode::Storage, "cannot create " + o.outPath + ": " + ec.message());
    ::chmod(o.outPath.c_str(), 0700);
    check(storage::hq::backupSqliteHqStore(o.data, (fs::path(o.outPath) / "hq.db").string()));
    // The identity travels with the data: devices pin the TLS key and check receipts with the signing key.
    copyIdentityFiles(DataPaths(o.data), DataPaths(o.outPath), true);
    {
        auto store = openStore(o);
        (void)check(store->appendAudit(store->auditActor(), "backup", o.outPath, json::object(), utcNow()));
    }
    out << "backup written to " << o.outPath << " (the store, HQ's keys and certificate: keep it safe)\n";
}

void cmdRestore(const Options& o, std::ostream& out, std::ostream& err) {
    if (!o.db.empty())
        fail(ExitCode::Usage,
             "restore replaces an SQLite store; restore a PostgreSQL store with pg_restore, then run "
             "'outpost-hq rotate-epoch' before the servers start (docs/operations.md)");
    const std::string backupFile = (fs::path(o.from) / "hq.db").string();
    auto problems = check(storage::hq::checkSqliteFile(backupFile));
    if (!problems.empty())
        fail(ExitCode::Storage, backupFile + " is damaged; nothing was restored: " + problems.front());
    std::error_code ec;
    fs::create_directories(o.data, ec);
    if (ec) fail(ExitCode::Storage, "cannot create " + o.data + ": " + ec.message());
    ::chmod(o.data.c_str(), 0700);
    // A new machine gets the backup's identity; an existing HQ keeps its own (devices pin it).
    copyIdentityFiles(DataPaths(o.from), DataPaths(o.data), false);
    (void)check(loadIdentity(o.data));

    const std::string target = storage::hq::sqliteHqStoreFile(o.data);
    const std::string incoming = target + ".restoring";
    {
        std::ifstream in(backupFile, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        if (!in) fail(ExitCode::Storage, "cannot read " + backupFile);
        try {
            storage::writeFileDurably(incoming, ss.str(), 0600).value();
        } catch (const Failure& f) {
            fail(f.error());
        }
    }
    // The store being replaced is kept beside it, with its journal files, for a person to inspect.
    std::string stamp = utcNow();
    for (char& c : stamp)
        if (c == ':' || c == '.') c = '-';
    bool keptOld = false;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        std::string from = target + suffix;
        if (!fs::exists(from, ec)) continue;
        fs::rename(from, target + ".before-restore-" + stamp + suffix, ec);
        if (ec)
            fail(ExitCode::Storage,
                 "cannot move " + from + " aside: " + ec.message() + "; nothing was restored");
        keptOld = true;
    }
    fs::rename(incoming, target, ec);
    if (ec) fail(ExitCode::Storage, "cannot put the backup in place: " + ec.message());
    auto store = check(storage::hq::openHqStore(o.data));
    attachAudit(*store, o);
    auto epoch = check(store->rotateEpoch());
    auto after = check(store->verify());
    for (const auto& p : after) err << "outpost-hq: problem after restore: " << cli::printable(p) << "\n";
    out << "restored " << backupFile << " into " << o.data << "; new epoch " << epoch
        << ": devices resync at their next connection\n";
    if (keptOld) out << "the previous store is kept as " << target << ".before-restore-" << stamp << "\n";
    if (!after.empty())
        fail(ExitCode::Storage, std::to_string(after.size()) + " problem(s) in the restored store");
}

// After a store was put back by other means than 'restore' (pg_restore of a PostgreSQL dump, files
// copied back by hand): the new epoch makes every device resync, including those whose last receipt
// HQ still holds but whose feed cursor points past what the restored store has.
void cmdRotateEpoch(const Options& o, std::ostream& out) {
    auto store = openStore(o);
    const std::string before = check(store->epoch());
    const std::string epoch = check(store->rotateEpoch());
    (void)check(store->appendAudit(store->auditActor(), "rotate-epoch", before,
                                   json{{"old", before}, {"new", epoch}}, utcNow()));
    out << "epoch " << before << " replaced by " << epoch << ": devices resync at their next connection\n";
}

// [SECTION] commands: audit

void cmdAuditVerify(const Options& o, std::ostream& out) {
    auto identity = check(loadIdentity(o.data));
    auto store = openStore(o);
    auto c = check(storage::hq::verifyAudit(*store, identity.signing.publicKey));
    if (c.problems.empty()) {
        out << "ok: HQ's audit log is whole: " << c.entries << " entr" << (c.entries == 1 ? "y" : "ies")
            << ", each signed by HQ's key, ending at its signed head\n";
        return;
    }
    for (const auto& p : c.problems) out << "problem: " << cli::printable(p) << "\n";
    fail(ExitCode::Verify, "the audit log was tampered with: " + c.problems.front());
}

void cmdAuditList(const Options& o, std::ostream& out) {
    auto store = openStore(o);
    auto entries = check(store->audit(o.after, o.limit));
    if (o.format == "json") {
        json arr = json::array();
        for (const auto& e : entries) arr.push_back(cli::auditEntryJson(e));
        cli::printJson(out, arr);
        return;
    }
    for (const auto& e : entries) {
        std::string detail = e.detail.size() > 200 ? e.detail.substr(0, 200) + "..." : e.detail;
        out << std::left << std::setw(7) << e.seq << std::setw(29) << cli::printable(e.atUtc) << std::setw(40)
            << cli::printable(e.actor) << std::setw(16) << cli::printable(e.action)
            << cli::printable(e.subject) << "  " << cli::printable(detail) << "\n";
    }
    out << entries.size() << " entr" << (entries.size() == 1 ? "y" : "ies") << "\n";
}

}  // namespace

// [SECTION] runHqCli
int runHqCli(int argc, char** argv, std::ostream& out, std::ostream& err) {
    CLI::App app{"outpost-hq - Outpost's HQ server and its administration", "outpost-hq"};
    app.require_subcommand(1);
    Options o;
    std::function<void()> action;
    auto on = [&](CLI::App* sub, std::function<void()> f) { sub->callback([&action, f] { action = f; }); };
    // Every command names the data folder, and the database when it is PostgreSQL.
    auto storeOptions = [&](CLI::App* sub) {
        sub->add_option("--data", o.data, "HQ's data folder (keys, certificate, and the SQLite store)")
            ->required();
        sub->add_option("--db", o.db, "the PostgreSQL store (postgresql://...) instead of DATA/hq.db")
            ->check([](const std::string& v) {
                return isPostgres(v) ? std::string() : std::string("--db takes a postgresql:// URI");
            });
    };
    const std::vector<std::string> tableOrJson = {"table", "json"};

    auto* init = app.add_subcommand("init", "create a new HQ: identity, signing key, TLS certificate, store");
    storeOptions(init);
    on(init, [&] { cmdInit(o, out, err); });

    auto* serve =
        app.add_subcommand("serve", "serve the sync protocol over HTTPS (initialises on first run)");
    storeOptions(serve);
    serve->add_option("--listen", o.listen, "HOST:PORT to listen on (port 0: any free port)")->required();
    serve
        ->add_option("--threads", o.threads,
                     "worker threads handling complete requests (default 32; a connection waiting for "
                     "bytes holds none)")
        ->check(CLI::Range(1, hq::tuning::kMaxWorkerThreads));
    serve
        ->add_option("--max-connections-per-address", o.maxConnectionsPerAddress,
                     "connections open at once from one address (default 512; laptops behind one NAT or "
                     "load balancer share an address)")
        ->check(CLI::Range(std::size_t{1}, hq::tuning::kMaxConnections));
    serve->add_flag("--insecure-http-for-development", o.insecureHttp,
                    "plain HTTP, no TLS: development only");
    serve->add_flag("--log-requests", o.logRequests, "one line per request on stderr");
    serve
        ->add_option("--memory-budget", o.memoryBudgetMib,
                     "MiB the bodies of all requests may hold at once, decompressed and parsed (default " +
                         std::to_string(hq::tuning::kRequestMemoryBudgetBytes >> 20) + ")")
        ->check(CLI::Range(std::size_t{16}, std::size_t{1} << 20));
    on(serve, [&] { cmdServe(o, out, err); });

    auto* enroll = app.add_subcommand("enroll", "print a one-time enrollment code for a unit's laptop");
    storeOptions(enroll);
    enroll->add_option("--unit", o.unit, "the unit (from the reference data)")->required();
    enroll->add_option("--expires-days", o.expiresDays, "days the code stays valid (default 7)")
        ->check(CLI::Range(1, 365));
    on(enroll, [&] { cmdEnroll(o, out, err); });

    auto* revoke = app.add_subcommand("revoke", "refuse every further request of a device");
    storeOptions(revoke);
    revoke->add_option("--device", o.device, "device id")->required();
    on(revoke, [&] { cmdRevoke(o, out); });

    auto* devices = app.add_subcommand("devices", "list enrolled devices");
    storeOptions(devices);
    devices->add_option("--format", o.format, "table (default) or json")->check(CLI::IsMember(tableOrJson));
    on(devices, [&] { cmdDevices(o, out); });

    auto* forms = app.add_subcommand("forms", "form definitions HQ sends to devices");
    forms->require_subcommand(1);
    auto* formsPush = forms->add_subcommand("push", "check a form definition and send it to every unit");
    storeOptions(formsPush);
    formsPush->add_option("file", o.file, "the form definition (JSON)")->required();
    on(formsPush, [&] { cmdFormsPush(o, out); });

    auto* reference = app.add_subcommand("reference", "reference data HQ sends to devices");
    reference->require_subcommand(1);
    auto* refPush = reference->add_subcommand("push", "check reference data and send it to every unit");
    storeOptions(refPush);
    refPush->add_option("file", o.file, "the reference document (JSON)")->required();
    on(refPush, [&] { cmdReferencePush(o, out, err); });

    auto* reports = app.add_subcommand("reports", "reports received from the field");
    reports->require_subcommand(1);
    auto* rl = reports->add_subcommand("list", "list reports in HQ's order");
    storeOptions(rl);
    rl->add_option("--unit", o.unit, "only this unit");
    rl->add_option("--form", o.form, "only this form");
    rl->add_option("--format", o.format, "table (default) or json")->check(CLI::IsMember(tableOrJson));
    on(rl, [&] { cmdReportsList(o, out); });
    auto* rs = reports->add_subcommand("show", "print one report (the latest revision by default)");
    storeOptions(rs);
    rs->add_option("id", o.id, "record id")->required();
    rs->add_option("--revision", o.revision, "revision")->check(CLI::Range(1, 1000000));
    rs->add_flag(
        "--open-sealed", o.openSealed,
        "open the sealed sensitive section with a conduct key (passphrase: $OUTPOST_CONDUCT_PASSPHRASE "
        "or the terminal); the opening is audited");
    rs->add_option("--key", o.keyFile, "the conduct key file (with --open-sealed)");
    rs->add_option("--unit", o.unit, "the unit whose report it is (needed when several units use the id)");
    on(rs, [&] { cmdReportsShow(o, out); });
    auto* rx =
        reports->add_subcommand("export", "export reports as CSV or JSON (sensitive fields are left out)");
    storeOptions(rx);
    rx->add_option("--format", o.format, "csv or json")->required()->check(CLI::IsMember({"csv", "json"}));
    rx->add_option("--form", o.form, "only this form");
    rx->add_option("--unit", o.unit, "only this unit");
    rx->add_option("--out", o.outPath, "write to this file instead of stdout");
    on(rx, [&] { cmdReportsExport(o, out); });
    auto* rr = reports->add_subcommand("review", "accept a report, or return it to the unit with a comment");
    storeOptions(rr);
    rr->add_option("id", o.id, "record id")->required();
    rr->add_option("--revision", o.revision, "revision")->required()->check(CLI::Range(1, 1000000));
    rr->add_option("--status", o.status, "accepted or returned")
        ->required()
        ->check(CLI::IsMember({"accepted", "returned"}));
    rr->add_option("--comment", o.comment, "what the unit should know or amend");
    rr->add_option("--by", o.by, "who reviewed it")->required();
    rr->add_option("--unit", o.unit, "the unit whose report it is (needed when several units use the id)");
    on(rr, [&] { cmdReportsReview(o, out); });

    auto* conflicts = app.add_subcommand("conflicts", "revisions received twice with different content");
    storeOptions(conflicts);
    conflicts->add_option("--format", o.format, "table (default) or json")->check(CLI::IsMember(tableOrJson));
    on(conflicts, [&] { cmdConflicts(o, out); });

    auto* importBundle = app.add_subcommand(
        "import-bundle", "ingest a laptop's bundle (outpostctl bundle export) and write its receipt");
    storeOptions(importBundle);
    importBundle->add_option("file", o.file, "the bundle file from the laptop")->required();
    importBundle->add_option("--out", o.outPath, "the receipt file to write for the laptop")->required();
    on(importBundle, [&] { cmdImportBundle(o, out); });

    auto* recovery =
        app.add_subcommand("recovery", "help a laptop whose passphrase was lost (docs/operations.md)");
    recovery->require_subcommand(1);
    auto* recOpen = recovery->add_subcommand(
        "open", "answer a laptop's recovery request (outpostctl recovery request) with a response file");
    recOpen->add_option("--data", o.data, "HQ's data folder")->required();
    recOpen->add_option("--request", o.request, "the request file from the laptop")->required();
    recOpen->add_option("--out", o.outPath, "the response file to write for the laptop")->required();
    on(recOpen, [&] { cmdRecoveryOpen(o, out); });

    auto* conduct = app.add_subcommand(
        "conduct-key",
        "the conduct-and-discipline keys laptops seal sensitive sections to (docs/security.md)");
    conduct->require_subcommand(1);
    auto* ckAdd =
        conduct->add_subcommand("add", "make a key pair for a conduct officer and publish its public key");
    storeOptions(ckAdd);
    ckAdd->add_option("--name", o.name, "whose key it is (shown to HQ admins)")->required();
    ckAdd
        ->add_option("--out", o.keyFile,
                     "the officer's key file to write (kept by the officer, not in --data)")
        ->required();
    ckAdd->add_option("--kdf", o.kdf, "passphrase hardening: moderate (default) or interactive")
        ->check(CLI::IsMember({"moderate", "interactive"}));
    on(ckAdd, [&] { cmdConductKeyAdd(o, out); });
    auto* ckList = conduct->add_subcommand("list", "list the conduct keys, in use and retired");
    storeOptions(ckList);
    ckList->add_option("--format", o.format, "table (default) or json")->check(CLI::IsMember(tableOrJson));
    on(ckList, [&] { cmdConductKeyList(o, out); });
    auto* ckRetire = conduct->add_subcommand("retire", "stop laptops sealing to a key (rotation: add first)");
    storeOptions(ckRetire);
    ckRetire->add_option("id", o.id, "the key id ('conduct-key list')")->required();
    on(ckRetire, [&] { cmdConductKeyRetire(o, out); });

    auto* verify = app.add_subcommand("verify", "check HQ's identity files and store; exit 8 on problems");
    storeOptions(verify);
    on(verify, [&] { cmdVerify(o, out); });

    auto* audit = app.add_subcommand("audit", "HQ's hash-chained, signed audit log");
    audit->require_subcommand(1);
    auto* av =
        audit->add_subcommand("verify", "check the whole chain and HQ's signatures; exit 8 on tampering");
    storeOptions(av);
    on(av, [&] { cmdAuditVerify(o, out); });
    auto* al = audit->add_subcommand("list", "print audit entries, oldest first");
    storeOptions(al);
    al->add_option("--after", o.after, "only entries after this sequence number")
        ->check(CLI::NonNegativeNumber);
    al->add_option("--limit", o.limit, "at most this many (default 1000)")->check(CLI::Range(1, 100000));
    al->add_option("--format", o.format, "table (default) or json")->check(CLI::IsMember(tableOrJson));
    on(al, [&] { cmdAuditList(o, out); });

    auto* backup =
        app.add_subcommand("backup", "write a consistent copy of the store and HQ's keys to a folder");
    storeOptions(backup);
    backup->add_option("--out", o.outPath, "an empty or new folder")->required();
    on(backup, [&] { cmdBackup(o, out); });

    auto* restore = app.add_subcommand(
        "restore", "put a backup in place (stop the server first); devices resync through the new epoch");
    storeOptions(restore);
    restore->add_option("--from", o.from, "a folder written by 'outpost-hq backup'")->required();
    on(restore, [&] { cmdRestore(o, out, err); });

    auto* rotate = app.add_subcommand(
        "rotate-epoch",
        "give HQ a new epoch after its store was restored by other means (pg_restore): devices resync");
    storeOptions(rotate);
    on(rotate, [&] { cmdRotateEpoch(o, out); });

    return cli::runCommandLine(app, argc, argv, out, err, action);
}

}  // namespace outpost::hq
