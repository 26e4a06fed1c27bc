// outpostctl's sync commands without an HQ: refusals and exit codes, an unreachable or revoked HQ, and
// what record show, feedback and outbox requeue print once receipts and feedback are in the store.
#include <catch2/catch.hpp>

#include <filesystem>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cstdlib>

#include "core/refdata.hpp"
#include "storage/store.hpp"
#include "support/test_support.hpp"

using namespace outpost;
using outpost::test::TempDir;
using json = nlohmann::json;

namespace {

const std::string kPass = "field pass 2026";

struct Run {
    int code = -1;
    std::string out;
    std::string err;
};

std::string shellQuote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

Run ctl(const std::string& store, const std::vector<std::string>& args) {
    TempDir io;
    std::string cmd = "OUTPOST_PASSPHRASE=" + shellQuote(kPass) + " " + shellQuote(OUTPOSTCTL) + " --store " +
                      shellQuote(store);
    for (const auto& a : args) cmd += " " + shellQuote(a);
    cmd += " > " + io.sub("out") + " 2> " + io.sub("err") + " < /dev/null";
    int status = std::system(cmd.c_str());
    Run r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = outpost::test::readFile(io.sub("out"));
    r.err = outpost::test::readFile(io.sub("err"));
    return r;
}

std::string unitId() {
    return core::ReferenceData::demo().table("units")[0]["id"];
}

// A TCP port on 127.0.0.1 with nothing listening.
int closedPort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

struct Fixture {
    TempDir t;
    std::string store = t.sub("store");
    std::string id;

    Fixture() {
        auto r = ctl(store, {"init", "--unit", unitId(), "--user", "cdr.test"});
        INFO(r.err);
        REQUIRE(r.code == 0);
        auto s = open();
        json p = {{"unit", unitId()},
                  {"description", "Map reading below standard"},
                  {"source", "evaluation"},
                  {"identified_date", "2025-01-10"},
                  {"severity", "minor"},
                  {"personnel_affected", 12},
                  {"remedy", "in_mission_course"},
                  {"target_date", "2025-03-01"},
                  {"status", "open"}};
        auto ids = s->importFinal("training-gap", {p, p});
        REQUIRE(ids.ok());
        id = ids.value()[0];
    }
    std::unique_ptr<storage::Store> open() {
        auto key = storage::Store::unlock(store, kPass);
        REQUIRE(key.ok());
        auto s = storage::Store::open(store, key.value());
        REQUIRE(s.ok());
        return std::move(s).value();
    }
    void enrollAt(const std::string& url) {
        auto s = open();
        storage::SyncConfig c;
        c.hqUrl = url;
        c.pin = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        c.deviceId = "dev-cli";
        c.hqId = "hq-cli";
        c.hqSignKey = "c2lnbmluZy1rZXktb2YtaHEtMzItYnl0ZXMtbG9uZyE=";
        c.epoch = "e1";
        REQUIRE(s->saveEnrollment(c, std::vector<unsigned char>(64, 9)).ok());
    }
};

}  // namespace

TEST_CASE("outpostctl enroll refuses bad input before it talks to anyone", "[cli][sync]") {
    Fixture f;
    auto r = ctl(f.store, {"sync"});
    CHECK(r.code == 3);
    CHECK_THAT(r.err, Catch::Contains("not enrolled"));
    r = ctl(f.store, {"enroll", "--hq", "https://127.0.0.1:1", "--code", "nonsense"});
    CHECK(r.code == 7);
    CHECK_THAT(r.err, Catch::Contains("OP1."));
    const std::string code = "OP1.abcdefghijklmnopqrstuvwxyz.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    r = ctl(f.store, {"enroll", "--hq", "http://127.0.0.1:1", "--code", code});
    CHECK(r.code == 7);
    CHECK_THAT(r.err, Catch::Contains("https"));
    const std::string closed = "https://127.0.0.1:" + std::to_string(closedPort());
    r = ctl(f.store, {"enroll", "--hq", closed, "--code", code});
    CHECK(r.code == 9);
    CHECK_THAT(r.err, Catch::Contains("cannot reach HQ") && Catch::Contains("HQ refused the connection"));
    // libcurl's own words only with --verbose, on a line of their own.
    CHECK_THAT(r.err, !Catch::Contains("detail:") && !Catch::Contains("Couldn't connect"));
    r = ctl(f.store, {"enroll", "--hq", closed, "--code", code, "--verbose"});
    CHECK(r.code == 9);
    CHECK_THAT(r.err, Catch::Contains("HQ refused the connection") &&
                          Catch::Contains("outpostctl: detail: libcurl error 7"));
    r = ctl(f.store, {"enroll", "--hq", "https://127.0.0.1:1"});
    CHECK(r.code == 1);
    // The development flag exists but is not advertised.
    auto help = ctl(f.store, {"enroll", "--help"});
    CHECK(help.code == 0);
    CHECK_THAT(help.out, Catch::Contains("--code") && !Catch::Contains("insecure"));
    r = ctl(f.store, {"enroll", "--hq", "http://127.0.0.1:" + std::to_string(closedPort()), "--code", code,
                      "--insecure-http-for-development"});
    CHECK(r.code == 9);
    CHECK(ctl(f.store, {"info"}).out.find("\"sync\": null") != std::string::npos);
}

TEST_CASE(
    "outpostctl sync: exit 9 when HQ cannot be reached (the queue is kept), 10 when revoked (the store "
    "is wiped)",
    "[cli][sync]") {
    Fixture f;
    f.enrollAt("https://127.0.0.1:" + std::to_string(closedPort()));
    auto r = ctl(f.store, {"sync"});
    CHECK(r.code == 9);
    CHECK_THAT(r.out, Catch::StartsWith("sync failed: 0 report(s)") && Catch::Contains("2 waiting"));
    CHECK_FALSE(r.err.empty());
    auto info = json::parse(ctl(f.store, {"info"}).out);
    CHECK(info["outbox"] == 2);
    CHECK(info["sync"]["device"] == "dev-cli");
    CHECK_FALSE(info["sync"]["last_error"].is_null());
    REQUIRE(f.open()->markRevoked().ok());
    r = ctl(f.store, {"sync"});
    CHECK(r.code == 10);
    CHECK_THAT(r.err, Catch::Contains("revoked") && Catch::Contains("wiped"));
    CHECK_FALSE(std::filesystem::exists(f.store));
    CHECK(ctl(f.store, {"info"}).code == 3);
}

TEST_CASE("record show, feedback and outbox requeue once HQ answered", "[cli][sync]") {
    Fixture f;
    f.enrollAt("https://127.0.0.1:1");
    {
        auto s = f.open();
        auto items = s->nextOutgoing(10);
        REQUIRE(items.ok());
        REQUIRE(items.value().size() == 2);
        std::vector<storage::PushOutcome> outs(2);
        outs[0].outboxSeq = items.value()[0].outboxSeq;
        outs[0].status = core::ItemStatus::Stored;
        outs[0].hqSeq = 4242;
        outs[0].hash = std::string(64, 'b');
        outs[1].outboxSeq = items.value()[1].outboxSeq;
        outs[1].status = core::ItemStatus::Rejected;
        outs[1].reason = "training-gap v1 is not a form HQ knows";
        REQUIRE(s->applyPushOutcomes("batch-1", outs, "{}").ok());
        json fb = {{"record", f.id},       {"rev", 1},
                   {"status", "returned"}, {"comment", "Severity should be major"},
                   {"by", "maj.hq"},       {"at", "2026-11-28T08:00:00Z"}};
        REQUIRE(s->applyPull({{7, "feedback", fb}}, 7).ok());
    }
    auto show = ctl(f.store, {"record", "show", f.id});
    CHECK(show.code == 0);
    CHECK_THAT(show.out, Catch::Contains("(final, sent)") && Catch::Contains("HQ #4242, stored") &&
                             Catch::Contains("HQ feedback:") && Catch::Contains("Severity should be major"));
    auto js = json::parse(ctl(f.store, {"record", "show", f.id, "--json"}).out);
    CHECK(js["history"][0]["receipt"]["hq_seq"] == 4242);
    CHECK(js["feedback"][0]["status"] == "returned");

    auto fb = ctl(f.store, {"feedback"});
    CHECK(fb.code == 0);
    CHECK_THAT(fb.out, Catch::Contains(f.id + " r1 returned by maj.hq"));
    CHECK(json::parse(ctl(f.store, {"feedback", f.id, "--json"}).out).size() == 1);
    CHECK(ctl(f.store, {"feedback", "0190f3c4-7b2e-7a1c-9d3e-5f6a7b8c9d0e"}).code == 3);

    auto ob = json::parse(ctl(f.store, {"outbox", "--json"}).out);
    REQUIRE(ob.size() == 1);
    CHECK(ob[0]["state"] == "quarantined");
    CHECK(ob[0]["last_error"] == "training-gap v1 is not a form HQ knows");
    std::string seq = std::to_string(ob[0]["seq"].get<long long>());
    CHECK(ctl(f.store, {"outbox", "requeue", "999999"}).code == 3);
    auto rq = ctl(f.store, {"outbox", "requeue", seq});
    CHECK(rq.code == 0);
    CHECK_THAT(rq.out, Catch::Contains("queued again"));
    ob = json::parse(ctl(f.store, {"outbox", "--json"}).out);
    CHECK(ob[0]["state"] == "queued");
    CHECK(ctl(f.store, {"verify"}).code == 0);
}

TEST_CASE("outpostctl escapes control characters in what HQ sent: reasons, feedback",
          "[cli][sync][formats]") {
    Fixture f;
    f.enrollAt("https://127.0.0.1:1");
    std::string id;
    {
        auto s = f.open();
        auto items = s->nextOutgoing(10);
        REQUIRE(items.ok());
        REQUIRE(items.value().size() == 2);
        id = items.value()[0].recordId;
        std::vector<storage::PushOutcome> outs(2);
        outs[0].outboxSeq = items.value()[0].outboxSeq;
        outs[0].status = core::ItemStatus::Stored;
        outs[0].hqSeq = 4242;
        outs[0].hash = std::string(64, 'b');
        outs[1].outboxSeq = items.value()[1].outboxSeq;
        outs[1].status = core::ItemStatus::Rejected;
        outs[1].reason =
            "bad\x1b]0;owned\x07\r\xc2\x9b"
            "2J";
        REQUIRE(s->applyPushOutcomes("batch-1", outs, "{}").ok());
        json fb = {{"record", id},         {"rev", 1},
                   {"status", "returned"}, {"comment", "fix\x1b[2J it"},
                   {"by", "maj\x07hq"},    {"at", "2026-11-28T08:00:00Z"}};
        REQUIRE(s->applyPull({{7, "feedback", fb}}, 7).ok());
    }
    auto noRawControl = [](const std::string& text) {
        for (std::size_t i = 0; i < text.size(); ++i) {
            const auto c = static_cast<unsigned char>(text[i]);
            if ((c < 0x20 && c != '\n') || c == 0x7f) return false;
            if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9f)
                return false;
        }
        return true;
    };
    for (const auto& args : std::vector<std::vector<std::string>>{{"outbox"},
                                                                  {"outbox", "--json"},
                                                                  {"feedback"},
                                                                  {"feedback", "--json"},
                                                                  {"record", "show", id},
                                                                  {"record", "show", id, "--json"}}) {
        auto r = ctl(f.store, args);
        INFO(args[0] << " (" << args.size() << " args): " << r.out << r.err);
        CHECK(r.code == 0);
        CHECK(noRawControl(r.out));
        CHECK(noRawControl(r.err));
    }
    CHECK_THAT(ctl(f.store, {"outbox"}).out, Catch::Contains("bad\\x1b]0;owned\\x07\\r\\u009b2J"));
    CHECK_THAT(ctl(f.store, {"feedback"}).out,
               Catch::Contains("by maj\\x07hq") && Catch::Contains("fix\\x1b[2J it"));
    // JSON keeps the text exactly (escaped the JSON way).
    CHECK(json::parse(ctl(f.store, {"outbox", "--json"}).out)[0]["last_error"] ==
          "bad\x1b]0;owned\x07\r\xc2\x9b"
          "2J");
}
