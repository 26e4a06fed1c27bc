// The formats of what crosses from a laptop to HQ: record and batch ids, UTC times, account names,
// text without control characters, and numbers in the canonical form (docs/protocol.md, "Member
// formats"). One checker per format, shared by the laptop and HQ. Pure.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace outpost::core {

// A record or batch id as a laptop makes it (core::newUuidV7): 36 characters, 8-4-4-4-12 lower-case
// hex, the version digit 7 and the variant digit one of 8, 9, a, b.
bool isUuidV7(std::string_view text);

// A UTC instant as Outpost writes it (core::nowTimestamp): "YYYY-MM-DDTHH:MM:SS" with an optional
// fraction of 1 to 3 digits and "Z"; the date real, the year in 1900..2200 (isValidDate). No offset:
// laptops send UTC only (the local offset travels apart, in minutes).
bool isUtcTimestamp(std::string_view text);

// An account name: 1 to 32 of a-z, 0-9, '.', '-', '_', starting with a letter or digit.
bool isAccountName(std::string_view name);

// The first control character in text (C0, DEL, or C1 as UTF-8, U+0080..U+009F), or npos. Tab and
// line feed count only when allowTabNewline is false. Text that is not UTF-8 counts as control text.
std::size_t firstControlCharacter(std::string_view text, bool allowTabNewline);

// The canonical number rule: a number written without fraction or exponent is an integer and must fit
// 64 bits (it is then kept exactly); any other number is a finite double. "" when every number in v
// (recursively) follows it, otherwise the path of the first that does not and why ("a.b[2]: ...").
std::string numberProblem(const nlohmann::json& v, const std::string& path);

// The first string in v (recursively, member names included) holding a control character (tab and
// line feed allowed), as "path: why"; "" when there is none.
std::string textProblem(const nlohmann::json& v, const std::string& path);

}  // namespace outpost::core
