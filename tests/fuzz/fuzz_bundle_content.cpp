// libFuzzer target: HQ's bundle importer (sync/bundle.hpp importBundle) past the envelope. The input is
// the bundle's document (JSON text); the target completes it as the enrolled laptop would, then signs it
// with the device key and seals it to HQ, so the fuzzed bytes reach the document's decoding, the device
// checks and the push and pull handlers. A receipt HQ makes must open and verify for the device.
//
// Placeholders the target fills in (the seed corpus uses them):
//   "device": "@device"                   the enrolled device's id
//   "epoch": "@epoch"                      HQ's epoch
//   a push {"push": {...}, "sig": "@sig"}  "body" becomes the zstd frame of "push", then signed
//   a push or the pull with "sig": "@sig"  the device's request signature over it
// Input that is not JSON is sealed as it is. With OUTPOST_FUZZ_WRITE_BUNDLE=<path> set, the sealed file of
// each input is written there (how the bundle_file target's seeds are made).
#include <cstdlib>
#include <fstream>

#include "fuzz_support.hpp"
#include "sync/bundle.hpp"

using namespace outpost;
using namespace outpost::sync;
using namespace outpost::hq;

namespace {

// The string member name of an object, or "" when it is missing or not a string (json::value throws
// for a member of another type, and the fuzzer writes any type anywhere).
std::string textOf(const json& j, const char* name) {
    auto it = j.find(name);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string complete(const fuzz::FuzzHq& h, json& doc) {
    if (textOf(doc, "device") == "@device") doc["device"] = h.deviceId;
    if (textOf(doc, "epoch") == "@epoch") doc["epoch"] = h.epoch;
    auto pushes = doc.find("pushes");
    if (pushes != doc.end() && pushes->is_array()) {
        for (auto& p : *pushes) {
            if (!p.is_object()) continue;
            if (auto inner = p.find("push"); inner != p.end()) {
                std::string frame =
                    zstdCompress(inner->dump(-1, ' ', false, json::error_handler_t::replace), 1);
                p["body"] = base64Encode(Bytes(frame.begin(), frame.end()));
                p.erase("push");
            }
            if (textOf(p, "sig") != "@sig" || !p.contains("body") || !p["body"].is_string()) continue;
            auto body = base64Decode(p["body"].get<std::string>());
            std::string nonce = textOf(p, "nonce");
            if (!body) continue;
            p["sig"] = base64Encode(
                sign(h.deviceKeys.secretKey, signingString("POST", "/v1/push", h.deviceId, nonce,
                                                           std::string(body->begin(), body->end()))));
        }
    }
    auto pull = doc.find("pull");
    if (pull != doc.end() && pull->is_object() && textOf(*pull, "sig") == "@sig") {
        auto after = pull->find("after");
        auto limit = pull->find("limit");
        if (after != pull->end() && limit != pull->end() && after->is_number_integer() &&
            limit->is_number_integer()) {
            BundledPull bp;
            bp.after = after->get<std::int64_t>();
            bp.limit = static_cast<int>(limit->get<std::int64_t>());
            (*pull)["sig"] =
                base64Encode(sign(h.deviceKeys.secretKey,
                                  signingString("GET", bp.target(), h.deviceId, textOf(*pull, "nonce"), "")));
        }
    }
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::FuzzHq& h = fuzz::hq();
    std::string text(fuzz::asText(data, size));
    json doc = json::parse(text, nullptr, false);
    if (!doc.is_discarded() && doc.is_object()) text = complete(h, doc);

    // Signed and sealed exactly as exportBundle does it.
    std::string frame = zstdCompress(text, 1);
    std::string message(kBundleSigningContext);
    message += frame;
    Bytes sig = sign(h.deviceKeys.secretKey, message);
    std::string plaintext(sig.begin(), sig.end());
    plaintext += frame;
    const std::string file = sealBundleFile(kBundleMagic, h.identity.signing.publicKey, plaintext);

    if (const char* out = std::getenv("OUTPOST_FUZZ_WRITE_BUNDLE"))
        std::ofstream(out, std::ios::binary) << file;

    auto r = importBundle(*h.service, file);
    if (!r.ok()) {
        if (auto problem = fuzz::bundleRefusalProblem(h, r.error()); !problem.empty()) fuzz::finding(problem);
        return 0;
    }
    // The receipt is for this device, from this HQ, and reads back.
    const SignedDocument sd =
        splitSignedDocument(openBundleFile(kReceiptMagic, h.deviceKeys.secretKey, r.value().receiptFile));
    if (!verifyDocument(kReceiptSigningContext, sd, h.identity.signing.publicKey)) std::abort();
    ReceiptBundle rb = ReceiptBundle::fromJson(documentJson(sd, "the receipt"));
    if (rb.deviceId != h.deviceId || rb.pushes.size() != static_cast<std::size_t>(r.value().pushes))
        std::abort();
    return 0;
}
