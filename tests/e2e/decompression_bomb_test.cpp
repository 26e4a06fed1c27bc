// Decompression bombs against the real outpost-hq process over TLS: fifty signed pushes from one enrolled
// device at once, each a frame of a few KB that decompresses to just under the protocol's 64 MiB. HQ's
// request memory budget (hq/memory_budget.hpp) keeps its peak memory within the budget and a margin,
// every bomb is answered 4xx or 503 with Retry-After, and a laptop syncs normally afterwards.
#include <zstd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/uuid.hpp"
#include "e2e/e2e_support.hpp"
#include "support/sanitizer.hpp"
#include "sync/http_client.hpp"
#include "sync/protocol.hpp"

using namespace outpost;
using namespace outpost::test;

namespace {

const std::string kUnit = "MINUSCA-RWABATT-1";

// A zstd frame that does not declare its size (as a bomb would not): only decoding it tells how big it is.
std::string streamedFrame(const std::string& data) {
    std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> c(ZSTD_createCCtx(), &ZSTD_freeCCtx);
    ZSTD_CCtx_setParameter(c.get(), ZSTD_c_contentSizeFlag, 0);
    ZSTD_CCtx_setParameter(c.get(), ZSTD_c_compressionLevel, 3);
    std::string out(ZSTD_compressBound(data.size()) + 64, '\0');
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    ZSTD_inBuffer ib{data.data(), data.size(), 0};
    std::size_t left = 0;
    do {
        left = ZSTD_compressStream2(c.get(), &ob, &ib, ZSTD_e_end);
    } while (left != 0 && !ZSTD_isError(left));
    out.resize(ob.pos);
    return out;
}

// A /proc/<pid>/status value in bytes ("VmHWM", "VmRSS"); 0 when absent.
std::size_t procStatusBytes(pid_t pid, const std::string& name) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(name + ":", 0) == 0) return std::stoull(line.substr(name.size() + 1)) * 1024;
    return 0;
}

struct Answer {
    int status = 0;
    std::string retryAfter;
    std::string code;
    std::string error;
};

}  // namespace

TEST_CASE("fifty parallel decompression bombs keep HQ within its memory budget, and a laptop syncs after",
          "[e2e][hq][memory]") {
    constexpr std::size_t kBudgetMib = 256;
    // Besides the budget: the process itself (its code, the store, the catalog of forms: about 20 MiB),
    // fifty TLS connections and their request threads' stacks, and what glibc's arenas keep of freed
    // small blocks (measured: 63 MiB above the budget in all).
    constexpr std::size_t kMarginMib = 128;

    Hq hq("sqlite");
    hq.proc->stop();
    hq.proc->options().serveArgs = {"--memory-budget", std::to_string(kBudgetMib)};
    hq.proc->start();

    // The attacker: an enrolled device whose key signs the bombs.
    Laptop attacker(kUnit, 7);
    attacker.enroll(hq, "attacker");
    const auto cfg = *attacker.store->syncConfig().value();
    const auto sk = attacker.store->deviceSecretKey().value();

    // Just under the protocol's limit once decompressed, in three kinds: a push padded with whitespace
    // (parsed whole), a push whose one item is one long string (parsed as items), and an array of small
    // numbers (the most parsed JSON per byte).
    const std::size_t size = (64u << 20) - 4096;
    std::vector<std::string> frames;
    {
        const std::string head = R"({"batch":")" + core::newUuidV7() + R"(","items":[)";
        std::string padded = head + std::string(size - head.size() - 2, ' ') + "]}";
        frames.push_back(streamedFrame(padded));
    }
    {
        const std::string head = R"({"batch":")" + core::newUuidV7() +
                                 R"(","items":[{"id":"x","rev":1,"form":"incident","fv":1,"unit":")" + kUnit +
                                 R"(","payload":{"notes":")";
        const std::string tail = R"("}}]})";
        frames.push_back(streamedFrame(head + std::string(size - head.size() - tail.size(), 'a') + tail));
    }
    {
        std::string numbers = "[";
        numbers.reserve(size);
        while (numbers.size() + 3 < size) numbers += "0,";
        numbers += "0]";
        frames.push_back(streamedFrame(numbers));
    }
    for (const auto& f : frames) REQUIRE(f.size() < (64u << 10));

    const pid_t pid = hq.proc->pid();
    const std::size_t hwmBefore = procStatusBytes(pid, "VmHWM");
    REQUIRE(hwmBefore > 0);

    constexpr int kBombs = 50;
    std::vector<Answer> answers(kBombs);
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    const auto t0 = std::chrono::steady_clock::now();
    {
        std::vector<std::thread> threads;
        for (int i = 0; i < kBombs; ++i)
            threads.emplace_back([&, i] {
                // (Catch2's assertions are not thread-safe: each thread records its answer, the test checks.)
                sync::http::Options ho;
                ho.baseUrl = hq.proc->url();
                ho.pin = cfg.pin;
                sync::http::Client client(ho, 1);
                sync::http::Request rq;
                rq.method = "POST";
                rq.target = "/v1/push";
                rq.body = frames[static_cast<std::size_t>(i) % frames.size()];
                const std::string nonce = sync::newNonce();
                auto sig =
                    sync::sign(sk, sync::signingString("POST", rq.target, cfg.deviceId, nonce, rq.body));
                rq.headers = {"Outpost-Protocol: 2",     "Outpost-Device: " + cfg.deviceId,
                              "Outpost-Nonce: " + nonce, "Outpost-Signature: " + sync::base64Encode(sig),
                              "Content-Encoding: zstd",  "Content-Type: application/vnd.outpost+json"};
                ++ready;
                while (!go) std::this_thread::yield();
                auto r = client.perform(rq);
                Answer& a = answers[static_cast<std::size_t>(i)];
                a.status = r.status;
                a.retryAfter = r.header("retry-after");
                a.error = r.error;
                auto j = nlohmann::json::parse(r.body, nullptr, false);
                if (j.is_object() && j.contains("error") && j["error"].is_object())
                    a.code = j["error"].value("code", "");
            });
        while (ready < kBombs) std::this_thread::yield();
        go = true;
        for (auto& t : threads) t.join();
    }
    const auto seconds =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count() /
        1000.0;

    REQUIRE(hq.proc->running());
    CHECK_FALSE(hq.proc->exited());
    const std::size_t hwm = procStatusBytes(pid, "VmHWM");
    std::map<std::string, int> tally;
    for (const auto& a : answers) {
        INFO(a.status << " " << a.code << " " << a.error);
        CHECK(a.status >= 400);
        CHECK(a.status < 600);
        CHECK(a.status != 500);
        if (a.status == 503) {
            CHECK(a.code == "unavailable");
            CHECK(!a.retryAfter.empty());
            CHECK(std::atoi(a.retryAfter.c_str()) > 0);
        }
        ++tally[std::to_string(a.status) + " " + a.code];
    }
    std::string summary;
    for (const auto& [k, n] : tally) summary += k + ": " + std::to_string(n) + "; ";
    WARN("50 bombs in " << seconds << " s: " << summary << "HQ's VmHWM " << (hwmBefore >> 20)
                        << " MiB before, " << (hwm >> 20) << " MiB after (budget " << kBudgetMib
                        << " MiB + margin " << kMarginMib << " MiB)");
    CHECK(hwm <= residentBound((kBudgetMib + kMarginMib) << 20));
    CHECK(seconds < 40);

    // A laptop of the same unit syncs as usual: its reports reach HQ exactly once.
    Laptop honest(kUnit, 11);
    honest.enroll(hq, "honest");
    honest.addReports(12);
    auto pass = honest.sync();
    INFO(pass.progress.message);
    CHECK(pass.ok);
    checkExactlyOnce(hq, {&honest});
}
