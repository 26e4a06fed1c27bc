// Recovery of a lost passphrase through HQ: the recovery key pair, the sealed copy of the data key,
// and HQ's answer to a laptop's recovery request (docs/operations.md, "Recovering a lost passphrase").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "storage/crypto.hpp"

namespace outpost::storage {

// HQ's X25519 key pair for recovery (crypto_box). The secret key never leaves HQ's data folder.
struct RecoveryKeyPair {
    Bytes publicKey;  // 32 bytes
    Bytes secretKey;  // 32 bytes
    static RecoveryKeyPair generate();
    ~RecoveryKeyPair();  // wipes the secret key
};

// The data key sealed (crypto_box_seal) to a recovery public key. Throws Failure(Input) on a bad key.
Bytes sealDataKey(const DataKey& key, const Bytes& recoveryPublicKey);

// What HQ learned from a request (for its log and the admin's screen), and the response to carry back.
struct RecoveryAnswer {
    std::string storeId;
    std::string unitId;
    std::string responseText;
};

// Opens the sealed data key of a request with HQ's recovery key pair and re-seals it to the request's
// one-time reply key. BadInput for a malformed request; Crypto/Corrupt when it was not sealed to this
// HQ's recovery key.
Result<RecoveryAnswer> answerRecoveryRequest(std::string_view requestText, const RecoveryKeyPair& hq);

}  // namespace outpost::storage
