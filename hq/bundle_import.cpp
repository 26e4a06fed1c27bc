// Store-and-forward bundles, HQ's half (docs/protocol.md, "Store-and-forward bundles"): opening a
// laptop's bundle, running its requests through the network's handlers, and sealing the receipt.
//
// Nothing here decides what HQ stores: each request goes to HqService::handleBundle, with the network's
// checks and answers.
#include "hq/bundle_import.hpp"
#include "hq/memory_budget.hpp"

#include <sodium.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/time.hpp"
#include "core/uuid.hpp"
#include "storage/crypto.hpp"
#include "sync/bundle_detail.hpp"

namespace outpost::hq {

using namespace outpost::sync;
using namespace outpost::sync::bundle_detail;

namespace {

// A refusal the laptop could not act on: an error, and no receipt.
[[noreturn]] void refuse(const std::string& what, std::size_t before, int status, const json& body) {
    auto [code, message] = errorOf(body);
    ErrorDomain d = ErrorDomain::Internal;
    ErrorCode c = ErrorCode::Internal;
    if (status == 401 && code == "unknown_device") {
        d = ErrorDomain::NotFound;
        c = ErrorCode::NotFound;
    } else if (status == 401) {
        d = ErrorDomain::Auth;
        c = ErrorCode::BadInput;
    } else if (status == 403 || status == 409) {
        d = ErrorDomain::State;
        c = ErrorCode::Conflict;
    } else if (status == 503) {
        d = ErrorDomain::Storage;
        c = ErrorCode::Io;
    } else if (status == 426) {
        d = ErrorDomain::Protocol;
        c = ErrorCode::Conflict;
    }
    std::string m = what + ": " + describeAnswer(status, body) + "; no receipt was made";
    m += before > 0 ? "; the " + std::to_string(before) +
                          " push(es) before it were imported (importing the bundle again is harmless)"
                    : "; nothing was imported";
    throw Failure(d, c, m);
}

json answerJson(const Response& r) {
    std::string text = r.body;
    auto enc = r.headers.find("Content-Encoding");
    if (enc != r.headers.end() && enc->second == "zstd") text = zstdDecompress(text, kMaxBundleDocumentBytes);
    json j = json::parse(text, nullptr, false);
    if (!j.is_object())
        throw Failure(ErrorDomain::Internal, ErrorCode::Internal,
                      "HQ's handler answered " + std::to_string(r.status) + " without a JSON body");
    return j;
}

}  // namespace

Result<HqBundleImport> importBundle(HqService& service, std::string_view file) {
    return tryCatch([&]() -> HqBundleImport {
        const HqIdentity& identity = service.identity();
        const SignedDocument sd =
            splitSignedDocument(openBundleFile(kBundleMagic, identity.signing.secretKey, file));
        const DeviceBundle b = DeviceBundle::fromJson(documentJson(sd, "the bundle"));
        // The bundle id goes into HQ's audit log once the pushes are in: one it cannot keep is refused first.
        if (b.bundleId.find('\0') != std::string::npos)
            bad("the bundle's id contains a NUL character: nothing was imported");
        auto found = need(service.device(b.deviceId));
        if (!found)
            throw Failure(ErrorDomain::NotFound, ErrorCode::NotFound,
                          "the bundle is from device '" + b.deviceId +
                              "', which HQ does not know: nothing was imported");
        const storage::hq::Device device = *found;
        if (device.revoked)
            throw Failure(ErrorDomain::State, ErrorCode::Conflict,
                          "the bundle is from device " + device.id + " (unit " + device.unitId +
                              "), which HQ revoked: it is refused and nothing was imported");
        auto devicePublic = base64Decode(device.publicKey);
        if (!devicePublic || devicePublic->size() != crypto_sign_PUBLICKEYBYTES)
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                          "HQ's copy of device " + device.id + "'s key is damaged");
        if (!verifyDocument(kBundleSigningContext, sd, *devicePublic))
            throw Failure(ErrorDomain::Auth, ErrorCode::BadInput,
                          "the bundle's signature does not verify with device " + device.id +
                              "'s key: it was not made by that laptop; nothing was imported");
        if (b.hqId != identity.hqId)
            bad("the bundle is for HQ " + b.hqId + ", this is HQ " + identity.hqId +
                ": nothing was imported");

        HqBundleImport out;
        out.bundleId = b.bundleId;
        out.deviceId = device.id;
        out.unitId = device.unitId;
        ReceiptBundle rb;
        rb.bundleId = b.bundleId;
        rb.deviceId = device.id;
        rb.hqId = identity.hqId;
        rb.bundleEpoch = b.epoch;

        const Limits& limits = service.limits();
        for (std::size_t i = 0; i < b.pushes.size(); ++i) {
            const std::string which =
                "push " + std::to_string(i + 1) + " of " + std::to_string(b.pushes.size());
            const Response r = service.handleBundle(b.pushRequest(i));
            ReceiptPush rp;
            rp.status = r.status;
            rp.answer = answerJson(r);
            // Which revisions the push held, so the laptop can rebuild the receipt from its own copies: the
            // body decompressed and parsed again, within HQ's request memory budget like the handler's.
            MemoryBudget::Reservation memory(service.memoryBudget());
            Inflated body = inflateWithin(b.pushes[i].body, limits.maxUncompressedBytes, memory);
            const bool budgetFull =
                body.problem == Inflated::Problem::OverBudget ||
                body.problem == Inflated::Problem::NeverFits ||
                (body.problem == Inflated::Problem::None && !memory.grow(jsonParseCost(body.text)));
            if (budgetFull)
                throw Failure(ErrorDomain::Storage, ErrorCode::Busy,
                              which + ": HQ's request memory budget (" +
                                  std::to_string(service.memoryBudget().capacity() >> 20) +
                                  " MiB) has no room for it now; no receipt was made - import the bundle "
                                  "again later (importing it again is harmless)");
            if (body.problem == Inflated::Problem::None) {
                try {
                    PushRequest pr = PushRequest::fromJson(parseObject(body.text, limits.maxJsonDepth));
                    rp.batchId = pr.batchId;
                    for (const auto& e : pr.items) rp.items.push_back({e.id, e.revision, e.hash()});
                } catch (const Failure&) {
                    // A body HQ could not read: its answer (400) says so.
                }
            }
            if (r.status == 200 || r.status == 422) {
                const PushResponse answer = PushResponse::fromJson(rp.answer);
                // A batch answered before (this bundle, or one with the same push, was imported already)
                // gets the results recorded then: what they call stored was already there.
                const bool replayed = r.headers.count(kHeaderReplayed) > 0;
                if (replayed) ++out.replayed;
                for (const auto& res : answer.results) {
                    switch (res.status) {
                        case ItemStatus::Stored:
                            ++(replayed ? out.duplicates : out.stored);
                            break;
                        case ItemStatus::Duplicate:
                            ++out.duplicates;
                            break;
                        case ItemStatus::Conflict:
                            ++out.conflicts;
                            break;
                        case ItemStatus::Rejected:
                            ++out.rejected;
                            break;
                    }
                }
            } else {
                const std::string code = errorOf(rp.answer).first;
                // What the laptop acts on, as it would over the network; anything else stops here.
                if (code != "epoch_changed" && code != "unit_mismatch" && r.status != 400 && r.status != 413)
                    refuse(which, i, r.status, rp.answer);
                out.notes.push_back(which + ": " + describeAnswer(r.status, rp.answer));
            }
            rb.pushes.push_back(std::move(rp));
        }
        out.pushes = static_cast<std::int64_t>(b.pushes.size());

        const Response pr = service.handleBundle(b.pullRequest());
        rb.pullAfter = b.pull.after;
        rb.pullStatus = pr.status;
        rb.pullAnswer = answerJson(pr);
        if (pr.status == 200) {
            auto page = PullResponse::fromJson(rb.pullAnswer);
            out.pulled = static_cast<std::int64_t>(page.items.size());
            out.more = page.more;
        } else if (errorOf(rb.pullAnswer).first == "epoch_changed" || pr.status == 400) {
            out.notes.push_back("the feed page: " + describeAnswer(pr.status, rb.pullAnswer));
        } else {
            refuse("the feed page", b.pushes.size(), pr.status, rb.pullAnswer);
        }

        rb.epoch = need(service.epoch());
        rb.madeUtc = core::nowTimestamp().utc;
        if (out.replayed > 0)
            out.notes.push_back(
                std::to_string(out.replayed) + " of the " + std::to_string(out.pushes) +
                " push(es) had been imported before (this bundle, or a copy of it, came already): their "
                "reports were already there and nothing of them was stored again");
        need(service.audit(device.id, "bundle import", b.bundleId,
                           json{{"pushes", out.pushes},
                                {"replayed", out.replayed},
                                {"stored", out.stored},
                                {"duplicate", out.duplicates},
                                {"conflict", out.conflicts},
                                {"rejected", out.rejected},
                                {"pulled", out.pulled}}));
        // In the bundle's version: a laptop that wrote version 1 reads version 1 only, whose receipt items
        // are [id, revision] without HQ's hash.
        const bool v1 = bundleFileVersion(kBundleMagic, file) == 1;
        if (v1)
            for (auto& p : rb.pushes)
                for (auto& it : p.items) it.hash.clear();
        std::string plain = signDocument(kReceiptSigningContext, rb.toJson(), identity.signing.secretKey);
        out.receiptFile = sealBundleFile(v1 ? kReceiptMagicV1 : kReceiptMagic, *devicePublic, plain);
        storage::wipeSecret(plain);
        return out;
    });
}

}  // namespace outpost::hq
