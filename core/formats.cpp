// Format checks for what crosses from a laptop to HQ (core/formats.hpp).
#include "core/formats.hpp"

#include <cmath>

#include "core/time.hpp"
#include "core/utf8.hpp"

namespace outpost::core {

namespace {

bool isLowerHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}

}  // namespace

bool isUuidV7(std::string_view t) {
    if (t.size() != 36) return false;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? t[i] != '-' : !isLowerHex(t[i])) return false;
    }
    const char variant = t[19];
    return t[14] == '7' && (variant == '8' || variant == '9' || variant == 'a' || variant == 'b');
}

bool isUtcTimestamp(std::string_view t) {
    // "YYYY-MM-DDTHH:MM:SS" is 19 characters; then ".f", ".ff" or ".fff", then "Z".
    if (t.size() < 20 || t.back() != 'Z' || t[16] != ':') return false;
    if (!isDigit(t[17]) || !isDigit(t[18])) return false;
    if (t.size() > 20) {
        const std::size_t digits = t.size() - 21;
        if (t[19] != '.' || digits < 1 || digits > 3) return false;
        for (std::size_t i = 20; i < t.size() - 1; ++i)
            if (!isDigit(t[i])) return false;
    }
    return isValidDateTime(t);
}

bool isAccountName(std::string_view name) {
    if (name.empty() || name.size() > 32) return false;
    auto ok = [](char c) { return (c >= 'a' && c <= 'z') || isDigit(c) || c == '.' || c == '-' || c == '_'; };
    for (char c : name)
        if (!ok(c)) return false;
    return (name[0] >= 'a' && name[0] <= 'z') || isDigit(name[0]);
}

std::size_t firstControlCharacter(std::string_view text, bool allowTabNewline) {
    if (!isValidUtf8(text)) return 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7f) {
            if (allowTabNewline && (c == '\t' || c == '\n')) continue;
            return i;
        }
        // U+0080..U+009F are 0xC2 0x80..0x9F in UTF-8.
        if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9F) return i;
    }
    return std::string_view::npos;
}

std::string numberProblem(const nlohmann::json& v, const std::string& path) {
    if (v.is_number_float()) {
        // The integers are exact in their 64 bits; a double must be finite (JSON has no spelling for
        // infinity: a number too large to hold, such as 1e400, would be written back as null).
        if (!std::isfinite(v.get<double>()))
            return path + ": a number too large to hold (the canonical form keeps finite numbers only)";
        return {};
    }
    if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it)
            if (auto p = numberProblem(it.value(), path + "." + it.key()); !p.empty()) return p;
    } else if (v.is_array()) {
        for (std::size_t i = 0; i < v.size(); ++i)
            if (auto p = numberProblem(v[i], path + "[" + std::to_string(i) + "]"); !p.empty()) return p;
    }
    return {};
}

std::string textProblem(const nlohmann::json& v, const std::string& path) {
    if (v.is_string()) {
        if (firstControlCharacter(v.get_ref<const std::string&>(), true) != std::string_view::npos)
            return path + ": holds a control character or is not UTF-8 (only tab and line feed are allowed)";
        return {};
    }
    if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (firstControlCharacter(it.key(), false) != std::string_view::npos)
                return path + ": a member name holds a control character";
            if (auto p = textProblem(it.value(), path + "." + it.key()); !p.empty()) return p;
        }
    } else if (v.is_array()) {
        for (std::size_t i = 0; i < v.size(); ++i)
            if (auto p = textProblem(v[i], path + "[" + std::to_string(i) + "]"); !p.empty()) return p;
    }
    return {};
}

}  // namespace outpost::core
