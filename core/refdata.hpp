// Reference data: missions, units, courses, scales, targets and thresholds that forms refer to.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace outpost::core {

using json = nlohmann::json;

struct Choice;

// Immutable after load; safe to share between threads for reading.
class ReferenceData {
public:
    ReferenceData() = default;
    // Checks the shape (tables are arrays of objects with a unique string "id"; scales, targets,
    // thresholds and choice lists well formed) and indexes it.
    static Result<ReferenceData> fromJson(const json& doc);
    static Result<ReferenceData> fromText(std::string_view text);
    // The compiled-in demo reference data. Throws Failure if it is broken (a build defect).
    static const ReferenceData& demo();

    bool hasTable(std::string_view table) const;
    const json* row(std::string_view table, std::string_view id) const;
    // Column of a row, or null.
    json value(std::string_view table, std::string_view id, std::string_view column) const;
    const json& table(std::string_view table) const;  // an empty array when unknown
    std::vector<std::string> tableNames() const;

    bool hasScale(std::string_view id) const;
    // Levels of a scale: [{value, label, scored}]; empty when unknown.
    const json& scaleLevels(std::string_view id) const;
    bool hasChoiceList(std::string_view name) const;
    const json& choiceList(std::string_view name) const;
    bool hasThreshold(std::string_view name) const;
    std::optional<double> threshold(std::string_view name) const;
    // The target percent for a personnel category in the year of isoDate: the latest year <= it,
    // else the earliest year known.
    std::optional<double> parityTarget(std::string_view category, std::string_view isoDate) const;

    // A label in the given language from a value that is text or {"en":..,"fr":..}.
    static std::string label(const json& v, std::string_view lang);
    const json& doc() const { return m_doc; }

private:
    json m_doc = json::object();
    std::map<std::string, std::map<std::string, std::size_t, std::less<>>, std::less<>> m_index;
};

// The part of a reference document a unit of one mission needs: the mission itself, its sectors, the
// sites of those sectors and its units; every other table as it is (countries, courses, scales ...).
// Tables without a mission link are kept whole. Pure; the document is not checked here.
json referenceForMission(const json& doc, std::string_view missionId);

}  // namespace outpost::core
