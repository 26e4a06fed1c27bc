// What outpostctl and outpost-hq print alike: JSON documents, CSV cells, audit entries, and exports
// without the fields a form marks sensitive.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/form.hpp"

namespace outpost::cli {

// j as indented JSON and a line break: the shape of every --json / --format json answer. Control
// characters inside strings are escaped (\u001b, \u007f, \u009b), so none reaches the terminal.
void printJson(std::ostream& out, const nlohmann::json& j);

// text as it may be shown on a terminal: every control character escaped, so text that came from a
// device or from the network cannot move the cursor, retitle the window or hide what follows. C0
// controls become \t, \n, \r or \xHH, DEL \x7f, C1 controls (U+0080..U+009F) and the bidirectional
// overrides and isolates (U+202A..U+202E, U+2066..U+2069) \uHHHH, bytes that are not UTF-8 \xHH.
// Everything else (letters of any script, punctuation, a backslash) is kept. Every table and text
// printer of both command lines passes what it did not write itself through this. keepLineBreaks
// keeps line feeds and tabs as they are (for a message of several lines); the rest is escaped alike.
std::string printable(std::string_view text, bool keepLineBreaks = false);

// A CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break.
std::string csvQuote(const std::string& s);

// A JSON value as a CSV cell: null is empty, a string is itself (one that a spreadsheet would run as a
// formula, starting with = + - @ or a tab, is kept as text with a leading '; control characters but line
// feed and tab escaped as printable() does), anything else its JSON.
std::string csvCell(const nlohmann::json& v);

// The payload without the fields form marks sensitive (also inside repeat groups): what may leave a
// store in an export.
nlohmann::json withoutSensitive(const core::FormDef& form, nlohmann::json payload);

// One audit entry as both programs print it in JSON (the laptop's and HQ's entries have these members).
template <typename Entry>
nlohmann::json auditEntryJson(const Entry& e) {
    return {{"seq", e.seq},         {"at", e.atUtc},
            {"actor", e.actor},     {"action", e.action},
            {"subject", e.subject}, {"detail", nlohmann::json::parse(e.detail, nullptr, false)},
            {"hash", e.hash}};
}

}  // namespace outpost::cli
