// Shared state for the libFuzzer targets (see fuzz_support.hpp).
#include "fuzz_support.hpp"

#include <sodium.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "storage/hq_store.hpp"

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
    h->service =
        std::make_unique<sync::HqService>([location] { return hqs::openHqStore(location); }, h->identity);
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

FuzzHq& hq() {
    static std::unique_ptr<FuzzHq> instance = makeHq();
    return *instance;
}

}  // namespace outpost::fuzz
