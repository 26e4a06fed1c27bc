// Every limit HQ's server enforces, in one place, each with the reason for its value. The protocol's
// own limits (body sizes, items per push, JSON depth, page size, requests per device) are in
// sync/protocol.hpp (sync::Limits), because the laptop obeys them too; docs/protocol.md lists both.
// Changing a value here changes HQ's behaviour under load: read docs/operations.md ("Limits") first.
//
// [SECTION] connections: counts and deadlines
// [SECTION] request memory budget
// [SECTION] enrollment throttle
// [SECTION] database sessions
// [SECTION] health
#pragma once

#include <chrono>
#include <cstddef>

namespace outpost::hq::tuning {

// [SECTION] connections: counts and deadlines

// Threads that run every socket's reads, writes, TLS and timers. They never wait on the store, so two
// keep up with tens of thousands of connections (the TLS arithmetic is the heaviest part).
constexpr int kIoThreads = 2;
// Threads that run HqService::handle (store work, which blocks). A connection holds none while it waits
// for bytes; only a complete request takes one, so this bounds the store's parallelism, not the number
// of laptops connected. 32 keeps a PostgreSQL server's connection count modest.
constexpr int kDefaultWorkerThreads = 32;
constexpr int kMaxWorkerThreads = 256;

// Connections open at once, all addresses together. Each costs a file descriptor and, idle, about
// 11 kB (measured by `outpost-bench hq`; TLS record buffers are released while idle): 20,000 are about
// 220 MB, far above a deployment's laptops and within the memory of the smallest HQ machine. Never above the
// process's file limit minus kReservedDescriptors.
constexpr std::size_t kMaxConnections = 20000;
// Descriptors kept for the store (SQLite files or PostgreSQL sockets), logs and backups.
constexpr std::size_t kReservedDescriptors = 256;
// Connections open at once from one peer address. A laptop opens a handful; an office behind NAT or a
// load balancer shows HQ one address for all its laptops, so the default leaves room for hundreds of
// them while one attacking machine cannot take every connection. `serve --max-connections-per-address`.
constexpr std::size_t kDefaultMaxConnectionsPerAddress = 512;
// After an accept fails for lack of descriptors, wait this long before accepting again (no busy loop).
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

// A new connection must complete its TLS handshake and its first request's headers within this time;
// so must a kept-open connection once the first byte of its next request has arrived. A laptop's
// request line and headers are under 2 KB: on a 9.6 kbit/s link they take 2 s. An attacker trickling
// one header line every few seconds is cut off here instead of holding the connection for ever.
constexpr std::chrono::seconds kHeaderDeadline{10};
// Request line and headers together; a laptop sends under 2 KB. Longer: 431 and the connection closes.
constexpr std::size_t kHeaderLimitBytes = 16 * 1024;
// A body must arrive at this average rate at least, after kBodyGrace: the deadline is the start of the
// body plus kBodyGrace plus one second per kMinBodyBytesPerSecond received. 1 KiB/s is 8 kbit/s, below
// the slowest link Outpost supports (9.6 kbit/s); a body announced and never sent is closed after
// kBodyGrace. A Content-Length over the protocol's maxBodyBytes is refused (413) before any body byte.
constexpr std::size_t kMinBodyBytesPerSecond = 1024;
constexpr std::chrono::seconds kBodyGrace{10};
// And no silence longer than this inside a body, whatever was sent before: the laptop gives up on a
// transfer that moves fewer than 64 bytes in 30 s (docs/protocol.md, "Stalls"), so a longer silence is
// no laptop's; without it, a peer that sent most of a large body fast could sit on it for the rest of
// its average-rate allowance (over two hours for 8 MiB).
constexpr std::chrono::seconds kBodySilence{30};
// An answer must leave at the same minimum rate: kWriteGrace plus one second per kMinWriteBytesPerSecond
// of the answer. A peer that stops reading is closed instead of holding the answer's memory.
constexpr std::size_t kMinWriteBytesPerSecond = 1024;
constexpr std::chrono::seconds kWriteGrace{10};
// How long a kept-open connection may wait for the first byte of its next request. A laptop with
// several batches in flight on a slow link reuses a connection only once the other batches' bytes have
// crossed: at 64 kbit/s each 60 KB batch ahead is 7.5 s of silence on this one; closing sooner makes
// the client send the request again on a new connection (a handshake, and the body twice). An idle
// connection costs a descriptor and a few KB, no thread; a laptop closes its connections when its pass
// ends.
constexpr std::chrono::seconds kIdleKeepAlive{30};
// Requests on one connection before HQ closes it after the answer (the client opens a new one): bounds
// what one connection's session can accumulate; a sync pass makes far fewer.
constexpr std::size_t kMaxRequestsPerConnection = 10000;
// After the last answer on a connection HQ closes, it reads and discards what the peer still sends for
// this long, so the peer receives the answer instead of a reset.
constexpr std::chrono::seconds kLingerOnClose{2};
// On stop: connections with a request in progress may finish it within this time; then every
// connection is closed. A handler still running in the store (a database that does not answer) is
// waited for before the process ends, so that its transaction ends one way or the other; the store's
// own time limits bound that wait.
constexpr std::chrono::seconds kStopGrace{5};

// [SECTION] request memory budget
// What the requests of one HQ process may hold at once for their bodies (hq/memory_budget.hpp): the body
// as it arrives (counted by the I/O threads, which never wait: a body that finds no room is answered 503
// at once), the decompressed text, as it grows, and the parsed JSON, from parsing to the end of the
// request. An announced length costs nothing until its bytes arrive.

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
// a mistyped code a few times and refuses a script: 429 with Retry-After beyond it. An attempt that
// enrolls gets its token back, so only failures count and any number of laptops may enroll through one
// address (a signals office, a balancer).

// Ten attempts at once: a mistyped code, retried a few times, by several laptops behind one NAT.
constexpr double kEnrollBurst = 10;
// Then one attempt every 6 seconds (10 a minute), the pace of a person typing codes.
constexpr double kEnrollAttemptsPerSecond = 10.0 / 60.0;
// Addresses remembered at once (about 100 bytes each, so about 5 MB at most). When full, addresses whose
// bucket has refilled are forgotten; if none has, a new address waits (docs/protocol.md, "Enrollment").
constexpr std::size_t kEnrollAddresses = 50000;

// [SECTION] database sessions
// Bounds on every session `outpost-hq serve` opens on PostgreSQL (storage::hq::SessionLimits). Ingest
// passes through two rows shared by every HQ process (docs/operations.md, "A process that stalls" and
// "The ingest lane"): the report counter, held while a push reserves its numbers, and the audit counter,
// held from a push's audit entry to its commit. A process that stalls while it holds one (a paused VM,
// SIGSTOP, a host gone) would otherwise stop every other process's ingest until it resumes.

// The longest a statement waits for a row or lock another session holds. Pushes queue for the audit row,
// each holding it for its audit entry and commit (a few milliseconds, see docs/operations.md, "The ingest
// lane"), and every process may have a push waiting, so a healthy queue can take a while under load. A
// stalled holder is ended by the idle-in-transaction bound below after 5 s; this bound is the backstop,
// set so that HQ answers 503 (with Retry-After) well before the laptop's own 30 s stall detector gives up.
constexpr std::chrono::milliseconds kDbLockWait{15000};
// A process stores one push at a time; its other workers wait for their turn in the process, not in
// PostgreSQL's queues for the shared rows. What is gained: when a process freezes, only its one session
// holds or waits for a row. Were several of its sessions queued there, PostgreSQL would hand the row to
// the next of them when it ends the first, and each would hold the lane for the idle bound in turn. What
// it costs: one process does not store pushes side by side (ingest grows with processes instead). Waiting
// for the turn longer than 10 s answers 503 with Retry-After: the turn and a lock wait after it stay under
// the laptop's 30 s stall detector. (A push waiting for its turn holds one of the process's stores.)
constexpr std::chrono::milliseconds kIngestGateWait{10000};
// The longest one statement may run. HQ's serving statements touch a batch at most (the admin commands,
// which may export everything in one statement, are not bounded).
constexpr std::chrono::milliseconds kDbStatement{30000};
// A session idle inside a transaction this long is ended by PostgreSQL, which releases its locks. HQ
// waits on nothing but the database inside a transaction (a push's items are checked before it begins),
// so 5 s idle there is a stalled process.
constexpr std::chrono::milliseconds kDbIdleInTransaction{5000};
// TCP keepalives and the user timeout: a host that vanishes without closing its connection (power cut, a
// cut link) is noticed by HQ in about 10 + 3 x 5 = 25 s instead of the system's two hours and more.
constexpr std::chrono::seconds kDbKeepaliveIdle{10};
constexpr std::chrono::seconds kDbKeepaliveInterval{5};
constexpr int kDbKeepaliveCount = 3;
constexpr std::chrono::milliseconds kDbTcpUserTimeout{30000};

// [SECTION] health
// `GET /v1/health` (docs/operations.md, "Health checks"): what a load balancer asks before it sends a
// process laptops.

// The database must answer the probe within this time, or the process answers unhealthy. A healthy
// PostgreSQL answers in milliseconds; a balancer's check usually waits 2 to 5 s for the whole answer.
constexpr std::chrono::milliseconds kHealthDeadline{2000};
// One probe's result answers every check for this long: the health endpoint needs no credentials, so a
// flood of checks costs the database one query a second at most.
constexpr std::chrono::milliseconds kHealthReuse{1000};

}  // namespace outpost::hq::tuning
