// Whether this build runs under a sanitizer (make asan, make tsan, make fuzz), and what that costs a
// test that bounds a real process's memory or its timing. The bounds a test asserts are the release
// build's; under a sanitizer the same test runs and asserts the release bound with the sanitizer's own
// documented cost added, so it still fails on a leak or an unbounded buffer.
#pragma once

#include <cstddef>

namespace outpost::test {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif
#else
inline constexpr bool kThreadSanitizer = false;
#endif

inline constexpr bool kSanitized = kAddressSanitizer || kThreadSanitizer;

// A resident-memory bound for a process built like this test. AddressSanitizer: redzones and shadow
// memory about triple what a program touches, and freed blocks wait in a quarantine of up to 256 MiB
// before they are reused. ThreadSanitizer: its shadow and history cost 5 to 10 times the program's
// memory. (Figures from each sanitizer's documentation.)
constexpr std::size_t residentBound(std::size_t releaseBytes) {
    if (kAddressSanitizer) return 3 * releaseBytes + (std::size_t{256} << 20);
    if (kThreadSanitizer) return 10 * releaseBytes;
    return releaseBytes;
}

// Slack for a deadline measured from outside: a sanitized process runs several times slower.
constexpr double deadlineSlackSeconds(double releaseSlack) {
    return kSanitized ? 4 * releaseSlack : releaseSlack;
}

}  // namespace outpost::test
