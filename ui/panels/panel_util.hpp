// Small display helpers the panels share: times, counts, unit names, status badges, Enter-aware combos.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <imgui.h>

#include "client/app.hpp"
#include "core/refdata.hpp"
#include "core/status.hpp"
#include "ui/input.hpp"

namespace outpost::ui {

// "2026-11-27T17:05:03.123Z" as "2026-11-27 17:05"; "-" when empty.
std::string shortTime(const std::string& utc);

// 100000 as "100,000" (English) or "100 000" (French, with a no-break space).
std::string groupDigits(std::int64_t n);

// A number without trailing zeros, at most `decimals` decimals: 12.50 -> "12.5", 3.0 -> "3"
// (French: "12,5").
std::string formatNumber(double v, int decimals = 2);

// A percentage as each language writes it: "45.2%", "45,2 %".
std::string formatPercent(double v, int decimals = 1);

// What goes between a label and its value: ": " in English, " : " in French.
const char* colon();

// "2026-11-27T14:05:00+01:00" as "2026-11-27 14:05 (UTC+01:00)"; anything else as it is.
std::string dateTimeText(const std::string& iso);

// A byte count for people: "512 bytes", "12.3 kB", "4.1 MB" (French: octets, ko, Mo).
std::string formatBytes(std::uint64_t bytes);

// A unit's name in the current language, and its short name: the abbreviation the reference data
// puts in brackets at the end ("... (RWABATT-1)"), else the id without its mission prefix.
std::string unitName(const core::ReferenceData& ref, const std::string& unitId);
std::string unitShortName(const core::ReferenceData& ref, const std::string& unitId);

// The label of a reference-table row in the current language ("name", else "title"; courses keep
// their code in front), or the id itself when the row is unknown.
std::string referenceLabel(const core::ReferenceData& ref, const std::string& table, const std::string& id);

// A record's status and sync state, as words and as colours that keep their meaning in both themes.
// An outbox entry's state is shown with the same words and colours as a record's sync state.
std::string statusText(core::RecordStatus status);
std::string syncText(core::SyncState syncState);
std::string syncText(core::OutboxState state);
ImVec4 statusColour(core::RecordStatus status);
ImVec4 syncColour(core::SyncState syncState);
ImVec4 syncColour(core::OutboxState state);
void statusBadge(core::RecordStatus status);
void syncBadge(core::SyncState syncState);

// The link to HQ in colour: green when up to date, red when nothing can go (revoked, an upgrade needed,
// a failure), amber when waiting on the network or an enrollment, the text colour while it works.
ImVec4 linkColour(client::LinkState s);
// Whether that colour is a warning (the status bar stays quiet otherwise).
bool linkNeedsAttention(client::LinkState s);

// True once when the last item has the keyboard focus and Enter was pressed (Enter is then used up),
// so checkboxes, radio buttons and table rows answer Enter like buttons do.
bool enterOnItem(FrameInput& in);

// The mouse is over the last item. (ImGui's IsItemHovered() is also true for the item the keyboard
// is on, which would pop tooltips over the rows being walked with the arrows.)
bool mouseOnItem();

// A combo box over `items` that also opens on Enter and takes the focused entry on Enter.
// Returns true when `index` changed.
bool comboBox(const char* id, int& index, const std::vector<std::string>& items, float width, FrameInput& in);

}  // namespace outpost::ui
