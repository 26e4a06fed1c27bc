// Store-and-forward bundles, HQ's side: importing a laptop's bundle and making its receipt
// (docs/protocol.md, "Store-and-forward bundles"; the format is in sync/bundle_format.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "hq/service.hpp"
#include "sync/bundle_format.hpp"

namespace outpost::hq {

// --- HQ's side ---------------------------------------------------------------------------------
struct HqBundleImport {
    std::string receiptFile;  // the receipt bundle's bytes, sealed to the device
    std::string bundleId, deviceId, unitId;
    std::int64_t pushes = 0;
    std::int64_t replayed = 0;  // pushes HQ had answered before (the bundle was imported already)
    // What this import did: stored counts the reports stored now; duplicates those HQ held already,
    // every report that a replayed push had stored included. Conflicts and rejections are HQ's answer
    // (for a replayed push, the one recorded then).
    std::int64_t stored = 0, duplicates = 0, conflicts = 0, rejected = 0;
    std::int64_t pulled = 0;  // feed entries in the receipt
    bool more = false;
    std::vector<std::string> notes;  // answers that stored nothing (unit mismatch, epoch changed, replays)
};

// Opens a bundle with HQ's key, checks the device (known, not revoked) and its signature, then runs each
// push and the pull through service.handleBundle(). A refusal that the laptop cannot act on (an unknown
// or revoked device, a bad signature, a batch id reused with other content, HQ unavailable) is an error
// and no receipt is made; pushes of the same bundle answered before it stay stored (importing the bundle
// again is harmless).
Result<HqBundleImport> importBundle(HqService& service, std::string_view file);

}  // namespace outpost::hq
