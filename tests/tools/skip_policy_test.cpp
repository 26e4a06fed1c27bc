// support/skip_policy.hpp: a check that cannot run on this machine (the full-disk cases without a tmpfs)
// fails, in CI always, elsewhere unless OUTPOST_ALLOW_SKIP names it.
#include <catch2/catch.hpp>

#include "support/skip_policy.hpp"

using outpost::test::maySkip;
using outpost::test::runningInCi;
using outpost::test::skipAllowed;

TEST_CASE("test support: a check that cannot run here may be skipped only outside CI and only by name",
          "[tools][skip]") {
    CHECK(runningInCi("true"));
    CHECK(runningInCi("1"));
    CHECK_FALSE(runningInCi(nullptr));
    CHECK_FALSE(runningInCi(""));
    CHECK_FALSE(runningInCi("false"));

    CHECK(skipAllowed("fulldisk", "fulldisk"));
    CHECK(skipAllowed("gui, fulldisk", "fulldisk"));
    CHECK_FALSE(skipAllowed(nullptr, "fulldisk"));
    CHECK_FALSE(skipAllowed("", "fulldisk"));
    CHECK_FALSE(skipAllowed("full", "fulldisk"));
    CHECK_FALSE(skipAllowed("fulldisk2", "fulldisk"));

    // Not named: a failure, on a developer's machine as in CI.
    CHECK_FALSE(maySkip(nullptr, nullptr, "fulldisk"));
    CHECK_FALSE(maySkip("true", nullptr, "fulldisk"));
    // Named: a visible skip outside CI, still a failure in CI.
    CHECK(maySkip(nullptr, "fulldisk", "fulldisk"));
    CHECK_FALSE(maySkip("true", "fulldisk", "fulldisk"));
}
