// What outpostctl and outpost-hq print alike: JSON documents, CSV cells, audit entries, and exports
// without the fields a form marks sensitive.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>

#include "core/form.hpp"

namespace outpost::cli {

// j as indented JSON and a line break: the shape of every --json / --format json answer.
void printJson(std::ostream& out, const nlohmann::json& j);

// A CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break.
std::string csvQuote(const std::string& s);

// A JSON value as a CSV cell: null is empty, a string is itself (one that a spreadsheet would run as a
// formula, starting with = + - @ or a tab, is kept as text with a leading '), anything else its JSON.
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
