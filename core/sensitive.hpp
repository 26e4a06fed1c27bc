// The sensitive section of a record (fields marked `sensitive`, e.g. the SEA details of a conduct
// incident): taking it out of a payload to be sealed for HQ, and the rules HQ validates by once it is.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/form.hpp"

namespace outpost::core {

using json = nlohmann::json;

// Calls fn(holder, name, repeat, row) for each sensitive value slot of payload: a top-level field
// (repeat empty, row -1) and each row's sensitive column of a repeat (repeat = its name, row = index).
// Slots are visited whether or not they hold a value.
template <typename Obj, typename Fn>
void forEachSensitive(const FormDef& form, Obj& payload, Fn fn) {
    if (!payload.is_object()) return;
    for (const auto& f : form.fields) {
        if (f.sensitive) {
            fn(payload, f.name, std::string(), -1);
            continue;
        }
        if (f.type != FieldType::Repeat) continue;
        auto it = payload.find(f.name);
        if (it == payload.end() || !it->is_array()) continue;
        int i = 0;
        for (auto& row : *it) {
            for (const auto& c : f.fields)
                if (c.sensitive && row.is_object()) fn(row, c.name, f.name, i);
            ++i;
        }
    }
}

// Moves every sensitive value out of payload and returns them as one object: a top-level field under
// its name, a repeat's sensitive columns as {"<repeat>": [{col: value} or null per row]}. Empty values
// (null, "", [], {}) are dropped from payload and not kept. An empty object when there was nothing.
json takeSensitive(const FormDef& form, json& payload);

// Puts a part made by takeSensitive() back into payload (for HQ staff with the conduct role).
void putSensitive(const FormDef& form, json& payload, const json& part);

// Paths of the sensitive fields that hold a value in payload ("sea_notes", "people[1].name").
std::vector<std::string> sensitivePathsWithValues(const FormDef& form, const json& payload);

// The form as HQ validates a revision whose sensitive section arrived sealed (or was sealed with an
// earlier revision): sensitive fields are no longer required, since the values are not there to check.
// Every other rule is unchanged.
FormDef withSealedSection(const FormDef& form);

}  // namespace outpost::core
