// Form definitions: parsing, static checks (keys, names, expressions, cycles) and the registry.
//
// [SECTION] field types
// [SECTION] parser
// [SECTION] registry
#include "core/form.hpp"

#include <functional>
#include <regex>
#include <set>

#include "core/builtin.hpp"
#include "core/refdata.hpp"

namespace outpost::core {

// [SECTION] field types
namespace {

struct TypeName {
    FieldType type;
    const char* name;
};
constexpr TypeName kTypeNames[] = {
    {FieldType::Text, "text"},
    {FieldType::Multiline, "multiline"},
    {FieldType::Integer, "integer"},
    {FieldType::Decimal, "decimal"},
    {FieldType::Date, "date"},
    {FieldType::DateTime, "datetime"},
    {FieldType::Boolean, "boolean"},
    {FieldType::SelectOne, "select_one"},
    {FieldType::SelectMultiple, "select_multiple"},
    {FieldType::Rating, "rating"},
    {FieldType::Location, "location"},
    {FieldType::Reference, "reference"},
    {FieldType::Repeat, "repeat"},
    {FieldType::Computed, "computed"},
    {FieldType::Note, "note"},
};

// Default maximum lengths keep a single field from filling a laptop or a sync batch.
constexpr std::size_t kDefaultTextMax = 500;
constexpr std::size_t kDefaultMultilineMax = 10000;
constexpr std::size_t kDefaultMaxRows = 500;
constexpr std::size_t kMaxNameLength = 64;

}  // namespace

const char* fieldTypeName(FieldType t) {
    for (const auto& tn : kTypeNames)
        if (tn.type == t) return tn.name;
    return "?";
}

std::optional<FieldType> fieldTypeFromName(std::string_view name) {
    for (const auto& tn : kTypeNames)
        if (name == tn.name) return tn.type;
    return std::nullopt;
}

const Choice* FieldDef::findChoice(std::string_view v) const {
    for (const auto& c : choices)
        if (c.value == v) return &c;
    return nullptr;
}

std::size_t FieldDef::effectiveMaxLength() const {
    if (maxLength) return *maxLength;
    return type == FieldType::Multiline ? kDefaultMultilineMax : kDefaultTextMax;
}

const FieldDef* FormDef::field(std::string_view name) const {
    auto dot = name.find('.');
    if (dot == std::string_view::npos) {
        for (const auto& f : fields)
            if (f.name == name) return &f;
        return nullptr;
    }
    const FieldDef* group = field(name.substr(0, dot));
    if (!group || group->type != FieldType::Repeat) return nullptr;
    for (const auto& f : group->fields)
        if (f.name == name.substr(dot + 1)) return &f;
    return nullptr;
}

std::vector<std::pair<std::string, const FieldDef*>> FormDef::allFields() const {
    std::vector<std::pair<std::string, const FieldDef*>> out;
    for (const auto& f : fields) {
        out.emplace_back(f.name, &f);
        for (const auto& c : f.fields) out.emplace_back(f.name + "." + c.name, &c);
    }
    return out;
}

bool FormDef::hasSensitiveFields() const {
    // Asked for every record HQ receives: a walk, without building allFields()' paths.
    for (const auto& f : fields) {
        if (f.sensitive) return true;
        for (const auto& c : f.fields)
            if (c.sensitive) return true;
    }
    return false;
}

// [SECTION] parser
namespace {

class Parser {
public:
    Parser(const ReferenceData& ref) : m_ref(ref) {}

    Result<FormDef> parse(const json& def) {
        FormDef form;
        form.source = def;
        if (!def.is_object()) return fail("form definition: expected a JSON object");
        static const std::set<std::string> formKeys = {"form",           "version",       "title",
                                                       "description",    "sync_priority", "unit_field",
                                                       "summary_fields", "search_fields", "fields"};
        for (const auto& [k, v] : def.items())
            if (!formKeys.count(k)) problem(k, "unknown key '" + k + "'");
        form.id = str(def, "form", "form", true);
        static const std::regex idRe("^[a-z][a-z0-9-]{0,39}$");
        if (!form.id.empty() && !std::regex_match(form.id, idRe))
            problem("form", "form id must match [a-z][a-z0-9-]* (at most 40 characters)");
        if (!def.contains("version") || !def["version"].is_number_integer() ||
            def["version"].get<long long>() < 1 || def["version"].get<long long>() > 1000000)
            problem("version", "expected a positive integer");
        else
            form.version = def["version"].get<int>();
        form.title = text(def, "title", "title", true);
        form.description = text(def, "description", "description", false);
        if (def.contains("sync_priority")) {
            if (!def["sync_priority"].is_number_integer())
                problem("sync_priority", "expected an integer");
            else
                form.syncPriority = def["sync_priority"].get<int>();
        }
        m_prefix = form.id.empty() ? "form" : form.id;
        if (!def.contains("fields") || !def["fields"].is_array() || def["fields"].empty()) {
            problem("fields", "expected a non-empty array of fields");
        } else {
            form.fields = parseFields(def["fields"], "fields", false);
        }
        form.unitField = str(def, "unit_field", "unit_field", false);
        if (!form.unitField.empty()) {
            const FieldDef* uf = form.field(form.unitField);
            if (!uf || uf->type != FieldType::Reference || uf->ref != "units")
                problem("unit_field",
                        "'" + form.unitField + "' is not a top-level reference field to 'units'");
        }
        if (def.contains("summary_fields")) {
            for (const auto& n : def["summary_fields"]) {
                if (!n.is_string() || !form.field(n.get<std::string>()) ||
                    n.get<std::string>().find('.') != std::string::npos)
                    problem("summary_fields", "unknown top-level field " + n.dump());
                else
                    form.summaryFields.push_back(n);
            }
        }
        if (def.contains("search_fields")) {
            for (const auto& n : def["search_fields"]) {
                const FieldDef* f = n.is_string() ? form.field(n.get<std::string>()) : nullptr;
                if (!f)
                    problem("search_fields", "unknown field " + n.dump());
                else if (f->sensitive)
                    problem("search_fields", "sensitive field " + n.dump() + " cannot be indexed for search");
                else
                    form.searchFields.push_back(n);
            }
        } else {
            for (const auto& [path, f] : form.allFields()) {
                if (f->sensitive) continue;
                switch (f->type) {
                    case FieldType::Text:
                    case FieldType::Multiline:
                    case FieldType::SelectOne:
                    case FieldType::SelectMultiple:
                    case FieldType::Reference:
                        form.searchFields.push_back(path);
                        break;
                    default:
                        break;
                }
            }
        }
        checkExpressions(form);
        if (!m_problems.empty()) {
            std::string msg = "form definition '" + m_prefix + "' is invalid:";
            for (const auto& p : m_problems) msg += "\n  " + p;
            return Error{ErrorDomain::Validation, ErrorCode::Invalid, msg};
        }
        return form;
    }

private:
    Error fail(std::string m) { return Error{ErrorDomain::Validation, ErrorCode::Invalid, std::move(m)}; }
    void problem(const std::string& path, const std::string& msg) { m_problems.push_back(path + ": " + msg); }

    std::string str(const json& o, const char* key, const std::string& path, bool required) {
        auto it = o.find(key);
        if (it == o.end()) {
            if (required) problem(path, "is required");
            return {};
        }
        if (!it->is_string()) {
            problem(path, "expected text");
            return {};
        }
        return *it;
    }

    LocalText text(const json& o, const char* key, const std::string& path, bool required) {
        LocalText t;
        auto it = o.find(key);
        if (it == o.end()) {
            if (required) problem(path, "is required");
            return t;
        }
        if (it->is_string()) {
            t.en = *it;
            return t;
        }
        if (!it->is_object() || !it->contains("en") || !(*it)["en"].is_string()) {
            problem(path, "expected {\"en\": text, \"fr\": text}");
            return t;
        }
        t.en = (*it)["en"];
        if (it->contains("fr")) {
            if (!(*it)["fr"].is_string())
                problem(path + ".fr", "expected text");
            else
                t.fr = (*it)["fr"];
        }
        return t;
    }

    Expr expr(const json& o, const char* key, const std::string& path) {
        Expr e;
        auto it = o.find(key);
        if (it == o.end()) return e;
        if (!it->is_string()) {
            problem(path, "expected an expression as text");
            return e;
        }
        ExprError err;
        if (!Expr::parse(it->get<std::string>(), e, err)) problem(path, err.text());
        return e;
    }

    std::optional<std::size_t> count(const json& o, const char* key, const std::string& path) {
        auto it = o.find(key);
        if (it == o.end()) return std::nullopt;
        if (!it->is_number_integer() || it->get<long long>() < 0 || it->get<long long>() > 100000000) {
            problem(path, "expected a non-negative integer");
            return std::nullopt;
        }
        return it->get<std::size_t>();
    }

    std::vector<FieldDef> parseFields(const json& arr, const std::string& path, bool inRepeat) {
        std::vector<FieldDef> out;
        std::set<std::string> names;
        for (std::size_t i = 0; i < arr.size(); ++i) {
            std::string p = path + "[" + std::to_string(i) + "]";
            if (!arr[i].is_object()) {
                problem(p, "expected a field object");
                continue;
            }
            FieldDef f = parseField(arr[i], p, inRepeat);
            if (!f.name.empty() && !names.insert(f.name).second)
                problem(p, "duplicate field name '" + f.name + "'");
            out.push_back(std::move(f));
        }
        return out;
    }

    FieldDef parseField(const json& o, const std::string& at, bool inRepeat) {
        FieldDef f;
        static const std::regex nameRe("^[a-z][a-z0-9_]*$");
        f.name = str(o, "name", at + ".name", true);
        if (!f.name.empty() && (!std::regex_match(f.name, nameRe) || f.name.size() > kMaxNameLength))
            problem(at + ".name", "'" + f.name + "' must match [a-z][a-z0-9_]* (at most 64 characters)");
        static const std::set<std::string> reserved = {"and", "or", "not", "true", "false", "null"};
        if (reserved.count(f.name)) problem(at + ".name", "'" + f.name + "' is a reserved word");
        std::string p = at + (f.name.empty() ? "" : "(" + f.name + ")");
        std::string typeName = str(o, "type", p + ".type", true);
        auto t = fieldTypeFromName(typeName);
        if (!typeName.empty() && !t) problem(p + ".type", "unknown field type '" + typeName + "'");
        f.type = t.value_or(FieldType::Text);

        using FT = FieldType;
        auto is = [&](std::initializer_list<FT> ts) {
            for (auto x : ts)
                if (x == f.type) return true;
            return false;
        };
        // Which keys a field of this type may carry: an unknown key is a typo HQ should hear about.
        std::set<std::string> allowed = {"name",     "type",      "label",     "hint",
                                         "relevant", "sensitive", "indicator", "fact"};
        if (f.hasValue() && f.type != FT::Computed)
            allowed.insert({"required", "required_if", "constraint", "constraint_message"});
        if (is({FT::Integer, FT::Decimal, FT::Rating, FT::Date, FT::DateTime}))
            allowed.insert({"min", "max"});
        if (is({FT::Text, FT::Multiline})) allowed.insert({"min_length", "max_length", "check_identifying"});
        if (is({FT::Text})) allowed.insert({"pattern", "pattern_message"});
        if (is({FT::SelectOne, FT::SelectMultiple})) allowed.insert("choices");
        if (is({FT::SelectMultiple})) allowed.insert({"min_selected", "max_selected"});
        if (is({FT::Rating})) allowed.insert("scale");
        if (is({FT::Reference})) allowed.insert("ref");
        if (is({FT::Repeat})) allowed.insert({"fields", "min_rows", "max_rows"});
        if (is({FT::Computed})) allowed.insert({"calculate", "value_type"});
        for (const auto& [k, v] : o.items())
            if (!allowed.count(k)) problem(p + "." + k, "not allowed on a " + typeName + " field");

        f.label = text(o, "label", p + ".label", f.type != FT::Note || !o.contains("hint"));
        f.hint = text(o, "hint", p + ".hint", false);
        if (o.contains("required")) {
            if (!o["required"].is_boolean())
                problem(p + ".required", "expected true or false");
            else
                f.required = o["required"];
        }
        f.requiredIf = expr(o, "required_if", p + ".required_if");
        f.relevant = expr(o, "relevant", p + ".relevant");
        f.constraint = expr(o, "constraint", p + ".constraint");
        f.constraintMessage = text(o, "constraint_message", p + ".constraint_message", false);
        if (o.contains("constraint") && !o.contains("constraint_message"))
            problem(p + ".constraint_message", "a constraint needs a message the user can act on");
        if (o.contains("sensitive")) {
            if (!o["sensitive"].is_boolean())
                problem(p + ".sensitive", "expected true or false");
            else
                f.sensitive = o["sensitive"];
        }
        if (o.contains("check_identifying")) {
            if (!o["check_identifying"].is_boolean())
                problem(p + ".check_identifying", "expected true or false");
            else
                f.checkIdentifying = o["check_identifying"];
        }
        f.indicator = str(o, "indicator", p + ".indicator", false);

        for (const char* k : {"min", "max"}) {
            if (!o.contains(k)) continue;
            const json& v = o[k];
            if (is({FT::Date, FT::DateTime})) {
                if (!v.is_string())
                    problem(p + "." + k, "expected an ISO date as text");
                else
                    (std::string(k) == "min" ? f.minText : f.maxText) = v.get<std::string>();
            } else if (!v.is_number()) {
                problem(p + "." + k, "expected a number");
            } else {
                (std::string(k) == "min" ? f.min : f.max) = v.get<double>();
            }
        }
        if (f.min && f.max && *f.min > *f.max) problem(p, "min is greater than max");
        f.minLength = count(o, "min_length", p + ".min_length");
        f.maxLength = count(o, "max_length", p + ".max_length");
        if (f.minLength && f.maxLength && *f.minLength > *f.maxLength)
            problem(p, "min_length is greater than max_length");
        if (o.contains("pattern")) {
            f.pattern = str(o, "pattern", p + ".pattern", false);
            try {
                f.patternRegex = std::make_shared<const std::regex>(f.pattern, std::regex::ECMAScript);
            } catch (const std::regex_error& e) {
                problem(p + ".pattern", std::string("invalid regular expression: ") + e.what());
            }
            f.patternMessage = text(o, "pattern_message", p + ".pattern_message", false);
        }
        if (is({FT::SelectOne, FT::SelectMultiple})) parseChoices(o, f, p);
        f.minSelected = count(o, "min_selected", p + ".min_selected");
        f.maxSelected = count(o, "max_selected", p + ".max_selected");
        if (f.type == FT::Rating) {
            f.scale = str(o, "scale", p + ".scale", true);
            if (!f.scale.empty() && !m_ref.hasScale(f.scale))
                problem(p + ".scale", "unknown rating scale '" + f.scale + "'");
        }
        if (f.type == FT::Reference) {
            f.ref = str(o, "ref", p + ".ref", true);
            if (!f.ref.empty() && !m_ref.hasTable(f.ref))
                problem(p + ".ref", "unknown reference table '" + f.ref + "'");
        }
        if (f.type == FT::Repeat) {
            if (inRepeat) problem(p, "a repeat group cannot hold another repeat group");
            if (!o.contains("fields") || !o["fields"].is_array() || o["fields"].empty())
                problem(p + ".fields", "a repeat group needs a non-empty array of fields");
            else
                f.fields = parseFields(o["fields"], p + ".fields", true);
            f.minRows = count(o, "min_rows", p + ".min_rows");
            f.maxRows = count(o, "max_rows", p + ".max_rows");
            if (!f.maxRows) f.maxRows = kDefaultMaxRows;
        }
        if (f.type == FT::Computed) {
            if (!o.contains("calculate")) problem(p + ".calculate", "a computed field needs an expression");
            f.calculate = expr(o, "calculate", p + ".calculate");
            std::string vt =
                o.contains("value_type") ? str(o, "value_type", p + ".value_type", false) : "decimal";
            auto vtt = fieldTypeFromName(vt);
            if (!vtt || !(vtt == FT::Integer || vtt == FT::Decimal || vtt == FT::Text || vtt == FT::Boolean))
                problem(p + ".value_type", "expected integer, decimal, text or boolean");
            else
                f.valueType = *vtt;
        }
        return f;
    }

    void parseChoices(const json& o, FieldDef& f, const std::string& p) {
        if (!o.contains("choices")) {
            problem(p + ".choices", "a select field needs choices");
            return;
        }
        const json* list = &o["choices"];
        if (list->is_string()) {
            std::string name = list->get<std::string>();
            if (name.empty() || name[0] != '@' || !m_ref.hasChoiceList(name.substr(1))) {
                problem(p + ".choices",
                        "unknown choice list '" + name + "' (write \"@name\" for a reference list)");
                return;
            }
            f.choiceList = name.substr(1);
            list = &m_ref.choiceList(f.choiceList);
        }
        if (!list->is_array() || list->empty()) {
            problem(p + ".choices", "expected a non-empty array of {value, label}");
            return;
        }
        std::set<std::string> seen;
        for (const auto& c : *list) {
            if (!c.is_object() || !c.contains("value") || !c["value"].is_string() ||
                c["value"].get_ref<const std::string&>().empty()) {
                problem(p + ".choices", "every choice needs a non-empty text value");
                continue;
            }
            Choice ch;
            ch.value = c["value"];
            if (!seen.insert(ch.value).second) problem(p + ".choices", "duplicate choice '" + ch.value + "'");
            ch.label = text(c, "label", p + ".choices(" + ch.value + ").label", false);
            if (ch.label.en.empty()) ch.label.en = ch.value;
            f.choices.push_back(std::move(ch));
        }
    }

    // Every name an expression reads must exist where it is read; computed fields must not loop.
    void checkExpressions(FormDef& form) {
        auto resolve = [&](const std::string& name, const FieldDef* group) -> std::string {
            auto dot = name.find('.');
            if (dot != std::string::npos) {
                const FieldDef* f = form.field(name);
                return (f && f->hasValue()) ? name : std::string();
            }
            if (group)
                for (const auto& c : group->fields)
                    if (c.name == name) return c.hasValue() ? group->name + "." + name : std::string();
            const FieldDef* f = form.field(name);
            return (f && f->hasValue()) ? name : std::string();
        };
        std::map<std::string, std::set<std::string>> deps;  // computed node -> computed nodes it reads
        auto check = [&](const Expr& e, const std::string& where, const FieldDef* group,
                         const std::string& node) {
            if (e.empty()) return;
            for (const auto& r : e.references()) {
                std::string target = resolve(r, group);
                if (target.empty()) {
                    problem(where, "unknown field '" + r + "' in \"" + e.source() + "\"");
                    continue;
                }
                if (!node.empty()) {
                    const FieldDef* tf = form.field(target);
                    if (tf && tf->type == FieldType::Computed) deps[node].insert(target);
                }
            }
        };
        for (const auto& f : form.fields) {
            std::string fp = m_prefix + "." + f.name;
            check(f.relevant, fp + ".relevant", nullptr, "");
            check(f.constraint, fp + ".constraint", nullptr, "");
            check(f.requiredIf, fp + ".required_if", nullptr, "");
            if (f.type == FieldType::Computed) {
                deps[f.name];
                check(f.calculate, fp + ".calculate", nullptr, f.name);
            }
            for (const auto& c : f.fields) {
                std::string cp = fp + "." + c.name;
                std::string node = f.name + "." + c.name;
                check(c.relevant, cp + ".relevant", &f, "");
                check(c.constraint, cp + ".constraint", &f, "");
                check(c.requiredIf, cp + ".required_if", &f, "");
                if (c.type == FieldType::Computed) {
                    deps[node];
                    check(c.calculate, cp + ".calculate", &f, node);
                }
            }
        }
        // Depth-first search for a cycle among computed fields.
        std::map<std::string, int> state;
        std::vector<std::string> stack;
        std::function<void(const std::string&)> visit = [&](const std::string& n) {
            state[n] = 1;
            stack.push_back(n);
            for (const auto& d : deps[n]) {
                if (state[d] == 1) {
                    std::string cyc;
                    bool on = false;
                    for (const auto& s : stack) {
                        if (s == d) on = true;
                        if (on) cyc += s + " -> ";
                    }
                    problem(m_prefix, "computed fields form a cycle: " + cyc + d);
                } else if (state[d] == 0) {
                    visit(d);
                }
            }
            stack.pop_back();
            state[n] = 2;
        };
        for (const auto& [n, d] : deps)
            if (state[n] == 0) visit(n);
        if (!m_problems.empty()) return;
        // The order to compute in: each node after what it reads (depth first, dependencies first).
        std::map<std::string, FormDef::ComputedStep> steps;
        for (std::size_t i = 0; i < form.fields.size(); ++i) {
            const FieldDef& f = form.fields[i];
            if (f.type == FieldType::Computed) steps[f.name] = {i, std::nullopt};
            for (std::size_t j = 0; j < f.fields.size(); ++j)
                if (f.fields[j].type == FieldType::Computed) steps[f.name + "." + f.fields[j].name] = {i, j};
        }
        std::set<std::string> placed;
        std::function<void(const std::string&)> place = [&](const std::string& n) {
            if (!placed.insert(n).second) return;
            for (const auto& d : deps[n]) place(d);
            if (auto it = steps.find(n); it != steps.end()) form.computedOrder.push_back(it->second);
        };
        // Field order first, so that independent fields keep the order of the form.
        for (const auto& f : form.fields) {
            if (f.type == FieldType::Computed) place(f.name);
            for (const auto& c : f.fields)
                if (c.type == FieldType::Computed) place(f.name + "." + c.name);
        }
    }

    const ReferenceData& m_ref;
    std::vector<std::string> m_problems;
    std::string m_prefix = "form";
};

}  // namespace

Result<FormDef> parseFormDef(const json& def, const ReferenceData& ref) {
    try {
        return Parser(ref).parse(def);
    } catch (const std::exception& e) {
        return Error{ErrorDomain::Validation, ErrorCode::Invalid,
                     std::string("form definition: ") + e.what()};
    }
}

Result<FormDef> parseFormDefText(std::string_view text, const ReferenceData& ref) {
    json def = json::parse(text, nullptr, false);
    if (def.is_discarded())
        return Error{ErrorDomain::Input, ErrorCode::BadInput, "form definition: malformed JSON"};
    return parseFormDef(def, ref);
}

// [SECTION] registry
void FormRegistry::add(std::shared_ptr<const FormDef> f) {
    m_forms[f->id][f->version] = std::move(f);
}

std::shared_ptr<const FormDef> FormRegistry::latest(std::string_view id) const {
    auto it = m_forms.find(id);
    if (it == m_forms.end() || it->second.empty()) return nullptr;
    return it->second.rbegin()->second;
}

std::shared_ptr<const FormDef> FormRegistry::find(std::string_view id, int version) const {
    auto it = m_forms.find(id);
    if (it == m_forms.end()) return nullptr;
    auto v = it->second.find(version);
    return v == it->second.end() ? nullptr : v->second;
}

std::vector<std::shared_ptr<const FormDef>> FormRegistry::latestAll() const {
    std::vector<std::shared_ptr<const FormDef>> out;
    for (const auto& [id, versions] : m_forms)
        if (!versions.empty()) out.push_back(versions.rbegin()->second);
    return out;
}

FormRegistry builtinForms(const ReferenceData& ref) {
    FormRegistry reg;
    for (auto src : builtinFormSources()) {
        auto f = parseFormDefText(src, ref);
        if (!f) throw Failure(f.error());
        reg.add(std::make_shared<const FormDef>(std::move(f).value()));
    }
    return reg;
}

}  // namespace outpost::core
