// Taking the sensitive section out of a payload and putting it back.
#include "core/sensitive.hpp"

#include "core/validate.hpp"

namespace outpost::core {

json takeSensitive(const FormDef& form, json& payload) {
    json part = json::object();
    forEachSensitive(form, payload,
                     [&](json& holder, const std::string& name, const std::string& repeat, int row) {
                         auto it = holder.find(name);
                         if (it == holder.end()) return;
                         json value = std::move(*it);
                         holder.erase(it);
                         if (isEmptyValue(value)) return;
                         if (row < 0) {
                             part[name] = std::move(value);
                             return;
                         }
                         json& rows = part[repeat];
                         if (!rows.is_array()) rows = json::array();
                         while (rows.size() <= static_cast<std::size_t>(row)) rows.push_back(nullptr);
                         json& cell = rows[static_cast<std::size_t>(row)];
                         if (!cell.is_object()) cell = json::object();
                         cell[name] = std::move(value);
                     });
    return part;
}

void putSensitive(const FormDef& form, json& payload, const json& part) {
    if (!part.is_object() || !payload.is_object()) return;
    for (const auto& f : form.fields) {
        auto it = part.find(f.name);
        if (it == part.end()) continue;
        if (f.sensitive) {
            payload[f.name] = *it;
            continue;
        }
        if (f.type != FieldType::Repeat || !it->is_array()) continue;
        json& rows = payload[f.name];
        if (!rows.is_array()) rows = json::array();
        for (std::size_t i = 0; i < it->size(); ++i) {
            const json& cell = (*it)[i];
            if (!cell.is_object()) continue;
            while (rows.size() <= i) rows.push_back(json::object());
            if (!rows[i].is_object()) rows[i] = json::object();
            for (const auto& c : f.fields)
                if (c.sensitive && cell.contains(c.name)) rows[i][c.name] = cell[c.name];
        }
    }
}

std::vector<std::string> sensitivePathsWithValues(const FormDef& form, const json& payload) {
    std::vector<std::string> out;
    forEachSensitive(form, payload,
                     [&](const json& holder, const std::string& name, const std::string& repeat, int row) {
                         auto it = holder.find(name);
                         if (it == holder.end() || isEmptyValue(*it)) return;
                         out.push_back(row < 0 ? name : repeat + "[" + std::to_string(row) + "]." + name);
                     });
    return out;
}

namespace {
void relaxSensitive(std::vector<FieldDef>& fields) {
    for (auto& f : fields) {
        if (f.sensitive) {
            f.required = false;
            f.requiredIf = Expr();
            f.minRows.reset();
            f.minSelected.reset();
        }
        if (f.type == FieldType::Repeat) relaxSensitive(f.fields);
    }
}
}  // namespace

FormDef withSealedSection(const FormDef& form) {
    FormDef out = form;
    relaxSensitive(out.fields);
    return out;
}

}  // namespace outpost::core
