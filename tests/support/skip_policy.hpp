// A test that cannot do what it checks on this machine (the full-disk cases need a small tmpfs, which
// needs root or a user namespace) must never read as a pass. In CI (CI=true) it fails. Elsewhere it fails
// too, unless OUTPOST_ALLOW_SKIP names it (a comma-separated list: OUTPOST_ALLOW_SKIP=fulldisk); then it
// says SKIPPED, as a warning in the test's output, and the test program exits with kSkippedExitCode
// (tests/test_main.cpp), which CTest reports as Skipped. docs/operations.md lists the names.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <string>
#include <string_view>

namespace outpost::test {

// The exit code of a test program that passed except for checks it skipped on purpose (CTest's
// SKIP_RETURN_CODE for every test, tests/registration/discover.cmake).
constexpr int kSkippedExitCode = 77;
inline std::atomic<int> skippedChecks{0};

// CI is "true" on CI machines (.ci/run's environment); anything but empty, "0" or "false" counts.
inline bool runningInCi(const char* ci) {
    if (!ci) return false;
    const std::string_view v(ci);
    return !v.empty() && v != "0" && v != "false";
}

// True when the comma-separated list allow names what.
inline bool skipAllowed(const char* allow, std::string_view what) {
    if (!allow) return false;
    std::string_view rest(allow);
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item == what) return true;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return false;
}

// Whether a check that cannot run here may be skipped, from the values of CI and OUTPOST_ALLOW_SKIP.
inline bool maySkip(const char* ci, const char* allow, std::string_view what) {
    return !runningInCi(ci) && skipAllowed(allow, what);
}

// What a test calls when it cannot run its check here (why says what was refused). Fails the test case,
// or, when allowed, warns that it was SKIPPED; the caller returns either way.
inline void cannotRunHere(std::string_view what, const std::string& why) {
    const char* ci = std::getenv("CI");
    if (maySkip(ci, std::getenv("OUTPOST_ALLOW_SKIP"), what)) {
        WARN("SKIPPED (OUTPOST_ALLOW_SKIP=" << std::getenv("OUTPOST_ALLOW_SKIP") << "): " << why);
        ++skippedChecks;
        return;
    }
    if (runningInCi(ci))
        FAIL_CHECK("cannot run here, and CI must run it: " << why);
    else
        FAIL_CHECK("cannot run here: " << why << ". Run it as root (as CI does), or set OUTPOST_ALLOW_SKIP="
                                       << what << " to skip it knowingly");
}

}  // namespace outpost::test
