// Realistic, reproducible demo records for the built-in forms (demos, tests and benchmarks).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/refdata.hpp"

namespace outpost::demo {

using json = nlohmann::json;

// Makes payloads for the built-in forms (readiness, training, training-gap, incident) that pass
// core::validateRecord(form, payload, ValidationMode::Final, ref) with no issue at all (no
// warnings either), for any unit of the reference data.
//
// The content follows the unit: its type decides the equipment, tasks and courses; its personnel
// category the share of women; its contributing country and the mission's languages whether the
// free text is French or English. Each unit has a stable profile (equipment lines, caveats, women's
// share, standard of performance) derived from the seed and the unit id, so successive reports of
// one unit look like one unit. Free text never holds a person's name or a phone number; SEA
// incidents carry only a pseudonymous reference (CDT-26-0042 style).
//
// Dates fall between 2025-01-01 and 2026-11-20, so "not in the future" rules hold from 2026-11-21 on.
//
// Deterministic: the same reference data, seed and sequence of calls give the same payloads on
// every platform (the generator does its own integer and real draws from std::mt19937_64 rather
// than the library's distributions, whose output differs between standard libraries).
//
// Holds a reference to `ref`: it must outlive the DemoData. Not thread-safe (one per thread).
// Every method throws std::invalid_argument for an unknown unit, form or a malformed date.
class DemoData {
public:
    DemoData(const core::ReferenceData& ref, std::uint64_t seed);
    ~DemoData();
    DemoData(DemoData&&) noexcept;
    DemoData& operator=(DemoData&&) = delete;
    DemoData(const DemoData&) = delete;
    DemoData& operator=(const DemoData&) = delete;

    // A readiness report for the period ending on periodEnd ("YYYY-MM-DD"; a month's last day
    // gives a calendar-month period).
    json readiness(const std::string& unitId, const std::string& periodEnd);
    json training(const std::string& unitId);
    json trainingGap(const std::string& unitId);
    // A conduct incident; sea: a sexual exploitation and abuse case with its confidential section.
    json incident(const std::string& unitId, bool sea);
    // A payload of the given built-in form with the choices left to the generator (the period end
    // of a readiness report, whether an incident is SEA: about 1 in 12).
    json next(const std::string& formId, const std::string& unitId);

    // The ids of the units of the reference data, in table order.
    std::vector<std::string> unitIds() const;
    // The built-in forms this generator fills.
    static const std::vector<std::string>& formIds();

    struct Unit;

private:
    const Unit& unit(const std::string& id);

    const core::ReferenceData& m_ref;
    std::uint64_t m_seed;
    std::mt19937_64 m_rng;
    // Built on first use; a unit's profile depends on the seed and its id only, not on call order.
    std::map<std::string, std::unique_ptr<Unit>, std::less<>> m_units;
    std::map<std::string, int, std::less<>> m_caseNumbers;  // next local case number per unit and year
};

}  // namespace outpost::demo
