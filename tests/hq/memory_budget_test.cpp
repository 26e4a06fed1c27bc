// HQ's request memory budget on its own (reserve, release, wait, time out, refuse what could never fit),
// zstd decompression within it, and what parsing JSON costs against what the budget counts for it.
#include <malloc.h>
#include <zstd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hq/memory_budget.hpp"
#include "hq/service.hpp"
#include "hq/tuning.hpp"
#include "storage/hq/store.hpp"
#include "support/test_support.hpp"
#include "sync/protocol.hpp"

using namespace outpost;
using hq::MemoryBudget;
using namespace std::chrono_literals;
namespace hqs = outpost::storage::hq;

namespace {

using Clock = std::chrono::steady_clock;

long long msSince(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Bytes in use on the heap (small blocks and mmapped ones), as glibc counts them.
std::size_t heapInUse() {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A push as a laptop writes it: the example reports of the five built-in forms as envelopes, n items.
std::string typicalPushText(std::size_t n) {
    std::vector<sync::json> payloads;
    for (const char* f : {"readiness", "training", "training-gap", "incident", "incident-sea"})
        payloads.push_back(
            sync::json::parse(readFile(std::string(OUTPOST_SOURCE_DIR) + "/examples/" + f + ".json")));
    const char* forms[] = {"readiness", "training", "training-gap", "incident", "incident"};
    sync::PushRequest pr;
    pr.batchId = "0190f5c2-7a1b-7c3d-8e4f-5a6b7c8d9e0f";
    for (std::size_t i = 0; i < n; ++i) {
        sync::Envelope e;
        e.id = "0190f5c2-7a1b-7c3d-8e4f-" + std::to_string(100000000000 + i);
        e.revision = 1;
        e.formId = forms[i % 5];
        e.formVersion = 3;
        e.unitId = "MINUSCA-RWABATT-1";
        e.author = "field.officer";
        e.createdUtc = "2026-11-02T08:14:07.512Z";
        e.createdOffset = 60;
        e.finalizedUtc = "2026-11-02T09:01:44.093Z";
        e.payload = payloads[i % 5];
        e.signature = std::string(88, 'A');
        pr.items.push_back(std::move(e));
    }
    return pr.toJson().dump();
}

// A zstd frame that does not declare its size (as a bomb would not).
std::string streamedFrame(const std::string& data) {
    std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> c(ZSTD_createCCtx(), &ZSTD_freeCCtx);
    ZSTD_CCtx_setParameter(c.get(), ZSTD_c_contentSizeFlag, 0);
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

// The heap bytes that parse(text) keeps while its result lives.
template <typename Parse>
std::size_t parsedBytes(const std::string& text, Parse parse) {
    malloc_trim(0);
    const std::size_t before = heapInUse();
    auto doc = parse(text);
    const std::size_t after = heapInUse();
    return after > before ? after - before : 0;
}

}  // namespace

TEST_CASE("the memory budget reserves and gives back, and refuses at once what could never fit", "[hq]") {
    MemoryBudget budget(1000, 2000ms);
    {
        auto a = budget.reserve(600);
        REQUIRE(a);
        CHECK(a->bytes() == 600);
        CHECK(budget.inUse() == 600);
        auto b = budget.reserve(400);  // exactly full
        REQUIRE(b);
        CHECK(budget.inUse() == 1000);
        b->shrink(150);
        CHECK(budget.inUse() == 850);
        CHECK(b->bytes() == 250);
        // Moved, not doubled: the bytes are held once and go back once.
        MemoryBudget::Reservation moved = std::move(*b);
        CHECK(moved.bytes() == 250);
        CHECK(b->bytes() == 0);
        CHECK(budget.inUse() == 850);
    }
    CHECK(budget.inUse() == 0);
    CHECK(budget.peak() == 1000);

    // More than the whole budget: no wait can help, and none is made (the wait here is 2 s).
    const auto t0 = Clock::now();
    CHECK_FALSE(budget.reserve(1001));
    auto held = budget.reserve(700);
    REQUIRE(held);
    CHECK_FALSE(held->grow(301));  // with what it holds, more than the whole budget
    CHECK(held->bytes() == 700);
    CHECK(msSince(t0) < 500);
    CHECK(budget.refusals() == 2);
    held->release();
    CHECK(budget.inUse() == 0);
    CHECK(held->grow(10));  // a released reservation may grow again
    CHECK(budget.inUse() == 10);
}

TEST_CASE("a reservation that does not fit waits for bytes given back, and fails when its wait is over",
          "[hq]") {
    SECTION("given back in time: the waiter gets its bytes") {
        MemoryBudget budget(1000, 2000ms);
        auto held = budget.reserve(800);
        REQUIRE(held);
        // (Catch2's assertions are not thread-safe: the thread records what it got, the test checks it.)
        std::atomic<bool> got{false};
        std::atomic<long long> waited{-1};
        std::thread t([&] {
            const auto t0 = Clock::now();
            auto r = budget.reserve(500);
            waited = msSince(t0);
            got = r.has_value();
        });
        std::this_thread::sleep_for(150ms);
        held.reset();
        t.join();
        CHECK(got);
        CHECK(waited >= 100);
        CHECK(waited < 1500);
        CHECK(budget.inUse() == 0);
    }
    SECTION("not given back: the waiter fails after the budget's wait, holding nothing more") {
        MemoryBudget budget(1000, 300ms);
        auto held = budget.reserve(800);
        REQUIRE(held);
        std::atomic<bool> got{true};
        std::atomic<long long> waited{-1};
        std::thread t([&] {
            const auto t0 = Clock::now();
            got = budget.reserve(500).has_value();
            waited = msSince(t0);
        });
        t.join();
        CHECK_FALSE(got);
        CHECK(waited >= 280);
        CHECK(waited < 1500);
        CHECK(budget.inUse() == 800);
        CHECK(budget.refusals() == 1);
    }
    SECTION("the wait is counted over the reservation's whole life, not per growth") {
        MemoryBudget budget(1000, 300ms);
        auto held = budget.reserve(900);
        REQUIRE(held);
        MemoryBudget::Reservation r(budget);
        const auto t0 = Clock::now();
        CHECK_FALSE(r.grow(200));
        CHECK_FALSE(r.grow(200));
        CHECK_FALSE(r.grow(200));
        const auto total = msSince(t0);
        CHECK(total >= 280);
        CHECK(total < 600);
    }
    SECTION("many threads: the bytes held at once never exceed the budget") {
        MemoryBudget budget(1000, 2000ms);
        std::atomic<int> ok{0}, refused{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < 16; ++i)
            threads.emplace_back([&] {
                for (int k = 0; k < 50; ++k) {
                    MemoryBudget::Reservation r(budget);
                    bool all = true;
                    for (int c = 0; c < 5 && all; ++c) all = r.grow(60);
                    (all ? ok : refused)++;
                }
            });
        for (auto& t : threads) t.join();
        CHECK(ok + refused == 800);
        CHECK(ok > 0);
        CHECK(budget.peak() <= 1000);
        CHECK(budget.inUse() == 0);
    }
}

TEST_CASE("zstd output is counted in the budget as it grows, and a bomb stops at the limit or the budget",
          "[hq]") {
    using P = hq::Inflated::Problem;
    const std::string text(5u << 20, 'x');
    const std::string frame = sync::zstdCompress(text, 3);

    SECTION("a frame that fits: the text comes out, its buffer counted; the decoder's bytes go back") {
        MemoryBudget budget(64u << 20, 100ms);
        MemoryBudget::Reservation r(budget);
        auto out = hq::inflateWithin(frame, 8u << 20, r);
        REQUIRE(out.problem == P::None);
        CHECK(out.text == text);
        CHECK(r.bytes() >= out.text.capacity());
        CHECK(r.bytes() <= out.text.capacity() + 1);
        CHECK(budget.inUse() == r.bytes());
        // The old buffer and the new one for a moment, and the decoder: within a few MiB more.
        CHECK(budget.peak() <= r.bytes() + (r.bytes() / 2) + (3u << 20));
    }
    SECTION("more than the limit comes out: 'too large', and nothing stays counted") {
        MemoryBudget budget(64u << 20, 100ms);
        MemoryBudget::Reservation r(budget);
        const std::string bomb = streamedFrame(text);  // without a declared size, as a bomb would be
        REQUIRE(ZSTD_getFrameContentSize(bomb.data(), bomb.size()) == ZSTD_CONTENTSIZE_UNKNOWN);
        auto out = hq::inflateWithin(bomb, 1u << 20, r);
        CHECK(out.problem == P::TooLarge);
        CHECK(out.text.empty());
        CHECK(r.bytes() == 0);
        CHECK(budget.inUse() == 0);
        CHECK(budget.peak() <= (4u << 20));
    }
    SECTION("a declared size above the limit is refused before anything is decompressed") {
        MemoryBudget budget(64u << 20, 100ms);
        MemoryBudget::Reservation r(budget);
        auto out = hq::inflateWithin(frame, 1u << 20, r);
        CHECK(out.problem == P::DeclaredTooLarge);
        CHECK(out.declared == text.size());
        CHECK(budget.peak() == 0);
    }
    SECTION("damaged, truncated, not zstd") {
        MemoryBudget budget(64u << 20, 100ms);
        MemoryBudget::Reservation r(budget);
        CHECK(hq::inflateWithin(frame.substr(0, frame.size() / 2), 8u << 20, r).problem == P::Truncated);
        CHECK(hq::inflateWithin("not a frame", 8u << 20, r).problem == P::NotZstd);
        CHECK(hq::inflateWithin("", 8u << 20, r).problem == P::NotZstd);
        std::string damaged = frame;
        damaged[damaged.size() / 2] ^= 0x5a;
        damaged[damaged.size() / 2 + 1] ^= 0x5a;
        CHECK(hq::inflateWithin(damaged, 8u << 20, r).problem != P::None);
        CHECK(r.bytes() == 0);
        CHECK(budget.inUse() == 0);
    }
    SECTION("a budget smaller than the text could ever be: 'never fits', at once") {
        MemoryBudget budget(2u << 20, 2000ms);
        MemoryBudget::Reservation r(budget);
        const auto t0 = Clock::now();
        auto out = hq::inflateWithin(frame, 8u << 20, r);
        CHECK(out.problem == P::NeverFits);
        CHECK(msSince(t0) < 1000);
        CHECK(budget.inUse() == 0);
        CHECK(budget.peak() <= (2u << 20));
    }
    SECTION("a budget others hold: 'over budget' after the wait, and the bytes taken so far go back") {
        MemoryBudget budget(16u << 20, 200ms);
        auto others = budget.reserve(12u << 20);
        REQUIRE(others);
        MemoryBudget::Reservation r(budget);
        auto out = hq::inflateWithin(frame, 8u << 20, r);
        CHECK(out.problem == P::OverBudget);
        CHECK(r.bytes() == 0);
        CHECK(budget.inUse() == (12u << 20));
        CHECK(budget.peak() <= (16u << 20));
    }
}

TEST_CASE("parsing JSON takes no more than the budget counts for it, typical pushes and small-value text",
          "[hq]") {
    auto whole = [](const std::string& t) { return sync::json::parse(t); };
    // The way HQ parses a push as laptops write it: the items apart, each into its envelope.
    auto split = [](const std::string& t) {
        auto parts = sync::splitPushBody(t);
        std::vector<sync::Envelope> items;
        if (!parts) return items;
        for (auto item : parts->items) items.push_back(sync::Envelope::fromJson(*sync::parseItemText(item)));
        return items;
    };

    const std::string push = typicalPushText(500);
    const std::size_t wholeBytes = parsedBytes(push, whole);
    const std::size_t splitBytes = parsedBytes(push, split);
    const double factor = static_cast<double>(std::max(wholeBytes, splitBytes)) / push.size();
    WARN("a typical push of " << push.size() << " bytes of text: " << wholeBytes << " bytes parsed whole, "
                              << splitBytes << " bytes as envelopes: " << factor << " bytes per byte");
    CHECK(factor <= hq::tuning::kJsonBytesPerTextByte);
    CHECK(std::max(wholeBytes, splitBytes) <= hq::jsonParseCost(push));

    // Text made of the smallest values costs far more per byte than a push: the scan counts it.
    std::vector<std::pair<const char*, std::string>> hostile;
    auto repeated = [](std::string open, const std::string& item, std::string close, std::size_t n) {
        std::string s = std::move(open);
        for (std::size_t i = 0; i < n; ++i) s += (i ? "," : "") + item;
        return s + close;
    };
    hostile.emplace_back("numbers", repeated("[", "0", "]", 1u << 20));
    hostile.emplace_back("empty objects", repeated("[", "{}", "]", 1u << 19));
    hostile.emplace_back("empty arrays", repeated("[", "[]", "]", 1u << 19));
    hostile.emplace_back("short strings", repeated("[", "\"\"", "]", 1u << 19));
    hostile.emplace_back("long strings", repeated("[", "\"" + std::string(16, 'y') + "\"", "]", 1u << 17));
    {
        std::string members = "{";
        for (std::size_t i = 0; i < (1u << 17); ++i)
            members += (i ? ",\"" : "\"") + std::to_string(i) + "\":" + (i % 2 ? "{}" : "0");
        hostile.emplace_back("small members", members + "}");
    }
    hostile.emplace_back("nested", repeated("[", "[[[[0]]]]", "]", 1u << 17));
    for (const auto& [name, text] : hostile) {
        const std::size_t used = parsedBytes(text, whole);
        INFO(name << ": " << text.size() << " bytes of text, " << used << " bytes parsed, "
                  << hq::jsonParseCost(text) << " counted");
        CHECK(used <= hq::jsonParseCost(text));
    }
}

namespace {

// A push padded with whitespace to `size` bytes of text: valid JSON, parsed whole, with no items.
std::string paddedPush(std::size_t size) {
    const std::string head = R"({"batch":"0190f5c2-7a1b-7c3d-8e4f-5a6b7c8d9e0f","items":[)";
    return head + std::string(size - head.size() - 2, ' ') + "]}";
}

}  // namespace

TEST_CASE(
    "parallel decompression bombs through the handlers: an answer or 503 Retry-After, never over budget",
    "[hq]") {
    test::TempDir dir;
    hq::HqIdentity identity;
    identity.hqId = "hq-test";
    identity.signing = sync::SigningKeyPair::generate();
    identity.tlsPin = "pin";
    const std::string location = dir.path();
    hq::HqService service([location] { return hqs::openHqStore(location); }, identity);
    auto budget = std::make_shared<MemoryBudget>(std::size_t{200} << 20, 1000ms);
    service.setMemoryBudget(budget);
    auto store = hqs::openHqStore(location).value();
    store->setAuditKey(identity.signing.secretKey);

    // One enrolled device sends them all.
    const auto keys = sync::SigningKeyPair::generate();
    std::string deviceId;
    {
        auto code = sync::EnrollmentCode::generate("pin");
        REQUIRE(
            store->addEnrollment(code.secretHash(), "MINUSCA-RWABATT-1", "2999-01-01T00:00:00.000Z").ok());
        sync::Request r;
        r.method = "POST";
        r.target = "/v1/enroll";
        r.headers["outpost-protocol"] = "2";
        r.body = sync::json{
            {"code", code.secret},
            {"public_key", sync::base64Encode(keys.publicKey)},
            {"name",
             "x"}}.dump();
        auto a = service.handle(r);
        INFO(a.body);
        REQUIRE(a.status == 200);
        deviceId = sync::json::parse(a.body).at("device_id").get<std::string>();
    }
    CHECK(budget->inUse() == 0);  // the enrollment's bytes went back with its answer
    auto signedPush = [&](std::string body) {
        sync::Request r;
        r.method = "POST";
        r.target = "/v1/push";
        r.body = std::move(body);
        r.headers["outpost-protocol"] = "2";
        r.headers["content-encoding"] = "zstd";
        const std::string nonce = sync::newNonce();
        r.headers["outpost-device"] = deviceId;
        r.headers["outpost-nonce"] = nonce;
        r.headers["outpost-signature"] = sync::base64Encode(
            sync::sign(keys.secretKey, sync::signingString(r.method, r.target, deviceId, nonce, r.body)));
        return r;
    };

    // Near the protocol's 64 MiB, and medium ones (12 MiB) whose parsing fits the budget one or two at a
    // time.
    const std::string nearLimit = streamedFrame(paddedPush((64u << 20) - 4096));
    const std::string medium = streamedFrame(paddedPush(12u << 20));
    constexpr int kBombs = 24;
    std::vector<sync::Response> answers(kBombs);
    {
        std::vector<std::thread> threads;
        for (int i = 0; i < kBombs; ++i)
            threads.emplace_back([&, i] {
                // (Catch2's assertions are not thread-safe: the threads keep the answers, the test checks.)
                answers[static_cast<std::size_t>(i)] = service.handle(signedPush(i % 2 ? nearLimit : medium));
            });
        for (auto& t : threads) t.join();
    }
    std::map<int, int> byStatus;
    for (const auto& a : answers) {
        INFO(a.status << " " << a.body);
        ++byStatus[a.status];
        auto j = sync::json::parse(a.body, nullptr, false);
        REQUIRE(j.is_object());
        const std::string code = j["error"].value("code", "");
        if (a.status == 503) {
            CHECK(code == "unavailable");
            CHECK_THAT(j["error"].value("message", ""), Catch::Contains("memory budget"));
            REQUIRE(a.headers.count("Retry-After") == 1);
            CHECK(a.headers.at("Retry-After") == std::to_string(hq::tuning::kRequestMemoryRetryAfterSeconds));
        } else if (a.status == 413) {
            CHECK(code == "too_large");  // a near-limit body's parsing could never fit in 200 MiB
        } else {
            CHECK(a.status == 400);  // a medium body that was parsed: it has no items
            CHECK(code == "malformed");
        }
    }
    std::string tally;
    for (const auto& [s, n] : byStatus) tally += std::to_string(s) + ": " + std::to_string(n) + "; ";
    WARN("24 bombs through the handlers: " << tally << "peak reserved " << (budget->peak() >> 20)
                                           << " MiB of " << (budget->capacity() >> 20));
    CHECK(budget->peak() <= budget->capacity());
    CHECK(budget->inUse() == 0);  // every request gave its bytes back

    // With the budget free again a medium body is decompressed and parsed (and refused for its content:
    // it has no items), and so is an ordinary one.
    auto medium1 = service.handle(signedPush(medium));
    INFO(medium1.body);
    CHECK(medium1.status == 400);
    auto after = service.handle(signedPush(sync::zstdCompress(paddedPush(4096))));
    CHECK(after.status == 400);
    CHECK(budget->peak() <= budget->capacity());
    CHECK(budget->inUse() == 0);
}
