// One report, read-only: every value in words, the confidential section apart, its revisions, amend.
//
// [SECTION] helpers
// [SECTION] title and action
// [SECTION] meta
// [SECTION] HQ's receipt and review
// [SECTION] values
// [SECTION] revisions
// [SECTION] the screen
#include <imgui.h>

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

#include <algorithm>

#include "ui/panels.hpp"
#include "ui/panels/panel_util.hpp"

namespace outpost::ui {

using client::tr;
using core::FieldDef;
using core::FieldType;
using nlohmann::json;

// [SECTION] helpers
namespace {

// Labels a step quieter than values, yet readable (the disabled colour is too faint to read all day).
ImVec4 labelColour() {
    const ImVec4 a = ImGui::GetStyle().Colors[ImGuiCol_Text],
                 b = ImGui::GetStyle().Colors[ImGuiCol_TextDisabled];
    return ImVec4(a.x * 0.55f + b.x * 0.45f, a.y * 0.55f + b.y * 0.45f, a.z * 0.55f + b.z * 0.45f, 1.0f);
}

bool present(const json* v) {
    if (!v || v->is_null()) return false;
    if (v->is_string()) return !v->get_ref<const std::string&>().empty();
    if (v->is_array() || v->is_object()) return !v->empty();
    return true;
}

const json* valueOf(const json& payload, const std::string& name) {
    if (!payload.is_object()) return nullptr;
    auto it = payload.find(name);
    return it == payload.end() ? nullptr : &*it;
}

std::string numberText(const json& v, int decimals = 2) {
    if (v.is_number_integer()) return std::to_string(v.get<long long>());
    if (v.is_number()) return formatNumber(v.get<double>(), decimals);
    return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string choiceText(const FieldDef& f, const json& v) {
    if (!v.is_string()) return v.dump();
    const std::string& s = v.get_ref<const std::string&>();
    const core::Choice* c = f.findChoice(s);
    return c ? tr(c->label) : s;
}

std::string ratingText(const FieldDef& f, const json& v, const core::ReferenceData& ref) {
    const std::string number = numberText(v);
    for (const auto& level : ref.scaleLevels(f.scale))
        if (level.contains("value") && level["value"] == v && level.contains("label"))
            return number + " \xC2\xB7 " +
                   core::ReferenceData::label(level["label"], client::langCode(client::language()));
    return number;
}

std::string locationText(const json& v) {
    if (!v.is_object()) return v.dump();
    std::string out;
    if (v.contains("lat") && v.contains("lon") && v["lat"].is_number() && v["lon"].is_number())
        out = std::string(tr("form.lat")) + " " + formatNumber(v["lat"].get<double>(), 5) + "   " +
              tr("form.lon") + " " + formatNumber(v["lon"].get<double>(), 5);
    if (v.contains("mgrs") && v["mgrs"].is_string())
        out += (out.empty() ? "" : "   ") + std::string("MGRS ") + v["mgrs"].get<std::string>();
    return out.empty() ? v.dump() : out;
}

// A value as a person reads it: choices and references by their labels, booleans as Yes/No.
std::string valueText(const FieldDef& f, const json& v, const core::ReferenceData& ref) {
    auto yesNo = [](const json& b) {
        return std::string(b.is_boolean() && b.get<bool>() ? tr("form.yes") : tr("form.no"));
    };
    switch (f.type) {
        case FieldType::Boolean:
            return v.is_boolean() ? yesNo(v) : v.dump();
        case FieldType::Integer:
        case FieldType::Decimal:
            return numberText(v);
        case FieldType::DateTime:
            return v.is_string() ? dateTimeText(v.get<std::string>()) : v.dump();
        case FieldType::SelectOne:
            return choiceText(f, v);
        case FieldType::SelectMultiple: {
            if (!v.is_array()) return v.dump();
            std::string out;
            for (const auto& item : v) out += (out.empty() ? "" : ", ") + choiceText(f, item);
            return out;
        }
        case FieldType::Rating:
            return ratingText(f, v, ref);
        case FieldType::Location:
            return locationText(v);
        case FieldType::Reference:
            return v.is_string() ? referenceLabel(ref, f.ref, v.get<std::string>()) : v.dump();
        case FieldType::Computed:
            if (f.valueType == FieldType::Boolean && v.is_boolean()) return yesNo(v);
            return numberText(v);
        case FieldType::Repeat:
            return std::to_string(v.is_array() ? v.size() : 0) + " " + tr("record.rows");
        default:
            return v.is_string() ? v.get<std::string>() : v.dump();
    }
}

// How much room a column of a repeat table gets, relative to the others.
float columnWeight(const FieldDef& f) {
    switch (f.type) {
        case FieldType::Multiline:
            return 3.0f;
        case FieldType::Text:
        case FieldType::Reference:
        case FieldType::SelectMultiple:
        case FieldType::Rating:
            return 2.0f;
        case FieldType::SelectOne:
            return 1.6f;
        default:
            return 1.0f;
    }
}

// A repeat group: one row per entry, one column per field that holds a value somewhere.
void repeatTable(const FieldDef& group, const json& rows, const core::ReferenceData& ref, bool showLabel) {
    std::vector<const FieldDef*> columns;
    for (const auto& f : group.fields) {
        if (!f.hasValue()) continue;
        bool any = false;
        for (const auto& row : rows) any = any || present(valueOf(row, f.name));
        if (any) columns.push_back(&f);
    }
    if (showLabel) {
        ImGui::PushFont(headingFont());
        ImGui::TextUnformatted(tr(group.label).c_str());
        ImGui::PopFont();
    }
    if (columns.empty()) return;
    const ImGuiTableFlags flags =
        ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp;
    if (!ImGui::BeginTable(group.name.c_str(), static_cast<int>(columns.size()) + 1, flags)) return;
    ImGui::TableSetupColumn("#", ImGuiTableColumnFlags_WidthFixed, ImGui::CalcTextSize("000").x);
    for (const FieldDef* f : columns)
        ImGui::TableSetupColumn(tr(f->label).c_str(), ImGuiTableColumnFlags_WidthStretch, columnWeight(*f));
    // Headers wrap rather than clip: French labels are long and the columns narrow.
    ImGui::TableNextRow(ImGuiTableRowFlags_Headers);
    ImGui::TableSetBgColor(ImGuiTableBgTarget_RowBg0, ImGui::GetColorU32(ImGuiCol_TableHeaderBg));
    ImGui::TableSetColumnIndex(0);
    ImGui::TextUnformatted("#");
    for (std::size_t c = 0; c < columns.size(); ++c) {
        ImGui::TableSetColumnIndex(static_cast<int>(c) + 1);
        ImGui::TextWrapped("%s", tr(columns[c]->label).c_str());
    }
    int n = 0;
    for (const auto& row : rows) {
        ImGui::TableNextRow();
        ImGui::TableSetColumnIndex(0);
        ImGui::TextDisabled("%d", ++n);
        for (std::size_t c = 0; c < columns.size(); ++c) {
            ImGui::TableSetColumnIndex(static_cast<int>(c) + 1);
            const json* v = valueOf(row, columns[c]->name);
            if (present(v)) ImGui::TextWrapped("%s", valueText(*columns[c], *v, ref).c_str());
        }
    }
    ImGui::EndTable();
}

// Fields between two headings: label and value side by side; a repeat group breaks out as a table.
void fieldBlock(const std::vector<const FieldDef*>& fields, const json& payload,
                const core::ReferenceData& ref, const std::string& heading, int& tableCount) {
    bool open = false;
    auto close = [&] {
        if (open) ImGui::EndTable();
        open = false;
    };
    for (const FieldDef* f : fields) {
        const json* v = valueOf(payload, f->name);
        if (!present(v)) continue;
        if (f->type == FieldType::Repeat && v->is_array()) {
            close();
            // A note heading often names the group right under it; saying it twice is noise.
            const bool showLabel = tr(f->label) != heading;
            if (showLabel) ImGui::Spacing();
            repeatTable(*f, *v, ref, showLabel);
            ImGui::Spacing();
            continue;
        }
        if (!open) {
            const std::string id = "##fields" + std::to_string(tableCount++);
            open = ImGui::BeginTable(
                id.c_str(), 2,
                ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp);
            if (!open) continue;
            ImGui::TableSetupColumn("##label", ImGuiTableColumnFlags_WidthStretch, 1.0f);
            ImGui::TableSetupColumn("##value", ImGuiTableColumnFlags_WidthStretch, 2.0f);
        }
        ImGui::TableNextRow();
        ImGui::TableSetColumnIndex(0);
        const std::string label = tr(f->label);
        const std::string note =
            f->type == FieldType::Computed ? "(" + std::string(tr("form.computed")) + ")" : "";
        ImGui::PushStyleColor(ImGuiCol_Text, labelColour());
        ImGui::TextWrapped("%s", label.c_str());
        ImGui::PopStyleColor();
        if (!note.empty()) {
            // Beside the label when both fit the column, else under it (never clipped).
            const float both = ImGui::CalcTextSize(label.c_str()).x + ImGui::GetStyle().ItemSpacing.x +
                               ImGui::CalcTextSize(note.c_str()).x;
            if (both <= ImGui::GetColumnWidth()) ImGui::SameLine();
            ImGui::TextDisabled("%s", note.c_str());
        }
        ImGui::TableSetColumnIndex(1);
        ImGui::TextWrapped("%s", valueText(*f, *v, ref).c_str());
    }
    close();
}

struct Section {
    const FieldDef* heading = nullptr;  // a note field, or none for the fields before the first note
    std::vector<const FieldDef*> fields;
};

bool hasValues(const Section& s, const json& payload) {
    return std::any_of(s.fields.begin(), s.fields.end(),
                       [&](const FieldDef* f) { return present(valueOf(payload, f->name)); });
}

void drawSections(const std::vector<Section>& sections, const json& payload, const core::ReferenceData& ref,
                  int& tableCount) {
    for (const auto& s : sections) {
        if (!hasValues(s, payload)) continue;
        if (s.heading) {
            ImGui::Spacing();
            ImGui::PushFont(headingFont());
            ImGui::TextUnformatted(tr(s.heading->label).c_str());
            ImGui::PopFont();
        }
        fieldBlock(s.fields, payload, ref, s.heading ? tr(s.heading->label) : std::string(), tableCount);
    }
}

void metaItem(const char* label, const std::string& value) {
    ImGui::TableNextColumn();
    ImGui::TextColored(labelColour(), "%s", label);
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(value.c_str());
}

// "by maj.ndiaye, 2026-11-28 09:12 UTC" under a review.
std::string reviewLine(const storage::Feedback& f) {
    std::string out;
    if (!f.by.empty()) out = client::fill(tr("record.hq_by"), {f.by});
    if (!f.atUtc.empty()) out += (out.empty() ? "" : ", ") + shortTime(f.atUtc) + " UTC";
    return out;
}

// A row of the meta table: HQ's receipt for this revision and HQ's review of it.
void hqMetaRow(const client::RecordView& view) {
    const storage::RecordMeta& meta = view.record.meta;
    if (meta.status != core::RecordStatus::Final) return;
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::TextColored(labelColour(), "%s", tr("record.hq"));
    ImGui::TableNextColumn();
    const auto& rc = view.receipt;
    if (!rc) {
        const bool rejected = meta.syncState == core::SyncState::Quarantined;
        ImGui::TextColored(rejected ? colourBad() : colourWarn(), "%s",
                           rejected ? tr("record.hq_rejected") : tr("record.hq_not_yet"));
    } else {
        const std::string text = client::fill(
            tr("record.hq_receipt"), {std::to_string(rc->hqSeq), shortTime(rc->receivedUtc) + " UTC"});
        if (rc->status == core::ItemStatus::Conflict) {
            badge(tr("record.hq_conflict_badge"), colourWarn());
            ImGui::SameLine();
        }
        ImGui::TextUnformatted(text.c_str());
    }
    const auto& fb = view.feedback;
    if (!fb) return;
    ImGui::TableNextColumn();
    ImGui::TextColored(labelColour(), "%s", tr("record.hq_review"));
    ImGui::TableNextColumn();
    const bool accepted = fb->status == core::ReviewStatus::Accepted,
               returned = fb->status == core::ReviewStatus::Returned;
    badge(accepted   ? tr("record.hq_accepted")
          : returned ? tr("record.hq_returned_badge")
                     : tr("record.hq_received"),
          accepted   ? colourGood()
          : returned ? colourBad()
                     : colourMuted());
    const std::string who = reviewLine(*fb);
    if (!who.empty() && !returned) {  // a returned report's box below says who
        ImGui::SameLine();
        ImGui::TextDisabled("%s", who.c_str());
    }
}

// Under the meta table: a conflict explained, HQ's comment, and a returned report made unmissable.
// Returns true when the person pressed the button to amend a returned report.
bool hqNotes(const client::RecordView& view, const char* actionLabel, FocusChain& chain, FrameInput& in) {
    const storage::RecordMeta& meta = view.record.meta;
    if (meta.status != core::RecordStatus::Final) return false;
    ImGui::PushTextWrapPos(0);
    if (view.receipt && view.receipt->status == core::ItemStatus::Conflict)
        ImGui::TextColored(colourWarn(), "%s", tr("record.hq_conflict"));
    const auto& fb = view.feedback;
    if (fb && fb->status != core::ReviewStatus::Returned && !fb->comment.empty()) {
        ImGui::TextColored(labelColour(), "%s%s", tr("record.hq_comment"), colon());
        ImGui::SameLine(0, 0);
        ImGui::TextUnformatted(fb->comment.c_str());
    }
    ImGui::PopTextWrapPos();
    if (!fb || fb->status != core::ReviewStatus::Returned) return false;
    bool amend = false;
    ImGui::Spacing();
    callout(colourBad(), [&] {
        ImGui::PushFont(headingFont());
        ImGui::TextColored(colourBad(), "%s", tr("record.hq_returned"));
        ImGui::PopFont();
        if (!fb->comment.empty()) ImGui::TextUnformatted(fb->comment.c_str());
        const std::string who = reviewLine(*fb);
        if (!who.empty()) ImGui::TextDisabled("%s", who.c_str());
        ImGui::Spacing();
        ImGui::TextUnformatted(tr("record.hq_returned_how"));
        ImGui::PushID("returned");  // the same label as the action button at the top
        chain.before(false);
        amend = button(actionLabel, "record.amend_returned", in);
        chain.after();
        ImGui::PopID();
    });
    return amend;
}

}  // namespace

// [SECTION] title and action
bool RecordPanel::drawTitle(client::App& app, const client::RecordView& view, FrameInput& in) {
    const storage::RecordMeta& meta = view.record.meta;
    const float em = ImGui::GetFontSize();
    // The revisions are read again whenever the screen is entered: an amendment made since the view
    // was opened (then Esc back here) adds a draft revision, and the button must offer to resume it.
    const storage::RecordMeta& latest = view.history.empty() ? meta : view.history.back();
    const bool draftOpen = latest.status == core::RecordStatus::Draft;
    const char* actionLabel = draftOpen ? tr("record.edit") : tr("record.amend");
    const float actionW = ImGui::CalcTextSize(actionLabel).x + ImGui::GetStyle().FramePadding.x * 2;
    const float right = ImGui::GetWindowContentRegionMax().x;

    ImGui::PushFont(headingFont());
    ImGui::TextUnformatted(view.form ? tr(view.form->title).c_str() : meta.formId.c_str());
    ImGui::PopFont();
    // The badges sit on the middle of the (larger) title line.
    ImGui::SameLine(0, em);
    const float lineTop = ImGui::GetCursorPosY();
    const float badgeTop = lineTop + (ImGui::GetItemRectSize().y - ImGui::GetTextLineHeight()) / 2 - 1;
    ImGui::SetCursorPosY(badgeTop);
    statusBadge(meta.status);
    ImGui::SameLine();
    ImGui::SetCursorPosY(badgeTop);
    syncBadge(meta.syncState);
    ImGui::SameLine();
    ImGui::SetCursorPosY(lineTop);
    ImGui::SameLine(std::max(ImGui::GetCursorPosX(), right - actionW));
    m_chain.before(false);
    if (button(actionLabel, draftOpen ? "record.edit" : "record.amend", in)) {
        // Amend starts a new draft revision and opens it; a draft already open is resumed as it is.
        const std::string id = meta.id;
        if (draftOpen)
            app.openRecord(id);
        else
            app.amendRecord(id);
    }
    m_chain.after();
    return draftOpen;
}

// [SECTION] meta
void RecordPanel::drawMeta(client::App& app, const client::RecordView& view) {
    const storage::RecordMeta& meta = view.record.meta;
    ImGui::TextDisabled("%s %s  \xC2\xB7  %s %d", tr("record.title"), meta.id.c_str(), tr("record.revision"),
                        meta.revision);
    if (ImGui::BeginTable("##meta", 4, ImGuiTableFlags_SizingFixedFit)) {
        metaItem(tr("app.unit"), unitName(app.reference(), meta.unitId));
        metaItem(tr("record.author"), meta.author.empty() ? "-" : meta.author);
        metaItem(tr("record.created"), shortTime(meta.createdUtc) + " UTC");
        metaItem(tr("record.finalized"),
                 meta.finalizedUtc.empty() ? "-" : shortTime(meta.finalizedUtc) + " UTC");
        hqMetaRow(view);
        ImGui::EndTable();
    }
}

// [SECTION] HQ's receipt and review
// Under the meta table (whose last row, hqMetaRow, says the receipt and the review): a conflict explained,
// HQ's comment, and a returned report with its button to amend. Returns true when that button left the
// screen.
bool RecordPanel::drawReview(client::App& app, const client::RecordView& view, bool draftOpen,
                             FrameInput& in) {
    if (!hqNotes(view, draftOpen ? tr("record.edit") : tr("record.amend"), m_chain, in)) return false;
    const std::string id = view.record.meta.id;
    if (draftOpen)
        app.openRecord(id);
    else
        app.amendRecord(id);
    return true;
}

// [SECTION] values
void RecordPanel::drawValues(client::App& app, const client::RecordView& view) {
    const storage::RecordMeta& meta = view.record.meta;
    const json& payload = view.record.payload;
    const core::ReferenceData& ref = app.reference();
    int tableCount = 0;
    if (view.form) {
        std::vector<Section> open(1), confidential;
        const bool hideSensitive = app.sensitiveHidden(view.form->id);
        for (const auto& f : view.form->fields) {
            if (f.sensitive && hideSensitive) continue;  // the store does not return them either
            std::vector<Section>& target = f.sensitive ? confidential : open;
            if (f.type == FieldType::Note) {
                target.push_back(Section{&f, {}});
                continue;
            }
            if (target.empty()) target.emplace_back();
            target.back().fields.push_back(&f);
        }
        drawSections(open, payload, ref, tableCount);
        const bool anyConfidential = std::any_of(confidential.begin(), confidential.end(),
                                                 [&](const Section& s) { return hasValues(s, payload); });
        if (anyConfidential) {
            ImGui::Spacing();
            ImGui::Separator();
            ImGui::PushStyleColor(ImGuiCol_Text, colourBad());
            heading(tr("form.sensitive"));
            ImGui::PopStyleColor();
            drawSections(confidential, payload, ref, tableCount);
        }
        // A final revision's section left the record at finalize: say where it is, never what it holds.
        if (!view.sealed.state.empty()) {
            ImGui::Spacing();
            ImGui::Separator();
            ImGui::PushStyleColor(ImGuiCol_Text, colourBad());
            heading(tr("form.sensitive"));
            ImGui::PopStyleColor();
            const int keys = static_cast<int>(view.sealed.recipients.size());
            const std::string key = "sealed." + view.sealed.state;
            ImGui::PushTextWrapPos(0.0f);
            ImGui::TextWrapped(tr(key.c_str()), keys);
            if (view.sealedRevision != meta.revision)
                ImGui::TextDisabled(tr("sealed.from_revision"), view.sealedRevision);
            ImGui::PopTextWrapPos();
        }
    } else if (payload.is_object()) {
        // The form's definition is missing: show what was stored rather than nothing.
        ImGui::TextColored(colourWarn(), "%s", tr("record.unknown_form"));
        for (const auto& [key, value] : payload.items())
            ImGui::Text("%s: %s", key.c_str(), value.dump().c_str());
    }
}

// [SECTION] revisions
void RecordPanel::drawRevisions(const client::RecordView& view) {
    const storage::RecordMeta& meta = view.record.meta;
    ImGui::Spacing();
    ImGui::Separator();
    heading(tr("record.revisions"));
    const ImGuiTableFlags histFlags = ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_RowBg |
                                      ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_BordersOuter;
    if (ImGui::BeginTable("##history", 6, histFlags)) {
        ImGui::TableSetupColumn(tr("record.revision"));
        ImGui::TableSetupColumn(tr("list.col_status"));
        ImGui::TableSetupColumn(tr("list.col_sync"));
        ImGui::TableSetupColumn(tr("record.created"));
        ImGui::TableSetupColumn(tr("list.col_updated"));
        ImGui::TableSetupColumn(tr("record.finalized"), ImGuiTableColumnFlags_WidthStretch);
        ImGui::TableHeadersRow();
        for (auto it = view.history.rbegin(); it != view.history.rend(); ++it) {
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::Text("%d", it->revision);
            if (it->revision == meta.revision) {
                ImGui::SameLine();
                ImGui::TextDisabled("(%s)", tr("record.shown"));
            }
            ImGui::TableNextColumn();
            statusBadge(it->status);
            ImGui::TableNextColumn();
            ImGui::TextColored(syncColour(it->syncState), "%s", syncText(it->syncState).c_str());
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(shortTime(it->createdUtc).c_str());
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(shortTime(it->updatedUtc).c_str());
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(shortTime(it->finalizedUtc).c_str());
        }
        ImGui::EndTable();
    }
    ImGui::Dummy(ImVec2(0, ImGui::GetFontSize() * 0.5f));
}

// [SECTION] the screen
void RecordPanel::onEnter(client::App& app) {
    app.reloadRecordHistory();
    m_historyFor = app.recordView() ? app.recordView()->record.meta.id : std::string();
}

// A long report is read with the keyboard too: arrows and page keys scroll while nothing is edited.
void RecordPanel::scrollWithKeys() {
    if (!ImGui::IsWindowFocused(ImGuiFocusedFlags_RootAndChildWindows) || ImGui::IsAnyItemActive()) return;
    const float line = ImGui::GetTextLineHeightWithSpacing() * 3;
    const float page = ImGui::GetWindowHeight() * 0.85f;
    float y = ImGui::GetScrollY();
    if (ImGui::IsKeyPressed(GLFW_KEY_DOWN)) y += line;
    if (ImGui::IsKeyPressed(GLFW_KEY_UP)) y -= line;
    if (ImGui::IsKeyPressed(GLFW_KEY_PAGE_DOWN)) y += page;
    if (ImGui::IsKeyPressed(GLFW_KEY_PAGE_UP)) y -= page;
    if (ImGui::IsKeyPressed(GLFW_KEY_HOME, false)) y = 0;
    if (ImGui::IsKeyPressed(GLFW_KEY_END, false)) y = ImGui::GetScrollMaxY();
    if (y != ImGui::GetScrollY()) ImGui::SetScrollY(std::clamp(y, 0.0f, ImGui::GetScrollMaxY()));
}

void RecordPanel::draw(client::App& app, FrameInput& in) {
    m_chain.begin(in);
    if (!app.recordView()) {
        ImGui::TextDisabled("%s", tr("record.none"));
        m_chain.end();
        return;
    }
    // Another report opened while the screen is shown: its revisions are read again too.
    if (m_historyFor != app.recordView()->record.meta.id) onEnter(app);
    const client::RecordView& view = *app.recordView();
    const bool draftOpen = drawTitle(app, view, in);
    drawMeta(app, view);
    if (drawReview(app, view, draftOpen, in)) {
        m_chain.end();
        return;
    }
    ImGui::Spacing();
    drawValues(app, view);
    drawRevisions(view);
    m_chain.end();
    scrollWithKeys();
}

}  // namespace outpost::ui
