// Store-and-forward bundles, the laptop's side: exporting the queued reports to a file for HQ, and
// importing HQ's receipt (docs/protocol.md, "Store-and-forward bundles"; the format is in
// sync/bundle_format.hpp). Importing either file twice is harmless.
//
// No SQL here (the laptop's side goes through storage::Store) and no HTTP.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "storage/store.hpp"
#include "sync/bundle_format.hpp"

namespace outpost::sync {

// --- The laptop's side -------------------------------------------------------------------------
struct BundleOptions {
    int batchItems = 2000;                  // items per push at most (halved for a push over maxBodyBytes)
    std::size_t maxPushBytes = 128u << 20;  // compressed push bodies in one bundle, at most
    Limits limits;                          // what HQ accepts in one request
};

struct ExportedBundle {
    std::string file;  // the bytes to write
    std::string bundleId;
    std::int64_t reports = 0;   // revisions in the bundle
    std::int64_t batches = 0;   // push requests
    std::int64_t left = 0;      // queued revisions that did not fit (they go in the next bundle)
    std::int64_t tooLarge = 0;  // revisions larger than HQ accepts in one request (never bundled)
    std::int64_t held = 0;      // queued revisions held back for HQ's conduct keys (Store::OutboxCounts)
    std::int64_t cursor = 0;    // the pull cursor the bundle carries
};

// A bundle of the queued (not quarantined) revisions, in sync order. Reads the store only: nothing
// leaves the outbox until a receipt for it arrives, by bundle or by network.
Result<ExportedBundle> exportBundle(storage::Store& store, const BundleOptions& opts = {});

struct ReceiptApplied {
    std::string bundleId;
    std::int64_t stored = 0, duplicates = 0, conflicts = 0, rejected = 0;
    std::int64_t alreadyDone = 0;    // outcomes applied before: receipted, or quarantined already
    std::int64_t failed = 0;         // revisions HQ could not take (they stay queued)
    std::int64_t pulled = 0;         // feed entries applied
    bool pullSkipped = false;        // the page was older than this laptop's cursor, or not after it
    bool pullRefused = false;        // the page has an entry this laptop cannot take: none of it applied
    bool more = false;               // HQ has more of the feed for this laptop: the next bundle brings it
    bool resynced = false;           // HQ was restored: what it acknowledged is queued again
    bool stale = false;              // made for an epoch this laptop has left: nothing was applied
    std::vector<std::string> notes;  // what a person should know, one sentence each
};

// Opens a receipt with the device key, checks HQ's signature over it and every receipt signature
// against this laptop's own copies of the revisions, and only then applies the outcomes
// (Store::applyPushOutcomes), the feed page (Store::applyPull) and, when HQ's epoch changed,
// Store::beginResync. A file that fails any check changes nothing. A feed page the store refuses (an entry
// this laptop cannot take) is no failure of the receipt: its outcomes apply, the page does not
// (pullRefused, and a note), and the cursor stays where it was.
Result<ReceiptApplied> importReceipt(storage::Store& store, std::string_view file);

}  // namespace outpost::sync
