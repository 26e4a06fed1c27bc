// Sealed sensitive sections: a record's sensitive fields encrypted on the laptop to the public keys of
// HQ's conduct-and-discipline role, so that neither the laptop (once HQ has them) nor HQ staff without
// that role can read them. Also the signed list of those keys HQ publishes, and the passphrase-protected
// key file each conduct officer at HQ holds. Pure crypto and JSON: no SQL, no HTTP.
// (docs/security.md, "Sealed sensitive sections"; docs/protocol.md, "Sealed parts".)
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "storage/crypto.hpp"

namespace outpost::storage {

using json = nlohmann::json;

// A public key of HQ's conduct-and-discipline role (X25519, libsodium crypto_box).
struct ConductKey {
    std::string id;  // 16 hex characters: the first 8 bytes of BLAKE2b-256(public key)
    std::string name;
    Bytes publicKey;  // 32 bytes
    std::string addedUtc;
    std::string retiredUtc;  // empty while the key is in use
    bool active() const { return retiredUtc.empty(); }
};

std::string conductKeyId(const Bytes& publicKey);

// The list HQ publishes in its feed ("conduct-keys"), signed with HQ's Ed25519 key:
//   {"version": n, "keys": [{"id", "name", "pk", "added", "retired"?}], "sig": base64}
// version grows with each change; the signature covers the document without "sig", dumped canonically.
json conductKeyDocument(std::int64_t version, const std::vector<ConductKey>& keys);
json signConductKeyDocument(json doc, const Bytes& hqSigningSecretKey);
// Checks the signature with HQ's public key (32 bytes) and reads the keys. Throws Failure(Input,
// BadInput) naming what is wrong (a bad signature included).
struct ConductKeyList {
    std::int64_t version = 0;
    std::vector<ConductKey> keys;  // retired ones included
    std::vector<ConductKey> active() const;
};
ConductKeyList readConductKeyDocument(const json& doc, const Bytes& hqSigningPublicKey);

// What a sealed part is bound to: the revision it belongs to. A part moved to another record or
// revision does not open.
std::string sealedContext(std::string_view recordId, int revision, std::string_view formId, int formVersion);

// Seals part (a JSON object) to every recipient. The result (docs/protocol.md, "Sealed parts"):
//   "OPS1" | n (1 byte) | n x (key id, 8 bytes | crypto_box_seal(content key), 80 bytes)
//   | nonce (24 bytes) | XChaCha20-Poly1305(padded JSON text; associated data: context + the bytes before)
// The JSON text is padded to a multiple of 256 bytes, so the size says little about the content.
// Throws Failure(Input, BadInput) when there is no recipient or more than 16.
Bytes sealPart(const json& part, const std::vector<ConductKey>& recipients, std::string_view context);

// The key ids a sealed part was sealed to. Throws Failure(Input, BadInput) when blob is not a sealed part.
std::vector<std::string> sealedRecipients(const Bytes& blob);

// Opens a sealed part with one recipient's key pair. Failure(Auth, WrongKey) when the part was not sealed
// to this key; Failure(Crypto, Corrupt) when it was altered or belongs to another context.
json openPart(const Bytes& blob, const Bytes& publicKey, const DataKey& secretKey, std::string_view context);

// A conduct officer's key at HQ: the X25519 key pair, the secret wrapped with the officer's passphrase
// (Argon2id), in a JSON file the officer keeps (never in HQ's data folder).
struct ConductSecret {
    ConductKey key;
    DataKey secretKey;  // 32 bytes, wiped when destroyed
};
struct NewConductKey {
    ConductKey key;
    std::string fileText;  // the key file to write
};
// Makes a key pair and its file. Throws Failure(Input) for a passphrase shorter than 8 characters.
NewConductKey makeConductKey(const std::string& name, std::string_view passphrase, const std::string& nowUtc,
                             KdfParams params = KdfParams::moderate());
// Reads a key file. Failure(Input, BadInput) when it is not one; Failure(Auth, WrongKey) for a wrong
// passphrase.
ConductSecret openConductKeyFile(std::string_view fileText, std::string_view passphrase);

}  // namespace outpost::storage
