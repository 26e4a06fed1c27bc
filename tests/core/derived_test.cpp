// Derived figures: the training-gap rules, the readiness summary and the parity colour.
#include <catch2/catch.hpp>

#include "core/derived.hpp"
#include "support/core_fixtures.hpp"

using namespace outpost::core;
using outpost::test::fixture;
using outpost::test::smallRef;

namespace {
FactRow session(const std::string& unit, const std::string& course, const std::string& end, int attendees,
                int passed, std::int64_t order = 1) {
    return FactRow{"rec-" + course + end, "training", unit, order,
                   json{{"course", course}, {"end_date", end}, {"attendees", attendees}, {"passed", passed}}};
}
const GapCell& cell(const std::vector<GapCell>& cells, const std::string& unit, const std::string& course) {
    for (const auto& c : cells)
        if (c.unitId == unit && c.courseId == course) return c;
    FAIL("no cell " << unit << " x " << course);
    throw std::logic_error("unreachable");
}
}  // namespace

TEST_CASE("facts are taken from fields marked fact, with the unit", "[core][derived]") {
    auto form = parseFormDef(
        json::parse(R"({"form": "t", "version": 1, "title": "T", "unit_field": "unit", "fields": [
        {"name": "unit", "type": "reference", "ref": "units", "label": "U"},
        {"name": "n", "type": "integer", "label": "N", "fact": "count"},
        {"name": "other", "type": "integer", "label": "O"}]})"),
        smallRef());
    REQUIRE(form.ok());
    json f = extractFacts(*form, json{{"unit", "U-INF-1"}, {"n", 4}, {"other", 9}});
    CHECK(f == json{{"unit", "U-INF-1"}, {"count", 4}});
}

TEST_CASE("training gaps follow the due rules", "[core][derived]") {
    const std::string today = "2026-11-27";
    SECTION("nothing done: annual and pre-deployment missing, induction overdue after 60 days") {
        auto cells = computeTrainingGaps(smallRef(), {"U-INF-1"}, {}, today);
        REQUIRE(cells.size() == 3);
        CHECK(cell(cells, "U-INF-1", "cptm-3-4").status == GapStatus::Missing);
        CHECK(cell(cells, "U-INF-1", "ied").status == GapStatus::Missing);
        CHECK(cell(cells, "U-INF-1", "induction").status ==
              GapStatus::Overdue);  // rotation 2026-06-01 + 60 days
        CHECK(cell(cells, "U-INF-1", "induction").dueBy == "2026-07-31");
    }
    SECTION("sessions met, counted, and an old annual one is overdue") {
        std::vector<FactRow> facts = {session("U-INF-1", "cptm-3-4", "2026-03-01", 120, 110),
                                      session("U-INF-1", "cptm-3-4", "2026-09-15", 200, 190),
                                      session("U-INF-1", "ied", "2025-12-01", 80, 80),
                                      session("U-INF-1", "induction", "2026-06-20", 850, 850),
                                      session("U-FPU-1", "cptm-3-4", "2025-05-01", 140, 120)};
        auto cells = computeTrainingGaps(smallRef(), {}, facts, today);
        const auto& sea = cell(cells, "U-INF-1", "cptm-3-4");
        CHECK(sea.status == GapStatus::Met);
        CHECK(sea.sessions == 2);
        CHECK(sea.attendees == 320);
        CHECK(sea.passed == 300);
        CHECK(sea.lastDate == "2026-09-15");
        CHECK(sea.coveragePct == Approx(37.6));
        CHECK(cell(cells, "U-INF-1", "ied").status == GapStatus::Met);
        CHECK(cell(cells, "U-INF-1", "induction").status == GapStatus::Met);
        CHECK(cell(cells, "U-FPU-1", "cptm-3-4").status == GapStatus::Overdue);  // older than 365 days
    }
    SECTION("induction before the rotation started does not count; within 60 days it is due") {
        std::vector<FactRow> facts = {session("U-INF-1", "induction", "2026-05-01", 10, 10)};
        auto cells = computeTrainingGaps(smallRef(), {"U-INF-1"}, facts, "2026-06-20");
        CHECK(cell(cells, "U-INF-1", "induction").status == GapStatus::Due);
    }
    SECTION("unknown units are skipped") {
        CHECK(computeTrainingGaps(smallRef(), {"U-NONE"}, {}, today).empty());
    }
}

TEST_CASE("readiness summary: latest period wins, parity colour against the target", "[core][derived]") {
    std::vector<FactRow> facts = {
        {"a", "readiness", "U-INF-1", 1, json{{"period_end", "2026-09-30"}, {"women_pct", 9.5}}},
        {"b", "readiness", "U-INF-1", 2, json{{"period_end", "2026-10-31"}, {"women_pct", 14.0}}},
        {"c", "readiness", "U-INF-1", 3, json{{"period_end", "2026-08-31"}, {"women_pct", 0.0}}},
        {"d", "readiness", "U-FPU-1", 4, json{{"period_end", "2026-10-31"}, {"women_pct", 0.0}}},
    };
    auto s = summarizeReadiness(smallRef(), "U-INF-1", facts);
    CHECK(s.hasReport);
    CHECK(s.reports == 3);
    CHECK(s.recordId == "b");  // by period end, not by the order they were entered
    CHECK(s.parityTarget == Approx(13.0));
    CHECK(s.parityColour == "green");
    facts[1].facts["women_pct"] = 10.0;
    CHECK(summarizeReadiness(smallRef(), "U-INF-1", facts).parityColour == "yellow");
    CHECK(summarizeReadiness(smallRef(), "U-FPU-1", facts).parityColour == "red");
    CHECK_FALSE(summarizeReadiness(smallRef(), "U-NONE", facts).hasReport);
}
