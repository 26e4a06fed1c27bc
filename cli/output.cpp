// JSON and CSV output shared by both command lines.
#include "cli/output.hpp"

#include <ostream>

namespace outpost::cli {

namespace {

void appendHex(std::string& out, const char* prefix, unsigned value, int digits) {
    static const char* kHex = "0123456789abcdef";
    out += prefix;
    for (int i = digits - 1; i >= 0; --i) out += kHex[(value >> (4 * i)) & 0xF];
}

// The length of the UTF-8 sequence starting at s[i] and its code point; 0 when it is not one.
std::size_t utf8At(std::string_view s, std::size_t i, char32_t& cp) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    cp = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (std::size_t k = 1; k < n; ++k) {
        const auto c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (c & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static const char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
    return n;
}

bool hidden(char32_t cp) {
    return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

std::string printable(std::string_view text, bool keepLineBreaks) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto b = static_cast<unsigned char>(text[i]);
        if (keepLineBreaks && (b == '\t' || b == '\n')) {
            out += text[i];
            ++i;
            continue;
        }
        if (b < 0x20 || b == 0x7F) {
            if (b == '\t')
                out += "\\t";
            else if (b == '\n')
                out += "\\n";
            else if (b == '\r')
                out += "\\r";
            else
                appendHex(out, "\\x", b, 2);
            ++i;
            continue;
        }
        char32_t cp = 0;
        const std::size_t n = utf8At(text, i, cp);
        if (n == 0) {
            appendHex(out, "\\x", b, 2);
            ++i;
        } else if (hidden(cp)) {
            appendHex(out, "\\u", static_cast<unsigned>(cp), 4);
            i += n;
        } else {
            out.append(text.substr(i, n));
            i += n;
        }
    }
    return out;
}

void printJson(std::ostream& out, const nlohmann::json& j) {
    // The JSON writer escapes C0 controls; DEL, C1 controls and the bidirectional controls it writes as
    // they are. They can only occur inside strings, where \uHHHH means the same character.
    const std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string safe;
    safe.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        char32_t cp = 0;
        const std::size_t n = utf8At(text, i, cp);
        if (n != 0 && (cp == 0x7F || hidden(cp))) {
            appendHex(safe, "\\u", static_cast<unsigned>(cp), 4);
            i += n;
        } else {
            safe += text[i];
            ++i;
        }
    }
    out << safe << "\n";
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
        // An export may go to a terminal: control characters are escaped, line breaks and tabs kept.
        return csvQuote(printable(s, true));
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
