// Enrolls a laptop's store with an HQ in-process, through HQ's own handler (no TLS, no network): the steps
// the bundle and sync tests share.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include <nlohmann/json.hpp>

#include "hq/service.hpp"
#include "storage/hq/store.hpp"
#include "storage/store.hpp"
#include "sync/message.hpp"
#include "sync/protocol.hpp"

namespace outpost::test {

// Adds a one-time code for `unit` (pin "pin") to HQ's store, posts /v1/enroll to the service with a new
// device key, and saves HQ's answer in the laptop's store with a placeholder address
// (https://127.0.0.1:9: nothing may connect there). Each step is a REQUIRE.
inline void enrollThroughHandler(hq::HqService& service, storage::hq::HqStore& hqStore, storage::Store& lap,
                                 const std::string& unit) {
    auto keys = sync::SigningKeyPair::generate();
    auto code = sync::EnrollmentCode::generate("pin");
    REQUIRE(hqStore.addEnrollment(code.secretHash(), unit, "2999-01-01T00:00:00.000Z").ok());
    sync::Request r;
    r.method = "POST";
    r.target = "/v1/enroll";
    r.headers["outpost-protocol"] = "2";
    r.body = nlohmann::json{
        {"code", code.secret},
        {"public_key", sync::base64Encode(keys.publicKey)},
        {"name",
         "lap"}}.dump();
    auto a = service.handle(r);
    INFO(a.body);
    REQUIRE(a.status == 200);
    auto j = nlohmann::json::parse(a.body);
    storage::SyncConfig cfg;
    cfg.hqUrl = "https://127.0.0.1:9";
    cfg.pin = "pin";
    cfg.deviceId = j.at("device_id");
    cfg.hqId = j.at("hq_id");
    cfg.epoch = j.at("epoch");
    cfg.hqSignKey = j.at("hq_sign_key");
    REQUIRE(lap.saveEnrollment(cfg, keys.secretKey).ok());
}

}  // namespace outpost::test
