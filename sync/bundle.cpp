// Store-and-forward bundles, the laptop's half (docs/protocol.md, "Store-and-forward bundles"): the
// export of the queued reports, and the import of HQ's receipt.
//
// Nothing here decides what leaves the laptop's outbox: the receipt's answers are applied with the same
// Store calls as a sync over the network. What this file adds is checking HQ's signatures before
// anything changes.
//
// [SECTION] the laptop: export
// [SECTION] the laptop: receipt import
#include "sync/bundle.hpp"
#include "sync/outgoing.hpp"

#include <sodium.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/time.hpp"
#include "core/uuid.hpp"
#include "storage/crypto.hpp"
#include "sync/bundle_detail.hpp"

namespace outpost::sync {

using namespace bundle_detail;

// [SECTION] the laptop: export

Result<ExportedBundle> exportBundle(storage::Store& store, const BundleOptions& opts) {
    return tryCatch([&]() -> ExportedBundle {
        auto cfg = need(store.syncConfig());
        if (!cfg)
            throw Failure(
                ErrorDomain::NotFound, ErrorCode::NotFound,
                "this laptop is not enrolled with HQ (run 'outpostctl enroll'): a bundle is sealed to "
                "HQ's key and signed with this laptop's");
        if (cfg->revoked)
            throw Failure(ErrorDomain::State, ErrorCode::Conflict,
                          "HQ revoked this device: it sends nothing more, by network or by bundle (enroll it "
                          "again with a new code)");
        SecretBytes sk(need(store.deviceSecretKey()));
        auto hqKey = base64Decode(cfg->hqSignKey);
        if (!hqKey || hqKey->size() != crypto_sign_PUBLICKEYBYTES)
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                          "HQ's signing key in the enrollment is damaged");

        ExportedBundle out;
        DeviceBundle b;
        b.bundleId = core::newUuidV7();
        b.deviceId = cfg->deviceId;
        b.hqId = cfg->hqId;
        b.madeUtc = core::nowTimestamp().utc;
        b.epoch = cfg->epoch;
        if (auto last = need(store.lastReceipt()))
            b.lastReceipt = std::to_string(last->hqSeq) + ":" + last->recordId;

        // The queue in sync order, in pushes HQ accepts: at most batchItems items and maxBodyBytes each.
        const auto counts = need(store.outboxCounts());
        const std::int64_t queued = counts.queued - counts.held;
        out.held = counts.held;
        std::vector<std::int64_t> taken;
        int batchItems = std::max(1, std::min(opts.batchItems, static_cast<int>(opts.limits.maxItems)));
        std::size_t total = 0;
        for (;;) {
            auto items = need(store.nextOutgoing(batchItems, taken));
            if (items.empty()) break;
            std::vector<std::int64_t> seqs;
            PushRequest pr;
            pr.batchId = core::newUuidV7();
            for (auto& it : items) {
                seqs.push_back(it.outboxSeq);
                std::string payloadText = std::move(it.payloadText);
                Envelope e = envelopeOf(std::move(it));
                if (e.signature.empty())
                    e.signature = signRevision(sk.b, e.canonicalWithPayloadText(payloadText));
                pr.items.push_back(std::move(e));
            }
            std::string body = zstdCompress(pr.toJson().dump());
            if (body.size() > opts.limits.maxBodyBytes) {
                if (pr.items.size() > 1) {
                    batchItems = std::max(1, static_cast<int>(pr.items.size()) / 2);
                    continue;
                }
                ++out.tooLarge;  // a sync over the network quarantines it, with the reason
                taken.push_back(seqs[0]);
                continue;
            }
            if (total + body.size() > opts.maxPushBytes && !b.pushes.empty()) break;
            total += body.size();
            BundledPush p;
            p.nonce = newNonce();
            p.signature =
                base64Encode(sign(sk.b, signingString("POST", "/v1/push", b.deviceId, p.nonce, body)));
            p.body = std::move(body);
            b.pushes.push_back(std::move(p));
            out.reports += static_cast<std::int64_t>(seqs.size());
            taken.insert(taken.end(), seqs.begin(), seqs.end());
        }
        out.batches = static_cast<std::int64_t>(b.pushes.size());
        out.left = std::max<std::int64_t>(0, queued - out.reports - out.tooLarge);

        b.pull.after = cfg->pullCursor;
        b.pull.limit = static_cast<int>(opts.limits.maxPullPage);
        b.pull.nonce = newNonce();
        b.pull.signature =
            base64Encode(sign(sk.b, signingString("GET", b.pull.target(), b.deviceId, b.pull.nonce, {})));
        out.cursor = b.pull.after;

        std::string plain = signDocument(kBundleSigningContext, b.toJson(), sk.b);
        out.file = sealBundleFile(kBundleMagic, *hqKey, plain);
        storage::wipeSecret(plain);
        out.bundleId = b.bundleId;
        return out;
    });
}

// [SECTION] the laptop: receipt import
namespace {

// One push answer of a receipt, checked and turned into what the store applies.
struct PlannedPush {
    std::string batchId;
    std::vector<storage::PushOutcome> outcomes;
    std::string document;                // the signed receipt document kept with the receipts
    std::vector<std::int64_t> failSeqs;  // queued items of a push HQ could not take
    std::string failure;
};

bool isEpochChanged(int status, const json& answer) {
    return status == 409 && errorOf(answer).first == "epoch_changed";
}

}  // namespace

Result<ReceiptApplied> importReceipt(storage::Store& store, std::string_view file) {
    return tryCatch([&]() -> ReceiptApplied {
        auto cfg = need(store.syncConfig());
        if (!cfg)
            throw Failure(ErrorDomain::NotFound, ErrorCode::NotFound,
                          "this laptop is not enrolled with HQ (run 'outpostctl enroll')");
        auto hqKey = base64Decode(cfg->hqSignKey);
        if (!hqKey || hqKey->size() != crypto_sign_PUBLICKEYBYTES)
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                          "HQ's signing key in the enrollment is damaged");
        SignedDocument sd;
        {
            SecretBytes sk(need(store.deviceSecretKey()));
            sd = splitSignedDocument(openBundleFile(kReceiptMagic, sk.b, file));
        }
        if (!verifyDocument(kReceiptSigningContext, sd, *hqKey))
            bad("the receipt's signature does not verify with the HQ key from this laptop's enrollment: "
                "it was not made by this laptop's HQ");
        const ReceiptBundle rb = ReceiptBundle::fromJson(documentJson(sd, "the receipt"));
        if (rb.deviceId != cfg->deviceId)
            bad("the receipt is for device " + rb.deviceId + "; this laptop is device " + cfg->deviceId);
        if (rb.hqId != cfg->hqId)
            bad("the receipt is from HQ " + rb.hqId + "; this laptop is enrolled with " + cfg->hqId);

        ReceiptApplied out;
        out.bundleId = rb.bundleId;
        // A laptop that changed epoch since it exported the bundle (a resync by network, or an earlier
        // receipt) would take outcomes from an HQ state it has left: nothing of this receipt applies.
        if (rb.bundleEpoch != cfg->epoch) {
            out.stale = true;
            out.notes.push_back("this receipt answers a bundle made before this laptop learnt HQ's epoch " +
                                cfg->epoch + " (it resynced since): nothing in it applies any more; " +
                                "export a new bundle");
            return out;
        }
        const bool epochChanged = rb.epoch != cfg->epoch;
        bool resync = epochChanged;

        std::map<std::pair<std::string, int>, storage::OutboxItem> inOutbox;
        for (auto& o : need(store.outbox())) inOutbox[{o.recordId, o.revision}] = std::move(o);
        // The outbox row an outcome applies to: none when the revision has its receipt already, or when
        // a rejection finds it quarantined already (this receipt, or another answer, came before).
        auto seqOf = [&](const ReceiptPushItem& item, bool rejection) -> std::optional<std::int64_t> {
            auto it = inOutbox.find({item.id, item.revision});
            if (it == inOutbox.end() || (rejection && it->second.state == core::OutboxState::Quarantined))
                return std::nullopt;
            return it->second.seq;
        };

        // Every check first: a receipt that fails one changes nothing.
        std::vector<PlannedPush> plan;
        for (std::size_t n = 0; n < rb.pushes.size(); ++n) {
            const auto& p = rb.pushes[n];
            const std::string which = "push " + std::to_string(n + 1) + " of the receipt";
            PlannedPush pp;
            pp.batchId = p.batchId;
            if (p.status == 200 || p.status == 422) {
                PushResponse answer;
                try {
                    answer = PushResponse::fromJson(p.answer);
                } catch (const Failure& f) {
                    bad(which + ": " + f.error().message);
                }
                if (answer.batchId != p.batchId) bad(which + ": the answer is for another batch");
                if (answer.epoch != rb.epoch)
                    bad(which + ": the answer is from another epoch than the receipt");
                if (answer.results.size() != p.items.size())
                    bad(which + ": " + std::to_string(answer.results.size()) + " results for " +
                        std::to_string(p.items.size()) + " items");
                // HQ signed the hash of what it received. The laptop checks it against the bytes it sent,
                // rebuilt from its own copy exactly as the sender builds them (Store::sentRevision).
                std::vector<ReceiptItem> mine;
                for (const auto& item : p.items) {
                    auto rev = store.sentRevision(item.id, item.revision);
                    if (!rev) {
                        if (rev.error().code == ErrorCode::NotFound)
                            bad(which + " names report " + item.id + " r" + std::to_string(item.revision) +
                                ", which this laptop does not hold");
                        if (rev.error().code == ErrorCode::Conflict)
                            bad(which + " names report " + item.id + " r" + std::to_string(item.revision) +
                                ", a draft on this laptop");
                        throw Failure(rev.error());
                    }
                    mine.push_back(receiptItemOf(std::move(rev).value()));
                }
                auto sig = base64Decode(answer.signature);
                const bool hqHashes = std::all_of(p.items.begin(), p.items.end(),
                                                  [](const ReceiptPushItem& i) { return !i.hash.empty(); });
                if (hqHashes) {
                    // First HQ's signature over the hashes HQ names: a failure there is a damaged or forged
                    // receipt; then each hash against this laptop's: a difference is a disagreement about
                    // one report's bytes, named.
                    std::vector<ReceiptItem> theirs;
                    for (const auto& item : p.items) theirs.push_back({item.id, item.revision, item.hash});
                    if (!sig || !verify(*hqKey,
                                        receiptString(answer.batchId, answer.epoch, cfg->deviceId, theirs,
                                                      answer.results),
                                        *sig))
                        bad("HQ's signature on the receipt for batch " + answer.batchId +
                            " does not verify: the receipt is damaged or was not signed by this laptop's HQ");
                    for (std::size_t i = 0; i < mine.size(); ++i)
                        if (mine[i].hash != theirs[i].hash)
                            bad("HQ received report " + mine[i].id + " r" + std::to_string(mine[i].revision) +
                                " with other bytes than this laptop holds (HQ's hash " +
                                theirs[i].hash.substr(0, 12) + ", this laptop's " +
                                mine[i].hash.substr(0, 12) +
                                "): the report HQ acknowledges is not this laptop's; run 'outpostctl sync' "
                                "when a link is up, and tell HQ");
                }
                const std::string receipt =
                    receiptString(answer.batchId, answer.epoch, cfg->deviceId, mine, answer.results);
                if (!sig || !verify(*hqKey, receipt, *sig))
                    bad("HQ's signature on the receipt for batch " + answer.batchId +
                        " does not verify against this laptop's copies of its reports: the receipt is "
                        "damaged, or HQ and this laptop disagree about the reports' bytes");
                for (std::size_t i = 0; i < mine.size(); ++i) {
                    const auto& res = answer.results[i];
                    auto seq = seqOf(p.items[i], res.status == ItemStatus::Rejected);
                    if (!seq) {
                        ++out.alreadyDone;
                        continue;
                    }
                    pp.outcomes.push_back(outcomeOf(res, *seq, mine[i].hash));
                    countStatus(out, res.status);
                }
                pp.document =
                    json{{"batch", answer.batchId}, {"epoch", answer.epoch},   {"device", cfg->deviceId},
                         {"receipt", receipt},      {"sig", answer.signature}, {"bundle", rb.bundleId}}
                        .dump();
            } else if (isEpochChanged(p.status, p.answer)) {
                resync = true;
            } else if (p.status == 403 && errorOf(p.answer).first == "unit_mismatch") {
                // As over the network: the reports HQ names are quarantined, the others stay queued.
                std::set<std::string> named;
                if (auto it = p.answer.find("items"); it != p.answer.end() && it->is_array())
                    for (const auto& x : *it)
                        if (x.is_string()) named.insert(x.get<std::string>());
                for (const auto& item : p.items) {
                    auto seq = seqOf(item, named.count(item.id) > 0);
                    if (!seq) {
                        ++out.alreadyDone;
                        continue;
                    }
                    if (!named.count(item.id)) {
                        pp.failSeqs.push_back(*seq);
                        continue;
                    }
                    storage::PushOutcome o;
                    o.outboxSeq = *seq;
                    o.status = core::ItemStatus::Rejected;
                    o.reason = "HQ says this report belongs to another unit than this device's: " +
                               errorOf(p.answer).second;
                    pp.outcomes.push_back(std::move(o));
                    ++out.rejected;
                }
                pp.document = json{{"refusal", p.answer}, {"bundle", rb.bundleId}}.dump();
                pp.failure = describeAnswer(p.status, p.answer);
                out.notes.push_back(which + ": " + pp.failure);
            } else {
                for (const auto& item : p.items)
                    if (auto seq = seqOf(item, false)) pp.failSeqs.push_back(*seq);
                pp.failure = describeAnswer(p.status, p.answer);
                out.notes.push_back(which + ": " + pp.failure + " (its reports stay queued)");
            }
            out.failed += static_cast<std::int64_t>(pp.failSeqs.size());
            plan.push_back(std::move(pp));
        }
        std::optional<PullResponse> page;
        if (rb.pullStatus == 200) {
            try {
                page = PullResponse::fromJson(rb.pullAnswer);
            } catch (const Failure& f) {
                bad("the receipt's feed page: " + f.error().message);
            }
            if (page->epoch != rb.epoch)
                bad("the receipt's feed page is from another epoch than the receipt");
            if (page->next < rb.pullAfter) bad("the receipt's feed page goes back before its cursor");
        } else if (isEpochChanged(rb.pullStatus, rb.pullAnswer)) {
            resync = true;
        } else {
            out.notes.push_back("HQ's feed page: " + describeAnswer(rb.pullStatus, rb.pullAnswer));
        }

        // Then, as a sync over the network does: outcomes (each batch in one transaction), then either
        // the resync HQ asked for or the feed page.
        for (const auto& pp : plan) {
            if (!pp.outcomes.empty()) need(store.applyPushOutcomes(pp.batchId, pp.outcomes, pp.document));
            if (!pp.failSeqs.empty()) need(store.notePushFailure(pp.failSeqs, pp.failure));
        }
        if (resync) {
            need(store.beginResync(rb.epoch));
            out.resynced = true;
            const std::string why = epochChanged
                                        ? "HQ was restored from a backup (its epoch is now " + rb.epoch + ")"
                                        : "HQ no longer holds what this laptop last sent (it was restored)";
            out.notes.push_back(why +
                                ": every report it had acknowledged is queued again; export a new bundle");
            return out;
        }
        if (page) {
            const std::int64_t cursor = need(store.syncConfig())->pullCursor;
            if (rb.pullAfter > cursor) {
                // Entries between this laptop's cursor and the page's start would be skipped.
                out.pullSkipped = true;
                out.notes.push_back(
                    "HQ's feed page starts after this laptop's cursor; the next bundle brings it");
            } else if (page->next <= cursor) {
                out.pullSkipped = true;
            } else {
                std::vector<storage::PulledEntry> entries;
                for (auto& it : page->items)
                    if (it.seq > cursor) entries.push_back({it.seq, std::move(it.kind), std::move(it.body)});
                // The outcomes above are HQ's signed word on reports it holds and stand on their own: a
                // page this laptop refuses (an entry it cannot take) leaves the cursor where it was, as
                // a refused page over the network does, and is told, not thrown.
                auto applied = store.applyPull(entries, page->next, page->at);
                if (applied) {
                    out.pulled = static_cast<std::int64_t>(entries.size());
                    out.more = page->more;
                } else if (applied.error().domain == ErrorDomain::Storage) {
                    throw Failure(applied.error());
                } else {
                    out.pullRefused = true;
                    out.notes.push_back("HQ's feed page could not be applied (" + applied.error().message +
                                        "); the next bundle brings it again");
                }
            }
        }
        if (out.failed == 0 && rb.pullStatus == 200 && !out.pullRefused)
            need(store.setSyncStatus(core::nowTimestamp().utc, ""));
        return out;
    });
}

}  // namespace outpost::sync
