// Reports: filter, search and browse every record (100,000 rows stay smooth), and open one.
//
// [SECTION] helpers
// [SECTION] filters
// [SECTION] count and the open button
// [SECTION] the table
// [SECTION] the screen
#include <imgui.h>
#include <imgui_internal.h>
#include <imgui_stdlib.h>

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

#include <algorithm>
#include <climits>

#include "ui/panels.hpp"
#include "ui/panels/panel_util.hpp"

namespace outpost::ui {

using client::tr;

// [SECTION] helpers
namespace {

std::string trimmed(const std::string& s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return {};
    const auto e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
}

float widestOf(const std::vector<std::string>& items) {
    float w = 0;
    for (const auto& s : items) w = std::max(w, ImGui::CalcTextSize(s.c_str()).x);
    return w;
}

// A label in front of the control that follows it on the same line.
void inlineLabel(const char* text) {
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted(text);
    ImGui::SameLine();
}

}  // namespace

// [SECTION] filters
bool RecordsPanel::drawFilters(client::App& app, FrameInput& in) {
    const ImGuiStyle& style = ImGui::GetStyle();
    std::vector<std::string> formItems{tr("list.all_forms")};
    std::vector<std::string> formIds{""};
    for (const auto& form : app.forms(core::FormAction::Read)) {
        formItems.push_back(form.title);
        formIds.push_back(form.id);
    }
    if (m_formIndex < 0 || m_formIndex >= static_cast<int>(formItems.size())) m_formIndex = 0;
    const std::vector<std::string> statusItems{tr("list.all_status"), tr("list.status_draft"),
                                               tr("list.status_final")};
    const std::vector<std::string> sortItems{tr("list.sort_newest"), tr("list.sort_oldest")};
    const float comboExtra = ImGui::GetFrameHeight() + style.FramePadding.x * 2;
    const float em = ImGui::GetFontSize();

    if (in.ctrlF) m_focusSearch = true;
    m_chain.before(true);
    if (m_focusSearch) {
        ImGui::SetKeyboardFocusHere();
        m_focusSearch = false;
    }
    ImGui::SetNextItemWidth(std::max(12 * em, ImGui::CalcTextSize(tr("list.search")).x + 3 * em));
    ImGui::InputTextWithHint("##search", tr("list.search"), &m_search);
    track("records.search");
    // Enter or Down in the search box goes on to the results, as in a browser's find bar.
    const bool searchToTable = (ImGui::IsItemActive() && ImGui::IsKeyPressed(GLFW_KEY_DOWN)) ||
                               (ImGui::IsItemDeactivated() && in.enter);
    m_chain.after();

    ImGui::SameLine(0, 2 * em);
    inlineLabel(tr("list.col_form"));
    m_chain.before(false);
    comboBox("##form", m_formIndex, formItems, std::min(widestOf(formItems) + comboExtra, 16 * em), in);
    m_chain.after();

    ImGui::SameLine(0, 1.2f * em);
    inlineLabel(tr("list.col_status"));
    m_chain.before(false);
    comboBox("##status", m_statusIndex, statusItems, widestOf(statusItems) + comboExtra, in);
    m_chain.after();

    ImGui::SameLine(0, 1.2f * em);
    inlineLabel(tr("list.sort"));
    int sortIndex = m_oldestFirst ? 1 : 0;
    m_chain.before(false);
    comboBox("##sort", sortIndex, sortItems, widestOf(sortItems) + comboExtra, in);
    m_chain.after();
    m_oldestFirst = sortIndex == 1;

    client::RecordListModel& model = app.records();
    client::RecordListModel::Filter filter = model.filter();
    filter.formId = formIds[static_cast<std::size_t>(m_formIndex)];
    filter.status = m_statusIndex == 1   ? std::optional(core::RecordStatus::Draft)
                    : m_statusIndex == 2 ? std::optional(core::RecordStatus::Final)
                                         : std::nullopt;
    filter.search = trimmed(m_search);
    filter.oldestFirst = m_oldestFirst;
    if (!(filter == model.filter())) {
        model.setFilter(filter);
        m_selected = -1;
        m_scrollTop = true;
    }
    return searchToTable;
}

// [SECTION] count and the open button
std::int64_t RecordsPanel::drawCount(client::RecordListModel& model, bool searchToTable, std::string& toOpen,
                                     FrameInput& in) {
    const float em = ImGui::GetFontSize();
    const std::int64_t count = model.size();
    if (m_selected >= count) m_selected = count - 1;
    if (searchToTable && count > 0) {
        if (m_selected < 0) m_selected = 0;
        m_focusRow = true;
        m_revealSelected = true;
        in.enter = false;
    }
    const client::ListRow* selectedRow = m_selected >= 0 ? model.row(m_selected) : nullptr;

    ImGui::AlignTextToFramePadding();
    ImGui::Text("%s %s", groupDigits(count).c_str(), tr("list.count"));
    ImGui::SameLine(0, 2 * em);
    const char* openLabel = selectedRow && selectedRow->meta.status == core::RecordStatus::Draft
                                ? tr("list.resume")
                                : tr("list.open");
    ImGui::BeginDisabled(selectedRow == nullptr);
    m_chain.before(false);
    if (button(openLabel, "records.open", in) && selectedRow) toOpen = selectedRow->meta.id;
    m_chain.after();
    ImGui::EndDisabled();
    ImGui::SameLine(0, 2 * em);
    ImGui::TextDisabled("%s", tr("list.keys"));

    if (!model.error().empty()) {
        ImGui::PushTextWrapPos(0);
        ImGui::TextColored(colourBad(), "%s", model.error().c_str());
        ImGui::PopTextWrapPos();
    }
    return count;
}

// [SECTION] the table
namespace {

// The columns and their header row: the fixed ones as wide as their widest word in either language.
void setupColumns() {
    const ImGuiStyle& style = ImGui::GetStyle();
    const float em = ImGui::GetFontSize();
    const float badgePad = 12 + style.CellPadding.x * 2;
    const float wStatus = std::max({ImGui::CalcTextSize(tr("list.col_status")).x,
                                    ImGui::CalcTextSize(tr("status.draft")).x + badgePad,
                                    ImGui::CalcTextSize(tr("status.final")).x + badgePad});
    float wSync = ImGui::CalcTextSize(tr("list.col_sync")).x;
    for (const char* s : {"sync.draft", "sync.queued", "sync.quarantined", "sync.sent"})
        wSync = std::max(wSync, ImGui::CalcTextSize(tr(s)).x);
    const float wUpdated =
        std::max(ImGui::CalcTextSize(tr("list.col_updated")).x, ImGui::CalcTextSize("0000-00-00 00:00").x);
    const float wUnit =
        std::max(ImGui::CalcTextSize(tr("list.col_unit")).x, ImGui::CalcTextSize("RWABATT-1").x);
    ImGui::TableSetupColumn(tr("list.col_form"), ImGuiTableColumnFlags_WidthFixed, 13 * em);
    ImGui::TableSetupColumn(tr("list.col_status"), ImGuiTableColumnFlags_WidthFixed, wStatus);
    ImGui::TableSetupColumn(tr("list.col_sync"), ImGuiTableColumnFlags_WidthFixed, wSync);
    ImGui::TableSetupColumn(tr("list.col_updated"), ImGuiTableColumnFlags_WidthFixed, wUpdated);
    ImGui::TableSetupColumn(tr("list.col_unit"), ImGuiTableColumnFlags_WidthFixed, wUnit);
    ImGui::TableSetupColumn(tr("list.col_summary"), ImGuiTableColumnFlags_WidthStretch);
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableHeadersRow();
}

}  // namespace

// Keys move the selection only while the table has the focus (a click in it, Tab, or Down from the
// search box); Enter opens the selected report.
void RecordsPanel::tableKeys(client::RecordListModel& model, std::int64_t count, std::string& toOpen,
                             FrameInput& in) {
    std::int64_t next = m_selected;
    const std::int64_t page = std::max(1, m_pageRows - 1);
    if (ImGui::IsKeyPressed(GLFW_KEY_DOWN)) next = m_selected < 0 ? 0 : m_selected + 1;
    if (ImGui::IsKeyPressed(GLFW_KEY_UP)) next = m_selected < 0 ? 0 : m_selected - 1;
    if (ImGui::IsKeyPressed(GLFW_KEY_PAGE_DOWN)) next = std::max<std::int64_t>(m_selected, 0) + page;
    if (ImGui::IsKeyPressed(GLFW_KEY_PAGE_UP)) next = m_selected - page;
    if (ImGui::IsKeyPressed(GLFW_KEY_HOME, false)) next = 0;
    if (ImGui::IsKeyPressed(GLFW_KEY_END, false)) next = count - 1;
    next = std::clamp<std::int64_t>(next, 0, count - 1);
    if (next != m_selected) {
        m_selected = next;
        m_focusRow = m_revealSelected = true;
        // As ImGui does for its own keyboard moves: no hover highlight until the mouse moves.
        GImGui->NavDisableMouseHover = true;
    }
    if (in.enter && m_selected >= 0) {
        if (const client::ListRow* r = model.row(m_selected)) toOpen = r->meta.id;
        in.enter = false;
    }
}

// The rows in view (and the selected one, the table's stop in the Tab chain), fetched from the model as
// they scroll in.
void RecordsPanel::drawRows(client::App& app, std::int64_t count, float visTop, float visBottom,
                            std::string& toOpen) {
    client::RecordListModel& model = app.records();
    const core::ReferenceData& ref = app.reference();
    const ImGuiStyle& style = ImGui::GetStyle();
    // One row is the table's stop in the Tab chain: the selected one, else the first.
    const std::int64_t stop = m_selected >= 0 ? m_selected : 0;
    const int rows = static_cast<int>(std::min<std::int64_t>(count, INT_MAX));
    ImGuiListClipper clipper;
    clipper.Begin(rows);
    clipper.ForceDisplayRangeByIndices(static_cast<int>(stop), static_cast<int>(stop) + 1);
    int shown = 0;
    float rowHeight = 0, lastRowY = 0;
    int lastRow = -2;
    while (clipper.Step()) {
        for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
            const client::ListRow* r = model.row(i);
            ImGui::TableNextRow();
            ImGui::TableSetColumnIndex(0);
            ImGui::PushID(i);
            const bool isStop = i == stop;
            if (isStop) m_chain.before(false);
            const std::string title = r ? r->formTitle : std::string("...");
            if (ImGui::Selectable(
                    title.c_str(), i == m_selected,
                    ImGuiSelectableFlags_SpanAllColumns | ImGuiSelectableFlags_AllowDoubleClick)) {
                m_selected = i;
                if (ImGui::IsMouseDoubleClicked(0) && r) toOpen = r->meta.id;
            }
            // A selectable's rectangle reaches half the item spacing beyond its row: not part of it.
            const float slack = style.ItemSpacing.y * 0.5f;
            const ImVec2 rowMin(0, ImGui::GetItemRectMin().y + slack),
                rowMax(0, ImGui::GetItemRectMax().y - slack);
            if (i == lastRow + 1) rowHeight = rowMin.y - lastRowY;
            lastRow = i;
            lastRowY = rowMin.y;
            if (mouseOnItem() && r && ImGui::CalcTextSize(title.c_str()).x > ImGui::GetColumnWidth())
                ImGui::SetTooltip("%s", title.c_str());
            if (rowMin.y >= visTop - 1 && rowMax.y <= visBottom + 1 && shown < 10)
                track("records.row" + std::to_string(shown++));
            if (i == m_selected && m_focusRow) {
                // The keyboard focus follows the selection, so Tab continues from here.
                ImGui::SetFocusID(ImGui::GetItemID(), ImGui::GetCurrentWindow());
                GImGui->NavDisableHighlight = false;
                m_focusRow = false;
            }
            if (i == m_selected && m_revealSelected) {
                if (rowMin.y < visTop)
                    ImGui::SetScrollY(ImGui::GetScrollY() - (visTop - rowMin.y));
                else if (rowMax.y + slack > visBottom)
                    ImGui::SetScrollY(ImGui::GetScrollY() + (rowMax.y + slack - visBottom));
                m_revealSelected = false;
            }
            if (isStop) {
                m_chain.after();
                if (m_selected < 0 && ImGui::IsItemFocused()) m_selected = i;
            }
            ImGui::PopID();
            if (!r) continue;

            ImGui::TableSetColumnIndex(1);
            statusBadge(r->meta.status);
            ImGui::TableSetColumnIndex(2);
            ImGui::TextColored(syncColour(r->meta.syncState), "%s", syncText(r->meta.syncState).c_str());
            ImGui::TableSetColumnIndex(3);
            ImGui::TextUnformatted(shortTime(r->meta.updatedUtc).c_str());
            ImGui::TableSetColumnIndex(4);
            ImGui::TextUnformatted(unitShortName(ref, r->meta.unitId).c_str());
            ImGui::TableSetColumnIndex(5);
            ImGui::TextUnformatted(r->summary.c_str());
            if (mouseOnItem() && ImGui::CalcTextSize(r->summary.c_str()).x > ImGui::GetColumnWidth())
                ImGui::SetTooltip("%s", r->summary.c_str());
        }
    }
    if (rowHeight > 0) m_pageRows = std::max(1, static_cast<int>((visBottom - visTop) / rowHeight));
}

void RecordsPanel::drawTable(client::App& app, std::int64_t count, std::string& toOpen, FrameInput& in) {
    client::RecordListModel& model = app.records();
    if (count == 0) {
        if (model.error().empty()) {
            ImGui::Spacing();
            ImGui::TextDisabled("%s", tr("list.empty"));
        }
        return;
    }
    const ImGuiStyle& style = ImGui::GetStyle();
    const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg |
                                  ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_Resizable |
                                  ImGuiTableFlags_BordersOuter;
    if (!ImGui::BeginTable("##records", 6, flags, ImVec2(0, ImGui::GetContentRegionAvail().y))) return;
    setupColumns();
    const float visTop = ImGui::GetItemRectMax().y + style.CellPadding.y;
    const float visBottom = ImGui::GetWindowPos().y + ImGui::GetWindowHeight();
    if (m_scrollTop) {
        ImGui::SetScrollY(0);
        m_scrollTop = false;
    }
    // ImGui's own arrow and page navigation is switched off in the table (it would scroll the rows under
    // the selection and fight the clipper); it reads this flag at the start of the next frame, before the
    // table is begun again.
    ImGui::GetCurrentWindow()->Flags |= ImGuiWindowFlags_NoNavInputs;
    const bool focused = ImGui::IsWindowFocused();
    if (focused && !ImGui::IsAnyItemActive()) tableKeys(model, count, toOpen, in);
    // The selection stands out more while the keys act on it, so the keyboard focus is visible.
    if (focused) ImGui::PushStyleColor(ImGuiCol_Header, ImGui::GetStyleColorVec4(ImGuiCol_HeaderHovered));
    drawRows(app, count, visTop, visBottom, toOpen);
    if (focused) ImGui::PopStyleColor();
    ImGui::EndTable();
}

// [SECTION] the screen
void RecordsPanel::draw(client::App& app, FrameInput& in) {
    m_chain.begin(in);
    heading(tr("list.title"));
    const bool searchToTable = drawFilters(app, in);
    std::string toOpen;
    const std::int64_t count = drawCount(app.records(), searchToTable, toOpen, in);
    drawTable(app, count, toOpen, in);
    m_chain.end();

    if (!toOpen.empty()) app.openRecord(toOpen);
}

void RecordsPanel::wipe() {
    sodium_memzero(m_search.data(), m_search.size());
    *this = RecordsPanel{};
}

}  // namespace outpost::ui
