// Form definitions: parsed from versioned JSON (docs/forms.md) and checked before anyone fills them.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/expr.hpp"

namespace outpost::core {

using json = nlohmann::json;

class ReferenceData;

enum class FieldType {
    Text,
    Multiline,
    Integer,
    Decimal,
    Date,
    DateTime,
    Boolean,
    SelectOne,
    SelectMultiple,
    Rating,
    Location,
    Reference,
    Repeat,
    Computed,
    Note
};

const char* fieldTypeName(FieldType t);
std::optional<FieldType> fieldTypeFromName(std::string_view name);

// English and French text; fr may be empty (English is shown then).
struct LocalText {
    std::string en;
    std::string fr;
    const std::string& in(std::string_view lang) const { return (lang == "fr" && !fr.empty()) ? fr : en; }
};

struct Choice {
    std::string value;
    LocalText label;
};

struct FieldDef {
    std::string name;
    FieldType type = FieldType::Text;
    LocalText label;
    LocalText hint;
    bool required = false;
    Expr requiredIf;
    std::optional<double> min, max;               // numbers and ratings
    std::optional<std::string> minText, maxText;  // dates and datetimes (ISO text)
    std::optional<std::size_t> minLength, maxLength;
    std::string pattern;
    std::shared_ptr<const std::regex> patternRegex;  // pattern, compiled once when the form is parsed
    LocalText patternMessage;
    std::vector<Choice> choices;  // resolved (inline or from a reference choice list)
    std::string choiceList;       // the "@name" it came from, when any
    std::optional<std::size_t> minSelected, maxSelected;
    std::string scale;             // rating
    std::string ref;               // reference
    std::vector<FieldDef> fields;  // repeat
    std::optional<std::size_t> minRows, maxRows;
    Expr relevant;
    Expr constraint;
    LocalText constraintMessage;
    Expr calculate;
    FieldType valueType = FieldType::Decimal;  // computed
    bool sensitive = false;
    bool checkIdentifying = false;
    std::string indicator;

    bool hasValue() const { return type != FieldType::Note; }
    bool userEditable() const { return type != FieldType::Note && type != FieldType::Computed; }
    const Choice* findChoice(std::string_view v) const;
    std::size_t effectiveMaxLength() const;
};

struct FormDef {
    std::string id;
    int version = 0;
    LocalText title;
    LocalText description;
    int syncPriority = 0;
    std::string unitField;
    std::vector<std::string> summaryFields;
    std::vector<std::string> searchFields;  // resolved: explicit or the default set
    std::vector<FieldDef> fields;
    json source;  // the definition as given (for storage and HQ)
    // Every computed field, each after the computed fields it reads (set by the parser, which refuses
    // cycles): fields[field], or fields[field].fields[*child] for a column of a repeat group.
    struct ComputedStep {
        std::size_t field = 0;
        std::optional<std::size_t> child;
    };
    std::vector<ComputedStep> computedOrder;

    const FieldDef* field(std::string_view name) const;
    // Depth-first list of every field, with its path pattern ("equipment.serviceable").
    std::vector<std::pair<std::string, const FieldDef*>> allFields() const;
    bool hasSensitiveFields() const;
};

// Parses and checks a form definition: keys, types, names, expressions (syntax, names, cycles),
// and that every scale, reference table, choice list and threshold exists in ref.
// Every problem is listed in the error message, one per line, with its JSON path.
Result<FormDef> parseFormDef(const json& def, const ReferenceData& ref);
Result<FormDef> parseFormDefText(std::string_view text, const ReferenceData& ref);

// The set of form definitions a store or HQ knows, by id and version.
class FormRegistry {
public:
    void add(std::shared_ptr<const FormDef> f);
    // The latest version of a form, or nullptr.
    std::shared_ptr<const FormDef> latest(std::string_view id) const;
    std::shared_ptr<const FormDef> find(std::string_view id, int version) const;
    std::vector<std::shared_ptr<const FormDef>> latestAll() const;

private:
    std::map<std::string, std::map<int, std::shared_ptr<const FormDef>>, std::less<>> m_forms;
};

// The built-in forms, parsed against the given reference data. Throws Failure if one is broken.
FormRegistry builtinForms(const ReferenceData& ref);

}  // namespace outpost::core
