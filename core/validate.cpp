// Record validation: types, ranges, choices, references, relevance, computed values, constraints.
#include "core/validate.hpp"

#include <cmath>
#include <regex>
#include <set>

#include "core/identifying.hpp"
#include "core/location.hpp"
#include "core/time.hpp"
#include "core/utf8.hpp"

namespace outpost::core {

std::string Issue::text() const {
    std::string s = path + ": " + rule + ": " + message;
    if (!custom.en.empty() && message.find(custom.en) == std::string::npos) s += " (" + custom.en + ")";
    return s;
}

bool ValidationResult::ok() const {
    return errorCount() == 0;
}

std::size_t ValidationResult::errorCount() const {
    std::size_t n = 0;
    for (const auto& i : issues)
        if (!i.warning) ++n;
    return n;
}

std::string ValidationResult::text() const {
    std::string s;
    for (int pass = 0; pass < 2; ++pass)
        for (const auto& i : issues)
            if (i.warning == (pass == 1)) s += (i.warning ? "warning: " : "") + i.text() + "\n";
    return s;
}

const Issue* ValidationResult::firstAt(std::string_view path) const {
    for (const auto& i : issues)
        if (i.path == path) return &i;
    return nullptr;
}

bool ValidationResult::isHidden(std::string_view path) const {
    for (const auto& h : hidden)
        if (h == path) return true;
    return false;
}

bool isEmptyValue(const json& v) {
    return v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty()) ||
           (v.is_array() && v.empty()) || (v.is_object() && v.empty());
}

json stripComputed(const FormDef& form, const json& payload) {
    json out = payload;
    stripComputedInPlace(form, out);
    return out;
}

void stripComputedInPlace(const FormDef& form, json& payload) {
    if (!payload.is_object()) return;
    for (const auto& f : form.fields) {
        if (f.type == FieldType::Computed) payload.erase(f.name);
        if (f.type != FieldType::Repeat) continue;
        auto rows = payload.find(f.name);
        if (rows == payload.end() || !rows->is_array()) continue;
        for (auto& row : *rows)
            if (row.is_object())
                for (const auto& c : f.fields)
                    if (c.type == FieldType::Computed) row.erase(c.name);
    }
}

namespace {

const json kNull = nullptr;

// Shows a value in a message without pasting a whole essay (or a 10 MB string) into it.
std::string brief(const json& v) {
    if (v.is_number_float() && std::isfinite(v.get<double>()) &&
        std::floor(v.get<double>()) == v.get<double>() && std::fabs(v.get<double>()) < 1e15)
        return std::to_string(static_cast<long long>(v.get<double>()));
    std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
    if (s.size() > 40) s = s.substr(0, 37) + "...";
    return s;
}

std::string num(double d) {
    if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
    std::string s = std::to_string(d);
    while (!s.empty() && s.back() == '0') s.pop_back();
    return s;
}

class Validator;

// What expressions see: the record being validated, its current row, and the reference data.
class RecordContext : public EvalContext {
public:
    RecordContext(const Validator& v, const json& self, const FieldDef* group, const json* row)
        : m_v(v), m_self(self), m_group(group), m_row(row) {}
    json field(std::string_view name) const override;
    json self() const override { return m_self; }
    json ref(std::string_view table, std::string_view id, std::string_view column) const override;
    json parityTarget(std::string_view category, std::string_view isoDate) const override;
    json threshold(std::string_view name) const override;
    std::string today() const override;

private:
    const Validator& m_v;
    json m_self;
    const FieldDef* m_group;
    const json* m_row;
};

class Validator {
public:
    Validator(const FormDef& form, ValidationMode mode, const ReferenceData& ref, std::string_view today)
        : m_form(form), m_mode(mode), m_ref(ref), m_today(today.empty() ? todayUtc() : std::string(today)) {}

    ValidationResult run(const json& payload) {
        if (!payload.is_object()) {
            add("", "json",
                "expected a JSON object keyed by field name, got " + std::string(payload.type_name()));
            m_result.normalized = json::object();
            return std::move(m_result);
        }
        json& out = m_result.normalized;
        for (const auto& [k, v] : payload.items()) {
            if (!m_form.field(k) || k.find('.') != std::string::npos)
                add(k, "unknown_field",
                    "the form '" + m_form.id + "' v" + std::to_string(m_form.version) + " has no field '" +
                        k + "'");
        }
        for (const auto& f : m_form.fields) {
            if (!f.hasValue()) {
                if (payload.contains(f.name)) add(f.name, "unknown_field", "a note holds no value");
                continue;
            }
            auto it = payload.find(f.name);
            const json& v = it == payload.end() ? kNull : *it;
            if (f.type == FieldType::Computed) {
                if (!v.is_null()) add(f.name, "computed", "is computed by Outpost and cannot be given");
                out[f.name] = nullptr;
                continue;
            }
            if (f.type == FieldType::Repeat) {
                out[f.name] = checkRepeat(f, v);
                continue;
            }
            out[f.name] = checkValue(f, v, f.name);
        }
        computeAll();
        if (m_mode == ValidationMode::Final) {
            // Hidden values must not feed computed ones: drop them, then compute again.
            if (dropIrrelevant()) computeAll();
        }
        applyRelevanceAndRules();
        // Absent optional values are kept out of the stored payload: smaller rows, same meaning.
        for (auto it = out.begin(); it != out.end();) {
            if (it->is_null())
                it = out.erase(it);
            else
                ++it;
        }
        return std::move(m_result);
    }

    const json& record() const { return m_result.normalized; }
    const FormDef& form() const { return m_form; }
    const ReferenceData& refData() const { return m_ref; }
    const std::string& todayText() const { return m_today; }

private:
    void add(const std::string& path, const std::string& rule, const std::string& message,
             bool warning = false, const LocalText& custom = {}, std::string arg = {}) {
        // One issue per path and rule is enough for a person to act on.
        for (const auto& i : m_result.issues)
            if (i.path == path && i.rule == rule) return;
        Issue i;
        i.path = path;
        i.rule = rule;
        i.message = message;
        i.warning = warning;
        i.custom = custom;
        i.arg = std::move(arg);
        m_result.issues.push_back(std::move(i));
    }

    json checkRepeat(const FieldDef& f, const json& v) {
        if (v.is_null()) return json::array();
        if (!v.is_array()) {
            add(f.name, "type", "expected a list of rows, got " + brief(v));
            return json::array();
        }
        if (f.maxRows && v.size() > *f.maxRows) {
            add(f.name, "max_rows",
                "has " + std::to_string(v.size()) + " rows; at most " + std::to_string(*f.maxRows) +
                    " are allowed",
                false, {}, std::to_string(*f.maxRows));
            return json::array();
        }
        json rows = json::array();
        for (std::size_t i = 0; i < v.size(); ++i) {
            std::string rp = f.name + "[" + std::to_string(i) + "]";
            const json& row = v[i];
            json outRow = json::object();
            if (!row.is_object()) {
                add(rp, "type", "expected a row object, got " + brief(row));
                rows.push_back(outRow);
                continue;
            }
            for (const auto& [k, cv] : row.items()) {
                bool known = false;
                for (const auto& c : f.fields) known = known || c.name == k;
                if (!known)
                    add(rp + "." + k, "unknown_field", "the group '" + f.name + "' has no field '" + k + "'");
            }
            for (const auto& c : f.fields) {
                if (!c.hasValue()) continue;
                auto it = row.find(c.name);
                const json& cv = it == row.end() ? kNull : *it;
                if (c.type == FieldType::Computed) {
                    if (!cv.is_null())
                        add(rp + "." + c.name, "computed", "is computed by Outpost and cannot be given");
                    outRow[c.name] = nullptr;
                    continue;
                }
                outRow[c.name] = checkValue(c, cv, rp + "." + c.name);
            }
            rows.push_back(std::move(outRow));
        }
        return rows;
    }

    // Checks the type and the value-level rules that hold in drafts too. Returns the normalized
    // value, or null when the value is unusable (the issue is recorded).
    json checkValue(const FieldDef& f, const json& v, const std::string& path) {
        if (v.is_null()) return nullptr;
        auto typeErr = [&](const std::string& expected) {
            add(path, "type", "expected " + expected + ", got " + brief(v));
            return json(nullptr);
        };
        switch (f.type) {
            case FieldType::Text:
            case FieldType::Multiline: {
                if (!v.is_string()) return typeErr("text");
                const auto& s = v.get_ref<const std::string&>();
                if (!isValidUtf8(s)) {
                    add(path, "utf8", "is not valid UTF-8 text");
                    return nullptr;
                }
                std::size_t len = codePointCount(s);
                if (len > f.effectiveMaxLength()) {
                    add(path, "max_length",
                        "is " + std::to_string(len) + " characters long; at most " +
                            std::to_string(f.effectiveMaxLength()) + " are allowed",
                        false, {}, std::to_string(f.effectiveMaxLength()));
                    return nullptr;
                }
                if (s.empty()) return nullptr;
                if (f.type == FieldType::Text && s.find_first_of("\r\n") != std::string::npos) {
                    add(path, "type", "a one-line text field cannot hold a line break");
                    return nullptr;
                }
                if (f.minLength && len < *f.minLength)
                    add(path, "min_length",
                        "is " + std::to_string(len) + " characters long; at least " +
                            std::to_string(*f.minLength) + " are needed",
                        false, {}, std::to_string(*f.minLength));
                if (!f.pattern.empty()) {
                    try {
                        // Compiled with the form: compiling it per value cost about 5 % of HQ's ingest CPU.
                        const bool matches =
                            f.patternRegex
                                ? std::regex_match(s, *f.patternRegex)
                                : std::regex_match(s, std::regex(f.pattern, std::regex::ECMAScript));
                        if (!matches)
                            add(path, "pattern", "does not have the expected form " + f.pattern, false,
                                f.patternMessage);
                    } catch (const std::exception&) {
                        add(path, "pattern", "could not be checked against " + f.pattern);
                    }
                }
                if (f.checkIdentifying)
                    for (const auto& hint : identifyingHints(s))
                        add(path, "identifying", hint + " - never record a victim's name or contact details",
                            true);
                return s;
            }
            case FieldType::Integer: {
                if (!v.is_number_integer()) return typeErr("a whole number");
                return checkRange(f, v, path);
            }
            case FieldType::Decimal: {
                if (!v.is_number()) return typeErr("a number");
                return checkRange(f, v, path);
            }
            case FieldType::Rating: {
                if (!v.is_number_integer()) return typeErr("a level of the scale '" + f.scale + "'");
                for (const auto& lv : m_ref.scaleLevels(f.scale))
                    if (lv.value("value", -999999) == v.get<long long>()) return checkRange(f, v, path);
                std::string levels;
                for (const auto& lv : m_ref.scaleLevels(f.scale))
                    levels += (levels.empty() ? "" : ", ") + lv["value"].dump();
                add(path, "choice",
                    brief(v) + " is not a level of the scale '" + f.scale + "' (" + levels + ")");
                return nullptr;
            }
            case FieldType::Date:
            case FieldType::DateTime: {
                const bool date = f.type == FieldType::Date;
                if (!v.is_string() || !(date ? isValidDate(v.get_ref<const std::string&>())
                                             : isValidDateTime(v.get_ref<const std::string&>())))
                    return typeErr(date ? "a date as YYYY-MM-DD"
                                        : "a date and time as YYYY-MM-DDTHH:MM with Z or an offset");
                // ISO text in one format compares in time order.
                const auto& s = v.get_ref<const std::string&>();
                if (f.minText && s < *f.minText)
                    add(path, "min", "must be on or after " + *f.minText, false, {}, *f.minText);
                if (f.maxText && s > *f.maxText)
                    add(path, "max", "must be on or before " + *f.maxText, false, {}, *f.maxText);
                return s;
            }
            case FieldType::Boolean:
                if (!v.is_boolean()) return typeErr("true or false");
                return v;
            case FieldType::SelectOne: {
                if (!v.is_string()) return typeErr("one of the choices");
                if (v.get_ref<const std::string&>().empty()) return nullptr;
                if (!f.findChoice(v.get_ref<const std::string&>())) {
                    add(path, "choice", brief(v) + " is not one of the choices (" + choiceList(f) + ")");
                    return nullptr;
                }
                return v;
            }
            case FieldType::SelectMultiple: {
                if (!v.is_array()) return typeErr("a list of choices");
                std::set<std::string> seen;
                json out = json::array();
                for (const auto& c : v) {
                    if (!c.is_string() || !f.findChoice(c.get_ref<const std::string&>())) {
                        add(path, "choice", brief(c) + " is not one of the choices (" + choiceList(f) + ")");
                        return nullptr;
                    }
                    if (!seen.insert(c.get<std::string>()).second) {
                        add(path, "choice", brief(c) + " is chosen twice");
                        return nullptr;
                    }
                    out.push_back(c);
                }
                if (out.empty()) return nullptr;
                if (f.maxSelected && out.size() > *f.maxSelected)
                    add(path, "max_selected", "at most " + std::to_string(*f.maxSelected) + " may be chosen",
                        false, {}, std::to_string(*f.maxSelected));
                return out;
            }
            case FieldType::Location:
                return checkLocation(v, path);
            case FieldType::Reference: {
                if (!v.is_string()) return typeErr("an id from '" + f.ref + "'");
                if (v.get_ref<const std::string&>().empty()) return nullptr;
                if (!m_ref.row(f.ref, v.get_ref<const std::string&>())) {
                    add(path, "reference", brief(v) + " is not a known id in '" + f.ref + "'");
                    return nullptr;
                }
                return v;
            }
            case FieldType::Repeat:
            case FieldType::Computed:
            case FieldType::Note:
                break;
        }
        return nullptr;
    }

    json typeErrLoc(const std::string& path, const json& v) {
        add(path, "type", "expected {\"lat\": number, \"lon\": number} or {\"mgrs\": text}, got " + brief(v));
        return nullptr;
    }

    json checkLocation(const json& v, const std::string& path) {
        if (!v.is_object()) return typeErrLoc(path, v);
        for (const auto& [k, x] : v.items())
            if (k != "lat" && k != "lon" && k != "mgrs") return typeErrLoc(path, v);
        json out = json::object();
        if (v.contains("mgrs")) {
            if (!v["mgrs"].is_string()) return typeErrLoc(path, v);
            auto ll = mgrsToLatLon(v["mgrs"].get<std::string>());
            if (!ll) {
                add(path, "type", ll.error().message);
                return nullptr;
            }
            out["mgrs"] = v["mgrs"];
            out["lat"] = std::round(ll->lat * 1e6) / 1e6;
            out["lon"] = std::round(ll->lon * 1e6) / 1e6;
            return out;
        }
        if (!v.contains("lat") || !v.contains("lon") || !v["lat"].is_number() || !v["lon"].is_number())
            return typeErrLoc(path, v);
        auto ok = checkLatLon(v["lat"].get<double>(), v["lon"].get<double>());
        if (!ok) {
            add(path, "type", ok.error().message);
            return nullptr;
        }
        out["lat"] = v["lat"];
        out["lon"] = v["lon"];
        return out;
    }

    json checkRange(const FieldDef& f, const json& v, const std::string& path) {
        double d = v.get<double>();
        if (f.min && d < *f.min)
            add(path, "min", "must be at least " + num(*f.min) + ", got " + brief(v), false, {}, num(*f.min));
        if (f.max && d > *f.max)
            add(path, "max", "must be at most " + num(*f.max) + ", got " + brief(v), false, {}, num(*f.max));
        return v;
    }

    static std::string choiceList(const FieldDef& f) {
        std::string s;
        for (std::size_t i = 0; i < f.choices.size() && i < 12; ++i)
            s += (i ? ", " : "") + f.choices[i].value;
        if (f.choices.size() > 12) s += ", ...";
        return s;
    }

    json evalSafely(const Expr& e, const RecordContext& ctx, const std::string& path, const char* what) {
        try {
            return e.eval(ctx);
        } catch (const std::exception& ex) {
            add(path, "expression", std::string(what) + " \"" + e.source() + "\" failed: " + ex.what());
            return nullptr;
        }
    }

    json coerceComputed(const FieldDef& f, const json& v) {
        if (v.is_null()) return v;
        switch (f.valueType) {
            case FieldType::Integer:
                if (v.is_number()) return static_cast<long long>(std::llround(v.get<double>()));
                return nullptr;
            case FieldType::Decimal:
                if (v.is_number()) {
                    double d = v.get<double>();
                    return std::isfinite(d) ? json(d) : json(nullptr);
                }
                return nullptr;
            case FieldType::Boolean:
                return v.is_boolean() ? v : json(nullptr);
            default:
                return v.is_string() ? v : json(v.dump());
        }
    }

    // Fixed-point iteration: the form loader rejects cycles, so N+1 passes settle N computed fields.
    void computeAll() {
        std::size_t nodes = 0;
        for (const auto& f : m_form.fields) {
            if (f.type == FieldType::Computed) ++nodes;
            for (const auto& c : f.fields)
                if (c.type == FieldType::Computed) ++nodes;
        }
        if (nodes == 0) return;
        json& out = m_result.normalized;
        if (m_form.computedOrder.size() == nodes) {
            // One pass in the parser's order: each computed value is made after those it reads, so
            // every evaluation sees settled inputs (what the fixed-point loop below reaches, at once).
            for (const auto& step : m_form.computedOrder) {
                const FieldDef& f = m_form.fields[step.field];
                if (!step.child) {
                    RecordContext ctx(*this, nullptr, nullptr, nullptr);
                    out[f.name] = coerceComputed(f, evalSafely(f.calculate, ctx, f.name, "calculate"));
                    continue;
                }
                const FieldDef& c = f.fields[*step.child];
                json& rows = out[f.name];
                for (std::size_t i = 0; i < rows.size(); ++i) {
                    RecordContext ctx(*this, nullptr, &f, &rows[i]);
                    rows[i][c.name] = coerceComputed(
                        c, evalSafely(c.calculate, ctx, f.name + "[" + std::to_string(i) + "]." + c.name,
                                      "calculate"));
                }
            }
            return;
        }
        for (std::size_t pass = 0; pass <= nodes; ++pass) {
            bool changed = false;
            std::size_t before = m_result.issues.size();
            for (const auto& f : m_form.fields) {
                if (f.type == FieldType::Computed) {
                    RecordContext ctx(*this, nullptr, nullptr, nullptr);
                    json v = coerceComputed(f, evalSafely(f.calculate, ctx, f.name, "calculate"));
                    if (v != out[f.name]) {
                        out[f.name] = v;
                        changed = true;
                    }
                }
                if (f.type != FieldType::Repeat) continue;
                for (const auto& c : f.fields) {
                    if (c.type != FieldType::Computed) continue;
                    json& rows = out[f.name];
                    for (std::size_t i = 0; i < rows.size(); ++i) {
                        RecordContext ctx(*this, nullptr, &f, &rows[i]);
                        json v = coerceComputed(
                            c, evalSafely(c.calculate, ctx, f.name + "[" + std::to_string(i) + "]." + c.name,
                                          "calculate"));
                        if (v != rows[i][c.name]) {
                            rows[i][c.name] = v;
                            changed = true;
                        }
                    }
                }
            }
            if (!changed) break;
            // Only the last pass's evaluation errors matter; earlier ones saw unsettled inputs.
            if (pass < nodes) m_result.issues.resize(before);
        }
    }

    bool isRelevant(const FieldDef& f, const FieldDef* group, const json* row) {
        if (f.relevant.empty()) return true;
        RecordContext ctx(*this, nullptr, group, row);
        json r;
        try {
            r = f.relevant.eval(ctx);
        } catch (const std::exception&) {
            return true;  // a broken relevance shows the field rather than hiding data
        }
        // Empty inputs hide a field until its condition holds ("other language" stays hidden
        // until "other" is chosen), the way field workers expect from other tools.
        return Expr::truthy(r);
    }

    void checkRules(const FieldDef& f, json& value, const std::string& path, const FieldDef* group,
                    const json* row) {
        bool final = m_mode == ValidationMode::Final;
        bool needed = f.required;
        if (!f.requiredIf.empty()) {
            RecordContext ctx(*this, nullptr, group, row);
            needed = needed || Expr::truthy(evalSafely(f.requiredIf, ctx, path, "required_if"));
        }
        // A value refused for its type is already reported at this path: "required" would say it twice.
        bool reported = false;
        for (const auto& i : m_result.issues) reported = reported || (i.path == path && !i.warning);
        if (final && needed && isEmptyValue(value) && !reported) add(path, "required", "a value is required");
        if (!f.constraint.empty() && !isEmptyValue(value)) {
            RecordContext ctx(*this, value, group, row);
            json r = evalSafely(f.constraint, ctx, path, "constraint");
            if (!r.is_null() && !Expr::truthy(r)) {
                std::string m = f.constraintMessage.en.empty() ? "breaks the rule " + f.constraint.source()
                                                               : f.constraintMessage.en;
                // In a draft a broken constraint is shown but does not stop the save.
                add(path, "constraint", m, !final, f.constraintMessage);
            }
        }
        if (f.type == FieldType::SelectMultiple && final && f.minSelected && !value.is_null() &&
            value.size() < *f.minSelected)
            add(path, "min_selected", "at least " + std::to_string(*f.minSelected) + " must be chosen", false,
                {}, std::to_string(*f.minSelected));
    }

    // Drops the values of fields that are not relevant. Returns true when anything was dropped.
    bool dropIrrelevant() {
        json& out = m_result.normalized;
        bool dropped = false;
        for (const auto& f : m_form.fields) {
            if (!f.hasValue() || f.type == FieldType::Computed) continue;
            if (!isRelevant(f, nullptr, nullptr)) {
                json empty = f.type == FieldType::Repeat ? json::array() : json(nullptr);
                if (out[f.name] != empty) dropped = true;
                out[f.name] = empty;
                continue;
            }
            if (f.type != FieldType::Repeat) continue;
            for (auto& row : out[f.name])
                for (const auto& c : f.fields)
                    if (c.hasValue() && c.type != FieldType::Computed && row.contains(c.name) &&
                        !row[c.name].is_null() && !isRelevant(c, &f, &row)) {
                        row[c.name] = nullptr;
                        dropped = true;
                    }
        }
        return dropped;
    }

    void applyRelevanceAndRules() {
        json& out = m_result.normalized;
        bool final = m_mode == ValidationMode::Final;
        for (const auto& f : m_form.fields) {
            if (!f.hasValue()) {
                if (!isRelevant(f, nullptr, nullptr)) m_result.hidden.push_back(f.name);
                continue;
            }
            if (!isRelevant(f, nullptr, nullptr)) {
                m_result.hidden.push_back(f.name);
                if (final) out[f.name] = f.type == FieldType::Repeat ? json::array() : json(nullptr);
                continue;
            }
            if (f.type == FieldType::Repeat) {
                json& rows = out[f.name];
                if (final && f.minRows && rows.size() < *f.minRows)
                    add(f.name, "min_rows",
                        "needs at least " + std::to_string(*f.minRows) + " rows, has " +
                            std::to_string(rows.size()),
                        false, {}, std::to_string(*f.minRows));
                if (final && f.required && rows.empty()) add(f.name, "required", "needs at least one row");
                for (std::size_t i = 0; i < rows.size(); ++i) {
                    for (const auto& c : f.fields) {
                        if (!c.hasValue()) continue;
                        std::string cp = f.name + "[" + std::to_string(i) + "]." + c.name;
                        if (!isRelevant(c, &f, &rows[i])) {
                            m_result.hidden.push_back(cp);
                            if (final) rows[i].erase(c.name);
                            continue;
                        }
                        json& cv = rows[i][c.name];
                        checkRules(c, cv, cp, &f, &rows[i]);
                    }
                    for (auto it = rows[i].begin(); it != rows[i].end();) {
                        if (it->is_null())
                            it = rows[i].erase(it);
                        else
                            ++it;
                    }
                }
                continue;
            }
            checkRules(f, out[f.name], f.name, nullptr, nullptr);
        }
    }

    const FormDef& m_form;
    ValidationMode m_mode;
    const ReferenceData& m_ref;
    std::string m_today;
    ValidationResult m_result;
};

json RecordContext::field(std::string_view name) const {
    const json& rec = m_v.record();
    auto dot = name.find('.');
    if (dot != std::string_view::npos) {
        auto it = rec.find(std::string(name.substr(0, dot)));
        json out = json::array();
        if (it == rec.end() || !it->is_array()) return out;
        std::string col(name.substr(dot + 1));
        for (const auto& row : *it) {
            auto c = row.find(col);
            out.push_back(c == row.end() ? json(nullptr) : *c);
        }
        return out;
    }
    std::string key(name);
    if (m_group && m_row) {
        for (const auto& c : m_group->fields)
            if (c.name == key) {
                auto it = m_row->find(key);
                return it == m_row->end() ? json(nullptr) : *it;
            }
    }
    auto it = rec.find(key);
    return it == rec.end() ? json(nullptr) : *it;
}

json RecordContext::ref(std::string_view table, std::string_view id, std::string_view column) const {
    return m_v.refData().value(table, id, column);
}

json RecordContext::parityTarget(std::string_view category, std::string_view isoDate) const {
    auto t = m_v.refData().parityTarget(category, isoDate);
    return t ? json(*t) : json(nullptr);
}

json RecordContext::threshold(std::string_view name) const {
    auto t = m_v.refData().threshold(name);
    return t ? json(*t) : json(nullptr);
}

std::string RecordContext::today() const {
    return m_v.todayText();
}

}  // namespace

ValidationResult validateRecord(const FormDef& form, const json& payload, ValidationMode mode,
                                const ReferenceData& ref, std::string_view today) {
    return Validator(form, mode, ref, today).run(payload);
}

void checkOwnUnit(const FormDef& form, std::string_view ownUnit, ValidationMode mode, ValidationResult& v) {
    if (ownUnit.empty() || form.unitField.empty() || !v.normalized.is_object()) return;
    auto it = v.normalized.find(form.unitField);
    if (it == v.normalized.end() || !it->is_string()) return;
    const auto& unit = it->get_ref<const std::string&>();
    if (unit.empty() || unit == ownUnit) return;
    Issue i;
    i.path = form.unitField;
    i.rule = "own_unit";
    i.message = "this laptop reports for " + std::string(ownUnit) + ", not " + unit +
                ": HQ takes a unit's reports only from that unit's laptops";
    i.arg = std::string(ownUnit);
    i.warning = mode == ValidationMode::Draft;
    v.issues.push_back(std::move(i));
}

}  // namespace outpost::core
