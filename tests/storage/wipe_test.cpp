// Wiping a field store: the keys go first (no passphrase opens it or a backup after that), then every file.
#include <catch2/catch.hpp>

#include <filesystem>

#include "storage/store.hpp"
#include "storage/store_wipe.hpp"
#include "support/test_support.hpp"

using namespace outpost;
using namespace outpost::storage;
using outpost::test::TempDir;
using json = nlohmann::json;

namespace {

const char* kPass = "wipe test passphrase";

std::string firstUnit() {
    return core::ReferenceData::demo().table("units")[0]["id"];
}

// A store with a passphrase slot, a final record, a draft and two backups.
void makeStore(const std::string& dir) {
    InitOptions io;
    io.unitId = firstUnit();
    io.user = "cdr.wipe";
    io.kdf = KdfParams{1, 8192};
    REQUIRE(Store::create(dir, kPass, io).ok());
    auto key = Store::unlock(dir, kPass);
    REQUIRE(key.ok());
    auto s = Store::open(dir, *key);
    REQUIRE(s.ok());
    json p = {{"unit", firstUnit()},
              {"description", "Wipe marker 3318 generator"},
              {"source", "evaluation"},
              {"identified_date", "2025-01-10"},
              {"severity", "minor"},
              {"personnel_affected", 3},
              {"remedy", "in_mission_course"},
              {"target_date", "2025-03-01"},
              {"status", "open"}};
    auto d = (*s)->createDraft("training-gap", p);
    REQUIRE(d.ok());
    REQUIRE((*s)->finalize(d->meta.id).ok());
    REQUIRE((*s)->createDraft("training-gap", p).ok());
    REQUIRE((*s)->backup().ok());
    REQUIRE((*s)->backup().ok());
}

}  // namespace

TEST_CASE("destroying a store's keys leaves no passphrase able to open it or its backups",
          "[storage][wipe]") {
    TempDir t;
    makeStore(t.path());
    std::vector<std::string> backups;
    for (const auto& e : std::filesystem::directory_iterator(t.path() + "/backups"))
        backups.push_back(e.path().string());
    REQUIRE_FALSE(backups.empty());
    auto n = destroyStoreKeys(t.path());
    INFO((n ? "" : n.error().message));
    REQUIRE(n.ok());
    CHECK(*n == 1 + static_cast<int>(backups.size()));  // one passphrase slot in each file
    auto u = Store::unlock(t.path(), kPass);
    REQUIRE_FALSE(u.ok());
    CHECK(u.error().code == ErrorCode::WrongKey);
    // A backup copied back as the store opens no better.
    TempDir other;
    std::filesystem::copy_file(backups.front(), other.path() + "/outpost.db");
    auto ub = Store::unlock(other.path(), kPass);
    REQUIRE_FALSE(ub.ok());
    CHECK(ub.error().code == ErrorCode::WrongKey);
    // The files are still there (step 1 alone), and none of them holds the plaintext either.
    CHECK(std::filesystem::exists(t.path() + "/outpost.db"));
    CHECK_FALSE(test::anyFileContains(t.path(), "Wipe marker 3318"));
}

TEST_CASE("wiping a store removes every file and the folder, and a second wipe finds nothing",
          "[storage][wipe]") {
    TempDir t;
    const std::string dir = t.path() + "/store";
    makeStore(dir);
    auto unit = storeUnitId(dir);
    REQUIRE(unit.ok());
    CHECK(*unit == firstUnit());
    {
        // The GUI's own connection may still be open when a revocation wipes the store.
        auto key = Store::unlock(dir, kPass);
        REQUIRE(key.ok());
        auto open = Store::open(dir, *key);
        REQUIRE(open.ok());
        auto w = wipeStore(dir);
        INFO((w ? "" : w.error().message));
        REQUIRE(w.ok());
        CHECK(w->keyCopiesDestroyed >= 3);
        CHECK(w->filesRemoved >= 3);
    }
    CHECK_FALSE(std::filesystem::exists(dir));
    auto again = wipeStore(dir);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == ErrorCode::NotFound);
    CHECK_FALSE(storeUnitId(dir).ok());
    CHECK_FALSE(destroyStoreKeys(dir).ok());
}
