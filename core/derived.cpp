// Derived figures computed from the facts of finalized records.
#include "core/derived.hpp"

#include <cmath>
#include <map>

#include "core/time.hpp"

namespace outpost::core {

json extractFacts(const FormDef& form, const json& payload) {
    json facts = json::object();
    const auto& src = form.source;
    if (!src.contains("fields")) return facts;
    for (const auto& f : src["fields"]) {
        if (!f.is_object() || !f.contains("fact") || !f["fact"].is_string()) continue;
        auto it = payload.find(f.value("name", ""));
        facts[f["fact"].get<std::string>()] = it == payload.end() ? json(nullptr) : *it;
    }
    if (facts.empty()) return facts;
    if (!form.unitField.empty() && payload.contains(form.unitField)) facts["unit"] = payload[form.unitField];
    return facts;
}

const char* gapStatusName(GapStatus s) {
    switch (s) {
        case GapStatus::Met:
            return "met";
        case GapStatus::Due:
            return "due";
        case GapStatus::Overdue:
            return "overdue";
        case GapStatus::Missing:
            return "missing";
    }
    return "?";
}

namespace {

long long asInt(const json& v) {
    return v.is_number() ? static_cast<long long>(v.get<double>()) : 0;
}
std::string asText(const json& v) {
    return v.is_string() ? v.get<std::string>() : std::string();
}

}  // namespace

std::vector<GapCell> computeTrainingGaps(const ReferenceData& ref, const std::vector<std::string>& unitsIn,
                                         const std::vector<FactRow>& facts, std::string_view today) {
    std::vector<std::string> units = unitsIn;
    if (units.empty())
        for (const auto& u : ref.table("units")) units.push_back(u["id"]);
    long long todayDays = daysFromCivil(today).value_or(0);

    // Index sessions by unit and course once: O(facts + cells).
    struct Agg {
        int sessions = 0;
        long long attendees = 0, passed = 0;
        std::string last;
        std::vector<std::string> dates;
    };
    std::map<std::pair<std::string, std::string>, Agg> agg;
    for (const auto& fr : facts) {
        std::string course = asText(fr.facts.value("course", json()));
        if (course.empty()) continue;
        auto& a = agg[{fr.unitId, course}];
        a.sessions++;
        a.attendees += asInt(fr.facts.value("attendees", json()));
        a.passed += asInt(fr.facts.value("passed", json()));
        std::string d = asText(fr.facts.value("end_date", json()));
        if (!d.empty()) {
            a.dates.push_back(d);
            if (d > a.last) a.last = d;
        }
    }

    std::vector<GapCell> out;
    for (const auto& unitId : units) {
        const json* unit = ref.row("units", unitId);
        if (!unit) continue;
        std::string unitType = asText(unit->value("unit_type", json()));
        for (const auto& req : ref.table("training_requirements")) {
            if (asText(req.value("unit_type", json())) != unitType) continue;
            GapCell c;
            c.unitId = unitId;
            c.courseId = asText(req.value("course", json()));
            c.due = asText(req.value("due", json()));
            if (unit->contains("authorised_strength") && (*unit)["authorised_strength"].is_number())
                c.strength = asInt((*unit)["authorised_strength"]);
            auto it = agg.find({unitId, c.courseId});
            const Agg* a = it == agg.end() ? nullptr : &it->second;
            if (a) {
                c.sessions = a->sessions;
                c.attendees = a->attendees;
                c.passed = a->passed;
                c.lastDate = a->last;
            }
            if (c.strength && *c.strength > 0)
                c.coveragePct =
                    std::round(1000.0 * static_cast<double>(c.attendees) / static_cast<double>(*c.strength)) /
                    10.0;
            if (c.due == "annual") {
                bool recent = false;
                if (a)
                    for (const auto& d : a->dates) {
                        auto dd = daysFromCivil(d);
                        if (dd && todayDays - *dd <= 365 && *dd <= todayDays + 1) recent = true;
                    }
                if (recent) {
                    c.status = GapStatus::Met;
                    c.dueBy = civilFromDays(*daysFromCivil(c.lastDate) + 365);
                } else {
                    c.status = a && a->sessions ? GapStatus::Overdue : GapStatus::Missing;
                }
            } else if (c.due == "induction_60_days") {
                std::string start = asText(unit->value("rotation_start", json()));
                auto sd = daysFromCivil(start);
                bool done = false;
                if (a)
                    for (const auto& d : a->dates)
                        if (!sd || d >= start) done = true;
                if (sd) c.dueBy = civilFromDays(*sd + 60);
                if (done)
                    c.status = GapStatus::Met;
                else if (sd && todayDays > *sd + 60)
                    c.status = GapStatus::Overdue;
                else
                    c.status = GapStatus::Due;
            } else {
                c.status = a && a->sessions ? GapStatus::Met : GapStatus::Missing;
            }
            out.push_back(std::move(c));
        }
    }
    return out;
}

ReadinessSummary summarizeReadiness(const ReferenceData& ref, const std::string& unitId,
                                    const std::vector<FactRow>& facts) {
    ReadinessSummary s;
    s.unitId = unitId;
    const FactRow* best = nullptr;
    for (const auto& fr : facts) {
        if (fr.unitId != unitId) continue;
        s.reports++;
        std::string pe = asText(fr.facts.value("period_end", json()));
        if (!best) {
            best = &fr;
            continue;
        }
        std::string bpe = asText(best->facts.value("period_end", json()));
        if (pe > bpe || (pe == bpe && fr.order > best->order)) best = &fr;
    }
    if (!best) return s;
    s.hasReport = true;
    s.recordId = best->recordId;
    s.periodEnd = asText(best->facts.value("period_end", json()));
    s.facts = best->facts;
    const json& wp = best->facts.value("women_pct", json());
    if (wp.is_number()) s.womenPct = wp.get<double>();
    std::string category = asText(ref.value("units", unitId, "personnel_category"));
    s.parityTarget = ref.parityTarget(category, s.periodEnd);
    if (s.womenPct) {
        if (*s.womenPct <= 0)
            s.parityColour = "red";
        else if (s.parityTarget && *s.womenPct >= *s.parityTarget)
            s.parityColour = "green";
        else
            s.parityColour = "yellow";
    }
    return s;
}

}  // namespace outpost::core
