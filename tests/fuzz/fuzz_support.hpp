// Shared state for the libFuzzer targets: built once per process and reused by every input, so a run
// neither grows folders nor depends on random keys (the keys come from fixed seeds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/form.hpp"
#include "core/refdata.hpp"
#include "hq/bundle_import.hpp"
#include "hq/service.hpp"
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
// costs nothing) and removed at exit, with one device enrolled through POST /v1/enroll. The per-device
// rate limit is off (Limits::deviceRequestsPerSecond = 0): with it, every signed request after the first
// burst would get its 429 before reaching the handlers' parsing (the limiter has tests of its own).
struct FuzzHq {
    hq::HqIdentity identity;
    std::unique_ptr<hq::HqService> service;
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

// The oracle on HQ's answers. The store is healthy (one process, one thread, a local folder), so HQ has
// no reason to fail: a request it cannot accept must get its 4xx, and a 500 means a handler threw on
// the input instead. The one 5xx accepted is 503 when the store's file system is nearly full (a long
// run stores many reports); any other is a finding. 429 cannot come (the rate limit is off).
bool storeDiskNearlyFull(const FuzzHq& h);
// "" when HQ's answer keeps the contract of handle(): a status of 200 or a 4xx (but 429), or the 503
// above, and a JSON body for a JSON answer. Otherwise what is wrong.
std::string answerProblem(const FuzzHq& h, const sync::Response& r);
// "" when a bundle HQ refused (importBundle's error) says why in the terms of a bad file, device or
// request (Input, Crypto, Auth, NotFound, State, Protocol ...). Internal (a handler's 500, an answer the
// importer did not expect, an exception), or a storage failure while the store's disk has room, is a
// finding.
std::string bundleRefusalProblem(const FuzzHq& h, const Error& e);
// Prints what was found to stderr (libFuzzer shows it with the input) and aborts.
[[noreturn]] void finding(const std::string& what);

// The bytes of a fuzzer input as text.
inline std::string_view asText(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

}  // namespace outpost::fuzz
