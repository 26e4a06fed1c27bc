// HQ's protocol handlers, independent of the transport: the HTTPS server (hq/http_server.cpp) and the
// bundle importer both call them. Each call takes a request and returns a status and a body.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/form.hpp"
#include "core/refdata.hpp"
#include "storage/hq/store.hpp"
#include "sync/message.hpp"
#include "sync/protocol.hpp"

namespace outpost::hq {

class MemoryBudget;

// The protocol's types, as HQ's handlers use them.
using sync::json;
using sync::Limits;
using sync::Request;
using sync::Response;
using sync::SigningKeyPair;

// HQ's own keys (made by `outpost-hq serve`/`init` on first run, kept in the data folder).
struct HqIdentity {
    std::string hqId;
    SigningKeyPair signing;  // signs receipts
    std::string tlsPin;      // base64url SHA-256 of the TLS certificate's public key
    // X25519 public key of HQ's recovery key pair, given to each device at enrollment so it can seal a
    // recovery copy of its data key to HQ (empty: enrollment answers carry none).
    std::vector<unsigned char> recoveryPublicKey;
};

class HqService {
public:
    // openStore is called whenever the pool of stores needs one more (hq/store_pool.hpp: at most 16 open;
    // a store is used by one request at a time). Any thread may call handle() and the others.
    HqService(std::function<Result<std::unique_ptr<storage::hq::HqStore>>()> openStore, HqIdentity identity,
              Limits limits = {});
    ~HqService();

    // Routes one request: GET /v1/hello, POST /v1/enroll, POST /v1/push, GET /v1/pull.
    // Never throws; every failure is a 4xx/5xx with a JSON error body naming what is wrong.
    Response handle(const Request& req);

    // A request carried in a store-and-forward bundle (sync/bundle.hpp): POST /v1/push or GET /v1/pull,
    // through the same checks and with the same answers as handle(), except that a nonce this device
    // used before is not an error. A bundle imported twice gets, through the batch id, the results
    // recorded the first time. Anything else than push and pull is 404 here.
    Response handleBundle(const Request& req);

    // The device as HQ knows it (nullopt when HQ knows no such device): the bundle importer checks a
    // bundle's signature with its key and seals the receipt to it.
    Result<std::optional<storage::hq::Device>> device(const std::string& deviceId);
    // Appends an entry to HQ's audit log (signed with HQ's key), e.g. for a bundle import.
    Result<void> audit(const std::string& actor, const std::string& action, const std::string& subject,
                       const json& detail);
    // HQ's epoch now (docs/protocol.md, "Resync after an HQ restore").
    Result<std::string> epoch();

    // Loads the forms and reference data the handlers validate against, so the first device after a
    // start does not wait for it. Optional; failures are left for the first request to report.
    void warm();

    const HqIdentity& identity() const;
    const Limits& limits() const;

    // What the bodies of all requests may hold at once, decompressed and parsed (hq/memory_budget.hpp;
    // by default hq/tuning.hpp's). Set it before the first request; a request that cannot get its share
    // in time is answered 503 with Retry-After.
    void setMemoryBudget(std::shared_ptr<MemoryBudget> budget);
    MemoryBudget& memoryBudget() const;

    struct Impl;

private:
    std::unique_ptr<Impl> m_impl;
};

}  // namespace outpost::hq
