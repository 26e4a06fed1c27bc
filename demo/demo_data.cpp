// Realistic demo records for the built-in forms: unit profiles, bilingual tables (demo/data), four
// generators.
//
// [SECTION] draws and dates
// [SECTION] text: templates and the bilingual tables
// [SECTION] unit profiles
// [SECTION] readiness
// [SECTION] training
// [SECTION] training gap
// [SECTION] incident
#include "demo/demo_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "core/time.hpp"
#include "demo/demo_tables.hpp"

namespace outpost::demo {

// [SECTION] draws and dates
namespace {

using Rng = std::mt19937_64;

// The first and last day any generated date may take (see the header on "not in the future").
constexpr const char* kFirstDate = "2025-01-01";
constexpr const char* kLastDate = "2026-11-20";
// The last period end a readiness report may have: the last full month before kLastDate.
constexpr const char* kLastPeriodEnd = "2026-10-31";
// Planned dates (due dates, target dates) lie ahead of the facts but stay within the demo years.
constexpr const char* kLastPlannedDate = "2026-12-31";

// Uniform in [0, n): rejection sampling keeps it unbiased and identical on every standard library.
std::uint64_t below(Rng& r, std::uint64_t n) {
    if (n <= 1) return 0;
    const std::uint64_t limit = Rng::max() - Rng::max() % n;
    std::uint64_t x;
    do x = r();
    while (x >= limit);
    return x % n;
}

int between(Rng& r, int lo, int hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<int>(below(r, static_cast<std::uint64_t>(hi - lo) + 1));
}

double real(Rng& r, double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(r() >> 11) * 0x1.0p-53;
}

bool chance(Rng& r, double p) {
    return real(r, 0.0, 1.0) < p;
}

template <typename T>
const T& pick(Rng& r, const std::vector<T>& v) {
    return v[below(r, v.size())];
}

// An index drawn with the given weights; a zero weight is never drawn.
std::size_t weighted(Rng& r, std::initializer_list<double> weights) {
    double total = 0;
    std::size_t lastPositive = 0, i = 0;
    for (double w : weights) {
        total += w;
        if (w > 0) lastPositive = i;
        ++i;
    }
    double x = real(r, 0.0, total);
    i = 0;
    for (double w : weights) {
        if (w > 0 && x < w) return i;
        x -= w;
        ++i;
    }
    return lastPositive;  // only when rounding left x at the very top
}

// FNV-1a: a unit's profile must not depend on std::hash, which differs between libraries.
std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

long long dayOf(std::string_view iso) {
    auto d = core::daysFromCivil(iso);
    if (!d) throw std::invalid_argument("not a date (YYYY-MM-DD): '" + std::string(iso) + "'");
    return *d;
}

// The inverse of daysFromCivil (Howard Hinnant's civil_from_days).
std::string isoDate(long long days) {
    days += 719468;
    const long long era = (days >= 0 ? days : days - 146096) / 146097;
    const long long doe = days - era * 146097;
    const long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const long long mp = (5 * doy + 2) / 153;
    const long long d = doy - (153 * mp + 2) / 5 + 1;
    const long long m = mp < 10 ? mp + 3 : mp - 9;
    const long long y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld", y, m, d);
    return buf;
}

long long firstDay() {
    return dayOf(kFirstDate);
}
long long lastDay() {
    return dayOf(kLastDate);
}
long long lastPlannedDay() {
    return dayOf(kLastPlannedDate);
}

long long dayIn(Rng& r, long long lo, long long hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<long long>(below(r, static_cast<std::uint64_t>(hi - lo) + 1));
}

int yearOf(long long day) {
    return std::stoi(isoDate(day).substr(0, 4));
}

// The first day of the month `back` months before the month of `day` (0: the same month).
long long monthStart(long long day, int back) {
    std::string d = isoDate(day);
    int y = std::stoi(d.substr(0, 4)), m = std::stoi(d.substr(5, 2)) - back;
    while (m < 1) {
        m += 12;
        --y;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-01", y, m);
    return dayOf(buf);
}

bool isMonthEnd(long long day) {
    return isoDate(day + 1).substr(8, 2) == "01";
}

double round1(double x) {
    return std::round(x * 10.0) / 10.0;
}

// [SECTION] text: templates and the bilingual tables
// The tables are data: demo/data/*.json, compiled in by demo/embed_tables.cmake (nothing is read at run
// time) and parsed once, on first use. A phrase is {"en": ..., "fr": ...}; "{name}" marks a value that
// fill() puts in. tests/demo/demo_tables_test.cpp checks that every phrase has both languages.
struct Text {
    std::string en;
    std::string fr;
};

using Vars = std::vector<std::pair<std::string, std::string>>;

// Replaces every "{name}" of the template with its value.
std::string fill(std::string s, const Vars& vars) {
    for (const auto& [k, v] : vars) {
        const std::string key = "{" + k + "}";
        for (auto pos = s.find(key); pos != std::string::npos; pos = s.find(key, pos + v.size()))
            s.replace(pos, key.size(), v);
    }
    return s;
}

// The language a contingent trains in among itself: a code of the "languages" choice list, and the
// name to record when that code is "other".
struct HomeLanguage {
    std::string country;
    std::string code;
    std::string other;
};
struct TaskText {
    std::string task;
    Text evidence;
};
struct CategoryText {
    std::string category;
    Text text;
};
struct CaveatText {
    std::string type;
    Text description;
    Text effect;
};
struct ImprovementText {
    Text finding;
    Text action;
    std::string owner;
};
struct TypeText {
    std::string unitType;
    Text text;
};
// A description and how many alleged perpetrators it speaks of (0: not said, one to three).
struct IncidentText {
    int perpetrators;
    Text text;
};
struct IncidentType {
    std::string type;
    std::string thematic;
    bool serious;
    double weight;      // how often it occurs among non-SEA cases
    std::string ranks;  // rank bands, most likely first, separated by spaces
    std::vector<IncidentText> descriptions;
};
struct SeaType {
    std::string type;
    double weight;
    int perpetrators;       // as in IncidentText
    std::string ageGroups;  // most likely first
    Text description;
};
struct ThematicText {
    std::string thematic;
    Text measures;
};
struct OutcomeText {
    std::string outcome;
    Text text;
};
struct EquipmentSpec {
    std::string category;
    Text description;
    int minQty, maxQty;  // for a unit of the reference strength of its type
};

// Every table of demo/data, by file: languages.json, equipment.json, readiness.json, training.json,
// training_gap.json, incident.json.
struct Tables {
    // Countries whose contingents write their reports in French when the mission works in French.
    std::set<std::string, std::less<>> francophone;
    std::vector<HomeLanguage> homeLanguages;
    // Major equipment of each unit type as an MOU lists it: a unit holds most of these lines.
    std::vector<std::pair<std::string, std::vector<EquipmentSpec>>> equipmentByType;
    // readiness
    std::vector<Text> shortfall;
    std::vector<TaskText> taskEvidence;
    Text taskEvidenceDefault;
    std::vector<Text> taskRemarks;
    Text taskNotObserved;
    std::vector<Text> equipmentRemarks;
    std::vector<Text> selfSustainmentRemarks;
    std::vector<CategoryText> selfSustainmentSpecific;
    std::vector<CaveatText> caveats;
    std::vector<ImprovementText> improvements;
    std::vector<Text> commanderRemarks;
    std::vector<TypeText> commanderRemarksByType;
    // training
    std::vector<Text> trainersMissionCentre;
    std::vector<Text> trainersUnit;
    std::vector<Text> trainersMemberState;
    std::vector<Text> trainersIts;
    Text trainersConduct;
    std::vector<Text> trainingRemarks;
    std::vector<Text> trainingFollowUp;
    Text trainingRemarkTest;
    std::vector<CategoryText> trainingRemarksByCourse;
    // training gap
    std::vector<Text> gapWithCourse;
    std::vector<Text> gapWithoutCourse;
    std::vector<Text> gapCauses;
    std::vector<Text> gapRemarks;
    Text gapClosedRemark;
    // incident
    std::vector<IncidentType> incidentTypes;
    std::vector<SeaType> seaTypes;
    Text seaChild;
    Text seaPaternity;
    Text seaMeasures;
    std::vector<Text> seaNotes;
    std::vector<ThematicText> measures;
    std::vector<OutcomeText> outcomeDetails;
};

// One table file, parsed; json::at throws json::exception for a missing key, which only a broken
// build can bring (the test above reads the same files).
json tableFile(std::string_view name) {
    for (const auto& [file, text] : demoTableSources())
        if (file == name) return json::parse(text);
    throw std::logic_error("demo table file " + std::string(name) + " is not compiled in");
}

Text text(const json& j) {
    return {j.at("en").get<std::string>(), j.at("fr").get<std::string>()};
}

std::vector<Text> texts(const json& j) {
    std::vector<Text> out;
    for (const auto& t : j) out.push_back(text(t));
    return out;
}

std::vector<CategoryText> categoryTexts(const json& j, const char* key) {
    std::vector<CategoryText> out;
    for (const auto& t : j) out.push_back({t.at(key).get<std::string>(), text(t.at("text"))});
    return out;
}

Tables loadTables() {
    Tables t;
    const json lang = tableFile("languages.json");
    for (const auto& c : lang.at("francophone")) t.francophone.insert(c.get<std::string>());
    for (const auto& h : lang.at("home_languages"))
        t.homeLanguages.push_back({h.at("country"), h.at("code"), h.at("other")});

    const json equipment = tableFile("equipment.json");
    for (const auto& type : equipment.at("equipment_by_type")) {
        std::vector<EquipmentSpec> specs;
        for (const auto& s : type.at("lines"))
            specs.push_back({s.at("category"), text(s.at("description")), s.at("min_qty"), s.at("max_qty")});
        t.equipmentByType.emplace_back(type.at("unit_type"), std::move(specs));
    }

    const json rd = tableFile("readiness.json");
    t.shortfall = texts(rd.at("shortfall"));
    for (const auto& e : rd.at("task_evidence"))
        t.taskEvidence.push_back({e.at("task"), text(e.at("evidence"))});
    t.taskEvidenceDefault = text(rd.at("task_evidence_default"));
    t.taskRemarks = texts(rd.at("task_remarks"));
    t.taskNotObserved = text(rd.at("task_not_observed"));
    t.equipmentRemarks = texts(rd.at("equipment_remarks"));
    t.selfSustainmentRemarks = texts(rd.at("self_sustainment_remarks"));
    t.selfSustainmentSpecific = categoryTexts(rd.at("self_sustainment_specific"), "category");
    for (const auto& c : rd.at("caveats"))
        t.caveats.push_back({c.at("type"), text(c.at("description")), text(c.at("effect"))});
    for (const auto& i : rd.at("improvements"))
        t.improvements.push_back({text(i.at("finding")), text(i.at("action")), i.at("owner")});
    t.commanderRemarks = texts(rd.at("commander_remarks"));
    for (const auto& c : rd.at("commander_remarks_by_type"))
        t.commanderRemarksByType.push_back({c.at("unit_type"), text(c.at("text"))});

    const json tr = tableFile("training.json");
    t.trainersMissionCentre = texts(tr.at("trainers_mission_centre"));
    t.trainersUnit = texts(tr.at("trainers_unit"));
    t.trainersMemberState = texts(tr.at("trainers_member_state"));
    t.trainersIts = texts(tr.at("trainers_its"));
    t.trainersConduct = text(tr.at("trainers_conduct"));
    t.trainingRemarks = texts(tr.at("training_remarks"));
    t.trainingFollowUp = texts(tr.at("training_follow_up"));
    t.trainingRemarkTest = text(tr.at("training_remark_test"));
    t.trainingRemarksByCourse = categoryTexts(tr.at("training_remarks_by_course"), "course");

    const json gap = tableFile("training_gap.json");
    t.gapWithCourse = texts(gap.at("with_course"));
    t.gapWithoutCourse = texts(gap.at("without_course"));
    t.gapCauses = texts(gap.at("causes"));
    t.gapRemarks = texts(gap.at("remarks"));
    t.gapClosedRemark = text(gap.at("closed_remark"));

    const json in = tableFile("incident.json");
    for (const auto& i : in.at("incident_types")) {
        IncidentType it{i.at("type"), i.at("thematic"), i.at("serious"), i.at("weight"), i.at("ranks"), {}};
        for (const auto& d : i.at("descriptions"))
            it.descriptions.push_back({d.at("perpetrators"), text(d.at("text"))});
        t.incidentTypes.push_back(std::move(it));
    }
    for (const auto& s : in.at("sea_types"))
        t.seaTypes.push_back({s.at("type"), s.at("weight"), s.at("perpetrators"), s.at("age_groups"),
                              text(s.at("description"))});
    t.seaChild = text(in.at("sea_child"));
    t.seaPaternity = text(in.at("sea_paternity"));
    t.seaMeasures = text(in.at("sea_measures"));
    t.seaNotes = texts(in.at("sea_notes"));
    for (const auto& m : in.at("measures")) t.measures.push_back({m.at("thematic"), text(m.at("measures"))});
    for (const auto& o : in.at("outcome_details"))
        t.outcomeDetails.push_back({o.at("outcome"), text(o.at("text"))});
    return t;
}

// Parsed on first use, once (thread-safe: a function-local static).
const Tables& tables() {
    static const Tables t = loadTables();
    return t;
}

}  // namespace

// [SECTION] unit profiles
namespace {

struct EquipmentLine {
    std::string category;
    std::string description;
    int mouQty = 1;
};
struct Site {
    std::string name;
    double lat = 0, lon = 0;
    bool hasPosition = false;
};

// A typical authorised strength per unit type: MOU quantities scale with the unit's own strength.
int referenceStrength(const std::string& type) {
    if (type == "infantry_battalion") return 850;
    if (type == "quick_reaction_force") return 180;
    if (type == "engineering_company") return 205;
    if (type == "level2_hospital") return 70;
    if (type == "aviation_unit") return 120;
    if (type == "signals_company") return 130;
    if (type == "fpu") return 140;
    return 150;
}

// The share of women a contingent of this personnel category plausibly deploys (ranges around the
// DPO figures; some units reach the parity target, most do not yet).
std::pair<double, double> womenShareRange(const std::string& category) {
    if (category == "contingent_troops") return {0.03, 0.145};
    if (category == "staff_officers_observers") return {0.12, 0.30};
    if (category == "fpu") return {0.10, 0.30};
    if (category == "individual_police") return {0.18, 0.38};
    if (category == "justice_corrections") return {0.22, 0.42};
    return {0.05, 0.20};
}

bool patrols(const std::string& type) {
    return type == "infantry_battalion" || type == "quick_reaction_force" || type == "fpu" ||
           type == "military_observers" || type == "individual_police";
}

// A town's name for free text: "Bangui – Mission headquarters" and "Bouar (Sector West ...)" give the town.
std::string townName(std::string name) {
    for (const char* cut : {" – ", " (", " - "})
        if (auto p = name.find(cut); p != std::string::npos) name.erase(p);
    return name;
}

// A unit's code for case numbers: "MINUSCA-RWABATT-1" gives "RWABATT1" (the form's pattern allows 2-12).
std::string caseCode(const std::string& unitId, const std::string& mission) {
    std::string s = unitId;
    if (!mission.empty() && s.rfind(mission + "-", 0) == 0) s.erase(0, mission.size() + 1);
    std::string out;
    for (char c : s) {
        if (c >= 'a' && c <= 'z')
            out.push_back(static_cast<char>(c - 'a' + 'A'));
        else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            out.push_back(c);
    }
    if (out.size() > 12) out.resize(12);
    if (out.size() < 2) out = "UNIT" + out;
    return out;
}

std::string str(const json* row, const char* key) {
    if (!row) return {};
    auto it = row->find(key);
    return it != row->end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

struct DemoData::Unit {
    std::string id, type, category, country, mission, sector, code;
    std::string lang;                 // "fr" or "en": the language of the unit's free text
    std::string homeCode, homeOther;  // the language it trains in among itself
    int strength = 100;
    long long rotationStart = 0;
    double womenShare = 0.1;
    double standard = 0.5;  // 0 (struggling) .. 1 (exemplary)
    std::vector<EquipmentLine> equipment;
    std::vector<std::string> selfSustainment;
    std::vector<std::pair<const CaveatText*, bool>> caveats;  // with "declared before deployment"
    std::vector<std::string> tasks;
    std::vector<std::pair<std::string, std::string>> requirements;  // course id, due
    std::vector<std::string> extraCourses;
    std::vector<Site> sites;

    std::string say(const Text& t) const { return lang == "fr" ? t.fr : t.en; }
};

DemoData::DemoData(const core::ReferenceData& ref, std::uint64_t seed)
    : m_ref(ref), m_seed(seed), m_rng(seed) {}
DemoData::~DemoData() = default;
DemoData::DemoData(DemoData&&) noexcept = default;

std::vector<std::string> DemoData::unitIds() const {
    std::vector<std::string> out;
    for (const auto& u : m_ref.table("units"))
        if (u.contains("id") && u["id"].is_string()) out.push_back(u["id"]);
    return out;
}

const std::vector<std::string>& DemoData::formIds() {
    static const std::vector<std::string> kIds = {"readiness", "training", "training-gap", "incident"};
    return kIds;
}

const DemoData::Unit& DemoData::unit(const std::string& id) {
    if (auto it = m_units.find(id); it != m_units.end()) return *it->second;
    const json* row = m_ref.row("units", id);
    if (!row) throw std::invalid_argument("unknown unit '" + id + "'");
    Rng r(m_seed ^ fnv1a(id));
    auto u = std::make_unique<Unit>();
    u->id = id;
    u->type = str(row, "unit_type");
    u->category = str(row, "personnel_category");
    u->country = str(row, "country");
    u->mission = str(row, "mission");
    u->sector = str(row, "sector");
    u->code = caseCode(id, u->mission);
    if (auto s = row->find("authorised_strength"); s != row->end() && s->is_number_integer())
        u->strength = std::clamp(s->get<int>(), 1, 5000);
    std::string rot = str(row, "rotation_start");
    u->rotationStart = core::isValidDate(rot) ? dayOf(rot) : lastDay() - 200;

    bool missionFrench = false;
    if (const json* m = m_ref.row("missions", u->mission); m && m->contains("languages"))
        for (const auto& l : (*m)["languages"]) missionFrench = missionFrench || l == "fr";
    u->lang = missionFrench && tables().francophone.count(u->country) ? "fr" : "en";
    u->homeCode = u->lang;
    for (const auto& h : tables().homeLanguages)
        if (u->country == h.country) {
            u->homeCode = h.code;
            u->homeOther = h.other;
        }

    auto [lo, hi] = womenShareRange(u->category);
    u->womenShare = real(r, lo, hi);
    u->standard = real(r, 0.0, 1.0);

    double scale = static_cast<double>(u->strength) / referenceStrength(u->type);
    for (const auto& [type, specs] : tables().equipmentByType) {
        if (type != u->type) continue;
        // Two makes of APC are alternatives: a battalion fields one of them.
        std::vector<std::size_t> apcs;
        for (std::size_t i = 0; i < specs.size(); ++i)
            if (std::string(specs[i].category) == "apc_wheeled") apcs.push_back(i);
        const std::size_t apc = apcs.empty() ? specs.size() : pick(r, apcs);
        for (std::size_t i = 0; i < specs.size(); ++i) {
            const auto& s = specs[i];
            if (std::string(s.category) == "apc_wheeled" && i != apc) continue;
            // Larger tables of organisation: not every unit of the type holds every line.
            if (specs.size() > 6 && std::string(s.category) != "apc_wheeled" && chance(r, 0.35)) continue;
            EquipmentLine l;
            l.category = s.category;
            l.description = u->say(s.description);
            l.mouQty =
                std::clamp(static_cast<int>(std::lround(between(r, s.minQty, s.maxQty) * scale)), 1, 1000);
            u->equipment.push_back(std::move(l));
        }
    }
    if (!u->equipment.empty()) {
        for (const auto& s : m_ref.table("self_sustainment"))
            if (chance(r, 0.35)) u->selfSustainment.push_back(s.value("id", ""));
        if (u->selfSustainment.empty() && !m_ref.table("self_sustainment").empty())
            u->selfSustainment.push_back(m_ref.table("self_sustainment")[0].value("id", ""));
    }
    if (!u->equipment.empty()) {
        std::size_t n = weighted(r, {70, 25, 5});
        std::vector<const CaveatText*> pool;
        for (const auto& c : tables().caveats) {
            // A unit that has no drones or no crowd-control role has no caveat about them.
            std::string t = c.type;
            if (t == "task" && u->type == "fpu") continue;
            if (t == "equipment" && u->type != "quick_reaction_force") continue;
            pool.push_back(&c);
        }
        for (std::size_t i = 0; i < n && !pool.empty(); ++i) {
            std::size_t k = below(r, pool.size());
            u->caveats.emplace_back(pool[k], chance(r, 0.8));
            pool.erase(pool.begin() + static_cast<long>(k));
        }
    }
    for (const auto& t : m_ref.table("standard_tasks"))
        if (t.contains("unit_types"))
            for (const auto& ut : t["unit_types"])
                if (ut == u->type) u->tasks.push_back(t.value("id", ""));
    for (const auto& q : m_ref.table("training_requirements"))
        if (q.value("unit_type", "") == u->type && m_ref.row("courses", q.value("course", "")))
            u->requirements.emplace_back(q.value("course", ""), q.value("due", ""));
    for (const auto& c : m_ref.table("courses")) {
        std::string kind = c.value("kind", "");
        if (kind != "stm" && kind != "induction") u->extraCourses.push_back(c.value("id", ""));
    }
    for (const auto& s : m_ref.table("sites")) {
        if (s.value("sector", "") != u->sector) continue;
        Site site;
        site.name = townName(core::ReferenceData::label(s.value("name", json()), u->lang));
        if (s.contains("lat") && s.contains("lon") && s["lat"].is_number() && s["lon"].is_number()) {
            site.lat = s["lat"];
            site.lon = s["lon"];
            site.hasPosition = true;
        }
        if (!site.name.empty()) u->sites.push_back(std::move(site));
    }
    if (u->sites.empty())
        u->sites.push_back(Site{u->lang == "fr" ? "la zone de déploiement" : "the deployment area"});
    return *m_units.emplace(id, std::move(u)).first->second;
}

json DemoData::next(const std::string& formId, const std::string& unitId) {
    if (formId == "readiness") {
        // A monthly report for a month between January 2025 and the last full month.
        long long last = dayOf(kLastPeriodEnd);
        long long months = 0;
        for (long long d = monthStart(last, 0); d > firstDay(); d = monthStart(d - 1, 0)) ++months;
        long long start =
            monthStart(last, static_cast<int>(below(m_rng, static_cast<std::uint64_t>(months) + 1)));
        long long end = monthStart(start + 40, 0) - 1;
        return readiness(unitId, isoDate(end));
    }
    if (formId == "training") return training(unitId);
    if (formId == "training-gap") return trainingGap(unitId);
    if (formId == "incident") return incident(unitId, chance(m_rng, 1.0 / 12.0));
    throw std::invalid_argument("no demo data for form '" + formId +
                                "' (readiness, training, training-gap, incident)");
}

// [SECTION] readiness
json DemoData::readiness(const std::string& unitId, const std::string& periodEnd) {
    const Unit& u = unit(unitId);
    Rng& r = m_rng;
    const long long end = dayOf(periodEnd);
    const std::string& lang = u.lang;
    const Site& site = pick(r, u.sites);
    json p = json::object();
    p["unit"] = u.id;

    std::string type;
    if (u.type == "fpu")
        type = std::vector<std::string>{"fpu_paer", "monthly_self_assessment",
                                        "aav_follow_up"}[weighted(r, {40, 50, 10})];
    else
        type = std::vector<std::string>{"monthly_self_assessment", "commander_evaluation",
                                        "aav_follow_up"}[weighted(r, {75, 20, 5})];
    p["report_type"] = type;
    int months = type == "commander_evaluation" || type == "fpu_paer" ? (chance(r, 0.7) ? 3 : 6) : 1;
    auto startFor = [&](int m) { return isMonthEnd(end) ? monthStart(end, m - 1) : end - 30LL * m + 1; };
    // An evaluation early in 2025 covers fewer months rather than reach back into 2024.
    while (months > 1 && startFor(months) < firstDay() && end >= firstDay()) months = months == 6 ? 3 : 1;
    const long long start = startFor(months);
    p["period_start"] = isoDate(start);
    p["period_end"] = isoDate(end);
    std::string sectorName;
    if (const json* s = m_ref.row("sectors", u.sector))
        sectorName = core::ReferenceData::label(s->value("name", json()), lang);
    if (type == "monthly_self_assessment")
        p["assessor"] = lang == "fr" ? "Commandant du contingent" : "Contingent commander";
    else if (type == "fpu_paer")
        p["assessor"] = lang == "fr" ? "Chef de la composante Police" : "Police Commissioner";
    else if (type == "aav_follow_up")
        p["assessor"] = lang == "fr" ? "Équipe d'évaluation et de conseil (Bureau des affaires militaires)"
                                     : "Assessment and advisory visit team (Office of Military Affairs)";
    else if (sectorName.rfind("Sector ", 0) == 0)
        p["assessor"] = sectorName + " Commander";
    else if (sectorName.rfind("Secteur ", 0) == 0)
        p["assessor"] = "Commandant du s" + sectorName.substr(1);  // "Commandant du secteur Ouest"
    else
        p["assessor"] = lang == "fr" ? "Commandant de la Force" : "Force Commander";

    // Strength: authorised from the MOU, deployed a little under it, present less leave and evacuations.
    const int auth = u.strength;
    const double share = std::clamp(u.womenShare * real(r, 0.9, 1.1), 0.0, 1.0);
    int authWomen =
        std::clamp(static_cast<int>(std::lround(auth * u.womenShare * real(r, 1.0, 1.15))), 0, auth);
    p["authorised_men"] = auth - authWomen;
    p["authorised_women"] = authWomen;
    int deployed = std::max(1, auth - between(r, 0, std::max(0, auth * 3 / 100)));
    int depWomen = std::clamp(static_cast<int>(std::lround(deployed * share)), 0, deployed);
    int depMen = deployed - depWomen;
    p["deployed_men"] = depMen;
    p["deployed_women"] = depWomen;
    p["present_men"] = depMen - between(r, depMen / 100, depMen * 8 / 100);
    p["present_women"] = depWomen - between(r, 0, depWomen * 8 / 100);

    // Ratings on the unit scale: mostly "meets", better or worse with the unit's standard.
    auto rating = [&](bool mayBeUnobserved) {
        if (mayBeUnobserved && chance(r, 0.04)) return 0;
        double x = real(r, 0.0, 1.0);
        double up = 0.10 + 0.25 * u.standard, down = 0.22 - 0.17 * u.standard,
               bad = 0.04 - 0.035 * u.standard;
        if (x < bad) return 1;
        if (x < bad + down) return 2;
        if (x < bad + down + up) return 4;
        return 3;
    };
    p["rating_command_control"] = rating(false);
    p["rating_training"] = rating(true);
    p["rating_conduct_discipline"] = rating(false);
    p["rating_mandated_tasks"] = rating(false);
    p["rating_sustainment"] = rating(true);
    p["rating_medical_welfare"] = rating(true);
    p["rating_force_protection"] = rating(true);

    int planned = 0;
    if (patrols(u.type)) {
        if (u.type == "infantry_battalion")
            planned = between(r, 120, 260) * u.strength / 850;
        else if (u.type == "quick_reaction_force")
            planned = between(r, 20, 60);
        else if (u.type == "fpu")
            planned = between(r, 60, 150);
        else
            planned = between(r, 20, 60);
        planned = std::clamp(planned * months, 1, 5000);
    }
    int conducted = planned;
    if (planned > 0 && chance(r, 0.45 + 0.3 * (1 - u.standard)))
        conducted = planned - between(r, 1, std::max(1, planned * 12 / 100));
    p["patrols_planned"] = planned;
    p["patrols_conducted"] = conducted;
    if (planned > 0) p["patrols_unplanned"] = between(r, 0, std::max(1, planned * 8 / 100));
    if (conducted < planned) {
        int n = planned - conducted;
        std::string en = n == 1 ? "One patrol cancelled" : std::to_string(n) + " patrols cancelled";
        std::string fr = n == 1 ? "Une patrouille annulée" : std::to_string(n) + " patrouilles annulées";
        std::string c = lang == "fr" ? fr : en;
        std::string lc = c;
        if (!lc.empty() && lc[0] >= 'A' && lc[0] <= 'Z') lc[0] = static_cast<char>(lc[0] - 'A' + 'a');
        p["patrol_shortfall_reason"] = fill(u.say(pick(r, tables().shortfall)),
                                            {{"cancelled", c}, {"cancelled_lc", lc}, {"site", site.name}});
    }

    json tasks = json::array();
    if (!u.tasks.empty()) {
        std::vector<std::string> pool = u.tasks;
        int n = std::min<int>(static_cast<int>(pool.size()), between(r, 1, 3));
        for (int i = 0; i < n; ++i) {
            std::size_t k = below(r, pool.size());
            std::string task = pool[k];
            pool.erase(pool.begin() + static_cast<long>(k));
            json row = {{"task", task}};
            bool observed = chance(r, 0.85);
            row["observed"] = observed;
            if (observed) {
                row["rating"] = rating(false);
                Text ev = tables().taskEvidenceDefault;
                for (const auto& t : tables().taskEvidence)
                    if (task == t.task) ev = t.evidence;
                row["evidence"] = fill(
                    u.say(ev), {{"site", pick(r, u.sites).name}, {"km", std::to_string(between(r, 4, 25))}});
                if (chance(r, 0.3)) row["remarks"] = u.say(pick(r, tables().taskRemarks));
            } else {
                row["remarks"] = u.say(tables().taskNotObserved);
            }
            tasks.push_back(std::move(row));
        }
    }
    p["tasks"] = std::move(tasks);

    // Equipment: most lines at or near the MOU quantity; now and then one falls under the threshold.
    const double threshold = m_ref.threshold("coe_serviceability_pct").value_or(90.0);
    json equipment = json::array();
    for (const auto& l : u.equipment) {
        int present = l.mouQty;
        if (chance(r, 0.08)) present = std::max(0, l.mouQty - between(r, 1, std::max(1, l.mouQty / 8)));
        int fullOk = static_cast<int>(std::ceil(l.mouQty * threshold / 100.0 - 1e-9));
        int serviceable;
        if (chance(r, 0.06 + 0.08 * (1 - u.standard)) || present < fullOk)
            serviceable =
                std::min(present, static_cast<int>(std::floor(l.mouQty * real(r, 0.55, threshold / 100.0))));
        else
            serviceable = between(r, std::min(fullOk, present), present);
        serviceable = std::clamp(serviceable, 0, present);
        json row = {{"category", l.category},
                    {"description", l.description},
                    {"mou_qty", l.mouQty},
                    {"present", present},
                    {"serviceable", serviceable}};
        if (round1(serviceable * 100.0 / l.mouQty) < threshold)
            row["remarks"] = u.say(pick(r, tables().equipmentRemarks));
        equipment.push_back(std::move(row));
    }
    p["equipment"] = std::move(equipment);

    json ss = json::array();
    for (const auto& c : u.selfSustainment) {
        std::size_t k = weighted(r, {78 + 10 * u.standard, 14, 3, 5});
        static const char* kRatings[] = {"meets", "partially", "not_met", "provided_by_un"};
        json row = {{"category", c}, {"rating", kRatings[k]}};
        if (k == 1 || k == 2) {
            Text t = pick(r, tables().selfSustainmentRemarks);
            for (const auto& s : tables().selfSustainmentSpecific)
                if (c == s.category && chance(r, 0.6)) t = s.text;
            row["remarks"] = u.say(t);
        }
        ss.push_back(std::move(row));
    }
    p["self_sustainment"] = std::move(ss);

    json caveats = json::array();
    for (const auto& [c, declared] : u.caveats)
        caveats.push_back({{"caveat_type", c->type},
                           {"declared", declared},
                           {"description", u.say(c->description)},
                           {"effect_on_tasks", fill(u.say(c->effect), {{"site", u.sites.front().name}})}});
    p["caveats"] = std::move(caveats);

    json improvements = json::array();
    int nImp = static_cast<int>(weighted(r, {45 + 30 * u.standard, 35, 15, 5}));
    std::vector<const ImprovementText*> pool;
    for (const auto& i : tables().improvements) pool.push_back(&i);
    for (int i = 0; i < nImp && !pool.empty(); ++i) {
        std::size_t k = below(r, pool.size());
        const ImprovementText* it = pool[k];
        pool.erase(pool.begin() + static_cast<long>(k));
        long long due = std::min(end + between(r, -30, 120), std::max(end, lastPlannedDay()));
        std::string status;
        if (due < end)
            status = chance(r, 0.6) ? "done" : "overdue";
        else
            status = std::vector<std::string>{"open", "in_progress", "done"}[weighted(r, {40, 45, 15})];
        improvements.push_back({{"finding", u.say(it->finding)},
                                {"action", u.say(it->action)},
                                {"owner", it->owner},
                                {"due_date", isoDate(due)},
                                {"status", status}});
    }
    p["improvements"] = std::move(improvements);

    if (chance(r, 0.85)) {
        std::string remark;
        for (const auto& t : tables().commanderRemarksByType)
            if (u.type == t.unitType && chance(r, 0.6)) {
                int n = 0, m = 0;
                if (u.type == "level2_hospital") {
                    n = between(r, 180, 420) * months;
                    m = between(r, 8, 30) * months;
                } else if (u.type == "aviation_unit") {
                    n = between(r, 90, 180) * months;
                    m = between(r, 2, 9) * months;
                } else if (u.type == "engineering_company") {
                    n = between(r, 15, 60) * months;
                    m = between(r, 1, 4) * months;
                } else if (u.type == "signals_company") {
                    n = between(r, 96, 99);
                } else {
                    m = between(r, 2, 8) * months;
                }
                remark = fill(u.say(t.text), {{"n", std::to_string(n)}, {"m", std::to_string(m)}});
            }
        if (remark.empty()) remark = u.say(pick(r, tables().commanderRemarks));
        p["commander_remarks"] = remark;
    }
    return p;
}

// [SECTION] training
json DemoData::training(const std::string& unitId) {
    const Unit& u = unit(unitId);
    Rng& r = m_rng;
    json p = json::object();
    p["unit"] = u.id;

    std::string course, due;
    if (!u.requirements.empty() && (u.extraCourses.empty() || chance(r, 0.75))) {
        const auto& q = pick(r, u.requirements);
        course = q.first;
        due = q.second;
    } else if (!u.extraCourses.empty()) {
        course = pick(r, u.extraCourses);
    } else {
        const json& all = m_ref.table("courses");
        if (all.empty()) throw std::invalid_argument("the reference data has no courses");
        course = all[below(r, all.size())].value("id", "");
    }
    const json* courseRow = m_ref.row("courses", course);
    const std::string kind = str(courseRow, "kind");
    p["course"] = course;

    std::string sessionKind, deliveredBy;
    if (kind == "induction") {
        sessionKind = "induction";
        deliveredBy = chance(r, 0.8) ? "mission_training_centre" : "unit";
    } else if (due == "pre_deployment") {
        sessionKind = std::vector<std::string>{"pre_deployment_verification", "refresher",
                                               "mobile_training_team"}[weighted(r, {35, 40, 25})];
        if (sessionKind == "pre_deployment_verification")
            deliveredBy = chance(r, 0.7) ? "mission_training_centre" : "its";
        else if (sessionKind == "refresher")
            deliveredBy = chance(r, 0.6) ? "unit" : "mission_training_centre";
        else
            deliveredBy = chance(r, 0.6) ? "member_state_team" : "its";
    } else if (due == "induction_60_days") {
        sessionKind = chance(r, 0.6) ? "induction" : "in_mission";
        deliveredBy = chance(r, 0.75) ? "mission_training_centre" : "unit";
    } else if (due == "annual") {
        sessionKind = chance(r, 0.6) ? "refresher" : "in_mission";
        deliveredBy = chance(r, 0.6) ? "unit" : "mission_training_centre";
    } else {
        sessionKind = chance(r, 0.7) ? "in_mission" : "refresher";
        deliveredBy =
            std::vector<std::string>{"unit", "mission_training_centre", "its"}[weighted(r, {50, 40, 10})];
    }
    p["kind"] = sessionKind;
    p["delivered_by"] = deliveredBy;

    // Length and daily hours by the kind of course.
    struct Length {
        const char* kind;
        int minDays, maxDays, minHours, maxHours;  // hours per day
    };
    static const Length kLengths[] = {{"cptm", 1, 2, 3, 7},
                                      {"thematic", 1, 3, 4, 7},
                                      {"safety", 1, 4, 6, 8},
                                      {"induction", 3, 5, 6, 8},
                                      {"stm", 5, 15, 6, 8}};
    Length len = {"", 1, 3, 4, 7};
    for (const auto& l : kLengths)
        if (kind == l.kind) len = l;
    const int days = between(r, len.minDays, len.maxDays);
    const double perDay = between(r, len.minHours, len.maxHours);
    const long long last = lastDay() - days;
    long long start;
    if (sessionKind == "induction") {
        long long rot = u.rotationStart;
        while (rot + 55 > last) rot -= 365;  // this rotation has not reached induction yet: the one before
        start = std::clamp(rot + between(r, 2, 50), firstDay(), last);
    } else if (u.rotationStart + 14 < last && chance(r, 0.6)) {
        start = dayIn(r, std::max(firstDay(), u.rotationStart), last);
    } else {
        start = dayIn(r, firstDay(), last);
    }
    p["start_date"] = isoDate(start);
    p["end_date"] = isoDate(start + days - 1);
    double hours = days * perDay - (chance(r, 0.3) ? 0.5 * between(r, 1, 3) : 0.0);
    p["hours"] = std::max(1.0, hours);

    std::string language = u.lang;
    if (deliveredBy == "unit" && u.homeCode != u.lang && chance(r, 0.5)) language = u.homeCode;
    p["language"] = language;
    if (language == "other") p["language_other"] = u.homeOther.empty() ? "Sango" : u.homeOther;

    Text trainers;
    if ((course == "cptm_3_3" || course == "cptm_3_4" || course == "psea") && chance(r, 0.6))
        trainers = tables().trainersConduct;
    else if (deliveredBy == "mission_training_centre")
        trainers = pick(r, tables().trainersMissionCentre);
    else if (deliveredBy == "unit")
        trainers = pick(r, tables().trainersUnit);
    else if (deliveredBy == "member_state_team")
        trainers = pick(r, tables().trainersMemberState);
    else
        trainers = pick(r, tables().trainersIts);
    if (chance(r, 0.9)) p["trainers"] = u.say(trainers);

    const Site& site = pick(r, u.sites);
    if (site.hasPosition && chance(r, 0.6)) {
        auto jitter = [&](double x) { return std::round((x + real(r, -0.01, 0.01)) * 10000.0) / 10000.0; };
        p["location"] = {{"lat", jitter(site.lat)}, {"lon", jitter(site.lon)}};
    }

    int total;
    if (u.strength < 40)
        total = between(r, std::max(1, u.strength / 2), u.strength);
    else if (kind == "induction" || sessionKind == "induction")
        total = between(r, 30, 220);
    else if (kind == "stm")
        total = between(r, 25, 150);
    else if (kind == "safety")
        total = between(r, 15, 60);
    else
        total = between(r, 20, 90);
    total = std::clamp(total, 1, std::min(u.strength, 1500));
    double womenShare = std::clamp(u.womenShare * real(r, 0.6, 1.6), 0.0, 1.0);
    if (course == "gender") womenShare = std::min(1.0, womenShare * 1.8);
    int women = std::clamp(static_cast<int>(std::lround(total * womenShare)), 0, total);
    p["attendees_men"] = total - women;
    p["attendees_women"] = women;

    std::string assessment;
    if (kind == "stm" || kind == "safety")
        assessment =
            std::vector<std::string>{"practical", "pre_post_test", "none"}[weighted(r, {70, 20, 10})];
    else if (kind == "induction")
        assessment = chance(r, 0.4) ? "pre_post_test" : "none";
    else
        assessment =
            std::vector<std::string>{"pre_post_test", "none", "practical"}[weighted(r, {60, 25, 15})];
    p["assessment"] = assessment;
    if (assessment != "none") p["passed"] = total - between(r, 0, total * 12 / 100);

    if (chance(r, 0.9)) {
        std::vector<std::string> parts;
        for (const auto& t : tables().trainingRemarksByCourse)
            if (course == t.category && chance(r, 0.7))
                parts.push_back(fill(u.say(t.text), {{"site", site.name}}));
        if (assessment == "pre_post_test" && chance(r, 0.6))
            parts.push_back(fill(
                u.say(tables().trainingRemarkTest),
                {{"pre", std::to_string(between(r, 45, 65))}, {"post", std::to_string(between(r, 75, 95))}}));
        if (parts.size() < 2 && chance(r, 0.7)) parts.push_back(u.say(pick(r, tables().trainingRemarks)));
        if (chance(r, 0.5)) parts.push_back(u.say(pick(r, tables().trainingFollowUp)));
        std::string remarks;
        for (const auto& s : parts) remarks += (remarks.empty() ? "" : " ") + s;
        if (!remarks.empty()) p["remarks"] = remarks;
    }
    return p;
}

// [SECTION] training gap
json DemoData::trainingGap(const std::string& unitId) {
    const Unit& u = unit(unitId);
    Rng& r = m_rng;
    json p = json::object();
    p["unit"] = u.id;

    std::string source = std::vector<std::string>{"evaluation", "aav", "needs_assessment",
                                                  "incident_follow_up"}[weighted(r, {35, 15, 35, 15})];
    p["source"] = source;
    const long long identified = dayIn(r, firstDay(), lastDay());
    p["identified_date"] = isoDate(identified);
    const int affected =
        std::clamp(between(r, std::max(1, u.strength / 50), std::max(1, u.strength * 35 / 100)), 1, 5000);
    p["personnel_affected"] = affected;

    std::string course;
    if (source == "incident_follow_up") {
        for (const char* c : {"cptm_3_4", "psea", "cptm_3_3"})
            if (course.empty() && m_ref.row("courses", c) && chance(r, 0.6)) course = c;
    }
    if (course.empty() && !u.requirements.empty() && chance(r, 0.8)) course = pick(r, u.requirements).first;
    std::string severity = std::vector<std::string>{"critical", "major", "minor"}[weighted(r, {15, 45, 40})];
    if (course == "cptm_3_4" || course == "psea") severity = chance(r, 0.5) ? "critical" : "major";
    p["severity"] = severity;
    if (!course.empty()) {
        const json* row = m_ref.row("courses", course);
        std::string title = core::ReferenceData::label(row->value("title", json()), u.lang);
        title = u.lang == "fr" ? "« " + title + " »" : "“" + title + "”";
        std::string name = str(row, "code").empty() ? title : str(row, "code") + " " + title;
        p["course"] = course;
        p["description"] =
            fill(u.say(pick(r, tables().gapWithCourse)), {{"n", std::to_string(affected)}, {"course", name}});
    } else {
        p["description"] = u.say(pick(r, tables().gapWithoutCourse));
    }
    if (chance(r, 0.7)) p["cause"] = u.say(pick(r, tables().gapCauses));
    p["remedy"] = std::vector<std::string>{"in_mission_course", "mobile_training_team",
                                           "light_coordination_mechanism"}[weighted(r, {60, 30, 10})];
    p["target_date"] = isoDate(std::min(identified + between(r, 30, 150), lastPlannedDay()));

    // Older gaps are more often closed.
    const long long age = lastDay() - identified;
    std::size_t k = age > 120  ? weighted(r, {15, 20, 65})
                    : age > 45 ? weighted(r, {25, 45, 30})
                               : weighted(r, {60, 35, 5});
    if (k == 2 && age < 14) k = 1;
    static const char* kStatus[] = {"open", "in_progress", "closed"};
    p["status"] = kStatus[k];
    if (k == 2) {
        p["closed_date"] =
            isoDate(identified + between(r, 14, static_cast<int>(std::min<long long>(age, 150))));
        if (chance(r, 0.6)) p["remarks"] = u.say(tables().gapClosedRemark);
    } else if (chance(r, 0.5)) {
        p["remarks"] = u.say(pick(r, tables().gapRemarks));
    }
    return p;
}

// [SECTION] incident
json DemoData::incident(const std::string& unitId, bool sea) {
    const Unit& u = unit(unitId);
    Rng& r = m_rng;
    json p = json::object();
    p["unit"] = u.id;
    const Site& site = pick(r, u.sites);

    const IncidentType* it = nullptr;
    const SeaType* st = nullptr;
    if (sea) {
        double total = 0;
        for (const auto& s : tables().seaTypes) total += s.weight;
        double x = real(r, 0.0, total);
        for (const auto& s : tables().seaTypes) {
            if (!st && x < s.weight) st = &s;
            x -= s.weight;
        }
        if (!st) st = &tables().seaTypes.back();
    } else {
        double total = 0;
        for (const auto& t : tables().incidentTypes) total += t.weight;
        double x = real(r, 0.0, total);
        for (const auto& t : tables().incidentTypes) {
            if (!it && x < t.weight) it = &t;
            x -= t.weight;
        }
        if (!it) it = &tables().incidentTypes.back();
    }

    // SEA allegations often come months after the facts, with only the period known.
    long long received, happened;
    bool approximate = false;
    if (sea) {
        received = dayIn(r, firstDay() + 60, lastDay());
        happened = received - between(r, 3, 200);
        approximate = chance(r, 0.5);
    } else {
        received = dayIn(r, firstDay() + 10, lastDay());
        happened = received - between(r, 0, 6);
        approximate = chance(r, 0.03);
    }
    happened = std::max(happened, firstDay());
    int year = yearOf(received);
    int& number = m_caseNumbers[u.code + "-" + std::to_string(year)];
    ++number;
    char ref[64];
    std::snprintf(ref, sizeof ref, "%s-CD-%d-%03d", u.code.c_str(), year, number);
    p["local_reference"] = ref;
    p["sector"] = u.sector;
    p["date_received"] = isoDate(received);
    p["incident_date"] = isoDate(happened);
    if (approximate || chance(r, 0.3)) p["incident_date_approximate"] = approximate;

    std::string channel;
    if (sea)
        channel = std::vector<std::string>{"community_network", "un_or_ngo_partner", "hotline", "cdt",
                                           "chain_of_command"}[weighted(r, {35, 25, 15, 15, 10})];
    else if (it->type == std::string("corruption") || it->type == std::string("loss_of_life") ||
             it->type == std::string("assault"))
        channel = std::vector<std::string>{"chain_of_command", "host_authorities", "community_network",
                                           "cdt"}[weighted(r, {40, 25, 20, 15})];
    else
        channel = std::vector<std::string>{"chain_of_command", "cdt", "hotline",
                                           "other"}[weighted(r, {80, 10, 7, 3})];
    p["reporting_channel"] = channel;

    const bool serious = sea || it->serious;
    p["category"] = serious ? "serious_misconduct" : "misconduct";
    p["thematic_area"] = sea ? "sea" : it->thematic;
    p["incident_type"] = sea ? "sea" : it->type;

    std::string ageGroup;
    std::string description;
    int said = sea ? st->perpetrators : 0;
    if (sea) {
        std::string groups = st->ageGroups;
        std::vector<std::string> g;
        for (std::size_t a = 0, b; a < groups.size(); a = b + 1) {
            b = groups.find(' ', a);
            if (b == std::string::npos) b = groups.size();
            g.push_back(groups.substr(a, b - a));
        }
        ageGroup = g[weighted(r, {70, 20, 10}) % g.size()];
        description = fill(u.say(st->description), {{"site", site.name}});
        if (ageGroup == "child") description += " " + u.say(tables().seaChild);
    } else {
        const IncidentText& t = pick(r, it->descriptions);
        description = fill(u.say(t.text), {{"site", site.name}});
        said = t.perpetrators;
    }
    const bool paternity = sea && std::string(st->type) == "exploitative_relationship" && chance(r, 0.3);
    if (paternity) description += " " + u.say(tables().seaPaternity);
    p["description"] = description;

    // Alleged perpetrators: described by category, unit, country and rank only.
    json perps = json::array();
    const int nPerp = said > 0 ? said : static_cast<int>(weighted(r, {60, 30, 10})) + 1;
    std::vector<std::string> ranks;
    {
        std::string s = sea ? "other_rank nco junior_officer unknown" : it->ranks;
        for (std::size_t a = 0, b; a < s.size(); a = b + 1) {
            b = s.find(' ', a);
            if (b == std::string::npos) b = s.size();
            ranks.push_back(s.substr(a, b - a));
        }
    }
    // The unit's own category, unless the reference data does not list it (then the first listed).
    std::string category = u.category;
    const json& categories = m_ref.choiceList("personnel_categories");
    bool categoryKnown = false;
    for (const auto& c : categories) categoryKnown = categoryKnown || c.value("value", "") == u.category;
    if (!categoryKnown && !categories.empty()) category = categories[0].value("value", "");
    for (int i = 0; i < nPerp; ++i) {
        json row = json::object();
        row["personnel_category"] = category;
        if (!sea || chance(r, 0.75)) {
            row["alleged_unit"] = u.id;
            row["country"] = u.country;
        }
        std::size_t k = ranks.size() == 1 ? 0 : weighted(r, {60, 25, 10, 5}) % ranks.size();
        row["rank_band"] = ranks[k];
        perps.push_back(std::move(row));
    }
    p["perpetrators"] = std::move(perps);

    Text measures = tables().seaMeasures;
    if (!sea)
        for (const auto& m : tables().measures)
            if (std::string(it->thematic) == m.thematic) measures = m.measures;
    p["immediate_measures"] = u.say(measures);

    // The Conduct and Discipline Team hears of it the same day or the next, in local time (UTC+1).
    {
        long long notified = received + (chance(r, 0.7) ? 0 : 1);
        char dt[40];
        std::snprintf(dt, sizeof dt, "%sT%02d:%02d:00+01:00", isoDate(std::min(notified, lastDay())).c_str(),
                      between(r, 7, 19), between(r, 0, 11) * 5);
        p["cdt_notified_at"] = dt;
    }

    json referral = json::array();
    const bool police = u.category == "fpu" || u.category == "individual_police";
    if (serious) {
        if (u.category == "contingent_troops") {
            referral.push_back("oios");
            if (chance(r, 0.7)) referral.push_back("nio");
        } else {
            referral.push_back("oios");
            if (police && chance(r, 0.4)) referral.push_back("un_police");
        }
    } else {
        referral.push_back("contingent_commander");
        if (!police && chance(r, 0.4)) referral.push_back("military_police");
    }
    p["referral"] = std::move(referral);

    // How far the case has gone depends on its age.
    const long long age = lastDay() - received;
    std::string status;
    if (age < 10)
        status = std::vector<std::string>{"not_started", "preliminary_assessment"}[weighted(r, {40, 60})];
    else if (age < 60)
        status = std::vector<std::string>{
            "preliminary_assessment", "member_state_notified", "under_investigation",
            "investigation_completed"}[weighted(r, {25, serious ? 35.0 : 5.0, 30, 10})];
    else
        status = std::vector<std::string>{
            "under_investigation", "investigation_completed",
            "closed"}[weighted(r, {serious ? 35.0 : 10.0, 25, serious ? 40.0 : 65.0})];
    p["investigation_status"] = status;

    json interim = json::array();
    if (sea || (serious && chance(r, 0.7))) {
        interim.push_back("removed_from_duties");
        interim.push_back("confined_to_base");
        if (sea && chance(r, 0.5)) interim.push_back("payments_suspended");
    } else if (chance(r, 0.5)) {
        interim.push_back("confined_to_base");
    } else {
        interim.push_back("none");
    }
    p["interim_actions"] = std::move(interim);

    std::string outcome = "pending";
    if (status == "investigation_completed" || status == "closed") {
        outcome = std::vector<std::string>{
            "substantiated", "unsubstantiated",
            "closed_without_investigation"}[weighted(r, {60, 30, status == "closed" ? 10.0 : 0.0})];
    }
    if (outcome != "pending" || chance(r, 0.7)) p["outcome"] = outcome;
    if (outcome != "pending") {
        std::vector<const OutcomeText*> fits;
        for (const auto& o : tables().outcomeDetails)
            if (outcome == o.outcome) fits.push_back(&o);
        // A national sanction of 14 days fits a minor case; repatriation a serious one.
        const OutcomeText* o = fits.size() > 1 ? fits[serious ? 0 : 1] : fits[0];
        p["outcome_details"] = u.say(o->text);
    }

    if (sea) {
        char victimRef[32];
        std::snprintf(victimRef, sizeof victimRef, "CDT-%02d-%04d", year % 100, between(r, 1, 400));
        p["victim_reference"] = victimRef;
        p["sea_type"] = st->type;
        p["victims_count"] = static_cast<int>(weighted(r, {85, 10, 5})) + 1;
        p["victim_age_group"] = ageGroup;
        p["paternity_claim"] = paternity;
        bool consent = chance(r, 0.9);
        p["consent_recorded"] = consent;
        json assistance = json::array();
        if (consent) {
            assistance.push_back("medical");
            assistance.push_back("psychosocial");
            if (chance(r, 0.4)) assistance.push_back("legal");
            if (chance(r, 0.3) || paternity) assistance.push_back("material");
            p["victim_assistance_date"] = isoDate(std::min(lastDay(), received + between(r, 0, 7)));
            p["victim_assistance"] = std::move(assistance);
        }
        if (chance(r, 0.6)) p["sea_notes"] = u.say(pick(r, tables().seaNotes));
    }
    return p;
}

}  // namespace outpost::demo
