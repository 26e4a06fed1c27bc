// HQ's store pool, helper threads and per-device rate limiter, each on its own.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "hq/helper_pool.hpp"
#include "hq/rate_limiter.hpp"
#include "hq/store_pool.hpp"
#include "storage/hq/store.hpp"
#include "support/test_support.hpp"

using namespace outpost;
namespace hqs = outpost::storage::hq;

namespace {

struct CountingOpener {
    std::string dir;
    std::atomic<int> opened{0};
    std::atomic<bool> fail{false};
    Result<std::unique_ptr<hqs::HqStore>> operator()() {
        if (fail) return Error{ErrorDomain::Storage, ErrorCode::Io, "the database is gone"};
        ++opened;
        return hqs::openSqliteHqStore(dir);
    }
};

}  // namespace

TEST_CASE("the store pool lends one store per lease, reuses returned ones and opens at most its bound",
          "[hq]") {
    test::TempDir tmp;
    CountingOpener opener{tmp.path()};
    REQUIRE(hqs::openSqliteHqStore(tmp.path()));
    hq::StorePool pool([&] { return opener(); }, {}, 2);

    // Outside a lease there is no store: a programming error, said as such.
    CHECK_THROWS_AS(pool.current(), Failure);

    hqs::HqStore* first = nullptr;
    {
        hq::StorePool::Lease lease(pool);
        auto s = pool.current();
        REQUIRE(s);
        first = *s;
        CHECK(*pool.current() == first);  // the same store for the whole lease
        CHECK(opener.opened == 1);
    }
    {
        hq::StorePool::Lease lease(pool);
        CHECK(*pool.current() == first);  // given back, lent again: nothing new opened
        CHECK(opener.opened == 1);
    }

    // Two leases on two threads hold two stores; a third waits until one is given back.
    // (Catch2's assertions are not thread-safe: the threads count what they got, the test checks it.)
    std::atomic<int> holding{0}, failedToBorrow{0};
    std::atomic<bool> release{false};
    auto hold = [&] {
        hq::StorePool::Lease lease(pool);
        if (!pool.current()) ++failedToBorrow;
        ++holding;
        while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    };
    std::thread a(hold), b(hold);
    while (holding < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::atomic<bool> thirdGotOne{false};
    std::thread c([&] {
        hq::StorePool::Lease lease(pool);
        if (pool.current()) thirdGotOne = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK_FALSE(thirdGotOne);
    CHECK(opener.opened == 2);
    release = true;
    a.join();
    b.join();
    c.join();
    CHECK(thirdGotOne);
    CHECK(failedToBorrow == 0);
    CHECK(opener.opened == 2);
}

TEST_CASE("the store pool forgets a dropped store, and an opener's failure is the caller's error", "[hq]") {
    test::TempDir tmp;
    CountingOpener opener{tmp.path()};
    hq::StorePool pool([&] { return opener(); }, {}, 1);
    {
        hq::StorePool::Lease lease(pool);
        REQUIRE(pool.current());
        pool.dropCurrent();  // after an I/O failure
    }
    opener.fail = true;
    {
        hq::StorePool::Lease lease(pool);
        auto s = pool.current();
        REQUIRE_FALSE(s);
        CHECK(s.error().code == ErrorCode::Io);
        CHECK(s.error().message == "the database is gone");
    }
    // The failed open gave its place back: the bound of one is free again.
    opener.fail = false;
    hq::StorePool::Lease lease(pool);
    CHECK(pool.current());
    CHECK(opener.opened == 2);
}

TEST_CASE("the per-device rate limiter allows a burst, then refuses with the wait, per device", "[hq]") {
    hq::DeviceRateLimiter limiter(2.0, 3.0);
    for (int i = 0; i < 3; ++i) CHECK_FALSE(limiter.take("a"));
    auto wait = limiter.take("a");
    REQUIRE(wait);
    CHECK(*wait > 0);
    CHECK(*wait <= 0.5 + 1e-9);
    CHECK_FALSE(limiter.take("b"));  // another device has its own bucket
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    CHECK_FALSE(limiter.take("a"));  // refilled at 2 per second

    hq::DeviceRateLimiter off(0, 3);
    for (int i = 0; i < 100; ++i) CHECK_FALSE(off.take("a"));
}

TEST_CASE("the helper pool runs every piece once and rethrows the first failure", "[hq]") {
    hq::HelperPool pool(3);
    std::vector<std::atomic<int>> runs(1000);
    pool.forEach(runs.size(), [&](std::size_t i) { ++runs[i]; });
    for (auto& r : runs) CHECK(r == 1);

    std::atomic<int> ran{0};
    CHECK_THROWS_WITH(pool.forEach(100,
                                   [&](std::size_t i) {
                                       ++ran;
                                       if (i == 10) throw std::runtime_error("piece 10 failed");
                                   }),
                      "piece 10 failed");
    CHECK(ran >= 11);

    hq::HelperPool none(0);  // no helper: the caller's thread does every piece
    int count = 0;
    none.forEach(5, [&](std::size_t) { ++count; });
    CHECK(count == 5);
}
