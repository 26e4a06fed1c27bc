// JSON and CSV output shared by both command lines.
#include "cli/output.hpp"

#include <ostream>

namespace outpost::cli {

void printJson(std::ostream& out, const nlohmann::json& j) {
    out << j.dump(2) << "\n";
}

std::string csvQuote(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

std::string csvCell(const nlohmann::json& v) {
    if (v.is_null()) return "";
    if (v.is_string()) {
        std::string s = v.get<std::string>();
        if (!s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t'))
            s = "'" + s;
        return csvQuote(s);
    }
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    return csvQuote(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

nlohmann::json withoutSensitive(const core::FormDef& form, nlohmann::json payload) {
    for (const auto& f : form.fields) {
        if (f.sensitive) {
            payload.erase(f.name);
            continue;
        }
        if (f.type == core::FieldType::Repeat && payload.contains(f.name) && payload[f.name].is_array())
            for (auto& row : payload[f.name])
                if (row.is_object())
                    for (const auto& c : f.fields)
                        if (c.sensitive) row.erase(c.name);
    }
    return payload;
}

}  // namespace outpost::cli
