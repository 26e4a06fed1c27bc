// At-rest encryption with libsodium: key slots, payload sealing, search tokens.
#include "storage/crypto.hpp"

#include <sodium.h>

#include <cstring>
#include <mutex>

namespace outpost::storage {

namespace {
constexpr unsigned char kBlobVersion = 1;
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "OUTPOST1";
constexpr std::uint64_t kPayloadSubkey = 1;
constexpr std::uint64_t kSearchSubkey = 2;
constexpr std::uint64_t kAuditSubkey = 3;

Error cryptoError(ErrorCode c, std::string m) {
    return Error{ErrorDomain::Crypto, c, std::move(m)};
}
}  // namespace

void ensureSodium() {
    static std::once_flag once;
    static bool ok = false;
    std::call_once(once, [] { ok = sodium_init() >= 0; });
    if (!ok) throw Failure(cryptoError(ErrorCode::Internal, "libsodium failed to initialise"));
}

DataKey::DataKey() {
    ensureSodium();
    m_p = static_cast<unsigned char*>(sodium_malloc(kSize));
    if (!m_p) throw std::bad_alloc();
    sodium_memzero(m_p, kSize);
}

SecretBytes::~SecretBytes() {
    if (!b.empty()) sodium_memzero(b.data(), b.size());
}

void wipeSecret(std::string& s) noexcept {
    if (!s.empty()) sodium_memzero(s.data(), s.size());
}

DataKey::~DataKey() {
    sodium_free(m_p);
}

DataKey::DataKey(const DataKey& o) : DataKey() {
    std::memcpy(m_p, o.m_p, kSize);
}

DataKey& DataKey::operator=(const DataKey& o) {
    if (this != &o) std::memcpy(m_p, o.m_p, kSize);
    return *this;
}

DataKey DataKey::random() {
    DataKey k;
    randombytes_buf(k.m_p, kSize);
    return k;
}

DataKey DataKey::fromBytes(const unsigned char* p, std::size_t n) {
    if (n != kSize)
        throw Failure(cryptoError(ErrorCode::BadInput,
                                  "a store key must be exactly 32 bytes, got " + std::to_string(n)));
    DataKey k;
    std::memcpy(k.m_p, p, kSize);
    return k;
}

KdfParams KdfParams::interactive() {
    return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}
KdfParams KdfParams::moderate() {
    return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}

namespace {
DataKey deriveKek(std::string_view passphrase, const Bytes& salt, std::uint64_t ops, std::uint64_t mem) {
    if (salt.size() != crypto_pwhash_SALTBYTES)
        throw Failure(cryptoError(ErrorCode::Corrupt, "the key slot is damaged (bad salt length)"));
    if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_MAX ||
        mem < crypto_pwhash_MEMLIMIT_MIN || mem > (std::uint64_t{1} << 32))
        throw Failure(cryptoError(ErrorCode::Corrupt, "the key slot is damaged (bad Argon2id parameters)"));
    DataKey kek;
    if (crypto_pwhash(const_cast<unsigned char*>(kek.data()), DataKey::kSize, passphrase.data(),
                      passphrase.size(), salt.data(), ops, static_cast<std::size_t>(mem),
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        throw Failure(
            cryptoError(ErrorCode::Internal, "not enough memory to derive the key from the passphrase"));
    return kek;
}
}  // namespace

KeySlot wrapKey(const DataKey& key, std::string_view passphrase, const std::string& id, KdfParams params) {
    ensureSodium();
    if (passphrase.size() < kMinPassphraseLength)
        throw Failure(
            ErrorDomain::Input, ErrorCode::BadInput,
            "the passphrase must have at least " + std::to_string(kMinPassphraseLength) + " characters");
    KeySlot s;
    s.id = id;
    s.salt.resize(crypto_pwhash_SALTBYTES);
    randombytes_buf(s.salt.data(), s.salt.size());
    s.opsLimit = params.opsLimit;
    s.memLimit = params.memLimit;
    DataKey kek = deriveKek(passphrase, s.salt, s.opsLimit, s.memLimit);
    s.wrapped.resize(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + DataKey::kSize);
    randombytes_buf(s.wrapped.data(), crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(s.wrapped.data() + crypto_secretbox_NONCEBYTES, key.data(), DataKey::kSize,
                          s.wrapped.data(), kek.data());
    return s;
}

DataKey unwrapKey(const KeySlot& slot, std::string_view passphrase) {
    ensureSodium();
    if (slot.wrapped.size() != crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + DataKey::kSize)
        throw Failure(cryptoError(ErrorCode::Corrupt, "the key slot is damaged (bad length)"));
    DataKey kek = deriveKek(passphrase, slot.salt, slot.opsLimit, slot.memLimit);
    DataKey key;
    if (crypto_secretbox_open_easy(
            const_cast<unsigned char*>(key.data()), slot.wrapped.data() + crypto_secretbox_NONCEBYTES,
            slot.wrapped.size() - crypto_secretbox_NONCEBYTES, slot.wrapped.data(), kek.data()) != 0)
        throw Failure(ErrorDomain::Auth, ErrorCode::WrongKey, "wrong passphrase: the store stays locked");
    return key;
}

Codec::Codec(const DataKey& key) {
    ensureSodium();
    crypto_kdf_derive_from_key(const_cast<unsigned char*>(m_payloadKey.data()), DataKey::kSize,
                               kPayloadSubkey, kKdfContext, key.data());
    crypto_kdf_derive_from_key(const_cast<unsigned char*>(m_searchKey.data()), DataKey::kSize, kSearchSubkey,
                               kKdfContext, key.data());
    crypto_kdf_derive_from_key(const_cast<unsigned char*>(m_auditKey.data()), DataKey::kSize, kAuditSubkey,
                               kKdfContext, key.data());
}

std::string Codec::auditMac(std::string_view message) const {
    unsigned char h[32];
    crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       m_auditKey.data(), DataKey::kSize);
    return toHex(h);
}

Bytes Codec::seal(std::string_view plaintext, std::string_view ad) const {
    constexpr std::size_t nb = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    Bytes out(1 + nb + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    out[0] = kBlobVersion;
    randombytes_buf(out.data() + 1, nb);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out.data() + 1 + nb, &clen, reinterpret_cast<const unsigned char*>(plaintext.data()),
        plaintext.size(), reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
        out.data() + 1, m_payloadKey.data());
    out.resize(1 + nb + clen);
    return out;
}

std::string Codec::open(const Bytes& blob, std::string_view ad) const {
    constexpr std::size_t nb = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    constexpr std::size_t tag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    if (blob.size() < 1 + nb + tag || blob[0] != kBlobVersion)
        throw Failure(cryptoError(ErrorCode::Corrupt, "a sealed value is damaged (bad header)"));
    std::string out(blob.size() - 1 - nb - tag, '\0');
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(out.data()), &mlen,
                                                   nullptr, blob.data() + 1 + nb, blob.size() - 1 - nb,
                                                   reinterpret_cast<const unsigned char*>(ad.data()),
                                                   ad.size(), blob.data() + 1, m_payloadKey.data()) != 0)
        throw Failure(
            cryptoError(ErrorCode::Corrupt,
                        "a sealed value failed its authenticity check (altered, moved or another key)"));
    out.resize(mlen);
    return out;
}

std::string Codec::searchToken(std::string_view word) const {
    // 65 bits (13 base32 characters): two distinct words of a store of a million distinct words and
    // prefixes share a token with a probability under one in ten million.
    unsigned char h[9];
    crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(word.data()), word.size(),
                       m_searchKey.data(), DataKey::kSize);
    static const char* alphabet = "abcdefghijklmnopqrstuvwxyz234567";
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : h) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 5 && out.size() < 13) {
            out.push_back(alphabet[(acc >> (bits - 5)) & 31]);
            bits -= 5;
        }
    }
    return out;
}

// --- Encoding -----------------------------------------------------------------------------------

namespace {
std::string base64Encode(std::span<const unsigned char> b, int variant) {
    ensureSodium();
    std::string out(sodium_base64_ENCODED_LEN(b.size(), variant), '\0');
    sodium_bin2base64(out.data(), out.size(), b.data(), b.size(), variant);
    out.resize(std::char_traits<char>::length(out.c_str()));
    return out;
}
}  // namespace

std::string toBase64(const Bytes& b) {
    return base64Encode(b, sodium_base64_VARIANT_ORIGINAL);
}

std::string toBase64Url(const Bytes& b) {
    return base64Encode(b, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

std::optional<Bytes> fromBase64(std::string_view s) {
    ensureSodium();
    Bytes out(s.size());
    std::size_t len = 0;
    if (sodium_base642bin(out.data(), out.size(), s.data(), s.size(), nullptr, &len, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return std::nullopt;
    out.resize(len);
    return out;
}

std::optional<Bytes> fromAnyBase64(std::string_view s) {
    ensureSodium();
    std::string t(s);
    while (!t.empty() && t.back() == '=') t.pop_back();
    bool url = t.find_first_of("-_") != std::string::npos;
    Bytes out(t.size() * 3 / 4 + 3);
    size_t len = 0;
    const char* end = nullptr;
    int variant = url ? sodium_base64_VARIANT_URLSAFE_NO_PADDING : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    if (sodium_base642bin(out.data(), out.size(), t.data(), t.size(), nullptr, &len, &end, variant) != 0)
        return std::nullopt;
    if (end != t.data() + t.size()) return std::nullopt;
    out.resize(len);
    return out;
}

std::string toHex(std::span<const unsigned char> b) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(b.size() * 2);
    for (unsigned char c : b) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// --- Hashing and signing ------------------------------------------------------------------------

Bytes blake2b256(std::span<const unsigned char> data) {
    ensureSodium();
    Bytes out(crypto_generichash_BYTES);
    crypto_generichash(out.data(), out.size(), data.data(), data.size(), nullptr, 0);
    return out;
}

Bytes blake2b256(std::string_view data) {
    return blake2b256(std::span(reinterpret_cast<const unsigned char*>(data.data()), data.size()));
}

std::string blake2b256Hex(std::string_view data) {
    return toHex(blake2b256(data));
}

Bytes sign(std::span<const unsigned char> secretKey, std::string_view message) {
    ensureSodium();
    if (secretKey.size() != crypto_sign_SECRETKEYBYTES)
        throw Failure(ErrorDomain::Crypto, ErrorCode::BadInput, "a signing key must be 64 bytes");
    Bytes sig(crypto_sign_BYTES);
    crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                         message.size(), secretKey.data());
    return sig;
}

bool verify(std::span<const unsigned char> publicKey, std::string_view message,
            std::span<const unsigned char> signature) {
    ensureSodium();
    if (publicKey.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) return false;
    return crypto_sign_verify_detached(signature.data(),
                                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                       publicKey.data()) == 0;
}

}  // namespace outpost::storage
