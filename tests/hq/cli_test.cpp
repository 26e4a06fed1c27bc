// The outpost-hq program: its admin commands with good and bad input, and `serve` answering over TLS
// with the key whose pin it prints.
#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "cli/output.hpp"
#include "core/builtin.hpp"
#include "core/uuid.hpp"
#include "hq/tls.hpp"
#include "storage/hq/store.hpp"
#include "support/raw_sql.hpp"
#include "support/test_support.hpp"
#include "sync/protocol.hpp"

using namespace outpost;
namespace fs = std::filesystem;
namespace hqs = outpost::storage::hq;
using json = nlohmann::json;

namespace {

const std::string kUnit = "MINUSCA-RWABATT-1";

struct Run {
    int code = -1;
    std::string out, err;
};

std::vector<char*> argvOf(std::vector<std::string>& v) {
    std::vector<char*> a;
    for (auto& s : v) a.push_back(s.data());
    a.push_back(nullptr);
    return a;
}

// Runs outpost-hq with args to completion, capturing both streams (no shell).
Run runHq(std::vector<std::string> args) {
    args.insert(args.begin(), OUTPOST_HQ);
    int out[2], err[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        auto a = argvOf(args);
        ::execv(a[0], a.data());
        _exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    Run r;
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open = 2;
    char buf[65536];
    while (open > 0) {
        if (::poll(fds, 2, -1) < 0) continue;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
            } else {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open;
            }
        }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

// An initialised HQ data folder.
struct HqDir {
    test::TempDir tmp;
    std::string data = tmp.sub("hq");
    HqDir() {
        auto r = runHq({"init", "--data", data});
        INFO(r.out << r.err);
        REQUIRE(r.code == 0);
    }
    // The store as outpost-hq opens it: its audit entries signed with HQ's key from the data folder.
    std::unique_ptr<hqs::HqStore> store() const {
        auto s = hqs::openHqStore(data).value();
        s->setAuditKey(signingKey());
        return s;
    }
    sync::Bytes signingKey() const {
        std::string text = test::readFile(data + "/hq-signing.key");
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        auto key = sync::base64Decode(text);
        REQUIRE(key);
        REQUIRE(key->size() == 64);
        return *key;
    }
    Run run(std::vector<std::string> args) const {
        args.push_back("--data");
        args.push_back(data);
        return runHq(std::move(args));
    }
};

// A device enrolled straight through the store (the protocol path has its own tests).
// The device's key pair, so items can be signed as the laptop signs them.
std::map<std::string, sync::SigningKeyPair>& deviceKeys() {
    static std::map<std::string, sync::SigningKeyPair> keys;
    return keys;
}

std::string enrollDevice(hqs::HqStore& s, const std::string& unit) {
    auto code = sync::EnrollmentCode::generate("pin");
    REQUIRE(s.addEnrollment(code.secretHash(), unit, "2999-01-01T00:00:00.000Z").ok());
    auto keys = sync::SigningKeyPair::generate();
    auto d = s.redeemEnrollment(code.secretHash(), "lap", sync::base64Encode(keys.publicKey),
                                "2026-01-01T00:00:00.000Z");
    REQUIRE(d.ok());
    deviceKeys()[d.value().id] = keys;
    return d.value().id;
}

// A final revision as HQService hands it to the store; signed by `device` when given.
hqs::IncomingItem gapItem(const std::string& unit, const std::string& description,
                          const std::string& device = {}) {
    sync::Envelope e;
    e.id = core::newUuidV7();
    e.revision = 1;
    e.formId = "training-gap";
    e.formVersion = 1;
    e.unitId = unit;
    e.author = "capt.uwase";
    e.createdUtc = "2025-01-10T08:00:00.000Z";
    e.finalizedUtc = "2025-01-10T09:00:00.000Z";
    e.payload = json{{"unit", unit},
                     {"description", description},
                     {"source", "evaluation"},
                     {"identified_date", "2025-01-10"},
                     {"severity", "minor"},
                     {"personnel_affected", 12},
                     {"remedy", "in_mission_course"},
                     {"target_date", "2025-03-01"},
                     {"status", "open"}};
    hqs::IncomingItem it;
    it.recordId = e.id;
    it.revision = 1;
    it.formId = e.formId;
    it.formVersion = 1;
    it.unitId = unit;
    it.author = e.author;
    it.createdUtc = e.createdUtc;
    it.finalizedUtc = e.finalizedUtc;
    it.canonical = e.canonical();
    it.hash = e.hash();
    if (!device.empty()) it.signature = sync::signRevision(deviceKeys().at(device).secretKey, it.canonical);
    return it;
}

// Splits CSV text into rows of cells (RFC 4180: quoted cells may hold commas, quotes, line breaks).
std::vector<std::vector<std::string>> parseCsv(const std::string& text) {
    std::vector<std::vector<std::string>> rows(1);
    std::string cell;
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                cell += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                cell += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            rows.back().push_back(cell);
            cell.clear();
        } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
            rows.back().push_back(cell);
            cell.clear();
            rows.emplace_back();
            ++i;
        } else {
            cell += c;
        }
    }
    if (!cell.empty() || !rows.back().empty()) rows.back().push_back(cell);
    if (rows.back().empty()) rows.pop_back();
    return rows;
}

mode_t modeOf(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

// `outpost-hq serve` as a child process; SIGKILLed if a test leaves it running.
struct Server {
    pid_t pid = -1;
    int port = 0;
    std::string pin;
    std::string line;

    explicit Server(const std::string& data, bool insecureHttp = false) {
        int out[2];
        REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
        std::vector<std::string> args{OUTPOST_HQ, "serve",       "--data",    data,
                                      "--listen", "127.0.0.1:0", "--threads", "2"};
        if (insecureHttp) args.push_back("--insecure-http-for-development");
        pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::dup2(out[1], 1);
            auto a = argvOf(args);
            ::execv(a[0], a.data());
            _exit(127);
        }
        ::close(out[1]);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        std::string text;
        while (text.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
            pollfd p{out[0], POLLIN, 0};
            if (::poll(&p, 1, 200) <= 0) continue;
            char buf[512];
            ssize_t n = ::read(out[0], buf, sizeof buf);
            if (n <= 0) break;
            text.append(buf, static_cast<std::size_t>(n));
        }
        ::close(out[0]);
        line = text.substr(0, text.find('\n'));
        const std::string prefix =
            std::string("outpost-hq listening on ") + (insecureHttp ? "http" : "https") + "://127.0.0.1:";
        REQUIRE(line.rfind(prefix, 0) == 0);
        auto sp = line.find(' ', prefix.size());
        REQUIRE(sp != std::string::npos);
        port = std::stoi(line.substr(prefix.size(), sp - prefix.size()));
        REQUIRE(line.substr(sp, 5) == " pin ");
        pin = line.substr(sp + 5);
    }
    ~Server() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
    // SIGTERM, then the exit status (or -1 when it did not stop within 20 s).
    int terminate() {
        ::kill(pid, SIGTERM);
        for (int i = 0; i < 200; ++i) {
            int status = 0;
            if (::waitpid(pid, &status, WNOHANG) == pid) {
                pid = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return -1;
    }
};

struct HttpResult {
    CURLcode curl = CURLE_OK;
    long status = 0;
    std::string body;
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* user) {
    static_cast<std::string*>(user)->append(data, size * n);
    return size * n;
}

// One HTTPS request to 127.0.0.1 that only goes through when the server presents the pinned key.
HttpResult httpsRequest(int port, const std::string& pin, const std::string& path,
                        const std::string* postBody = nullptr, const char* scheme = "https") {
    HttpResult r;
    CURL* c = curl_easy_init();
    REQUIRE(c);
    std::string url = std::string(scheme) + "://127.0.0.1:" + std::to_string(port) + path;
    std::string pinned = sync::curlPin(pin);
    curl_slist* headers = curl_slist_append(nullptr, "Outpost-Protocol: 2");
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    // The certificate is self-signed: trust comes from the pin alone, as on a field laptop.
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, pinned.c_str());
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    if (postBody) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, postBody->data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(postBody->size()));
    }
    r.curl = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return r;
}

}  // namespace

TEST_CASE("outpost-hq init makes HQ's identity with private keys, once", "[hq][cli]") {
    HqDir h;
    for (const char* f : {"hq-id", "hq-signing.key", "tls-cert.pem", "tls-key.pem", "hq.db"})
        CHECK(fs::exists(fs::path(h.data) / f));
    CHECK(modeOf(h.data + "/hq-signing.key") == 0600);
    CHECK(modeOf(h.data + "/tls-key.pem") == 0600);
    CHECK(modeOf(h.data) == 0700);
    auto signingKey = test::readFile(h.data + "/hq-signing.key");
    auto again = h.run({"init"});
    CHECK(again.code == 6);
    CHECK_THAT(again.err, Catch::Contains("holds an HQ already"));
    CHECK(test::readFile(h.data + "/hq-signing.key") == signingKey);
    auto verify = h.run({"verify"});
    INFO(verify.out << verify.err);
    CHECK(verify.code == 0);
    CHECK_THAT(verify.out, Catch::StartsWith("ok"));
    // A folder with part of an identity is not silently completed (devices pin the old keys).
    fs::remove(h.data + "/tls-key.pem");
    auto partial = runHq({"serve", "--data", h.data, "--listen", "127.0.0.1:0"});
    CHECK(partial.code == 5);
    CHECK_THAT(partial.err, Catch::Contains("tls-key.pem"));
    // Usage errors.
    CHECK(runHq({"init"}).code == 1);
    CHECK(runHq({"frobnicate", "--data", h.data}).code == 1);
    CHECK(runHq({}).code == 1);
}

TEST_CASE("outpost-hq enroll prints a one-time code carrying HQ's TLS pin", "[hq][cli]") {
    HqDir h;
    auto r = h.run({"enroll", "--unit", kUnit});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    std::string text = r.out.substr(0, r.out.find('\n'));
    auto code = sync::EnrollmentCode::parse(text);
    CHECK(code.pin == hq::certificatePin(h.data + "/tls-cert.pem").value());
    // HQ keeps only the secret's hash: redeeming it works once.
    auto s = h.store();
    auto keys = sync::SigningKeyPair::generate();
    auto d = s->redeemEnrollment(code.secretHash(), "lap", sync::base64Encode(keys.publicKey),
                                 "2026-01-01T00:00:00.000Z");
    REQUIRE(d.ok());
    CHECK(d.value().unitId == kUnit);
    CHECK_FALSE(test::anyFileContains(h.data, code.secret));

    auto unknown = h.run({"enroll", "--unit", "NO-SUCH-UNIT"});
    CHECK(unknown.code == 3);
    CHECK_THAT(unknown.err, Catch::Contains("NO-SUCH-UNIT"));
    CHECK(h.run({"enroll", "--unit", kUnit, "--expires-days", "0"}).code == 1);
    test::TempDir empty;
    auto nowhere = runHq({"enroll", "--unit", kUnit, "--data", empty.sub("none")});
    CHECK(nowhere.code == 3);
    CHECK_THAT(nowhere.err, Catch::Contains("init"));
}

TEST_CASE("outpost-hq revoke marks a device revoked and refuses an unknown one", "[hq][cli]") {
    HqDir h;
    std::string device;
    {
        auto s = h.store();
        device = enrollDevice(*s, kUnit);
    }
    auto list = h.run({"devices", "--format", "json"});
    REQUIRE(list.code == 0);
    auto before = json::parse(list.out);
    REQUIRE(before.size() == 1);
    CHECK(before[0]["revoked"] == false);

    auto r = h.run({"revoke", "--device", device});
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    auto after = json::parse(h.run({"devices", "--format", "json"}).out);
    CHECK(after[0]["revoked"] == true);
    CHECK(h.store()->device(device).value()->revoked);

    auto unknown = h.run({"revoke", "--device", "0190f3c4-7b2e-7a1c-9d3e-5f6a7b8c9d0e"});
    CHECK(unknown.code == 3);
    CHECK(h.run({"revoke"}).code == 1);
}

TEST_CASE("outpost-hq forms push refuses a broken definition and sends a new version once", "[hq][cli]") {
    HqDir h;
    test::TempDir t;
    auto def = json::parse(test::readFile(test::sourcePath("core/forms/training-gap.json")));
    auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream(t.sub(name), std::ios::binary) << text;
        return t.sub(name);
    };
    auto feedBefore = h.store()->heads().value().feed;

    json broken = def;
    broken["version"] = 2;
    broken["fields"][1]["ref"] = "no_such_table";
    broken["fields"][4]["constraint"] = "days_between(today(), .) <=";
    auto bad = h.run({"forms", "push", write("broken.json", broken.dump())});
    INFO(bad.out << bad.err);
    CHECK(bad.code == 2);
    CHECK_THAT(bad.err, Catch::Contains("not a valid form definition"));
    CHECK_THAT(bad.err, Catch::Contains("no_such_table"));
    auto malformed = h.run({"forms", "push", write("malformed.json", "{\"form\": \"x\",")});
    CHECK(malformed.code == 7);
    CHECK_THAT(malformed.err, Catch::Contains("malformed JSON"));
    CHECK(h.run({"forms", "push", write("binary.json", std::string("\xff\xfe{}", 4))}).code == 7);
    CHECK(h.run({"forms", "push", t.sub("missing.json")}).code == 7);
    CHECK(h.store()->heads().value().feed == feedBefore);
    CHECK(h.store()->forms().value().empty());

    json v2 = def;
    v2["version"] = 2;
    auto ok = h.run({"forms", "push", write("v2.json", v2.dump())});
    INFO(ok.out << ok.err);
    CHECK(ok.code == 0);
    CHECK(h.store()->forms().value().size() == 1);
    auto feed = h.store()->feed(kUnit, feedBefore, 10).value();
    REQUIRE(feed.size() == 1);
    CHECK(feed[0].kind == "form");
    CHECK(feed[0].body["version"] == 2);

    auto same = h.run({"forms", "push", write("v2again.json", v2.dump(2))});
    CHECK(same.code == 0);
    CHECK_THAT(same.out, Catch::Contains("nothing changed"));
    json changed = v2;
    changed["title"]["en"] = "Something else";
    auto clash = h.run({"forms", "push", write("v2changed.json", changed.dump())});
    CHECK(clash.code == 6);
    auto builtin = h.run({"forms", "push", write("v1changed.json", [&] {
                              json j = def;
                              j["title"]["en"] = "Changed";
                              return j.dump();
                          }())});
    CHECK(builtin.code == 6);
    CHECK(h.store()->heads().value().feed == feedBefore + 1);
}

TEST_CASE("outpost-hq reference push checks the document and what depends on it", "[hq][cli]") {
    HqDir h;
    test::TempDir t;
    auto doc = json::parse(core::demoReferenceSource());
    doc["units"].push_back({{"id", "MINUSCA-NEWBATT-1"}, {"name", "New battalion"}, {"mission", "MINUSCA"}});
    std::ofstream(t.sub("ref.json")) << doc.dump();
    CHECK(h.run({"enroll", "--unit", "MINUSCA-NEWBATT-1"}).code == 3);
    auto ok = h.run({"reference", "push", t.sub("ref.json")});
    INFO(ok.out << ok.err);
    CHECK(ok.code == 0);
    CHECK(h.run({"enroll", "--unit", "MINUSCA-NEWBATT-1"}).code == 0);

    json bad = doc;
    bad["units"] = "not a table";
    std::ofstream(t.sub("bad.json")) << bad.dump();
    auto refused = h.run({"reference", "push", t.sub("bad.json")});
    CHECK(refused.code == 2);
    CHECK(h.store()->reference().value().value() == doc);
}

TEST_CASE("outpost-hq reports: list, show, review and a CSV export with proper quoting", "[hq][cli]") {
    HqDir h;
    const std::string tricky = "Half the company, \"B\" platoon\nfailed the test";
    std::vector<std::string> ids;
    {
        auto s = h.store();
        auto device = enrollDevice(*s, kUnit);
        std::vector<hqs::IncomingItem> items{gapItem(kUnit, tricky),
                                             gapItem(kUnit, "=1+1 looks like a formula")};
        for (auto& i : items) ids.push_back(i.recordId);
        auto out = s->ingest(device, core::newUuidV7(), "request-hash", items, "2026-01-01T00:00:00.000Z");
        REQUIRE(out.ok());
        REQUIRE(out.value().results.size() == 2);
    }
    auto list = h.run({"reports", "list", "--format", "json"});
    REQUIRE(list.code == 0);
    auto rows = json::parse(list.out);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0]["record_id"] == ids[0]);
    CHECK(rows[0]["review_status"] == "received");
    CHECK(json::parse(h.run({"reports", "list", "--format", "json", "--unit", "MINUSCA-PAKBATT-1"}).out)
              .empty());
    CHECK_THAT(h.run({"reports", "list"}).out, Catch::Contains("2 report(s)"));

    auto show = h.run({"reports", "show", ids[0]});
    REQUIRE(show.code == 0);
    CHECK(json::parse(show.out)["payload"]["description"] == tricky);
    CHECK(h.run({"reports", "show", ids[0], "--revision", "7"}).code == 3);
    CHECK(h.run({"reports", "show", core::newUuidV7()}).code == 3);

    auto review = h.run({"reports", "review", ids[1], "--revision", "1", "--status", "returned", "--comment",
                         "Describe the gap in words", "--by", "maj.dupont"});
    INFO(review.out << review.err);
    CHECK(review.code == 0);
    CHECK(h.store()->report(ids[1], 1).value()->reviewStatus == core::ReviewStatus::Returned);
    CHECK(h.run({"reports", "review", core::newUuidV7(), "--revision", "1", "--status", "accepted",
                 "--comment", "", "--by", "x"})
              .code == 3);
    CHECK(h.run({"reports", "review", ids[0], "--revision", "1", "--status", "maybe", "--by", "x"}).code ==
          1);

    test::TempDir t;
    auto exported =
        h.run({"reports", "export", "--format", "csv", "--form", "training-gap", "--out", t.sub("r.csv")});
    INFO(exported.err);
    REQUIRE(exported.code == 0);
    auto csv = parseCsv(test::readFile(t.sub("r.csv")));
    REQUIRE(csv.size() == 3);
    const std::vector<std::string> meta = {"hq_seq",       "record_id",     "revision",     "form",
                                           "form_version", "unit",          "author",       "device",
                                           "created_utc",  "finalized_utc", "received_utc", "review_status"};
    REQUIRE(csv[0].size() > meta.size());
    CHECK(std::vector<std::string>(csv[0].begin(), csv[0].begin() + 12) == meta);
    CHECK(std::count(csv[0].begin(), csv[0].end(), "unit") == 1);  // the payload's unit is the unit column
    auto col = [&](const std::string& name) {
        auto it = std::find(csv[0].begin(), csv[0].end(), name);
        REQUIRE(it != csv[0].end());
        return static_cast<std::size_t>(it - csv[0].begin());
    };
    for (std::size_t i = 1; i < csv.size(); ++i) CHECK(csv[i].size() == csv[0].size());
    CHECK(csv[1][col("record_id")] == ids[0]);
    CHECK(csv[1][col("description")] == tricky);
    CHECK(csv[2][col("description")] == "'=1+1 looks like a formula");
    CHECK(csv[1][col("personnel_affected")] == "12");
    CHECK(csv[2][col("review_status")] == "returned");
    CHECK(csv[1][col("unit")] == kUnit);

    auto asJson = h.run({"reports", "export", "--format", "json"});
    REQUIRE(asJson.code == 0);
    auto j = json::parse(asJson.out);
    REQUIRE(j.size() == 2);
    CHECK(j[0]["payload"]["description"] == tricky);
    CHECK(h.run({"reports", "export", "--format", "xml"}).code == 1);
    CHECK(h.run({"reports", "export", "--format", "csv", "--form", "no-such-form"}).code == 3);
}

TEST_CASE("outpost-hq backup and restore bring the reports back under a new epoch", "[hq][cli]") {
    HqDir h;
    std::string epoch;
    {
        auto s = h.store();
        epoch = s->epoch().value();
        auto device = enrollDevice(*s, kUnit);
        REQUIRE(s->ingest(device, core::newUuidV7(), "h1", {gapItem(kUnit, "one", device)},
                          "2026-01-01T00:00:00.000Z")
                    .ok());
    }
    test::TempDir t;
    auto b = h.run({"backup", "--out", t.sub("b")});
    INFO(b.out << b.err);
    REQUIRE(b.code == 0);
    CHECK(fs::exists(t.sub("b/hq.db")));
    CHECK(modeOf(t.sub("b/hq-signing.key")) == 0600);
    CHECK(h.run({"backup", "--out", t.sub("b")}).code == 6);
    {
        auto s = h.store();
        auto device = s->devices().value()[0].id;
        REQUIRE(s->ingest(device, core::newUuidV7(), "h2", {gapItem(kUnit, "two", device)},
                          "2026-01-01T00:00:00.000Z")
                    .ok());
        REQUIRE(s->reportCount().value() == 2);
    }
    auto r = h.run({"restore", "--from", t.sub("b")});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    auto s = h.store();
    CHECK(s->reportCount().value() == 1);
    CHECK(s->epoch().value() != epoch);
    CHECK(h.run({"verify"}).code == 0);
    CHECK(h.run({"restore", "--from", t.sub("nothing-here")}).code == 3);
}

TEST_CASE("outpost-hq rotate-epoch gives HQ a new epoch and keeps every report", "[hq][cli]") {
    HqDir h;
    std::string epoch;
    {
        auto s = h.store();
        epoch = s->epoch().value();
        auto device = enrollDevice(*s, kUnit);
        REQUIRE(s->ingest(device, core::newUuidV7(), "h1", {gapItem(kUnit, "one", device)},
                          "2026-01-01T00:00:00.000Z")
                    .ok());
    }
    auto r = h.run({"rotate-epoch"});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    auto s = h.store();
    const std::string now = s->epoch().value();
    CHECK(now != epoch);
    CHECK_THAT(r.out, Catch::Contains(epoch) && Catch::Contains(now));
    CHECK(s->reportCount().value() == 1);
    CHECK(h.run({"verify"}).code == 0);
    // Not an HQ folder, or an option it does not take: nothing changes.
    test::TempDir t;
    CHECK(runHq({"rotate-epoch", "--data", t.sub("none")}).code == 3);
    CHECK(h.run({"rotate-epoch", "--out", t.sub("x")}).code == 1);
    CHECK(h.store()->epoch().value() == now);
}

TEST_CASE("outpost-hq serve answers over TLS with the pinned key and stops on SIGTERM", "[hq][cli]") {
    HqDir h;
    Server server(h.data);
    CHECK(server.pin == hq::certificatePin(h.data + "/tls-cert.pem").value());

    auto hello = httpsRequest(server.port, server.pin, "/v1/hello");
    INFO(curl_easy_strerror(hello.curl) << " " << hello.body);
    REQUIRE(hello.curl == CURLE_OK);
    CHECK(hello.status == 200);
    auto j = json::parse(hello.body);
    CHECK(j["protocol"] == "outpost/2");
    CHECK(j["hq_id"] == test::readFile(h.data + "/hq-id").substr(0, j["hq_id"].get<std::string>().size()));

    // Another key's pin: the connection is refused before any request is sent.
    auto impostor =
        httpsRequest(server.port, sync::base64UrlEncode(sync::blake2b256("another key")), "/v1/hello");
    CHECK(impostor.curl == CURLE_SSL_PINNEDPUBKEYNOTMATCH);

    // A body over the limit gets the protocol's JSON 413, not an empty answer.
    std::string big(9u << 20, 'x');
    auto tooBig = httpsRequest(server.port, server.pin, "/v1/push", &big);
    CHECK(tooBig.status == 413);
    CHECK_THAT(tooBig.body, Catch::Contains("too_large"));
    auto unknown = httpsRequest(server.port, server.pin, "/v1/elsewhere");
    CHECK(unknown.status == 404);
    CHECK_THAT(unknown.body, Catch::Contains("not_found"));

    CHECK(server.terminate() == 0);
}

TEST_CASE("outpost-hq serve speaks plain HTTP only when asked to, for development", "[hq][cli]") {
    HqDir h;
    Server server(h.data, true);
    auto hello = httpsRequest(server.port, server.pin, "/v1/hello", nullptr, "http");
    INFO(curl_easy_strerror(hello.curl) << " " << hello.body);
    REQUIRE(hello.curl == CURLE_OK);
    CHECK(hello.status == 200);
    CHECK(json::parse(hello.body)["protocol"] == "outpost/2");
    // And no TLS at all on that port.
    CHECK(httpsRequest(server.port, server.pin, "/v1/hello").curl != CURLE_OK);
    CHECK(server.terminate() == 0);
}

TEST_CASE("outpost-hq exports never contain the sensitive SEA section", "[hq][cli]") {
    HqDir h;
    {
        auto s = h.store();
        auto device = enrollDevice(*s, kUnit);
        // The store is filled directly: what is checked is the export, not the validation.
        auto item = gapItem(kUnit, "unused");
        sync::Envelope e = sync::Envelope::fromJson(json::parse(item.canonical));
        e.formId = "incident";
        e.payload = json{{"unit", kUnit},
                         {"description", "Patrol stopped at a checkpoint"},
                         {"victim_reference", "CDT-2026-0042"},
                         {"sea_notes", "must never leave HQ in an export"},
                         {"victims_count", 1}};
        item.formId = "incident";
        item.canonical = e.canonical();
        item.hash = e.hash();
        REQUIRE(s->ingest(device, core::newUuidV7(), "h", {item}, "2026-01-01T00:00:00.000Z").ok());
    }
    for (const char* format : {"csv", "json"}) {
        auto r = h.run({"reports", "export", "--format", format, "--form", "incident"});
        INFO(format << ": " << r.err);
        REQUIRE(r.code == 0);
        CHECK_THAT(r.out, Catch::Contains("Patrol stopped"));
        CHECK_THAT(r.out, !Catch::Contains("CDT-2026-0042"));
        CHECK_THAT(r.out, !Catch::Contains("must never leave"));
        CHECK_THAT(r.out, !Catch::Contains("victims_count"));
    }
    // The full report is still there for `reports show` (HQ staff with access to the server).
    auto list = json::parse(h.run({"reports", "list", "--format", "json"}).out);
    REQUIRE(list.size() == 1);
    auto show = h.run({"reports", "show", list[0]["record_id"].get<std::string>()});
    CHECK_THAT(show.out, Catch::Contains("CDT-2026-0042"));
}

namespace {

// Raw SQL on HQ's SQLite file, as an insider with database access would run it.
void rawHqSql(const std::string& data, const std::string& sql) {
    outpost::test::rawSql(data + "/hq.db", sql);
}

}  // namespace

TEST_CASE("outpost-hq audit list and audit verify: tampering is named", "[hq][cli][audit]") {
    HqDir h;
    std::string recordId;
    {
        auto s = h.store();
        auto device = enrollDevice(*s, kUnit);
        auto item = gapItem(kUnit, "signed gap", device);
        recordId = item.recordId;
        REQUIRE(s->ingest(device, core::newUuidV7(), "h1", {item}, "2026-01-01T00:00:00.000Z").ok());
    }
    REQUIRE(h.run({"reports", "export", "--format", "json"}).code == 0);
    REQUIRE(h.run({"reports", "review", recordId, "--revision", "1", "--status", "accepted", "--by", "maj.x"})
                .code == 0);

    auto list = h.run({"audit", "list", "--format", "json"});
    INFO(list.err);
    REQUIRE(list.code == 0);
    auto entries = json::parse(list.out);
    std::vector<std::string> actions;
    for (const auto& e : entries) actions.push_back(e["action"]);
    CHECK(actions == std::vector<std::string>{"enrollment code", "enroll", "push", "export", "review"});
    CHECK_THAT(entries[3]["actor"].get<std::string>(), Catch::StartsWith("admin:"));
    CHECK(entries[2]["detail"]["stored"] == 1);
    CHECK_THAT(h.run({"audit", "list", "--after", "3"}).out,
               Catch::Contains("review") && Catch::Contains("2 entries"));

    auto ok = h.run({"audit", "verify"});
    INFO(ok.out << ok.err);
    CHECK(ok.code == 0);
    CHECK_THAT(ok.out, Catch::StartsWith("ok: HQ's audit log is whole: 5 entries"));
    CHECK(h.run({"verify"}).code == 0);

    SECTION("an entry deleted in the middle") {
        rawHqSql(h.data, "DELETE FROM audit WHERE seq = 2");
        auto bad = h.run({"audit", "verify"});
        CHECK(bad.code == 8);
        CHECK_THAT(bad.err, Catch::Contains("audit entry 2 is missing"));
        CHECK(h.run({"verify"}).code == 8);
    }
    SECTION("an edited entry") {
        rawHqSql(h.data, "UPDATE audit SET actor = 'nobody' WHERE seq = 4");
        auto bad = h.run({"audit", "verify"});
        CHECK(bad.code == 8);
        CHECK_THAT(bad.err, Catch::Contains("audit entry 4 was edited"));
    }
    SECTION("the newest entry deleted") {
        rawHqSql(h.data, "DELETE FROM audit WHERE seq = 5");
        auto bad = h.run({"audit", "verify"});
        CHECK(bad.code == 8);
        CHECK_THAT(bad.err, Catch::Contains("signed head says 5"));
    }
    SECTION("two entries swapped") {
        rawHqSql(h.data,
                 "UPDATE audit SET seq = 100 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; "
                 "UPDATE audit SET seq = 4 WHERE seq = 100;");
        auto bad = h.run({"audit", "verify"});
        CHECK(bad.code == 8);
        CHECK_THAT(bad.err, Catch::Contains("audit entry 3 does not follow entry 2"));
    }
    SECTION("a report whose device signature was removed or altered") {
        rawHqSql(h.data, "UPDATE report SET signature = ''");
        auto bad = h.run({"verify"});
        CHECK(bad.code == 8);
        CHECK_THAT(bad.out, Catch::Contains("not signed by the device"));
        rawHqSql(h.data, "UPDATE report SET signature = '" + sync::base64Encode(sync::randomBytes(64)) + "'");
        CHECK_THAT(h.run({"verify"}).out, Catch::Contains("does not verify"));
    }
}

TEST_CASE("outpost-hq audit commands refuse bad input", "[hq][cli][audit]") {
    HqDir h;
    CHECK(h.run({"audit"}).code == 1);
    CHECK(h.run({"audit", "list", "--limit", "0"}).code == 1);
    CHECK(h.run({"audit", "list", "--after", "-1"}).code == 1);
    CHECK(h.run({"audit", "list", "--format", "xml"}).code == 1);
    CHECK(h.run({"audit", "forge"}).code == 1);
    test::TempDir t;
    CHECK(runHq({"audit", "verify", "--data", t.sub("nowhere")}).code == 3);
}

TEST_CASE("outpost-hq escapes control characters from devices in every table it prints",
          "[hq][cli][formats]") {
    HqDir h;
    // Stored straight through the store, as an HQ from before the format checks may hold it: terminal
    // escapes (ESC, BEL, CR, C1 CSI) in the record id, the unit, the device name and the audit subject.
    const std::string evilId =
        "rec\x1b]0;owned\x07\r\xc2\x9b"
        "2J";
    const std::string evilUnit = "UNIT\x1b[31m";
    {
        auto s = h.store();
        auto code = sync::EnrollmentCode::generate("pin");
        REQUIRE(s->addEnrollment(code.secretHash(), evilUnit, "2999-01-01T00:00:00.000Z").ok());
        auto d = s->redeemEnrollment(code.secretHash(), "lap\x1b[2Jtop",
                                     sync::base64Encode(sync::SigningKeyPair::generate().publicKey),
                                     "2026-01-01T00:00:00.000Z");
        REQUIRE(d.ok());
        auto item = gapItem(evilUnit, "text\x1b[8m hidden\x07");
        item.recordId = evilId;
        auto out = s->ingest(d->id, "batch\x1b[1m", "request-hash", {item}, "2026-01-01T00:00:00.000Z");
        REQUIRE(out.ok());
    }
    auto noRawControl = [](const std::string& text) {
        for (std::size_t i = 0; i < text.size(); ++i) {
            const auto c = static_cast<unsigned char>(text[i]);
            // A CSV line ends in CR LF (RFC 4180); any other control character is raw.
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
            if ((c < 0x20 && c != '\n') || c == 0x7f) return false;
            if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9f)
                return false;
        }
        return true;
    };
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"reports", "list"},
                                               {"reports", "list", "--format", "json"},
                                               {"devices"},
                                               {"devices", "--format", "json"},
                                               {"audit", "list"},
                                               {"audit", "list", "--format", "json"},
                                               {"reports", "show", evilId},
                                               {"reports", "export", "--format", "csv"},
                                               {"reports", "export", "--format", "json"}}) {
        auto r = h.run(args);
        INFO(args[0] << " (" << args.size() << " args): " << r.out << r.err);
        CHECK(r.code == 0);
        CHECK(noRawControl(r.out));
        CHECK(noRawControl(r.err));
    }
    auto list = h.run({"reports", "list"});
    CHECK_THAT(list.out, Catch::Contains("rec\\x1b]0;owned\\x07\\r\\u009b2J"));
    CHECK_THAT(list.out, Catch::Contains("UNIT\\x1b[31m"));
    CHECK_THAT(h.run({"devices"}).out, Catch::Contains("lap\\x1b[2Jtop"));
    CHECK_THAT(h.run({"reports", "export", "--format", "csv"}).out,
               Catch::Contains("text\\x1b[8m hidden\\x07"));
    CHECK_THAT(h.run({"audit", "list"}).out, Catch::Contains("batch\\x1b[1m"));
    // JSON keeps the value (escaped the JSON way), so it reads back exactly.
    auto rows = json::parse(h.run({"reports", "list", "--format", "json"}).out);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0]["record_id"] == evilId);
    // An error message naming what the officer typed is escaped too.
    auto missing = h.run({"reports", "show", "no\x1b[5msuch"});
    CHECK(missing.code != 0);
    CHECK(noRawControl(missing.err));
}

TEST_CASE("the shared printable() escapes controls and keeps every script", "[hq][cli][formats]") {
    CHECK(cli::printable("plain ASCII, é, Ελληνικά, 日本語 \\ kept") ==
          "plain ASCII, é, Ελληνικά, 日本語 \\ kept");
    CHECK(cli::printable("a\x1b[31mb\x07\r\n\t") == "a\\x1b[31mb\\x07\\r\\n\\t");
    CHECK(cli::printable(std::string("nul\0here", 8)) == "nul\\x00here");
    CHECK(cli::printable("del\x7f") == "del\\x7f");
    CHECK(cli::printable("csi\xc2\x9b"
                         "1m") == "csi\\u009b1m");
    CHECK(cli::printable("bidi\xe2\x80\xae"
                         "evil") == "bidi\\u202eevil");
    CHECK(cli::printable("bad\xff\xc3") == "bad\\xff\\xc3");
    CHECK(cli::printable("two\nlines\x1b", true) == "two\nlines\\x1b");
    std::ostringstream out;
    cli::printJson(out, json{{"k", "del\x7f csi\xc2\x9b esc\x1b"}});
    CHECK(out.str().find('\x7f') == std::string::npos);
    CHECK(out.str().find("\\u007f") != std::string::npos);
    CHECK(out.str().find("\\u009b") != std::string::npos);
    CHECK(json::parse(out.str())["k"] == "del\x7f csi\xc2\x9b esc\x1b");
}
