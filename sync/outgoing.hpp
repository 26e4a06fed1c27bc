// A field store's final revision as a wire envelope: shared by the network engine and USB bundles.
#pragma once

#include "storage/store.hpp"
#include "sync/protocol.hpp"

namespace outpost::sync {

// A queued revision as Store::nextOutgoing() reads it (the payload moved, parsed or not).
Envelope envelopeOf(storage::OutgoingItem&& it);
// The id, revision and hash a receipt names for a revision this laptop sent (Store::sentRevision()): the
// hash of the canonical bytes exactly as the sender builds them, sealed-section hash included.
ReceiptItem receiptItemOf(storage::OutgoingItem&& it);

// What the store records for one item HQ answered: its status, HQ's sequence and the reason (a
// rejection without one says "rejected by HQ").
storage::PushOutcome outcomeOf(const ItemResult& res, std::int64_t outboxSeq, std::string hash);

// Adds one answered item to tallies with stored / duplicates / conflicts / rejected members.
template <typename Tally>
void countStatus(Tally& t, ItemStatus s) {
    switch (s) {
        case ItemStatus::Stored:
            ++t.stored;
            break;
        case ItemStatus::Duplicate:
            ++t.duplicates;
            break;
        case ItemStatus::Conflict:
            ++t.conflicts;
            break;
        case ItemStatus::Rejected:
            ++t.rejected;
            break;
    }
}

}  // namespace outpost::sync
