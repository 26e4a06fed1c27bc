// libFuzzer target: sealed sensitive sections and HQ's conduct key list (storage/sealed.hpp,
// core/sensitive.hpp). Input: one mode byte, then the bytes.
//   mode 0: a sealed part as received at HQ or read back from a store: its recipients, then an attempt to
//           open it with a fixed conduct key
//   mode 1: a conduct key list's JSON, signed here with a fixed HQ key (so the fields behind the signature
//           check are reached), then read as a laptop does
//   mode 2: a conduct key list's JSON as received (the signature check itself)
//   mode 3: a payload's JSON: the sensitive section taken out, sealed to the fixed key, opened and put
//           back, which must give the payload again
#include <sodium.h>

#include <cstdlib>

#include "core/sensitive.hpp"
#include "fuzz_support.hpp"
#include "storage/sealed.hpp"

using namespace outpost;
using json = nlohmann::json;

namespace {

struct ConductPair {
    storage::ConductKey key;
    storage::DataKey secret;
    ConductPair() {
        storage::ensureSodium();
        unsigned char seed[crypto_box_SEEDBYTES];
        std::fill(std::begin(seed), std::end(seed), static_cast<unsigned char>(0x5c));
        key.publicKey.resize(crypto_box_PUBLICKEYBYTES);
        crypto_box_seed_keypair(key.publicKey.data(), const_cast<unsigned char*>(secret.data()), seed);
        key.id = storage::conductKeyId(key.publicKey);
        key.name = "fuzz officer";
        key.addedUtc = "2026-11-28T00:00:00Z";
    }
};

const ConductPair& conduct() {
    static ConductPair p;
    return p;
}

const std::string kContext = storage::sealedContext("01a22053-edf2-7722-abc6-7048fe76ac8d", 1, "incident", 1);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view bytes = fuzz::asText(data + 1, size - 1);
    try {
        switch (data[0] % 4) {
            case 0: {
                storage::Bytes blob(data + 1, data + size);
                (void)storage::sealedRecipients(blob);
                (void)storage::openPart(blob, conduct().key.publicKey, conduct().secret, kContext);
                break;
            }
            case 1:
            case 2: {
                json doc = json::parse(bytes, nullptr, false);
                if (doc.is_discarded() || !doc.is_object()) return 0;
                static const auto hq = fuzz::fixedKeys(0x33);
                if (data[0] % 4 == 1) doc = storage::signConductKeyDocument(std::move(doc), hq.secretKey);
                auto list = storage::readConductKeyDocument(doc, hq.publicKey);
                // What a laptop keeps must read back the same through HQ's writer.
                auto again = storage::readConductKeyDocument(
                    storage::signConductKeyDocument(storage::conductKeyDocument(list.version, list.keys),
                                                    hq.secretKey),
                    hq.publicKey);
                if (again.keys.size() != list.keys.size() || again.active().size() != list.active().size())
                    std::abort();
                break;
            }
            default: {
                json payload = json::parse(bytes, nullptr, false);
                if (payload.is_discarded() || !payload.is_object()) return 0;
                const auto& form = *fuzz::builtinRegistry().latest("incident");
                json original = payload;
                json part = core::takeSensitive(form, payload);
                if (!core::sensitivePathsWithValues(form, payload).empty()) std::abort();
                if (part.empty()) break;
                auto blob = storage::sealPart(part, {conduct().key}, kContext);
                json opened = storage::openPart(blob, conduct().key.publicKey, conduct().secret, kContext);
                if (opened != part) std::abort();
                json back = payload;
                core::putSensitive(form, back, opened);
                json partAgain = core::takeSensitive(form, back);
                if (partAgain != part) std::abort();
                break;
            }
        }
    } catch (const Failure&) {
        // Refused with a reason: what bad input must get.
    }
    return 0;
}
