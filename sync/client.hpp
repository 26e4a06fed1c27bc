// The field client's sync engine (libcurl): enrollment, one sync pass, and a background worker.
//
// One pass: push the outbox in batches (incidents first), apply HQ's per-item results and signed
// receipts, then pull forms, reference data and feedback by cursor. Every step is safe to cut at
// any point: the outbox row leaves only in the transaction that stores HQ's receipt.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "core/status.hpp"
#include "storage/store.hpp"

namespace outpost::sync {

struct ClientOptions {
    // Only for development and tests against a plain-HTTP HQ: allows http:// URLs. Off by default.
    bool allowInsecureHttp = false;
    long connectTimeoutMs = 20000;
    // A transfer that moves fewer than lowSpeedBytes per lowSpeedSeconds is aborted (a stalled link).
    long lowSpeedBytes = 64;
    long lowSpeedSeconds = 30;
    // The batch size a pass starts from (on a link known to be fast its very first batch has at most 64
    // items, so HQ has work while the next is written); each batch HQ accepts doubles it up to maxBatchItems.
    // 250 typical reports are about 22 KB compressed: under 3 s even at 64 kbit/s, and few enough round trips
    // on a fast link.
    int initialBatchItems = 250;
    int maxBatchItems = 2000;
    // Batches on the wire at once, each on its own kept-alive connection, at most. A pass starts with
    // initialInFlight and adds one while HQ's answers (round trips), not the bytes, take the time, or
    // drops one while the bytes do; see sync/client.cpp.
    int initialInFlight = 2;
    int maxInFlight = 4;
    int pullPageSize = 500;
    std::string caFile;  // extra CA bundle (tests); the pin is always checked
    // Called with libcurl's own words (code, message, OS error) for each failure below HTTP, which the
    // messages a person sees only say in plain words: for a log, or outpostctl's --verbose. Called on the
    // thread that runs the pass or the enrollment.
    std::function<void(const std::string&)> transportLog;
};

struct Progress {
    core::SyncPhase phase = core::SyncPhase::Connecting;
    std::int64_t itemsSent = 0, itemsTotal = 0;
    std::int64_t bytesSent = 0, bytesReceived = 0;
    std::int64_t stored = 0, duplicates = 0, conflicts = 0, rejected = 0;
    std::int64_t pulled = 0;
    std::string message;  // the last error, in words
};

struct PassResult {
    Progress progress;
    bool ok = false;        // the queue is drained (apart from quarantined items) and the pull is complete
    bool resynced = false;  // HQ's epoch changed and the laptop re-queued what HQ had lost
    bool revoked = false;
};

using ProgressFn = std::function<void(const Progress&)>;

// Enrolls this laptop with HQ using a one-time code from `outpost-hq enroll` (it carries HQ's TLS pin):
// makes the device key pair, registers its public key, stores the configuration.
Result<storage::SyncConfig> enroll(storage::Store& store, const std::string& hqUrl, const std::string& code,
                                   const std::string& deviceName, const ClientOptions& opts = {});

// One complete pass (push then pull). Never throws; network failures are in the result.
Result<PassResult> syncOnce(storage::Store& store, const ClientOptions& opts = {}, ProgressFn progress = {},
                            const std::atomic<bool>* cancel = nullptr);

// How a pass adapts to the link (docs/protocol.md, "The client's behaviour").
// The zstd level of push bodies, from the throughput the last answered batch showed (bytes moved per
// second of transfer; 0 when nothing has been measured yet): a fast link is limited by the CPU and gets
// a cheap level, a slow or unknown one the level that saves bytes.
int pushCompressionLevel(double bytesPerSecond);
// The size of the next batch: batchItems, except at the end of the queue, where what is left (remaining)
// is shared among the batches that may start now (freeSlots), so they travel and are checked by HQ side
// by side instead of one large batch last.
int nextBatchItems(int batchItems, std::int64_t remaining, int freeSlots);

// Runs passes in the background on its own Store (opened from dir and key): at once when started or
// poked, again when the queue changes, and with jittered exponential backoff (5 s to 15 min) after a
// failure. Progress is readable from any thread. account: the signed-in account its store opens as (the
// audit log names it for each pass; empty: the first account).
class SyncWorker {
public:
    SyncWorker(std::string storeDir, storage::DataKey key, ClientOptions opts = {}, std::string account = {});
    ~SyncWorker();  // stops and joins
    void start();
    void stop();
    void poke();  // sync now (new finalized record, or the user pressed "Sync now")
    Progress progress() const;
    bool running() const;             // a pass is in progress now
    std::string lastOutcome() const;  // "ok", "offline", "failed: ...", "revoked"
    std::chrono::system_clock::time_point nextAttempt() const;

    struct Impl;

private:
    std::unique_ptr<Impl> m_impl;
};

}  // namespace outpost::sync
