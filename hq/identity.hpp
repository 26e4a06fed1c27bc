// HQ's data folder: its id, its receipt-signing key and its TLS certificate, made once and kept.
//
// Devices pin the TLS key and verify receipts with the signing key from their enrollment, so losing
// or replacing either cuts every enrolled device off: these files belong in every backup.
#pragma once

#include <string>
#include <vector>

#include "core/error.hpp"
#include "hq/service.hpp"
#include "storage/recovery.hpp"

namespace outpost::hq {

struct DataPaths {
    explicit DataPaths(const std::string& dataDir);
    std::string dir;
    std::string hqId;        // DIR/hq-id: the id HQ gives itself (text)
    std::string signingKey;  // DIR/hq-signing.key: Ed25519 secret key, base64 (mode 0600)
    std::string tlsCert;     // DIR/tls-cert.pem
    std::string tlsKey;      // DIR/tls-key.pem (mode 0600)
    // DIR/hq-recovery.key: X25519 secret key, base64 (mode 0600). Opens the recovery copies of the
    // laptops' data keys. Made with the identity, or on first load by an HQ from before recovery.
    std::string recoveryKey;
    // The identity files, in the order they are made.
    std::vector<std::string> identityFiles() const;
};

enum class IdentityState { Missing, Partial, Complete };
IdentityState identityState(const DataPaths& paths);

// Makes the folder (mode 0700) and a new identity in it. Conflict when any identity file exists
// already (an identity is never replaced silently); Storage errors when a file cannot be written.
Result<hq::HqIdentity> createIdentity(const std::string& dataDir);

// Reads the identity. NotFound when the folder was never initialised; Corrupt when a file is
// missing or unreadable (naming it).
Result<hq::HqIdentity> loadIdentity(const std::string& dataDir);

// HQ's recovery key pair (made when missing). Corrupt when the file is damaged.
Result<storage::RecoveryKeyPair> loadRecoveryKey(const std::string& dataDir);

}  // namespace outpost::hq
