// Shared state for the libFuzzer targets (see fuzz_support.hpp).
#include "fuzz_support.hpp"

#include <sodium.h>
#include <stdlib.h>
#include <sys/statvfs.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "storage/hq/store.hpp"

namespace outpost::fuzz {

namespace hqs = outpost::storage::hq;

const core::ReferenceData& reference() {
    return core::ReferenceData::demo();
}

const core::FormRegistry& builtinRegistry() {
    static const core::FormRegistry registry = core::builtinForms(reference());
    return registry;
}

sync::SigningKeyPair fixedKeys(unsigned char seedByte) {
    if (sodium_init() < 0) throw std::runtime_error("libsodium did not start");
    unsigned char seed[crypto_sign_SEEDBYTES];
    for (auto& b : seed) b = seedByte;
    sync::SigningKeyPair k;
    k.publicKey.resize(crypto_sign_PUBLICKEYBYTES);
    k.secretKey.resize(crypto_sign_SECRETKEYBYTES);
    crypto_sign_seed_keypair(k.publicKey.data(), k.secretKey.data(), seed);
    return k;
}

std::string nextNonce() {
    static std::uint64_t counter = 0;
    ++counter;
    sync::Bytes b(16, 0);
    for (int i = 0; i < 8; ++i)
        b[static_cast<std::size_t>(i)] = static_cast<unsigned char>(counter >> (8 * i));
    return sync::base64UrlEncode(b);
}

sync::Request FuzzHq::base(std::string method, std::string target, std::string body) const {
    sync::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.headers["outpost-protocol"] = std::to_string(sync::kProtocolVersion);
    return r;
}

void FuzzHq::sign(sync::Request& r, const std::string& nonce) const {
    r.headers["outpost-device"] = deviceId;
    r.headers["outpost-nonce"] = nonce;
    r.headers["outpost-signature"] = sync::base64Encode(
        sync::sign(deviceKeys.secretKey, sync::signingString(r.method, r.target, deviceId, nonce, r.body)));
}

namespace {

// Removes the HQ's folder when the process ends normally (libFuzzer exits through exit()).
struct Folder {
    std::string path;
    ~Folder() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
};
Folder g_folder;

std::unique_ptr<FuzzHq> makeHq() {
    auto h = std::make_unique<FuzzHq>();
    std::string root =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path().string();
    std::string tmpl = root + "/outpost-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    g_folder.path = tmpl;
    h->folder = tmpl;
    h->identity.hqId = "hq-fuzz";
    h->identity.signing = fixedKeys(0x11);
    h->identity.tlsPin = "pin";
    std::string location = h->folder;
    sync::Limits limits;
    limits.deviceRequestsPerSecond = 0;
    h->service = std::make_unique<hq::HqService>([location] { return hqs::openHqStore(location); },
                                                 h->identity, limits);
    h->service->warm();

    // Enroll the device through the handler, as a laptop does.
    h->deviceKeys = fixedKeys(0x22);
    auto code = sync::EnrollmentCode::generate("pin");
    auto store = hqs::openHqStore(location).value();
    store->addEnrollment(code.secretHash(), h->unit, "2999-01-01T00:00:00.000Z").value();
    nlohmann::json body = {
        {"code", code.secret}, {"public_key", sync::base64Encode(h->deviceKeys.publicKey)}, {"name", "fuzz"}};
    auto r = h->service->handle(h->base("POST", "/v1/enroll", body.dump()));
    if (r.status != 200) throw std::runtime_error("enrolling the fuzz device failed: " + r.body);
    std::string text = r.body;
    auto enc = r.headers.find("Content-Encoding");
    if (enc != r.headers.end() && enc->second == "zstd") text = sync::zstdDecompress(text, 64u << 20);
    auto j = nlohmann::json::parse(text);
    h->deviceId = j.at("device_id").get<std::string>();
    h->epoch = store->epoch().value();
    return h;
}

}  // namespace

bool storeDiskNearlyFull(const FuzzHq& h) {
    struct statvfs v {};
    if (::statvfs(h.folder.c_str(), &v) != 0) return false;
    return static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize < (256ull << 20);
}

void finding(const std::string& what) {
    std::fprintf(stderr, "\n==== fuzz finding: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

std::string answerProblem(const FuzzHq& h, const sync::Response& r) {
    std::string text = r.body;
    if (r.contentType == "application/json") {
        auto enc = r.headers.find("Content-Encoding");
        try {
            if (enc != r.headers.end() && enc->second == "zstd")
                text = sync::zstdDecompress(text, 256u << 20);
        } catch (const Failure&) {
            return "an answer whose zstd body does not decode";
        }
        if (!nlohmann::json::accept(text)) return "an answer that is not JSON: " + text.substr(0, 500);
    }
    const bool allowed = r.status == 200 || (r.status >= 400 && r.status < 500 && r.status != 429) ||
                         (r.status == 503 && storeDiskNearlyFull(h));
    if (!allowed) return "HQ answered " + std::to_string(r.status) + ": " + text.substr(0, 2000);
    return {};
}

std::string bundleRefusalProblem(const FuzzHq& h, const Error& e) {
    if (e.message.empty()) return "a refusal without a message";
    if (e.domain == ErrorDomain::Internal || e.code == ErrorCode::Internal)
        return "an internal failure: " + e.message;
    if (e.domain == ErrorDomain::Storage && !storeDiskNearlyFull(h))
        return "a storage failure on a healthy store: " + e.message;
    return {};
}

FuzzHq& hq() {
    static std::unique_ptr<FuzzHq> instance = makeHq();
    return *instance;
}

}  // namespace outpost::fuzz
