// A field store's final revision as a wire envelope.
#include "sync/outgoing.hpp"

namespace outpost::sync {

Envelope envelopeOf(storage::OutgoingItem&& it) {
    Envelope e;
    e.id = std::move(it.recordId);
    e.revision = it.revision;
    e.parent = it.parent;
    e.formId = std::move(it.formId);
    e.formVersion = it.formVersion;
    e.unitId = std::move(it.unitId);
    e.author = std::move(it.author);
    e.createdUtc = std::move(it.createdUtc);
    e.createdOffset = it.createdOffset;
    e.finalizedUtc = std::move(it.finalizedUtc);
    e.payload = std::move(it.payload);
    e.signature = std::move(it.signature);  // made at finalize, or empty (the sender signs)
    e.sealedHash = std::move(it.sealedHash);
    if (!it.sealedPart.empty()) e.sealedPart = base64Encode(it.sealedPart);
    return e;
}

ReceiptItem receiptItemOf(storage::OutgoingItem&& it) {
    const std::string text = std::move(it.payloadText);
    const Envelope e = envelopeOf(std::move(it));
    return {e.id, e.revision, hex(blake2b256(e.canonicalWithPayloadText(text)))};
}

storage::PushOutcome outcomeOf(const ItemResult& res, std::int64_t outboxSeq, std::string hash) {
    storage::PushOutcome o;
    o.outboxSeq = outboxSeq;
    o.status = res.status;
    o.hqSeq = res.status == ItemStatus::Rejected ? 0 : res.hqSeq;
    o.reason = res.status == ItemStatus::Rejected && res.reason.empty() ? "rejected by HQ" : res.reason;
    o.hash = std::move(hash);
    return o;
}

}  // namespace outpost::sync
