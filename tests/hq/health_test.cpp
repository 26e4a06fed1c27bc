// GET /v1/health, as a load balancer asks it: the real outpost-hq over TLS, on SQLite and on a PostgreSQL
// cluster of the test's own that the test freezes (every one of its processes stopped with SIGSTOP, as a
// hung database host would be) and thaws again.
#include <curl/curl.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hq/tuning.hpp"
#include "support/test_support.hpp"
#include "testbed/hq_process.hpp"
#include "testbed/pg_cluster.hpp"

using namespace outpost;
using namespace outpost::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Answer {
    long status = 0;  // 0: no answer within the client's own 10 s
    std::string body;
    double seconds = 0;
};

std::size_t keep(char* p, std::size_t size, std::size_t n, void* out) {
    static_cast<std::string*>(out)->append(p, size * n);
    return size * n;
}

// As a balancer checks: no credentials, no protocol header, HQ's self-signed certificate not verified.
Answer ask(const std::string& url, const char* method = "GET") {
    Answer a;
    CURL* c = curl_easy_init();
    REQUIRE(c != nullptr);
    const std::string target = url + "/v1/health";
    curl_easy_setopt(c, CURLOPT_URL, target.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (std::string(method) == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &keep);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a.body);
    const auto t0 = Clock::now();
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
    a.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    curl_easy_cleanup(c);
    return a;
}

nlohmann::json parsed(const Answer& a) {
    INFO(a.body);
    auto j = nlohmann::json::parse(a.body, nullptr, false);
    REQUIRE(j.is_object());
    return j;
}

// The cluster's processes: the postmaster (first line of postmaster.pid) and its children.
std::vector<pid_t> clusterProcesses(const PgCluster& pg) {
    std::ifstream in(pg.dataDir() + "/postmaster.pid");
    pid_t postmaster = 0;
    in >> postmaster;
    REQUIRE(postmaster > 0);
    std::vector<pid_t> out{postmaster};
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(e.path() / "stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(line.substr(close + 2));
        char state = 0;
        pid_t parent = 0;
        rest >> state >> parent;
        if (parent == postmaster) out.push_back(static_cast<pid_t>(std::stol(name)));
    }
    return out;
}

}  // namespace

TEST_CASE("health: 200 while the database answers, on SQLite; HEAD has no body; other methods are refused",
          "[hq][health]") {
    TempDir dir;
    HqOptions o;
    o.binary = OUTPOST_HQ;
    o.dataDir = dir.sub("hq");
    HqProcess hq(o);
    auto init = hq.admin({"init"});
    INFO(init.out << init.err);
    REQUIRE(init.exitCode == 0);
    hq.start();
    auto a = ask(hq.url());
    REQUIRE(a.status == 200);
    auto j = parsed(a);
    CHECK(j["status"] == "ok");
    CHECK(j["database_ms"].is_number_integer());
    auto head = ask(hq.url(), "HEAD");
    CHECK(head.status == 200);
    CHECK(head.body.empty());
    auto post = ask(hq.url(), "POST");
    CHECK(post.status == 405);
    CHECK_THAT(parsed(post)["error"]["message"].get<std::string>(), Catch::Contains("GET and HEAD"));
}

TEST_CASE(
    "health: a PostgreSQL that stops answering makes HQ unhealthy within the deadline, and healthy "
    "again when it answers",
    "[hq][health]") {
    PgCluster pg{PgClusterOptions{}};
    TempDir dir;
    HqOptions o;
    o.binary = OUTPOST_HQ;
    o.dataDir = dir.sub("hq");
    o.dbUri = pg.createDatabase();
    HqProcess hq(o);
    auto init = hq.admin({"init"});
    INFO(init.out << init.err);
    REQUIRE(init.exitCode == 0);
    hq.start();
    REQUIRE(ask(hq.url()).status == 200);

    // Frozen, children first: a hung database host. The probe's query gets no answer.
    const auto processes = clusterProcesses(pg);
    REQUIRE(processes.size() > 1);
    for (auto it = processes.rbegin(); it != processes.rend(); ++it) ::kill(*it, SIGSTOP);
    std::this_thread::sleep_for(hq::tuning::kHealthReuse + 100ms);  // the last good answer is stale
    auto frozen = ask(hq.url());
    for (pid_t p : processes) ::kill(p, SIGCONT);
    INFO(frozen.body);
    CHECK(frozen.status == 503);
    const double deadline = std::chrono::duration<double>(hq::tuning::kHealthDeadline).count();
    CHECK(frozen.seconds >= deadline * 0.9);
    CHECK(frozen.seconds < deadline + 2.0);  // never the client's own 10 s
    if (frozen.status == 503) {
        auto j = parsed(frozen);
        CHECK(j["status"] == "unhealthy");
        CHECK(j["error"]["code"] == "unhealthy");
        CHECK_THAT(j["error"]["message"].get<std::string>(),
                   Catch::Contains("database did not answer within 2000 ms"));
    }

    // Thawed: healthy again within a few seconds (the probe that waited finishes; the next one is fresh).
    long status = 0;
    for (auto until = Clock::now() + 15s; status != 200 && Clock::now() < until;) {
        status = ask(hq.url()).status;
        if (status != 200) std::this_thread::sleep_for(200ms);
    }
    CHECK(status == 200);
}

TEST_CASE("health: a database that refuses connections makes HQ unhealthy, saying so", "[hq][health]") {
    TempDir dir;
    HqOptions o;
    o.binary = OUTPOST_HQ;
    o.dataDir = dir.sub("hq");
    std::unique_ptr<PgCluster> pg = std::make_unique<PgCluster>(PgClusterOptions{});
    o.dbUri = pg->createDatabase();
    HqProcess hq(o);
    auto init = hq.admin({"init"});
    INFO(init.out << init.err);
    REQUIRE(init.exitCode == 0);
    hq.start();
    REQUIRE(ask(hq.url()).status == 200);
    pg.reset();  // stopped and removed: nothing listens on its port any more
    std::this_thread::sleep_for(hq::tuning::kHealthReuse + 100ms);
    long status = 0;
    Answer last;
    for (auto until = Clock::now() + 10s; status != 503 && Clock::now() < until;) {
        last = ask(hq.url());
        status = last.status;
    }
    INFO(last.body);
    REQUIRE(status == 503);
    CHECK_THAT(parsed(last)["error"]["message"].get<std::string>(), Catch::Contains("database"));
    CHECK(last.seconds < 5.0);
}
