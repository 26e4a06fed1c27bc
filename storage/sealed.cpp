// Sealed sensitive sections and HQ's conduct keys (libsodium: crypto_box_seal, XChaCha20-Poly1305, Ed25519).
//
// [SECTION] the published key list
// [SECTION] sealing
// [SECTION] conduct officers' key files
#include "storage/sealed.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "storage/recovery.hpp"

namespace outpost::storage {

namespace {

constexpr unsigned char kMagic[4] = {'O', 'P', 'S', '1'};
constexpr std::size_t kKeyIdBytes = 8;
constexpr std::size_t kWrappedKeyBytes = crypto_box_SEALBYTES + crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr std::size_t kRecipientBytes = kKeyIdBytes + kWrappedKeyBytes;
constexpr std::size_t kMaxRecipients = 16;
constexpr std::size_t kPadBlock = 256;
constexpr const char* kKeyListContext = "outpost conduct keys\n";
constexpr const char* kKeyFileTag = "outpost-conduct-key";

[[noreturn]] void bad(const std::string& m) {
    throw Failure(ErrorDomain::Input, ErrorCode::BadInput, m);
}

Bytes keyIdBytes(const Bytes& publicKey) {
    Bytes h = blake2b256(std::span(publicKey));
    h.resize(kKeyIdBytes);
    return h;
}

std::string hexOf(const unsigned char* p, std::size_t n) {
    return toHex(std::span(p, n));
}

std::string textMember(const json& j, const char* name, const std::string& where, bool optional = false) {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) {
        if (optional) return {};
        bad(where + " has no \"" + name + "\"");
    }
    if (!it->is_string() || it->get_ref<const std::string&>().size() > 4096)
        bad(where + ": \"" + name + "\" must be text");
    return it->get<std::string>();
}

Bytes publicKeyMember(const json& j, const std::string& where) {
    auto pk = fromBase64(textMember(j, "pk", where));
    if (!pk || pk->size() != crypto_box_PUBLICKEYBYTES) bad(where + ": \"pk\" is not a 32-byte base64 key");
    return *pk;
}

std::string keyListSigningString(const json& docWithoutSig) {
    return kKeyListContext + docWithoutSig.dump(-1, ' ', false, json::error_handler_t::strict);
}

}  // namespace

std::string conductKeyId(const Bytes& publicKey) {
    ensureSodium();
    Bytes id = keyIdBytes(publicKey);
    return hexOf(id.data(), id.size());
}

// [SECTION] the published key list
json conductKeyDocument(std::int64_t version, const std::vector<ConductKey>& keys) {
    json list = json::array();
    for (const auto& k : keys) {
        json e = {{"id", k.id}, {"name", k.name}, {"pk", toBase64(k.publicKey)}, {"added", k.addedUtc}};
        if (!k.retiredUtc.empty()) e["retired"] = k.retiredUtc;
        list.push_back(std::move(e));
    }
    return json{{"version", version}, {"keys", std::move(list)}};
}

json signConductKeyDocument(json doc, const Bytes& hqSigningSecretKey) {
    ensureSodium();
    if (hqSigningSecretKey.size() != crypto_sign_SECRETKEYBYTES) bad("HQ's signing key has the wrong length");
    doc.erase("sig");
    std::string message = keyListSigningString(doc);
    doc["sig"] = toBase64(sign(hqSigningSecretKey, message));
    return doc;
}

std::vector<ConductKey> ConductKeyList::active() const {
    std::vector<ConductKey> out;
    for (const auto& k : keys)
        if (k.active()) out.push_back(k);
    return out;
}

ConductKeyList readConductKeyDocument(const json& doc, const Bytes& hqSigningPublicKey) {
    ensureSodium();
    const std::string where = "HQ's conduct key list";
    if (!doc.is_object()) bad(where + " must be a JSON object");
    auto sig = fromBase64(textMember(doc, "sig", where));
    if (!sig || sig->size() != crypto_sign_BYTES) bad(where + ": \"sig\" is not a base64 Ed25519 signature");
    json unsigned_ = doc;
    unsigned_.erase("sig");
    std::string message = keyListSigningString(unsigned_);
    if (!verify(hqSigningPublicKey, message, *sig)) bad(where + " is not signed by this laptop's HQ");
    ConductKeyList out;
    auto v = doc.find("version");
    if (v == doc.end() || !v->is_number_integer() || v->get<std::int64_t>() < 1)
        bad(where + " needs a \"version\" of 1 or more");
    out.version = v->get<std::int64_t>();
    auto keys = doc.find("keys");
    if (keys == doc.end() || !keys->is_array()) bad(where + " needs a \"keys\" array");
    for (const auto& e : *keys) {
        if (!e.is_object()) bad(where + ": each key must be an object");
        ConductKey k;
        k.id = textMember(e, "id", where);
        std::string w = where + ", key " + k.id;
        k.name = textMember(e, "name", w);
        k.publicKey = publicKeyMember(e, w);
        if (conductKeyId(k.publicKey) != k.id) bad(w + ": the id does not match the public key");
        k.addedUtc = textMember(e, "added", w);
        k.retiredUtc = textMember(e, "retired", w, true);
        out.keys.push_back(std::move(k));
    }
    return out;
}

// [SECTION] sealing
std::string sealedContext(std::string_view recordId, int revision, std::string_view formId, int formVersion) {
    std::string s = "outpost sealed part\n";
    s.append(recordId);
    s += '\n' + std::to_string(revision) + '\n';
    s.append(formId);
    s += '\n' + std::to_string(formVersion);
    return s;
}

Bytes sealPart(const json& part, const std::vector<ConductKey>& recipients, std::string_view context) {
    ensureSodium();
    if (recipients.empty()) bad("a sensitive section needs at least one HQ conduct key to be sealed to");
    if (recipients.size() > kMaxRecipients)
        bad("a sensitive section can be sealed to at most " + std::to_string(kMaxRecipients) + " keys");
    DataKey contentKey = DataKey::random();
    Bytes out(kMagic, kMagic + 4);
    out.push_back(static_cast<unsigned char>(recipients.size()));
    for (const auto& r : recipients) {
        if (r.publicKey.size() != crypto_box_PUBLICKEYBYTES) bad("conduct key " + r.id + " is not 32 bytes");
        Bytes id = keyIdBytes(r.publicKey);
        out.insert(out.end(), id.begin(), id.end());
        std::size_t at = out.size();
        out.resize(at + kWrappedKeyBytes);
        crypto_box_seal(out.data() + at, contentKey.data(), DataKey::kSize, r.publicKey.data());
    }
    std::size_t headerSize = out.size();
    std::string text = part.dump(-1, ' ', false, json::error_handler_t::strict);
    SecretBytes plain{Bytes(text.begin(), text.end())};
    wipeSecret(text);
    std::size_t padded = 0;
    plain.b.resize(plain.b.size() + kPadBlock);
    if (sodium_pad(&padded, plain.b.data(), plain.b.size() - kPadBlock, kPadBlock, plain.b.size()) != 0)
        bad("the sensitive section could not be padded");
    plain.b.resize(padded);
    std::size_t nonceAt = out.size();
    out.resize(nonceAt + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    randombytes_buf(out.data() + nonceAt, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    Bytes ad(context.begin(), context.end());
    ad.insert(ad.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(headerSize));
    std::size_t ctAt = out.size();
    out.resize(ctAt + plain.b.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    unsigned long long ctLen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + ctAt, &ctLen, plain.b.data(), plain.b.size(),
                                               ad.data(), ad.size(), nullptr, out.data() + nonceAt,
                                               contentKey.data());
    out.resize(ctAt + ctLen);
    return out;
}

namespace {
struct Layout {
    std::size_t recipients = 0;
    std::size_t headerSize = 0;
};
Layout layoutOf(const Bytes& blob) {
    if (blob.size() < 5 || std::memcmp(blob.data(), kMagic, 4) != 0) bad("this is not a sealed section");
    Layout l;
    l.recipients = blob[4];
    if (l.recipients == 0 || l.recipients > kMaxRecipients) bad("a sealed section names no or too many keys");
    l.headerSize = 5 + l.recipients * kRecipientBytes;
    if (blob.size() < l.headerSize + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                          crypto_aead_xchacha20poly1305_ietf_ABYTES + kPadBlock)
        bad("a sealed section is truncated");
    return l;
}
}  // namespace

std::vector<std::string> sealedRecipients(const Bytes& blob) {
    Layout l = layoutOf(blob);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < l.recipients; ++i)
        out.push_back(hexOf(blob.data() + 5 + i * kRecipientBytes, kKeyIdBytes));
    return out;
}

json openPart(const Bytes& blob, const Bytes& publicKey, const DataKey& secretKey, std::string_view context) {
    ensureSodium();
    Layout l = layoutOf(blob);
    static_assert(DataKey::kSize == crypto_box_SECRETKEYBYTES);
    if (publicKey.size() != crypto_box_PUBLICKEYBYTES) bad("a conduct key's public key has the wrong length");
    Bytes id = keyIdBytes(publicKey);
    DataKey contentKey;
    bool found = false;
    for (std::size_t i = 0; i < l.recipients && !found; ++i) {
        const unsigned char* r = blob.data() + 5 + i * kRecipientBytes;
        if (std::memcmp(r, id.data(), kKeyIdBytes) != 0) continue;
        if (crypto_box_seal_open(const_cast<unsigned char*>(contentKey.data()), r + kKeyIdBytes,
                                 kWrappedKeyBytes, publicKey.data(), secretKey.data()) != 0)
            throw Failure(ErrorDomain::Crypto, ErrorCode::Corrupt,
                          "the sealed section's key copy was altered");
        found = true;
    }
    if (!found)
        throw Failure(ErrorDomain::Auth, ErrorCode::WrongKey,
                      "this sensitive section was not sealed to conduct key " + hexOf(id.data(), id.size()));
    const unsigned char* nonce = blob.data() + l.headerSize;
    const unsigned char* ct = nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    std::size_t ctLen = blob.size() - l.headerSize - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    Bytes ad(context.begin(), context.end());
    ad.insert(ad.end(), blob.begin(), blob.begin() + static_cast<std::ptrdiff_t>(l.headerSize));
    SecretBytes plain{Bytes(ctLen)};
    unsigned long long plainLen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.b.data(), &plainLen, nullptr, ct, ctLen, ad.data(),
                                                   ad.size(), nonce, contentKey.data()) != 0)
        throw Failure(ErrorDomain::Crypto, ErrorCode::Corrupt,
                      "the sealed section was altered or belongs to another revision");
    std::size_t unpadded = 0;
    if (sodium_unpad(&unpadded, plain.b.data(), plainLen, kPadBlock) != 0)
        throw Failure(ErrorDomain::Crypto, ErrorCode::Corrupt, "the sealed section's padding is damaged");
    json part =
        json::parse(plain.b.begin(), plain.b.begin() + static_cast<std::ptrdiff_t>(unpadded), nullptr, false);
    if (part.is_discarded() || !part.is_object())
        throw Failure(ErrorDomain::Crypto, ErrorCode::Corrupt,
                      "the sealed section does not hold a JSON object");
    return part;
}

// [SECTION] conduct officers' key files
NewConductKey makeConductKey(const std::string& name, std::string_view passphrase, const std::string& nowUtc,
                             KdfParams params) {
    ensureSodium();
    if (name.empty() || name.size() > 200) bad("a conduct key needs a name of 1 to 200 characters");
    NewConductKey out;
    out.key.name = name;
    out.key.addedUtc = nowUtc;
    out.key.publicKey.resize(crypto_box_PUBLICKEYBYTES);
    DataKey sk;
    crypto_box_keypair(out.key.publicKey.data(), const_cast<unsigned char*>(sk.data()));
    out.key.id = conductKeyId(out.key.publicKey);
    KeySlot slot = wrapKey(sk, passphrase, out.key.id, params);
    json file = {{"type", kKeyFileTag},
                 {"version", 1},
                 {"id", out.key.id},
                 {"name", name},
                 {"pk", toBase64(out.key.publicKey)},
                 {"added", nowUtc},
                 {"salt", toBase64(slot.salt)},
                 {"ops", slot.opsLimit},
                 {"mem", slot.memLimit},
                 {"wrapped", toBase64(slot.wrapped)}};
    out.fileText = file.dump(2) + "\n";
    return out;
}

ConductSecret openConductKeyFile(std::string_view fileText, std::string_view passphrase) {
    ensureSodium();
    const std::string where = "the conduct key file";
    json f = json::parse(fileText, nullptr, false);
    if (f.is_discarded() || !f.is_object() || f.value("type", std::string()) != kKeyFileTag)
        bad(where + " is not an Outpost conduct key file");
    ConductSecret out;
    out.key.id = textMember(f, "id", where);
    out.key.name = textMember(f, "name", where);
    out.key.addedUtc = textMember(f, "added", where, true);
    out.key.publicKey = publicKeyMember(f, where);
    if (conductKeyId(out.key.publicKey) != out.key.id) bad(where + ": the id does not match the public key");
    KeySlot slot;
    slot.id = out.key.id;
    auto salt = fromBase64(textMember(f, "salt", where));
    auto wrapped = fromBase64(textMember(f, "wrapped", where));
    if (!salt || !wrapped) bad(where + ": \"salt\" and \"wrapped\" must be base64");
    slot.salt = *salt;
    slot.wrapped = *wrapped;
    if (!f.contains("ops") || !f["ops"].is_number_unsigned() || !f.contains("mem") ||
        !f["mem"].is_number_unsigned())
        bad(where + ": \"ops\" and \"mem\" must be numbers");
    slot.opsLimit = f["ops"].get<std::uint64_t>();
    slot.memLimit = f["mem"].get<std::uint64_t>();
    try {
        out.secretKey = unwrapKey(slot, passphrase);
    } catch (const Failure& e) {
        if (e.error().code == ErrorCode::WrongKey)
            throw Failure(ErrorDomain::Auth, ErrorCode::WrongKey,
                          "wrong passphrase for conduct key " + out.key.id + " (" + out.key.name + ")");
        throw;
    }
    // The pair must match: a file whose public key was swapped would open nothing.
    Bytes pk(crypto_box_PUBLICKEYBYTES);
    crypto_scalarmult_base(pk.data(), out.secretKey.data());
    if (pk != out.key.publicKey) bad(where + ": the secret key does not belong to its public key");
    return out;
}

}  // namespace outpost::storage
