// HQ's half of passphrase recovery and the primitives both halves share (libsodium sealed boxes).
#include "storage/recovery.hpp"

#include <sodium.h>

#include <nlohmann/json.hpp>

namespace outpost::storage {

using json = nlohmann::json;

RecoveryKeyPair RecoveryKeyPair::generate() {
    ensureSodium();
    RecoveryKeyPair k;
    k.publicKey.resize(crypto_box_PUBLICKEYBYTES);
    k.secretKey.resize(crypto_box_SECRETKEYBYTES);
    crypto_box_keypair(k.publicKey.data(), k.secretKey.data());
    return k;
}

RecoveryKeyPair::~RecoveryKeyPair() {
    // A hand wipe: secretKey stays a plain Bytes member, as HQ's identity code and the tests build
    // and read it as one.
    if (!secretKey.empty()) sodium_memzero(secretKey.data(), secretKey.size());
}

Bytes sealDataKey(const DataKey& key, const Bytes& recoveryPublicKey) {
    ensureSodium();
    if (recoveryPublicKey.size() != crypto_box_PUBLICKEYBYTES)
        throw Failure(ErrorDomain::Input, ErrorCode::BadInput, "a recovery key must be a 32-byte X25519 key");
    Bytes out(crypto_box_SEALBYTES + DataKey::kSize);
    crypto_box_seal(out.data(), key.data(), DataKey::kSize, recoveryPublicKey.data());
    return out;
}

Result<RecoveryAnswer> answerRecoveryRequest(std::string_view requestText, const RecoveryKeyPair& hq) {
    return tryCatch([&]() -> RecoveryAnswer {
        auto bad = [](const std::string& why) {
            return Failure(ErrorDomain::Input, ErrorCode::BadInput,
                           "not an Outpost recovery request: " + why);
        };
        if (requestText.size() > 64 * 1024) throw bad("larger than 64 KiB");
        json j = json::parse(requestText, nullptr, false);
        if (j.is_discarded() || !j.is_object()) throw bad("not a JSON object");
        if (j.value("outpost_recovery_request", 0) != 1) throw bad("no \"outpost_recovery_request\": 1");
        auto text = [&](const char* k) {
            auto it = j.find(k);
            if (it == j.end() || !it->is_string()) throw bad(std::string("\"") + k + "\" is missing");
            return it->get<std::string>();
        };
        RecoveryAnswer a;
        a.storeId = text("store_id");
        a.unitId = text("unit_id");
        auto sealed = fromBase64(text("sealed_key"));
        auto reply = fromBase64(text("reply_key"));
        if (!sealed || sealed->size() != crypto_box_SEALBYTES + DataKey::kSize)
            throw bad("\"sealed_key\" is not a sealed 32-byte key");
        if (!reply || reply->size() != crypto_box_PUBLICKEYBYTES)
            throw bad("\"reply_key\" is not an X25519 key");
        if (hq.publicKey.size() != crypto_box_PUBLICKEYBYTES ||
            hq.secretKey.size() != crypto_box_SECRETKEYBYTES)
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "HQ's recovery key is damaged");
        DataKey key;
        if (crypto_box_seal_open(const_cast<unsigned char*>(key.data()), sealed->data(), sealed->size(),
                                 hq.publicKey.data(), hq.secretKey.data()) != 0)
            throw Failure(
                ErrorDomain::Crypto, ErrorCode::Corrupt,
                "the request's key was not sealed to this HQ's recovery key (another HQ, or altered)");
        json out = {{"outpost_recovery_response", 1},
                    {"store_id", a.storeId},
                    {"sealed_key", toBase64(sealDataKey(key, *reply))}};
        a.responseText = out.dump(2) + "\n";
        return a;
    });
}

}  // namespace outpost::storage
