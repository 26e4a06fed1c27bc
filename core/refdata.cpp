// Reference data: loading, shape checks and look-ups.
#include "core/refdata.hpp"

#include <set>

#include <charconv>

#include "core/builtin.hpp"

namespace outpost::core {

namespace {

const json kEmptyArray = json::array();
const std::set<std::string, std::less<>>& namedObjects() {
    static const std::set<std::string, std::less<>> names = {"rating_scales", "parity_targets", "thresholds",
                                                             "choice_lists"};
    return names;
}

Error refError(std::string msg) {
    return Error{ErrorDomain::Input, ErrorCode::BadInput, std::move(msg)};
}

}  // namespace

Result<ReferenceData> ReferenceData::fromJson(const json& doc) {
    if (!doc.is_object()) return refError("reference data: expected a JSON object");
    ReferenceData rd;
    rd.m_doc = doc;
    std::vector<std::string> problems;
    for (const auto& [key, val] : doc.items()) {
        if (namedObjects().count(key)) {
            if (!val.is_object()) problems.push_back(key + ": expected an object");
            continue;
        }
        if (key == "version" || key == "mission" || key == "description") continue;
        if (!val.is_array()) {
            problems.push_back(key + ": expected an array of rows");
            continue;
        }
        auto& idx = rd.m_index[key];
        for (std::size_t i = 0; i < val.size(); ++i) {
            const auto& row = val[i];
            std::string where = key + "[" + std::to_string(i) + "]";
            if (!row.is_object() || !row.contains("id") || !row["id"].is_string() ||
                row["id"].get_ref<const std::string&>().empty()) {
                problems.push_back(where + ": expected an object with a non-empty string \"id\"");
                continue;
            }
            const auto& id = row["id"].get_ref<const std::string&>();
            if (!idx.emplace(id, i).second) problems.push_back(where + ": duplicate id '" + id + "'");
        }
    }
    if (doc.contains("rating_scales") && doc["rating_scales"].is_object()) {
        for (const auto& [id, sc] : doc["rating_scales"].items()) {
            if (!sc.is_object() || !sc.contains("levels") || !sc["levels"].is_array() ||
                sc["levels"].empty()) {
                problems.push_back("rating_scales." + id +
                                   ": expected {\"levels\": [...]} with at least one level");
                continue;
            }
            for (const auto& lv : sc["levels"])
                if (!lv.is_object() || !lv.contains("value") || !lv["value"].is_number_integer())
                    problems.push_back("rating_scales." + id + ": every level needs an integer \"value\"");
        }
    }
    if (doc.contains("thresholds") && doc["thresholds"].is_object())
        for (const auto& [name, v] : doc["thresholds"].items())
            if (!v.is_number()) problems.push_back("thresholds." + name + ": expected a number");
    if (doc.contains("parity_targets") && doc["parity_targets"].is_object())
        for (const auto& [cat, years] : doc["parity_targets"].items()) {
            if (!years.is_object()) {
                problems.push_back("parity_targets." + cat + ": expected {year: percent}");
                continue;
            }
            for (const auto& [y, v] : years.items()) {
                int yr = 0;
                auto r = std::from_chars(y.data(), y.data() + y.size(), yr);
                if (r.ec != std::errc() || r.ptr != y.data() + y.size() || !v.is_number())
                    problems.push_back("parity_targets." + cat + "." + y + ": expected a year and a percent");
            }
        }
    if (doc.contains("choice_lists") && doc["choice_lists"].is_object())
        for (const auto& [name, list] : doc["choice_lists"].items()) {
            bool ok = list.is_array() && !list.empty();
            if (ok)
                for (const auto& c : list)
                    if (!c.is_object() || !c.contains("value") || !c["value"].is_string()) ok = false;
            if (!ok)
                problems.push_back("choice_lists." + name + ": expected [{\"value\": text, \"label\": ...}]");
        }
    if (!problems.empty()) {
        std::string msg = "reference data is invalid:";
        for (const auto& p : problems) msg += "\n  " + p;
        return refError(msg);
    }
    return rd;
}

Result<ReferenceData> ReferenceData::fromText(std::string_view text) {
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) return refError("reference data: malformed JSON");
    return fromJson(doc);
}

const ReferenceData& ReferenceData::demo() {
    static const ReferenceData rd = fromText(demoReferenceSource()).value();
    return rd;
}

bool ReferenceData::hasTable(std::string_view t) const {
    return m_index.find(t) != m_index.end();
}

const json* ReferenceData::row(std::string_view t, std::string_view id) const {
    auto it = m_index.find(t);
    if (it == m_index.end()) return nullptr;
    auto r = it->second.find(id);
    if (r == it->second.end()) return nullptr;
    return &m_doc[std::string(t)][r->second];
}

json ReferenceData::value(std::string_view t, std::string_view id, std::string_view column) const {
    const json* r = row(t, id);
    if (!r) return nullptr;
    auto it = r->find(std::string(column));
    if (it == r->end()) return nullptr;
    return *it;
}

const json& ReferenceData::table(std::string_view t) const {
    if (!hasTable(t)) return kEmptyArray;
    return m_doc.at(std::string(t));
}

std::vector<std::string> ReferenceData::tableNames() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : m_index) out.push_back(k);
    return out;
}

bool ReferenceData::hasScale(std::string_view id) const {
    auto it = m_doc.find("rating_scales");
    return it != m_doc.end() && it->is_object() && it->contains(std::string(id));
}

const json& ReferenceData::scaleLevels(std::string_view id) const {
    if (!hasScale(id)) return kEmptyArray;
    return m_doc["rating_scales"][std::string(id)]["levels"];
}

bool ReferenceData::hasChoiceList(std::string_view name) const {
    auto it = m_doc.find("choice_lists");
    return it != m_doc.end() && it->is_object() && it->contains(std::string(name));
}

const json& ReferenceData::choiceList(std::string_view name) const {
    if (!hasChoiceList(name)) return kEmptyArray;
    return m_doc["choice_lists"][std::string(name)];
}

bool ReferenceData::hasThreshold(std::string_view name) const {
    return threshold(name).has_value();
}

std::optional<double> ReferenceData::threshold(std::string_view name) const {
    auto it = m_doc.find("thresholds");
    if (it == m_doc.end() || !it->is_object()) return std::nullopt;
    auto v = it->find(std::string(name));
    if (v == it->end() || !v->is_number()) return std::nullopt;
    return v->get<double>();
}

std::optional<double> ReferenceData::parityTarget(std::string_view category, std::string_view isoDate) const {
    auto it = m_doc.find("parity_targets");
    if (it == m_doc.end() || !it->is_object()) return std::nullopt;
    auto cat = it->find(std::string(category));
    if (cat == it->end() || !cat->is_object() || cat->empty()) return std::nullopt;
    int year = 0;
    if (isoDate.size() >= 4) std::from_chars(isoDate.data(), isoDate.data() + 4, year);
    if (year == 0) return std::nullopt;
    std::optional<double> best;
    int bestYear = -1, earliestYear = 1 << 30;
    double earliest = 0;
    for (const auto& [y, v] : cat->items()) {
        int yr = std::stoi(y);
        if (yr <= year && yr > bestYear) {
            bestYear = yr;
            best = v.get<double>();
        }
        if (yr < earliestYear) {
            earliestYear = yr;
            earliest = v.get<double>();
        }
    }
    if (!best) return earliest;
    return best;
}

std::string ReferenceData::label(const json& v, std::string_view lang) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object()) {
        auto it = v.find(std::string(lang));
        if (it != v.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) return *it;
        it = v.find("en");
        if (it != v.end() && it->is_string()) return *it;
    }
    return {};
}

json referenceForMission(const json& doc, std::string_view missionId) {
    if (!doc.is_object()) return doc;
    json out = doc;
    auto keepRows = [&](const char* table, auto&& keep) {
        auto it = out.find(table);
        if (it == out.end() || !it->is_array()) return;
        json kept = json::array();
        for (auto& row : *it)
            if (row.is_object() && keep(row)) kept.push_back(std::move(row));
        *it = std::move(kept);
    };
    auto is = [&](const json& row, const char* col, std::string_view v) {
        auto c = row.find(col);
        return c != row.end() && c->is_string() && c->get_ref<const std::string&>() == v;
    };
    keepRows("missions", [&](const json& r) { return is(r, "id", missionId); });
    std::set<std::string, std::less<>> sectors;
    keepRows("sectors", [&](const json& r) {
        if (!is(r, "mission", missionId)) return false;
        if (auto id = r.find("id"); id != r.end() && id->is_string()) sectors.insert(id->get<std::string>());
        return true;
    });
    keepRows("sites", [&](const json& r) {
        auto s = r.find("sector");
        return s != r.end() && s->is_string() && sectors.count(s->get_ref<const std::string&>()) > 0;
    });
    keepRows("units", [&](const json& r) { return is(r, "mission", missionId); });
    return out;
}

}  // namespace outpost::core
