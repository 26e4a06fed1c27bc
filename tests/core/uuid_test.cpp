// Tests for UUIDv7 generation (format, version/variant bits, ordering) and isUuid.
#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/uuid.hpp"

using outpost::core::isUuid;
using outpost::core::newUuidV7;

TEST_CASE("newUuidV7 has the canonical lowercase form", "[core][uuid]") {
    const std::string id = newUuidV7();
    REQUIRE(id.size() == 36);
    CHECK(isUuid(id));
    for (char c : id) CHECK((c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
}

TEST_CASE("newUuidV7 sets version 7 and variant 10", "[core][uuid]") {
    for (int i = 0; i < 100; ++i) {
        const std::string id = newUuidV7();
        CHECK(id[14] == '7');
        const int variantNibble = std::stoi(std::string(1, id[19]), nullptr, 16);
        CHECK((variantNibble & 0xc) == 0x8);
    }
}

TEST_CASE("newUuidV7 carries the current Unix time in milliseconds", "[core][uuid]") {
    using namespace std::chrono;
    const auto before = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    const std::string id = newUuidV7();
    const auto after = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    const std::string hex = id.substr(0, 8) + id.substr(9, 4);
    const long long ms = std::stoll(hex, nullptr, 16);
    // An id may run ahead of the clock by a millisecond when the counter carried over.
    CHECK(ms >= before);
    CHECK(ms <= after + 1);
}

TEST_CASE("10,000 ids are unique and strictly increasing", "[core][uuid]") {
    std::vector<std::string> ids;
    ids.reserve(10000);
    for (int i = 0; i < 10000; ++i) ids.push_back(newUuidV7());
    std::set<std::string> unique(ids.begin(), ids.end());
    CHECK(unique.size() == ids.size());
    for (std::size_t i = 1; i < ids.size(); ++i) {
        INFO(ids[i - 1] << " then " << ids[i]);
        REQUIRE(ids[i - 1] < ids[i]);
    }
}

TEST_CASE("ids made on several threads are unique", "[core][uuid]") {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 2000;
    std::vector<std::vector<std::string>> made(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&made, t] {
            for (int i = 0; i < kPerThread; ++i) made[static_cast<std::size_t>(t)].push_back(newUuidV7());
        });
    }
    for (auto& th : threads) th.join();
    std::set<std::string> all;
    for (const auto& list : made) {
        for (std::size_t i = 1; i < list.size(); ++i) CHECK(list[i - 1] < list[i]);
        all.insert(list.begin(), list.end());
    }
    CHECK(all.size() == static_cast<std::size_t>(kThreads * kPerThread));
}

TEST_CASE("isUuid accepts canonical UUIDs of any version", "[core][uuid]") {
    CHECK(isUuid("0190f3c4-7b2e-7a1c-9d3e-5f6a7b8c9d0e"));
    CHECK(isUuid("123e4567-e89b-12d3-a456-426614174000"));  // v1
    CHECK(isUuid("00000000-0000-0000-0000-000000000000"));
    CHECK(isUuid("ffffffff-ffff-ffff-ffff-ffffffffffff"));
}

TEST_CASE("isUuid refuses everything else", "[core][uuid]") {
    CHECK_FALSE(isUuid(""));
    CHECK_FALSE(isUuid("0190F3C4-7B2E-7A1C-9D3E-5F6A7B8C9D0E"));    // uppercase
    CHECK_FALSE(isUuid("0190f3c47b2e7a1c9d3e5f6a7b8c9d0e"));        // no hyphens
    CHECK_FALSE(isUuid("{0190f3c4-7b2e-7a1c-9d3e-5f6a7b8c9d0e}"));  // braces
    CHECK_FALSE(isUuid("0190f3c4-7b2e-7a1c-9d3e-5f6a7b8c9d0"));     // short
    CHECK_FALSE(isUuid("0190f3c4-7b2e-7a1c-9d3e-5f6a7b8c9d0e0"));   // long
    CHECK_FALSE(isUuid("0190f3c4-7b2e-7a1c-9d3e_5f6a7b8c9d0e"));    // wrong separator
    CHECK_FALSE(isUuid("0190f3c4-7b2e-7a1c-9d3e-5f6a7b8c9d0g"));    // not hex
    CHECK_FALSE(isUuid("0190f3c4a7b2e-7a1c-9d3e-5f6a7b8c9d0e"));    // hyphen misplaced
}
