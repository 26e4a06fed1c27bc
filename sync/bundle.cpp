// Store-and-forward bundles (docs/protocol.md, "Store-and-forward bundles"): the file format, the
// laptop's export and receipt import, and HQ's import.
//
// Nothing here decides what HQ stores or what leaves the laptop's outbox: HQ's side hands each request to
// HqService::handleBundle (the network's checks and answers), and the laptop's side applies HQ's answers
// with the same Store calls as a sync over the network. What this file adds is the envelope: sealing to
// the recipient, signing by the sender, and checking both before anything changes.
//
// [SECTION] helpers
// [SECTION] sealing and signing
// [SECTION] documents
// [SECTION] files on disk
// [SECTION] the laptop: export
// [SECTION] the laptop: receipt import
// [SECTION] HQ: import
#include "sync/bundle.hpp"
#include "sync/outgoing.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "core/time.hpp"
#include "core/uuid.hpp"
#include "storage/crypto.hpp"

namespace outpost::sync {

// [SECTION] helpers
namespace {

[[noreturn]] void bad(const std::string& message) {
    throw Failure(ErrorDomain::Input, ErrorCode::BadInput, message);
}

template <typename T>
T need(Result<T> r) {
    if (!r) throw Failure(r.error());
    return std::move(r).value();
}
void need(Result<void> r) {
    if (!r) throw Failure(r.error());
}

Bytes toBytes(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

std::string toText(const Bytes& b) {
    return std::string(b.begin(), b.end());
}

// Key bytes that are wiped when they go.
struct SecretBytes {
    Bytes b;
    SecretBytes() = default;
    explicit SecretBytes(Bytes v) : b(std::move(v)) {}
    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;
    ~SecretBytes() {
        if (!b.empty()) sodium_memzero(b.data(), b.size());
    }
};

const json& member(const json& j, const char* name, const char* where) {
    if (!j.is_object()) bad(std::string(where) + " is not a JSON object");
    auto it = j.find(name);
    if (it == j.end()) bad(std::string(where) + " has no \"" + name + "\"");
    return *it;
}

std::string text(const json& j, const char* name, const char* where, bool allowEmpty = false) {
    const json& v = member(j, name, where);
    if (!v.is_string()) bad(std::string(where) + ": \"" + name + "\" must be a string");
    std::string s = v.get<std::string>();
    if (!allowEmpty && s.empty()) bad(std::string(where) + ": \"" + name + "\" is empty");
    return s;
}

std::int64_t integer(const json& j, const char* name, const char* where, std::int64_t lo, std::int64_t hi) {
    const json& v = member(j, name, where);
    if (!v.is_number_integer()) bad(std::string(where) + ": \"" + name + "\" must be an integer");
    auto n = v.get<std::int64_t>();
    if (n < lo || n > hi) bad(std::string(where) + ": \"" + name + "\" is out of range");
    return n;
}

const json& array(const json& j, const char* name, const char* where) {
    const json& v = member(j, name, where);
    if (!v.is_array()) bad(std::string(where) + ": \"" + name + "\" must be an array");
    return v;
}

// The error code and message of a handler's error body (empty when it is not one).
std::pair<std::string, std::string> errorOf(const json& body) {
    std::pair<std::string, std::string> out;
    if (!body.is_object()) return out;
    auto e = body.find("error");
    if (e == body.end() || !e->is_object()) return out;
    if (auto c = e->find("code"); c != e->end() && c->is_string()) out.first = c->get<std::string>();
    if (auto m = e->find("message"); m != e->end() && m->is_string()) out.second = m->get<std::string>();
    return out;
}

std::string describeAnswer(int status, const json& body) {
    auto [code, message] = errorOf(body);
    std::string s = "HQ answered " + std::to_string(status);
    if (!code.empty()) s += " " + code;
    if (!message.empty()) s += ": " + message;
    return s;
}

bool isHexId(std::string_view s) {
    return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

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
    return tryCatch([&] {
        auto ioFail = [&](int err, const std::string& what) {
            throw Failure(ErrorDomain::Storage,
                          err == ENOSPC || err == EDQUOT ? ErrorCode::DiskFull : ErrorCode::Io,
                          what + ": " + std::strerror(err) + (err == ENOSPC ? " (the disk is full)" : ""));
        };
        std::filesystem::path target(path);
        std::string dir = target.has_parent_path() ? target.parent_path().string() : std::string(".");
        std::string tmp = path + ".partial-XXXXXX";
        int fd = ::mkstemp(tmp.data());  // mode 0600
        if (fd < 0) ioFail(errno, "cannot write " + path);
        auto bail = [&](int err) {
            ::close(fd);
            ::unlink(tmp.c_str());
            ioFail(err, "cannot write " + path);
        };
        if (::fchmod(fd, 0600) != 0) bail(errno);
        std::size_t done = 0;
        while (done < bytes.size()) {
            ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
            if (n < 0) {
                if (errno == EINTR) continue;
                bail(errno);
            }
            done += static_cast<std::size_t>(n);
        }
        if (::fsync(fd) != 0) bail(errno);
        if (::close(fd) != 0) {
            int err = errno;
            ::unlink(tmp.c_str());
            ioFail(err, "cannot write " + path);
        }
        if (::rename(tmp.c_str(), path.c_str()) != 0) {
            int err = errno;
            ::unlink(tmp.c_str());
            ioFail(err, "cannot put " + path + " in place");
        }
        // The rename itself is durable once the folder is flushed (a USB stick may be pulled next).
        int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)::fsync(dfd);
            ::close(dfd);
        }
    });
}

// [SECTION] the laptop: export

Result<ExportedBundle> exportBundle(storage::Store& store, const BundleOptions& opts) {
    return tryCatch([&]() -> ExportedBundle {
        auto cfg = need(store.syncConfig());
        if (!cfg)
            throw Failure(
                ErrorDomain::NotFound, ErrorCode::NotFound,
                "this laptop is not enrolled with HQ (run 'outpostctl enroll'): a bundle is sealed to "
                "HQ's key and signed with this laptop's");
        if (cfg->revoked)
            throw Failure(ErrorDomain::State, ErrorCode::Conflict,
                          "HQ revoked this device: it sends nothing more, by network or by bundle (enroll it "
                          "again with a new code)");
        SecretBytes sk(need(store.deviceSecretKey()));
        auto hqKey = base64Decode(cfg->hqSignKey);
        if (!hqKey || hqKey->size() != crypto_sign_PUBLICKEYBYTES)
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                          "HQ's signing key in the enrollment is damaged");

        ExportedBundle out;
        DeviceBundle b;
        b.bundleId = core::newUuidV7();
        b.deviceId = cfg->deviceId;
        b.hqId = cfg->hqId;
        b.madeUtc = core::nowTimestamp().utc;
        b.epoch = cfg->epoch;
        if (auto last = need(store.lastReceipt()))
            b.lastReceipt = std::to_string(last->hqSeq) + ":" + last->recordId;

        // The queue in sync order, in pushes HQ accepts: at most batchItems items and maxBodyBytes each.
        const auto counts = need(store.outboxCounts());
        const std::int64_t queued = counts.queued - counts.held;
        out.held = counts.held;
        std::vector<std::int64_t> taken;
        int batchItems = std::max(1, std::min(opts.batchItems, static_cast<int>(opts.limits.maxItems)));
        std::size_t total = 0;
        for (;;) {
            auto items = need(store.nextOutgoing(batchItems, taken));
            if (items.empty()) break;
            std::vector<std::int64_t> seqs;
            PushRequest pr;
            pr.batchId = core::newUuidV7();
            for (auto& it : items) {
                seqs.push_back(it.outboxSeq);
                std::string payloadText = std::move(it.payloadText);
                Envelope e = envelopeOf(std::move(it));
                if (e.signature.empty())
                    e.signature = signRevision(sk.b, e.canonicalWithPayloadText(payloadText));
                pr.items.push_back(std::move(e));
            }
            std::string body = zstdCompress(pr.toJson().dump());
            if (body.size() > opts.limits.maxBodyBytes) {
                if (pr.items.size() > 1) {
                    batchItems = std::max(1, static_cast<int>(pr.items.size()) / 2);
                    continue;
                }
                ++out.tooLarge;  // a sync over the network quarantines it, with the reason
                taken.push_back(seqs[0]);
                continue;
            }
            if (total + body.size() > opts.maxPushBytes && !b.pushes.empty()) break;
            total += body.size();
            BundledPush p;
            p.nonce = newNonce();
            p.signature =
                base64Encode(sign(sk.b, signingString("POST", "/v1/push", b.deviceId, p.nonce, body)));
            p.body = std::move(body);
            b.pushes.push_back(std::move(p));
            out.reports += static_cast<std::int64_t>(seqs.size());
            taken.insert(taken.end(), seqs.begin(), seqs.end());
        }
        out.batches = static_cast<std::int64_t>(b.pushes.size());
        out.left = std::max<std::int64_t>(0, queued - out.reports - out.tooLarge);

        b.pull.after = cfg->pullCursor;
        b.pull.limit = static_cast<int>(opts.limits.maxPullPage);
        b.pull.nonce = newNonce();
        b.pull.signature =
            base64Encode(sign(sk.b, signingString("GET", b.pull.target(), b.deviceId, b.pull.nonce, {})));
        out.cursor = b.pull.after;

        std::string plain = signDocument(kBundleSigningContext, b.toJson(), sk.b);
        out.file = sealBundleFile(kBundleMagic, *hqKey, plain);
        sodium_memzero(plain.data(), plain.size());
        out.bundleId = b.bundleId;
        return out;
    });
}

// [SECTION] the laptop: receipt import
namespace {

// One push answer of a receipt, checked and turned into what the store applies.
struct PlannedPush {
    std::string batchId;
    std::vector<storage::PushOutcome> outcomes;
    std::string document;                // the signed receipt document kept with the receipts
    std::vector<std::int64_t> failSeqs;  // queued items of a push HQ could not take
    std::string failure;
};

bool isEpochChanged(int status, const json& answer) {
    return status == 409 && errorOf(answer).first == "epoch_changed";
}

}  // namespace

Result<ReceiptApplied> importReceipt(storage::Store& store, std::string_view file) {
    return tryCatch([&]() -> ReceiptApplied {
        auto cfg = need(store.syncConfig());
        if (!cfg)
            throw Failure(ErrorDomain::NotFound, ErrorCode::NotFound,
                          "this laptop is not enrolled with HQ (run 'outpostctl enroll')");
        auto hqKey = base64Decode(cfg->hqSignKey);
        if (!hqKey || hqKey->size() != crypto_sign_PUBLICKEYBYTES)
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                          "HQ's signing key in the enrollment is damaged");
        SignedDocument sd;
        {
            SecretBytes sk(need(store.deviceSecretKey()));
            sd = splitSignedDocument(openBundleFile(kReceiptMagic, sk.b, file));
        }
        if (!verifyDocument(kReceiptSigningContext, sd, *hqKey))
            bad("the receipt's signature does not verify with the HQ key from this laptop's enrollment: "
                "it was not made by this laptop's HQ");
        const ReceiptBundle rb = ReceiptBundle::fromJson(documentJson(sd, "the receipt"));
        if (rb.deviceId != cfg->deviceId)
            bad("the receipt is for device " + rb.deviceId + "; this laptop is device " + cfg->deviceId);
        if (rb.hqId != cfg->hqId)
            bad("the receipt is from HQ " + rb.hqId + "; this laptop is enrolled with " + cfg->hqId);

        ReceiptApplied out;
        out.bundleId = rb.bundleId;
        // A laptop that changed epoch since it exported the bundle (a resync by network, or an earlier
        // receipt) would take outcomes from an HQ state it has left: nothing of this receipt applies.
        if (rb.bundleEpoch != cfg->epoch) {
            out.stale = true;
            out.notes.push_back("this receipt answers a bundle made before this laptop learnt HQ's epoch " +
                                cfg->epoch + " (it resynced since): nothing in it applies any more; " +
                                "export a new bundle");
            return out;
        }
        const bool epochChanged = rb.epoch != cfg->epoch;
        bool resync = epochChanged;

        std::map<std::pair<std::string, int>, storage::OutboxItem> inOutbox;
        for (auto& o : need(store.outbox())) inOutbox[{o.recordId, o.revision}] = std::move(o);
        // The outbox row an outcome applies to: none when the revision has its receipt already, or when
        // a rejection finds it quarantined already (this receipt, or another answer, came before).
        auto seqOf = [&](const ReceiptPushItem& item, bool rejection) -> std::optional<std::int64_t> {
            auto it = inOutbox.find({item.id, item.revision});
            if (it == inOutbox.end() || (rejection && it->second.state == "quarantined")) return std::nullopt;
            return it->second.seq;
        };

        // Every check first: a receipt that fails one changes nothing.
        std::vector<PlannedPush> plan;
        for (std::size_t n = 0; n < rb.pushes.size(); ++n) {
            const auto& p = rb.pushes[n];
            const std::string which = "push " + std::to_string(n + 1) + " of the receipt";
            PlannedPush pp;
            pp.batchId = p.batchId;
            if (p.status == 200 || p.status == 422) {
                PushResponse answer;
                try {
                    answer = PushResponse::fromJson(p.answer);
                } catch (const Failure& f) {
                    bad(which + ": " + f.error().message);
                }
                if (answer.batchId != p.batchId) bad(which + ": the answer is for another batch");
                if (answer.epoch != rb.epoch)
                    bad(which + ": the answer is from another epoch than the receipt");
                if (answer.results.size() != p.items.size())
                    bad(which + ": " + std::to_string(answer.results.size()) + " results for " +
                        std::to_string(p.items.size()) + " items");
                // HQ signed the hash of what it received. The laptop checks it against the bytes it sent,
                // rebuilt from its own copy exactly as the sender builds them (Store::sentRevision).
                std::vector<ReceiptItem> mine;
                for (const auto& item : p.items) {
                    auto rev = store.sentRevision(item.id, item.revision);
                    if (!rev) {
                        if (rev.error().code == ErrorCode::NotFound)
                            bad(which + " names report " + item.id + " r" + std::to_string(item.revision) +
                                ", which this laptop does not hold");
                        if (rev.error().code == ErrorCode::Conflict)
                            bad(which + " names report " + item.id + " r" + std::to_string(item.revision) +
                                ", a draft on this laptop");
                        throw Failure(rev.error());
                    }
                    mine.push_back(receiptItemOf(std::move(rev).value()));
                }
                auto sig = base64Decode(answer.signature);
                const bool hqHashes = std::all_of(p.items.begin(), p.items.end(),
                                                  [](const ReceiptPushItem& i) { return !i.hash.empty(); });
                if (hqHashes) {
                    // First HQ's signature over the hashes HQ names: a failure there is a damaged or forged
                    // receipt; then each hash against this laptop's: a difference is a disagreement about
                    // one report's bytes, named.
                    std::vector<ReceiptItem> theirs;
                    for (const auto& item : p.items) theirs.push_back({item.id, item.revision, item.hash});
                    if (!sig || !verify(*hqKey,
                                        receiptString(answer.batchId, answer.epoch, cfg->deviceId, theirs,
                                                      answer.results),
                                        *sig))
                        bad("HQ's signature on the receipt for batch " + answer.batchId +
                            " does not verify: the receipt is damaged or was not signed by this laptop's HQ");
                    for (std::size_t i = 0; i < mine.size(); ++i)
                        if (mine[i].hash != theirs[i].hash)
                            bad("HQ received report " + mine[i].id + " r" + std::to_string(mine[i].revision) +
                                " with other bytes than this laptop holds (HQ's hash " +
                                theirs[i].hash.substr(0, 12) + ", this laptop's " +
                                mine[i].hash.substr(0, 12) +
                                "): the report HQ acknowledges is not this laptop's; run 'outpostctl sync' "
                                "when a link is up, and tell HQ");
                }
                const std::string receipt =
                    receiptString(answer.batchId, answer.epoch, cfg->deviceId, mine, answer.results);
                if (!sig || !verify(*hqKey, receipt, *sig))
                    bad("HQ's signature on the receipt for batch " + answer.batchId +
                        " does not verify against this laptop's copies of its reports: the receipt is "
                        "damaged, or HQ and this laptop disagree about the reports' bytes");
                for (std::size_t i = 0; i < mine.size(); ++i) {
                    const auto& res = answer.results[i];
                    auto seq = seqOf(p.items[i], res.status == ItemStatus::Rejected);
                    if (!seq) {
                        ++out.alreadyDone;
                        continue;
                    }
                    pp.outcomes.push_back(outcomeOf(res, *seq, mine[i].hash));
                    countStatus(out, res.status);
                }
                pp.document =
                    json{{"batch", answer.batchId}, {"epoch", answer.epoch},   {"device", cfg->deviceId},
                         {"receipt", receipt},      {"sig", answer.signature}, {"bundle", rb.bundleId}}
                        .dump();
            } else if (isEpochChanged(p.status, p.answer)) {
                resync = true;
            } else if (p.status == 403 && errorOf(p.answer).first == "unit_mismatch") {
                // As over the network: the reports HQ names are quarantined, the others stay queued.
                std::set<std::string> named;
                if (auto it = p.answer.find("items"); it != p.answer.end() && it->is_array())
                    for (const auto& x : *it)
                        if (x.is_string()) named.insert(x.get<std::string>());
                for (const auto& item : p.items) {
                    auto seq = seqOf(item, named.count(item.id) > 0);
                    if (!seq) {
                        ++out.alreadyDone;
                        continue;
                    }
                    if (!named.count(item.id)) {
                        pp.failSeqs.push_back(*seq);
                        continue;
                    }
                    storage::PushOutcome o;
                    o.outboxSeq = *seq;
                    o.status = "rejected";
                    o.reason = "HQ says this report belongs to another unit than this device's: " +
                               errorOf(p.answer).second;
                    pp.outcomes.push_back(std::move(o));
                    ++out.rejected;
                }
                pp.document = json{{"refusal", p.answer}, {"bundle", rb.bundleId}}.dump();
                pp.failure = describeAnswer(p.status, p.answer);
                out.notes.push_back(which + ": " + pp.failure);
            } else {
                for (const auto& item : p.items)
                    if (auto seq = seqOf(item, false)) pp.failSeqs.push_back(*seq);
                pp.failure = describeAnswer(p.status, p.answer);
                out.notes.push_back(which + ": " + pp.failure + " (its reports stay queued)");
            }
            out.failed += static_cast<std::int64_t>(pp.failSeqs.size());
            plan.push_back(std::move(pp));
        }
        std::optional<PullResponse> page;
        if (rb.pullStatus == 200) {
            try {
                page = PullResponse::fromJson(rb.pullAnswer);
            } catch (const Failure& f) {
                bad("the receipt's feed page: " + f.error().message);
            }
            if (page->epoch != rb.epoch)
                bad("the receipt's feed page is from another epoch than the receipt");
            if (page->next < rb.pullAfter) bad("the receipt's feed page goes back before its cursor");
        } else if (isEpochChanged(rb.pullStatus, rb.pullAnswer)) {
            resync = true;
        } else {
            out.notes.push_back("HQ's feed page: " + describeAnswer(rb.pullStatus, rb.pullAnswer));
        }

        // Then, as a sync over the network does: outcomes (each batch in one transaction), then either
        // the resync HQ asked for or the feed page.
        for (const auto& pp : plan) {
            if (!pp.outcomes.empty()) need(store.applyPushOutcomes(pp.batchId, pp.outcomes, pp.document));
            if (!pp.failSeqs.empty()) need(store.notePushFailure(pp.failSeqs, pp.failure));
        }
        if (resync) {
            need(store.beginResync(rb.epoch));
            out.resynced = true;
            const std::string why = epochChanged
                                        ? "HQ was restored from a backup (its epoch is now " + rb.epoch + ")"
                                        : "HQ no longer holds what this laptop last sent (it was restored)";
            out.notes.push_back(why +
                                ": every report it had acknowledged is queued again; export a new bundle");
            return out;
        }
        if (page) {
            const std::int64_t cursor = need(store.syncConfig())->pullCursor;
            if (rb.pullAfter > cursor) {
                // Entries between this laptop's cursor and the page's start would be skipped.
                out.pullSkipped = true;
                out.notes.push_back(
                    "HQ's feed page starts after this laptop's cursor; the next bundle brings it");
            } else if (page->next <= cursor) {
                out.pullSkipped = true;
            } else {
                std::vector<storage::PulledEntry> entries;
                for (auto& it : page->items)
                    if (it.seq > cursor) entries.push_back({it.seq, std::move(it.kind), std::move(it.body)});
                // The outcomes above are HQ's signed word on reports it holds and stand on their own: a
                // page this laptop refuses (an entry it cannot take) leaves the cursor where it was, as
                // a refused page over the network does, and is told, not thrown.
                auto applied = store.applyPull(entries, page->next, page->at);
                if (applied) {
                    out.pulled = static_cast<std::int64_t>(entries.size());
                    out.more = page->more;
                } else if (applied.error().domain == ErrorDomain::Storage) {
                    throw Failure(applied.error());
                } else {
                    out.pullRefused = true;
                    out.notes.push_back("HQ's feed page could not be applied (" + applied.error().message +
                                        "); the next bundle brings it again");
                }
            }
        }
        if (out.failed == 0 && rb.pullStatus == 200 && !out.pullRefused)
            need(store.setSyncStatus(core::nowTimestamp().utc, ""));
        return out;
    });
}

// [SECTION] HQ: import
namespace {

// A refusal the laptop could not act on: an error, and no receipt.
[[noreturn]] void refuse(const std::string& what, std::size_t before, int status, const json& body) {
    auto [code, message] = errorOf(body);
    ErrorDomain d = ErrorDomain::Internal;
    ErrorCode c = ErrorCode::Internal;
    if (status == 401 && code == "unknown_device") {
        d = ErrorDomain::NotFound;
        c = ErrorCode::NotFound;
    } else if (status == 401) {
        d = ErrorDomain::Auth;
        c = ErrorCode::BadInput;
    } else if (status == 403 || status == 409) {
        d = ErrorDomain::State;
        c = ErrorCode::Conflict;
    } else if (status == 503) {
        d = ErrorDomain::Storage;
        c = ErrorCode::Io;
    } else if (status == 426) {
        d = ErrorDomain::Protocol;
        c = ErrorCode::Conflict;
    }
    std::string m = what + ": " + describeAnswer(status, body) + "; no receipt was made";
    m += before > 0 ? "; the " + std::to_string(before) +
                          " push(es) before it were imported (importing the bundle again is harmless)"
                    : "; nothing was imported";
    throw Failure(d, c, m);
}

json answerJson(const Response& r) {
    std::string text = r.body;
    auto enc = r.headers.find("Content-Encoding");
    if (enc != r.headers.end() && enc->second == "zstd") text = zstdDecompress(text, kMaxBundleDocumentBytes);
    json j = json::parse(text, nullptr, false);
    if (!j.is_object())
        throw Failure(ErrorDomain::Internal, ErrorCode::Internal,
                      "HQ's handler answered " + std::to_string(r.status) + " without a JSON body");
    return j;
}

}  // namespace

Result<HqBundleImport> importBundle(HqService& service, std::string_view file) {
    return tryCatch([&]() -> HqBundleImport {
        const HqIdentity& identity = service.identity();
        const SignedDocument sd =
            splitSignedDocument(openBundleFile(kBundleMagic, identity.signing.secretKey, file));
        const DeviceBundle b = DeviceBundle::fromJson(documentJson(sd, "the bundle"));
        // The bundle id goes into HQ's audit log once the pushes are in: one it cannot keep is refused first.
        if (b.bundleId.find('\0') != std::string::npos)
            bad("the bundle's id contains a NUL character: nothing was imported");
        auto found = need(service.device(b.deviceId));
        if (!found)
            throw Failure(ErrorDomain::NotFound, ErrorCode::NotFound,
                          "the bundle is from device '" + b.deviceId +
                              "', which HQ does not know: nothing was imported");
        const storage::hq::Device device = *found;
        if (device.revoked)
            throw Failure(ErrorDomain::State, ErrorCode::Conflict,
                          "the bundle is from device " + device.id + " (unit " + device.unitId +
                              "), which HQ revoked: it is refused and nothing was imported");
        auto devicePublic = base64Decode(device.publicKey);
        if (!devicePublic || devicePublic->size() != crypto_sign_PUBLICKEYBYTES)
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                          "HQ's copy of device " + device.id + "'s key is damaged");
        if (!verifyDocument(kBundleSigningContext, sd, *devicePublic))
            throw Failure(ErrorDomain::Auth, ErrorCode::BadInput,
                          "the bundle's signature does not verify with device " + device.id +
                              "'s key: it was not made by that laptop; nothing was imported");
        if (b.hqId != identity.hqId)
            bad("the bundle is for HQ " + b.hqId + ", this is HQ " + identity.hqId +
                ": nothing was imported");

        HqBundleImport out;
        out.bundleId = b.bundleId;
        out.deviceId = device.id;
        out.unitId = device.unitId;
        ReceiptBundle rb;
        rb.bundleId = b.bundleId;
        rb.deviceId = device.id;
        rb.hqId = identity.hqId;
        rb.bundleEpoch = b.epoch;

        const Limits& limits = service.limits();
        for (std::size_t i = 0; i < b.pushes.size(); ++i) {
            const std::string which =
                "push " + std::to_string(i + 1) + " of " + std::to_string(b.pushes.size());
            const Response r = service.handleBundle(b.pushRequest(i));
            ReceiptPush rp;
            rp.status = r.status;
            rp.answer = answerJson(r);
            // Which revisions the push held, so the laptop can rebuild the receipt from its own copies.
            try {
                PushRequest pr = PushRequest::fromJson(parseObject(
                    zstdDecompress(b.pushes[i].body, limits.maxUncompressedBytes), limits.maxJsonDepth));
                rp.batchId = pr.batchId;
                for (const auto& e : pr.items) rp.items.push_back({e.id, e.revision, e.hash()});
            } catch (const Failure&) {
                // A body HQ could not read: its answer (400) says so.
            }
            if (r.status == 200 || r.status == 422) {
                const PushResponse answer = PushResponse::fromJson(rp.answer);
                // A batch answered before (this bundle, or one with the same push, was imported already)
                // gets the results recorded then: what they call stored was already there.
                const bool replayed = r.headers.count(kHeaderReplayed) > 0;
                if (replayed) ++out.replayed;
                for (const auto& res : answer.results) {
                    switch (res.status) {
                        case ItemStatus::Stored:
                            ++(replayed ? out.duplicates : out.stored);
                            break;
                        case ItemStatus::Duplicate:
                            ++out.duplicates;
                            break;
                        case ItemStatus::Conflict:
                            ++out.conflicts;
                            break;
                        case ItemStatus::Rejected:
                            ++out.rejected;
                            break;
                    }
                }
            } else {
                const std::string code = errorOf(rp.answer).first;
                // What the laptop acts on, as it would over the network; anything else stops here.
                if (code != "epoch_changed" && code != "unit_mismatch" && r.status != 400 && r.status != 413)
                    refuse(which, i, r.status, rp.answer);
                out.notes.push_back(which + ": " + describeAnswer(r.status, rp.answer));
            }
            rb.pushes.push_back(std::move(rp));
        }
        out.pushes = static_cast<std::int64_t>(b.pushes.size());

        const Response pr = service.handleBundle(b.pullRequest());
        rb.pullAfter = b.pull.after;
        rb.pullStatus = pr.status;
        rb.pullAnswer = answerJson(pr);
        if (pr.status == 200) {
            auto page = PullResponse::fromJson(rb.pullAnswer);
            out.pulled = static_cast<std::int64_t>(page.items.size());
            out.more = page.more;
        } else if (errorOf(rb.pullAnswer).first == "epoch_changed" || pr.status == 400) {
            out.notes.push_back("the feed page: " + describeAnswer(pr.status, rb.pullAnswer));
        } else {
            refuse("the feed page", b.pushes.size(), pr.status, rb.pullAnswer);
        }

        rb.epoch = need(service.epoch());
        rb.madeUtc = core::nowTimestamp().utc;
        if (out.replayed > 0)
            out.notes.push_back(
                std::to_string(out.replayed) + " of the " + std::to_string(out.pushes) +
                " push(es) had been imported before (this bundle, or a copy of it, came already): their "
                "reports were already there and nothing of them was stored again");
        need(service.audit(device.id, "bundle import", b.bundleId,
                           json{{"pushes", out.pushes},
                                {"replayed", out.replayed},
                                {"stored", out.stored},
                                {"duplicate", out.duplicates},
                                {"conflict", out.conflicts},
                                {"rejected", out.rejected},
                                {"pulled", out.pulled}}));
        // In the bundle's version: a laptop that wrote version 1 reads version 1 only, whose receipt items
        // are [id, revision] without HQ's hash.
        const bool v1 = bundleFileVersion(kBundleMagic, file) == 1;
        if (v1)
            for (auto& p : rb.pushes)
                for (auto& it : p.items) it.hash.clear();
        std::string plain = signDocument(kReceiptSigningContext, rb.toJson(), identity.signing.secretKey);
        out.receiptFile = sealBundleFile(v1 ? kReceiptMagicV1 : kReceiptMagic, *devicePublic, plain);
        sodium_memzero(plain.data(), plain.size());
        return out;
    });
}

}  // namespace outpost::sync
