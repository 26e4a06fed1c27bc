// Shared state for the libFuzzer targets: built once per process and reused by every input, so a run
// neither grows folders nor depends on random keys (the keys come from fixed seeds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/form.hpp"
#include "core/refdata.hpp"
#include "sync/hq_service.hpp"
#include "sync/protocol.hpp"

namespace outpost::fuzz {

// The compiled-in demo reference data and the built-in forms parsed against it.
const core::ReferenceData& reference();
const core::FormRegistry& builtinRegistry();

// An Ed25519 key pair from a fixed 32-byte seed filled with seedByte.
sync::SigningKeyPair fixedKeys(unsigned char seedByte);

// A deterministic nonce: 16 bytes counting up, base64url (what newNonce() makes, minus the randomness).
std::string nextNonce();

// One HQ over an SQLite store in a folder made once (under /dev/shm when it exists, so SQLite's fsync
// costs nothing) and removed at exit, with one device enrolled through POST /v1/enroll.
struct FuzzHq {
    sync::HqIdentity identity;
    std::unique_ptr<sync::HqService> service;
    std::string folder;
    std::string unit = "MINUSCA-RWABATT-1";
    std::string deviceId;
    sync::SigningKeyPair deviceKeys;
    std::string epoch;

    // A request with the protocol header, and the device's headers and signature over it.
    sync::Request base(std::string method, std::string target, std::string body = {}) const;
    void sign(sync::Request& r, const std::string& nonce) const;
};
FuzzHq& hq();

// The bytes of a fuzzer input as text.
inline std::string_view asText(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

}  // namespace outpost::fuzz
