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
// What the requests of one HQ process may hold at once for their bodies (hq/memory_budget.hpp): the
// decompressed text, as it grows, and the parsed JSON, from parsing to the end of the request.

// A push at the protocol's limits (sync::Limits: 64 MiB once decompressed) holds its text (64 MiB; 96 MiB
// for a moment while its buffer doubles the last time, and the decoder's window beside it) and then its
// parsed JSON (kJsonBytesPerTextByte x 64 MiB = 288 MiB): 352 MiB. 1 GiB holds two such pushes at once
// with room to spare, or about 140 everyday ones (a push of 500 reports is about 1.2 MiB of text, 7 MiB
// counted with its buffer and JSON), so ordinary traffic never waits for it; and it keeps a flood of bodies
// that decompress to the limit at about 1 GiB where twenty of them took 3.5 GB before. A server with less
// memory to spare sets less with `outpost-hq serve --memory-budget MIB` (pushes near the limit then get
// 413 and the laptop sends smaller batches).
inline constexpr std::size_t kRequestMemoryBudgetBytes = std::size_t{1024} << 20;
// How long, in total, a request waits for others to give memory back before it is answered 503: long
// enough for the requests ahead of it to be parsed and answered (an everyday push takes well under a
// second), short enough that a flood of oversized bodies does not hold HQ's request threads for long.
inline constexpr std::chrono::milliseconds kRequestMemoryWait{2000};
// The Retry-After of that 503 (seconds): the laptop's sync worker waits at least this long before it
// tries again, time for the requests ahead of it to finish.
inline constexpr int kRequestMemoryRetryAfterSeconds = 5;
// Bytes of nlohmann::json per byte of JSON text for a push as Outpost's laptops write it. Measured
// (tests/hq/memory_budget_test.cpp, glibc's mallinfo2) on 500 envelopes of the five example reports
// (examples/*.json), 1.16 MB of text: 3.99 parsed whole, 3.51 parsed item by item into envelopes; 4.5
// leaves room for reports with more small values than the examples. Text made of smaller values costs
// more per byte: hq::jsonParseCost counts those.
inline constexpr double kJsonBytesPerTextByte = 4.5;

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
