// Record validation: the same rules on the laptop and at HQ, every problem named by field path.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/form.hpp"
#include "core/refdata.hpp"

namespace outpost::core {

using json = nlohmann::json;

// Draft: incomplete is fine, wrong is not. Final: complete and every rule holds.
enum class ValidationMode { Draft, Final };

struct Issue {
    std::string path;          // "equipment[2].serviceable"
    std::string rule;          // "max", "required", "constraint", ... (docs/forms.md)
    std::string message;       // English, complete sentence fragment naming what is wrong
    LocalText custom;          // the form's own message (constraint_message, pattern_message), when any
    bool warning = false;      // warnings never block saving or finalizing
    std::string arg;           // the bound or limit behind the rule ("100" for max), for localised messages
    std::string text() const;  // "path: rule: message"
};

struct ValidationResult {
    json normalized =
        json::object();  // the payload with computed values; at Final, irrelevant values dropped
    std::vector<Issue> issues;
    std::vector<std::string>
        hidden;  // paths of fields that are not relevant now ("secret", "lines[1].rating")

    bool ok() const;  // no blocking issue
    std::size_t errorCount() const;
    std::string text() const;  // one issue per line, errors first
    const Issue* firstAt(std::string_view path) const;
    bool isHidden(std::string_view path) const;
};

// Validates payload (a JSON object keyed by field name) against form.
// today: "YYYY-MM-DD" for today(); empty means the current UTC date.
// Never throws for bad input: every problem becomes an Issue.
ValidationResult validateRecord(const FormDef& form, const json& payload, ValidationMode mode,
                                const ReferenceData& ref, std::string_view today = {});

// A laptop reports for its own unit only: HQ refuses a report whose unit is another (unit_mismatch).
// When form names a unit field and v.normalized holds a unit other than ownUnit, adds an "own_unit" issue
// at that field: a warning while the report is a draft (it can still be corrected), an error at Final.
// Does nothing when ownUnit is empty (a store made before units were required) or the form has no unit.
void checkOwnUnit(const FormDef& form, std::string_view ownUnit, ValidationMode mode, ValidationResult& v);

// The payload without computed values: what a person entered. Stored payloads carry computed
// values for display and export; strip them before validating a stored payload again.
json stripComputed(const FormDef& form, const json& payload);
// The same, in place (no copy of the payload).
void stripComputedInPlace(const FormDef& form, json& payload);

// Whether a value counts as empty for `required` (null, "", [], {}).
bool isEmptyValue(const json& v);

}  // namespace outpost::core
