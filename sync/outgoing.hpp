// A field store's final revision as a wire envelope: shared by the network engine and USB bundles.
#pragma once

#include "storage/store.hpp"
#include "sync/protocol.hpp"

namespace outpost::sync {

// A queued revision as Store::nextOutgoing() reads it (the payload moved, parsed or not).
Envelope envelopeOf(storage::OutgoingItem&& it);
// The revision exactly as this laptop sent it: the same members nextOutgoing() reads.
Envelope envelopeOf(storage::Record&& r);

}  // namespace outpost::sync
