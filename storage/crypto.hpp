// At-rest encryption: the data key, passphrase key slots (Argon2id) and the payload codec
// (XChaCha20-Poly1305); and the one copy of the basic primitives every room above uses: base64 and
// hex, BLAKE2b, Ed25519 signatures.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace outpost::storage {

using Bytes = std::vector<unsigned char>;

// Calls sodium_init once; throws Failure if libsodium cannot start. Safe from any thread.
void ensureSodium();

// The store's 32-byte data key, held in guarded memory and wiped when destroyed.
class DataKey {
public:
    static constexpr std::size_t kSize = 32;
    DataKey();  // all zero; see random() / fromBytes()
    ~DataKey();
    DataKey(const DataKey& o);
    DataKey& operator=(const DataKey& o);
    static DataKey random();
    static DataKey fromBytes(const unsigned char* p, std::size_t n);  // throws Failure when n != 32
    const unsigned char* data() const { return m_p; }

private:
    unsigned char* m_p;
};

// Key or passphrase bytes in an ordinary vector, wiped (sodium_memzero) when they go. Not copyable,
// so no unwiped copy is made by accident. For the store's data key use DataKey (guarded memory).
struct SecretBytes {
    Bytes b;
    SecretBytes() = default;
    explicit SecretBytes(Bytes v) : b(std::move(v)) {}
    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;
    ~SecretBytes();
};

// Overwrites the bytes with zeros in a way the compiler cannot skip (sodium_memzero). For secrets
// that live in a type of another library's choosing (a std::string from nlohmann or the codec), where
// SecretBytes cannot hold them.
void wipeSecret(std::string& s) noexcept;

// Cost of deriving a key from a passphrase. Interactive: ~0.1 s and 64 MiB on a field laptop.
struct KdfParams {
    std::uint64_t opsLimit;
    std::uint64_t memLimit;
    static KdfParams interactive();
    static KdfParams moderate();
};

// A passphrase-wrapped copy of the data key. Adding an account adds a slot; the data is not re-encrypted.
struct KeySlot {
    std::string id;
    Bytes salt;
    std::uint64_t opsLimit = 0;
    std::uint64_t memLimit = 0;
    Bytes wrapped;  // nonce || secretbox(data key)
};

constexpr std::size_t kMinPassphraseLength = 8;

// Throws Failure(Input) when the passphrase is too short.
KeySlot wrapKey(const DataKey& key, std::string_view passphrase, const std::string& id, KdfParams params);
// Throws Failure(Auth, WrongKey) when the passphrase is wrong.
DataKey unwrapKey(const KeySlot& slot, std::string_view passphrase);

// Seals and opens payloads. Each blob: version byte, 24-byte random nonce, ciphertext with a 16-byte tag.
// The associated data binds a blob to its row (record id and revision), so rows cannot be swapped.
// Thread-safe for concurrent use (immutable after construction).
class Codec {
public:
    explicit Codec(const DataKey& key);
    Bytes seal(std::string_view plaintext, std::string_view ad) const;
    // Throws Failure(Crypto, Corrupt) when the blob was altered, moved or sealed with another key.
    std::string open(const Bytes& blob, std::string_view ad) const;
    // A keyed, one-way token for the search index: equal words give equal tokens under one key only.
    std::string searchToken(std::string_view word) const;
    // Keyed BLAKE2b-256 (lower-case hex) under the audit subkey: anchors the audit log, so someone with
    // the file but not the passphrase cannot rewrite the chain consistently.
    std::string auditMac(std::string_view message) const;

private:
    DataKey m_payloadKey;
    DataKey m_searchKey;
    DataKey m_auditKey;
};

// --- Encoding. Pure functions of their input; any thread.

// Base64, standard alphabet, padded.
std::string toBase64(const Bytes& b);
// Base64, URL-safe alphabet, no padding.
std::string toBase64Url(const Bytes& b);
// Strict: standard alphabet with its padding, and nothing else; nullopt for anything other.
std::optional<Bytes> fromBase64(std::string_view s);
// Lenient, for what the protocol receives: either alphabet, padding optional; nullopt when a
// character is not base64.
std::optional<Bytes> fromAnyBase64(std::string_view s);
// Lower-case hex, two digits a byte.
std::string toHex(std::span<const unsigned char> b);

// --- Hashing and signing (libsodium). Any thread.

// Unkeyed BLAKE2b-256 (crypto_generichash, 32 bytes).
Bytes blake2b256(std::string_view data);
Bytes blake2b256(std::span<const unsigned char> data);
// The same as lower-case hex (64 characters).
std::string blake2b256Hex(std::string_view data);

// An Ed25519 detached signature (64 bytes). Throws Failure(Crypto, BadInput) unless the secret key
// is 64 bytes.
Bytes sign(std::span<const unsigned char> secretKey, std::string_view message);
// True when signature is publicKey's Ed25519 signature of message; false for keys or signatures of
// the wrong length.
bool verify(std::span<const unsigned char> publicKey, std::string_view message,
            std::span<const unsigned char> signature);

}  // namespace outpost::storage
