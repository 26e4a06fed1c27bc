// A unit receives only its own mission's part of the reference data.
#include <catch2/catch.hpp>

#include "core/builtin.hpp"
#include "core/refdata.hpp"

using namespace outpost::core;
using nlohmann::json;

TEST_CASE("reference data for one mission keeps its sectors, sites and units and every shared table",
          "[refdata]") {
    json doc = {
        {"missions", {{{"id", "M1"}, {"name", "One"}}, {{"id", "M2"}, {"name", "Two"}}}},
        {"sectors", {{{"id", "S1"}, {"mission", "M1"}}, {{"id", "S2"}, {"mission", "M2"}}}},
        {"sites", {{{"id", "T1"}, {"sector", "S1"}}, {{"id", "T2"}, {"sector", "S2"}}, {{"id", "T3"}}}},
        {"units", {{{"id", "U1"}, {"mission", "M1"}}, {{"id", "U2"}, {"mission", "M2"}}}},
        {"countries", {{{"id", "RW"}}, {{"id", "PK"}}}},
        {"thresholds", {{"serviceability_pct", 90}}}};
    json m1 = referenceForMission(doc, "M1");
    CHECK(m1["missions"].size() == 1);
    CHECK(m1["missions"][0]["id"] == "M1");
    CHECK(m1["sectors"].size() == 1);
    CHECK(m1["sites"].size() == 1);
    CHECK(m1["sites"][0]["id"] == "T1");
    CHECK(m1["units"].size() == 1);
    CHECK(m1["units"][0]["id"] == "U1");
    CHECK(m1["countries"] == doc["countries"]);
    CHECK(m1["thresholds"] == doc["thresholds"]);
    // The demo mission's document loses nothing: it has one mission.
    json demo = json::parse(demoReferenceSource());
    CHECK(referenceForMission(demo, "MINUSCA") == demo);
    CHECK(referenceForMission(json::array(), "M1") == json::array());
}
