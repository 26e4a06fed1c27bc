// HQ's identity files: creation (once) and loading.
#include "hq/identity.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/uuid.hpp"
#include "hq/tls.hpp"
#include "storage/durable_file.hpp"

namespace outpost::hq {

namespace fs = std::filesystem;

namespace {

std::string readSmallFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

DataPaths::DataPaths(const std::string& dataDir)
    : dir(dataDir),
      hqId((fs::path(dataDir) / "hq-id").string()),
      signingKey((fs::path(dataDir) / "hq-signing.key").string()),
      tlsCert((fs::path(dataDir) / "tls-cert.pem").string()),
      tlsKey((fs::path(dataDir) / "tls-key.pem").string()),
      recoveryKey((fs::path(dataDir) / "hq-recovery.key").string()) {}

std::vector<std::string> DataPaths::identityFiles() const {
    return {hqId, signingKey, tlsKey, tlsCert};
}

IdentityState identityState(const DataPaths& paths) {
    std::size_t present = 0;
    std::error_code ec;
    for (const auto& f : paths.identityFiles()) present += fs::exists(f, ec) ? 1 : 0;
    if (present == 0) return IdentityState::Missing;
    return present == paths.identityFiles().size() ? IdentityState::Complete : IdentityState::Partial;
}

namespace {
// Reads HQ's recovery key pair, making it first when the file is missing.
storage::RecoveryKeyPair recoveryKeyPair(const DataPaths& p) {
    std::error_code ec;
    if (!fs::exists(p.recoveryKey, ec)) {
        auto k = storage::RecoveryKeyPair::generate();
        std::string text = storage::toBase64(k.secretKey) + "\n";
        storage::writeFileDurably(p.recoveryKey, text, 0600).value();
        storage::wipeSecret(text);
        return k;
    }
    std::string text = readSmallFile(p.recoveryKey);
    auto secret = storage::fromBase64(text);
    storage::wipeSecret(text);
    if (!secret || secret->size() != 32)
        throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                      p.recoveryKey + " is not an X25519 secret key");
    storage::RecoveryKeyPair k;
    k.secretKey = std::move(*secret);  // k wipes it when it goes
    k.publicKey.resize(32);
    crypto_scalarmult_base(k.publicKey.data(), k.secretKey.data());
    return k;
}
}  // namespace

Result<storage::RecoveryKeyPair> loadRecoveryKey(const std::string& dataDir) {
    return tryCatch([&] { return recoveryKeyPair(DataPaths(dataDir)); });
}

Result<hq::HqIdentity> createIdentity(const std::string& dataDir) {
    return tryCatch([&] {
        DataPaths p(dataDir);
        std::error_code ec;
        fs::create_directories(dataDir, ec);
        if (ec)
            throw Failure(ErrorDomain::Storage, ErrorCode::Io,
                          "cannot create " + dataDir + ": " + ec.message());
        ::chmod(dataDir.c_str(), 0700);
        for (const auto& f : p.identityFiles())
            if (fs::exists(f, ec))
                throw Failure(ErrorDomain::State, ErrorCode::Conflict,
                              f + " exists already: HQ's identity is never replaced (devices pin it)");
        hq::HqIdentity id;
        id.hqId = "hq-" + core::newUuidV7();
        id.signing = sync::SigningKeyPair::generate();
        std::string keyText = sync::base64Encode(id.signing.secretKey) + "\n";
        storage::writeFileDurably(p.hqId, id.hqId + "\n", 0644).value();
        storage::writeFileDurably(p.signingKey, keyText, 0600).value();
        storage::wipeSecret(keyText);
        hq::makeSelfSignedCertificate(p.tlsCert, p.tlsKey).value();
        id.tlsPin = hq::certificatePin(p.tlsCert).value();
        id.recoveryPublicKey = recoveryKeyPair(p).publicKey;
        return id;
    });
}

Result<hq::HqIdentity> loadIdentity(const std::string& dataDir) {
    return tryCatch([&] {
        DataPaths p(dataDir);
        auto state = identityState(p);
        if (state == IdentityState::Missing)
            throw Failure(
                ErrorDomain::NotFound, ErrorCode::NotFound,
                dataDir + " is not an HQ data folder (run 'outpost-hq init --data " + dataDir + "')");
        std::error_code ec;
        for (const auto& f : p.identityFiles())
            if (!fs::exists(f, ec))
                throw Failure(
                    ErrorDomain::Storage, ErrorCode::Corrupt,
                    f + " is missing: restore it from a backup (a new one would cut off every device)");
        hq::HqIdentity id;
        id.hqId = readSmallFile(p.hqId);
        if (id.hqId.empty()) throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, p.hqId + " is empty");
        std::string keyText = readSmallFile(p.signingKey);
        auto secret = sync::base64Decode(keyText);
        storage::wipeSecret(keyText);
        if (!secret || secret->size() != 64)
            throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                          p.signingKey + " is not an Ed25519 secret key");
        id.signing.secretKey = *secret;
        // libsodium's secret key carries the public key in its second half.
        id.signing.publicKey.assign(secret->begin() + 32, secret->end());
        auto pin = hq::certificatePin(p.tlsCert);
        if (!pin) throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, pin.error().message);
        id.tlsPin = pin.value();
        id.recoveryPublicKey = recoveryKeyPair(p).publicKey;
        return id;
    });
}

}  // namespace outpost::hq
