// Every limit HQ's server enforces, in one place, each with the reason for its value. The protocol's
// own limits (body sizes, items per push, JSON depth, page size, requests per device) are in
// sync/protocol.hpp (sync::Limits), because the laptop obeys them too; docs/protocol.md lists both.
// Changing a value here changes HQ's behaviour under load: read docs/operations.md ("Limits") first.
//
// [SECTION] connections: counts and deadlines
// [SECTION] request memory budget
// [SECTION] enrollment throttle
#pragma once

#include <chrono>
#include <cstddef>

namespace outpost::hq::tuning {

// [SECTION] connections: counts and deadlines

// [SECTION] request memory budget

// [SECTION] enrollment throttle
// Enrollment is the one request anyone may send: its secret is 26 base32 characters (130 bits), so
// guessing cannot succeed, but every guess costs a store lookup and fills the audit trail. A token bucket
// per address (an IPv6 address counts by its /64, which one host usually holds whole) lets a person retry
// a mistyped code a few times and refuses a script: 429 with Retry-After beyond it.

// Ten attempts at once: a mistyped code, retried a few times, by several laptops behind one NAT.
constexpr double kEnrollBurst = 10;
// Then one attempt every 6 seconds (10 a minute), the pace of a person typing codes.
constexpr double kEnrollAttemptsPerSecond = 10.0 / 60.0;
// Addresses remembered at once (about 100 bytes each, so about 5 MB at most). When full, addresses whose
// bucket has refilled are forgotten; if none has, a new address waits (docs/protocol.md, "Enrollment").
constexpr std::size_t kEnrollAddresses = 50000;

}  // namespace outpost::hq::tuning
