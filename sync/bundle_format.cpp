// Store-and-forward bundles, the file format both ends share (docs/protocol.md, "Store-and-forward
// bundles"): sealing to the recipient, signing by the sender, the two documents, and the files on disk.
//
// [SECTION] sealing and signing
// [SECTION] documents
// [SECTION] files on disk
#include "sync/bundle_format.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "storage/crypto.hpp"
#include "storage/durable_file.hpp"
#include "sync/bundle_detail.hpp"

namespace outpost::sync {

using namespace bundle_detail;

// [SECTION] sealing and signing

Bytes x25519PublicKey(const Bytes& ed25519PublicKey) {
    storage::ensureSodium();
    Bytes out(crypto_box_PUBLICKEYBYTES);
    if (ed25519PublicKey.size() != crypto_sign_PUBLICKEYBYTES ||
        crypto_sign_ed25519_pk_to_curve25519(out.data(), ed25519PublicKey.data()) != 0)
        throw Failure(ErrorDomain::Crypto, ErrorCode::BadInput, "the key is not a usable Ed25519 public key");
    return out;
}

std::string recipientKeyId(const Bytes& ed25519PublicKey) {
    Bytes x = x25519PublicKey(ed25519PublicKey);
    Bytes h = blake2b256(std::string_view(reinterpret_cast<const char*>(x.data()), x.size()));
    h.resize(8);
    return hex(h);
}

namespace {

// A file kind (bundle or receipt): its magic lines, newest first, and where such a file is imported.
struct FileKind {
    std::string_view v2, v1;
    std::string kind, recipient, importer;
};

FileKind fileKind(std::string_view magic) {
    if (magic == kBundleMagic || magic == kBundleMagicV1)
        return {kBundleMagic, kBundleMagicV1, "bundle", "HQ",
                "HQ imports it with 'outpost-hq import-bundle'"};
    if (magic == kReceiptMagic || magic == kReceiptMagicV1)
        return {kReceiptMagic, kReceiptMagicV1, "receipt", "laptop",
                "import it on the laptop with 'outpostctl bundle import'"};
    throw Failure(ErrorDomain::Internal, ErrorCode::Internal, "not a bundle file's magic line");
}

std::string magicName(std::string_view magic) {
    return std::string(magic.substr(0, magic.size() - 1));
}

// The header check of a version 2 file: over the magic line and "<key id> <length>".
std::string headerCheck(std::string_view magic, std::string_view fields) {
    std::string text(magic);
    text += fields;
    Bytes h = blake2b256(text);
    h.resize(8);
    return hex(h);
}

}  // namespace

int bundleFileVersion(std::string_view magic, std::string_view file) {
    const FileKind k = fileKind(magic);
    if (file.substr(0, k.v2.size()) == k.v2) return 2;
    if (file.substr(0, k.v1.size()) == k.v1) return 1;
    return 0;
}

std::string sealBundleFile(std::string_view magic, const Bytes& recipientSignPublicKey,
                           std::string_view plaintext) {
    const FileKind k = fileKind(magic);
    Bytes pk = x25519PublicKey(recipientSignPublicKey);
    std::string box(plaintext.size() + crypto_box_SEALBYTES, '\0');
    if (crypto_box_seal(reinterpret_cast<unsigned char*>(box.data()),
                        reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                        pk.data()) != 0)
        throw Failure(ErrorDomain::Crypto, ErrorCode::Internal, "sealing the bundle failed");
    const std::string fields = recipientKeyId(recipientSignPublicKey) + " " + std::to_string(box.size());
    std::string file(magic);
    file += fields;
    if (magic == k.v2) file += " " + headerCheck(magic, fields);
    file += "\n";
    file += box;
    return file;
}

std::string openBundleFile(std::string_view magic, const Bytes& recipientSignSecretKey,
                           std::string_view file) {
    storage::ensureSodium();
    const FileKind k = fileKind(magic);
    const FileKind other = fileKind(k.kind == "bundle" ? kReceiptMagic : kBundleMagic);
    const std::string& kind = k.kind;
    const std::string& recipient = k.recipient;
    const int version = bundleFileVersion(magic, file);
    if (version == 0) {
        if (int v = bundleFileVersion(other.v2, file); v != 0)
            bad(k.kind == "bundle"
                    ? "this is a receipt for a laptop (" + magicName(v == 2 ? other.v2 : other.v1) +
                          "), not a bundle for HQ: " + other.importer
                    : "this is a bundle for HQ (" + magicName(v == 2 ? other.v2 : other.v1) +
                          "), not a receipt: " + other.importer);
        if (file.empty()) bad("the file is empty: it is not an Outpost " + kind);
        // "OUTPOST-BUNDLE/" and a version this build does not know.
        const std::string_view family = k.v2.substr(0, k.v2.find('/') + 1);
        if (file.substr(0, family.size()) == family) {
            const auto nl = file.find('\n');
            std::string_view line = file.substr(0, std::min<std::size_t>(nl, family.size() + 8));
            bool printable =
                std::all_of(line.begin(), line.end(), [](char c) { return c > ' ' && c < 0x7f; });
            bad("this " + kind + "'s format (" + (printable ? std::string(line) : magicName(family) + "?") +
                ") is not one this Outpost reads (" + magicName(k.v1) + " or " + magicName(k.v2) +
                "): it was made by a newer Outpost, or its first line is damaged");
        }
        bad("not an Outpost " + kind + ": the file does not start with " + magicName(k.v2) + " (or " +
            magicName(k.v1) + ")");
    }
    const std::string_view fileMagic = version == 2 ? k.v2 : k.v1;
    const std::string damagedHeader =
        "the " + kind + "'s header line is damaged (the file is cut short or altered)";
    std::string_view rest = file.substr(fileMagic.size());
    const auto nl = rest.find('\n');
    if (nl == std::string_view::npos || nl > 64) bad(damagedHeader);
    std::string_view header = rest.substr(0, nl);
    if (version == 2) {
        // Nothing in the header is trusted before its check passes.
        const auto last = header.rfind(' ');
        if (last == std::string_view::npos || !isHexId(header.substr(last + 1)) ||
            headerCheck(fileMagic, header.substr(0, last)) != header.substr(last + 1))
            bad("the " + kind +
                "'s header line is damaged: its check does not match what it says (the file "
                "was altered or damaged in copying; copy it again from the original, or make it again)");
        header = header.substr(0, last);
    }
    const auto space = header.find(' ');
    const std::string_view keyId = header.substr(0, space);
    std::uint64_t declared = 0;
    bool sizeOk = space != std::string_view::npos && space + 1 < header.size();
    if (sizeOk)
        for (char c : header.substr(space + 1)) {
            if (c < '0' || c > '9' || declared > kMaxBundleFileBytes) {
                sizeOk = false;
                break;
            }
            declared = declared * 10 + static_cast<std::uint64_t>(c - '0');
        }
    if (!isHexId(keyId) || !sizeOk || declared < crypto_box_SEALBYTES) bad(damagedHeader);

    SecretBytes edPublic(Bytes(crypto_sign_PUBLICKEYBYTES));
    if (recipientSignSecretKey.size() != crypto_sign_SECRETKEYBYTES ||
        crypto_sign_ed25519_sk_to_pk(edPublic.b.data(), recipientSignSecretKey.data()) != 0)
        throw Failure(ErrorDomain::Crypto, ErrorCode::Corrupt, "the " + recipient + "'s own key is damaged");
    const std::string mine = recipientKeyId(edPublic.b);
    if (keyId != mine) {
        const std::string keys =
            " (key " + std::string(keyId) + "; this " + recipient + "'s key is " + mine + ")";
        if (version == 2)
            bad("this " + kind + " was sealed for another " + recipient + keys +
                ": it cannot be opened here");
        // Version 1 has no header check: a damaged key id and another recipient's look the same.
        bad("this " + kind + " names another " + recipient + "'s key" + keys +
            ": it was sealed for another " + recipient + ", or its header was damaged; a " + magicName(k.v1) +
            " file has no header check to tell which (copy it again from the original: if it still says "
            "so, it is for another " +
            recipient + ")");
    }
    const std::string_view box = rest.substr(nl + 1);
    if (box.size() < declared)
        bad("the " + kind + " is truncated: it holds " + std::to_string(box.size()) + " of its " +
            std::to_string(declared) + " sealed bytes (copy it again from the original)");
    if (box.size() > declared)
        bad("the " + kind + " has " + std::to_string(box.size() - declared) +
            " byte(s) after its end: it was altered or damaged");

    SecretBytes xSecret(Bytes(crypto_box_SECRETKEYBYTES));
    Bytes xPublic = x25519PublicKey(edPublic.b);
    if (crypto_sign_ed25519_sk_to_curve25519(xSecret.b.data(), recipientSignSecretKey.data()) != 0)
        throw Failure(ErrorDomain::Crypto, ErrorCode::Corrupt, "the " + recipient + "'s own key is damaged");
    std::string plain(box.size() - crypto_box_SEALBYTES, '\0');
    if (crypto_box_seal_open(reinterpret_cast<unsigned char*>(plain.data()),
                             reinterpret_cast<const unsigned char*>(box.data()), box.size(), xPublic.data(),
                             xSecret.b.data()) != 0)
        bad("the " + kind + " was altered or damaged: its sealed content does not authenticate with this " +
            recipient + "'s key");
    return plain;
}

std::string signDocument(std::string_view context, const json& document, const Bytes& signSecretKey) {
    std::string frame = zstdCompress(document.dump(), 3);
    std::string message(context);
    message += frame;
    Bytes sig = sign(signSecretKey, message);
    return toText(sig) + frame;
}

SignedDocument splitSignedDocument(std::string_view plaintext) {
    if (plaintext.size() <= crypto_sign_BYTES) bad("the sealed content is too short to be signed content");
    SignedDocument d;
    d.signature = toBytes(plaintext.substr(0, crypto_sign_BYTES));
    d.frame = std::string(plaintext.substr(crypto_sign_BYTES));
    return d;
}

bool verifyDocument(std::string_view context, const SignedDocument& d, const Bytes& signPublicKey) {
    std::string message(context);
    message += d.frame;
    return verify(signPublicKey, message, d.signature);
}

json documentJson(const SignedDocument& d, const char* what) {
    try {
        return parseObject(zstdDecompress(d.frame, kMaxBundleDocumentBytes), Limits{}.maxJsonDepth);
    } catch (const Failure& f) {
        bad(std::string(what) + " does not hold an Outpost document: " + f.error().message);
    }
}

// [SECTION] documents

std::string BundledPull::target() const {
    return "/v1/pull?after=" + std::to_string(after) + "&limit=" + std::to_string(limit);
}

json DeviceBundle::toJson() const {
    json ps = json::array();
    for (const auto& p : pushes)
        ps.push_back({{"nonce", p.nonce}, {"sig", p.signature}, {"body", base64Encode(toBytes(p.body))}});
    return json{
        {"kind", "bundle"},
        {"bundle", bundleId},
        {"device", deviceId},
        {"hq_id", hqId},
        {"made", madeUtc},
        {"epoch", epoch},
        {"last_receipt", lastReceipt},
        {"pushes", std::move(ps)},
        {"pull",
         {{"after", pull.after}, {"limit", pull.limit}, {"nonce", pull.nonce}, {"sig", pull.signature}}}};
}

DeviceBundle DeviceBundle::fromJson(const json& j) {
    const char* where = "the bundle";
    if (text(j, "kind", where) != "bundle") bad("the bundle's document is not a laptop's bundle");
    DeviceBundle b;
    b.bundleId = text(j, "bundle", where);
    b.deviceId = text(j, "device", where);
    b.hqId = text(j, "hq_id", where);
    b.madeUtc = text(j, "made", where, true);
    b.epoch = text(j, "epoch", where, true);
    b.lastReceipt = text(j, "last_receipt", where, true);
    for (const auto& p : array(j, "pushes", where)) {
        BundledPush bp;
        bp.nonce = text(p, "nonce", "a bundled push");
        bp.signature = text(p, "sig", "a bundled push");
        auto body = base64Decode(text(p, "body", "a bundled push"));
        if (!body) bad("a bundled push: \"body\" is not base64");
        bp.body = toText(*body);
        b.pushes.push_back(std::move(bp));
    }
    const json& pull = member(j, "pull", where);
    b.pull.after = integer(pull, "after", "the bundled pull", 0, INT64_MAX);
    b.pull.limit = static_cast<int>(integer(pull, "limit", "the bundled pull", 1, 1000000));
    b.pull.nonce = text(pull, "nonce", "the bundled pull");
    b.pull.signature = text(pull, "sig", "the bundled pull");
    return b;
}

namespace {
Request bundledRequest(const DeviceBundle& b, std::string method, std::string target,
                       const std::string& nonce, const std::string& signature) {
    Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers["outpost-protocol"] = std::to_string(kProtocolVersion);
    r.headers["outpost-device"] = b.deviceId;
    r.headers["outpost-nonce"] = nonce;
    r.headers["outpost-signature"] = signature;
    if (!b.epoch.empty()) r.headers["outpost-epoch"] = b.epoch;
    if (!b.lastReceipt.empty()) r.headers["outpost-last-receipt"] = b.lastReceipt;
    return r;
}
}  // namespace

Request DeviceBundle::pushRequest(std::size_t i) const {
    const auto& p = pushes.at(i);
    Request r = bundledRequest(*this, "POST", "/v1/push", p.nonce, p.signature);
    r.headers["content-type"] = "application/json";
    r.headers["content-encoding"] = "zstd";
    r.body = p.body;
    return r;
}

Request DeviceBundle::pullRequest() const {
    return bundledRequest(*this, "GET", pull.target(), pull.nonce, pull.signature);
}

namespace {

bool isHexHash(const json& v) {
    if (!v.is_string()) return false;
    const auto& h = v.get_ref<const std::string&>();
    return h.size() == 64 && std::all_of(h.begin(), h.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

}  // namespace

json ReceiptBundle::toJson() const {
    json ps = json::array();
    for (const auto& p : pushes) {
        json items = json::array();
        for (const auto& it : p.items)
            items.push_back(it.hash.empty() ? json::array({it.id, it.revision})
                                            : json::array({it.id, it.revision, it.hash}));
        ps.push_back(
            {{"status", p.status}, {"batch", p.batchId}, {"items", std::move(items)}, {"answer", p.answer}});
    }
    return json{{"kind", "receipt"},
                {"bundle", bundleId},
                {"device", deviceId},
                {"hq_id", hqId},
                {"epoch", epoch},
                {"bundle_epoch", bundleEpoch},
                {"made", madeUtc},
                {"pushes", std::move(ps)},
                {"pull", {{"after", pullAfter}, {"status", pullStatus}, {"answer", pullAnswer}}}};
}

ReceiptBundle ReceiptBundle::fromJson(const json& j) {
    const char* where = "the receipt";
    if (text(j, "kind", where) != "receipt") bad("the receipt's document is not HQ's receipt");
    ReceiptBundle r;
    r.bundleId = text(j, "bundle", where);
    r.deviceId = text(j, "device", where);
    r.hqId = text(j, "hq_id", where);
    r.epoch = text(j, "epoch", where);
    r.bundleEpoch = text(j, "bundle_epoch", where, true);
    r.madeUtc = text(j, "made", where, true);
    for (const auto& p : array(j, "pushes", where)) {
        ReceiptPush rp;
        rp.status = static_cast<int>(integer(p, "status", "a receipt push", 100, 599));
        rp.batchId = text(p, "batch", "a receipt push", true);
        for (const auto& it : array(p, "items", "a receipt push")) {
            if (!it.is_array() || it.size() < 2 || it.size() > 3 || !it[0].is_string() ||
                !it[1].is_number_integer() || it[1].get<std::int64_t>() < 1 ||
                it[1].get<std::int64_t>() > 1000000 || (it.size() == 3 && !isHexHash(it[2])))
                bad("a receipt push: each of \"items\" must be [record id, revision, hash] (the hash 64 "
                    "lower-case hex digits)");
            rp.items.push_back({it[0].get<std::string>(), it[1].get<int>(),
                                it.size() == 3 ? it[2].get<std::string>() : std::string()});
        }
        rp.answer = member(p, "answer", "a receipt push");
        r.pushes.push_back(std::move(rp));
    }
    const json& pull = member(j, "pull", where);
    r.pullAfter = integer(pull, "after", "the receipt's pull", 0, INT64_MAX);
    r.pullStatus = static_cast<int>(integer(pull, "status", "the receipt's pull", 100, 599));
    r.pullAnswer = member(pull, "answer", "the receipt's pull");
    return r;
}

// [SECTION] files on disk

Result<std::string> readBundleFile(const std::string& path) {
    return tryCatch([&]() -> std::string {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            if (errno == ENOENT) throw Failure(ErrorDomain::NotFound, ErrorCode::NotFound, "no file " + path);
            bad("cannot read " + path + ": " + std::strerror(errno));
        }
        if (!S_ISREG(st.st_mode)) bad(path + " is not a file");
        if (static_cast<std::uint64_t>(st.st_size) > kMaxBundleFileBytes)
            bad(path + " is larger than an Outpost bundle can be (" +
                std::to_string(kMaxBundleFileBytes >> 20) + " MiB)");
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) bad("cannot read " + path + ": " + std::strerror(errno));
        std::string out;
        char buf[1 << 16];
        for (;;) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                int err = errno;
                ::close(fd);
                bad("cannot read " + path + ": " + std::strerror(err));
            }
            if (n == 0) break;
            out.append(buf, static_cast<std::size_t>(n));
            if (out.size() > kMaxBundleFileBytes) {
                ::close(fd);
                bad(path + " is larger than an Outpost bundle can be");
            }
        }
        ::close(fd);
        return out;
    });
}

Result<void> writeBundleFile(const std::string& path, std::string_view bytes) {
    return storage::writeFileDurably(path, bytes, 0600);
}

}  // namespace outpost::sync
