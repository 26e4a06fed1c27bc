// Derived figures: training gaps per unit, readiness summary, share of women against target.
// Pure functions over "facts": the few values a finalized record contributes (fields marked "fact").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/form.hpp"
#include "core/refdata.hpp"

namespace outpost::core {

using json = nlohmann::json;

// The facts of a record: {fact name: value} for every top-level field with a "fact" key,
// plus "unit" (the unit field). Empty when the form declares no facts.
json extractFacts(const FormDef& form, const json& payload);

// One finalized record's facts as the store hands them back.
struct FactRow {
    std::string recordId;
    std::string formId;
    std::string unitId;
    std::int64_t order = 0;  // local finalize order; breaks ties, never the device clock alone
    json facts;
};

enum class GapStatus { Met, Due, Overdue, Missing };
const char* gapStatusName(GapStatus s);

// A requirement (unit type x course) against what the unit has completed.
struct GapCell {
    std::string unitId;
    std::string courseId;
    std::string due;  // pre_deployment, induction_60_days, annual
    GapStatus status = GapStatus::Missing;
    int sessions = 0;
    long long attendees = 0;
    long long passed = 0;
    std::string lastDate;               // end date of the latest session, when any
    std::optional<long long> strength;  // authorised strength of the unit
    std::optional<double> coveragePct;  // attendees / strength * 100
    std::string dueBy;                  // the date by which it is due, when known
};

// The gap matrix for the given units (all units in the reference data when empty).
// Completed sessions come from facts of the training form: course, end_date, attendees, passed.
// Rules (docs/forms.md "Derived figures"): annual -> a session ended within 365 days of today;
// induction_60_days -> a session since rotation start, overdue 60 days after it;
// pre_deployment -> any session recorded.
std::vector<GapCell> computeTrainingGaps(const ReferenceData& ref, const std::vector<std::string>& units,
                                         const std::vector<FactRow>& trainingFacts, std::string_view today);

// The latest readiness figures of a unit (by period end, then finalize order).
struct ReadinessSummary {
    std::string unitId;
    bool hasReport = false;
    std::string recordId;
    std::string periodEnd;
    json facts = json::object();         // every fact of that report
    std::optional<double> womenPct;      // present women %
    std::optional<double> parityTarget;  // target % for the unit's personnel category and year
    std::string parityColour;  // green (meets), yellow (women, under target), red (none), "" unknown
    int reports = 0;           // finalized readiness reports for the unit
};

ReadinessSummary summarizeReadiness(const ReferenceData& ref, const std::string& unitId,
                                    const std::vector<FactRow>& readinessFacts);

}  // namespace outpost::core
