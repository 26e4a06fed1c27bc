// Training gaps: the unit x course matrix as coloured squares, with the figures behind each square.
//
// [SECTION] helpers
// [SECTION] legend: on the title line when it fits, so the matrix keeps the height
// [SECTION] the matrix
// [SECTION] details of the chosen square
// [SECTION] the screen
#include <imgui.h>

#include <algorithm>

#include "ui/panels.hpp"
#include "ui/panels/panel_util.hpp"

namespace outpost::ui {

using client::tr;
using core::GapStatus;

// [SECTION] helpers
namespace {

// A square's state: one of the gap statuses, or no requirement at all for that unit and course.
struct CellState {
    bool required = false;
    GapStatus status = GapStatus::Missing;
};

ImVec4 stateColour(const CellState& s) {
    if (!s.required) return colourMuted();
    switch (s.status) {
        case GapStatus::Met:
            return colourGood();
        case GapStatus::Due:
            return colourWarn();
        case GapStatus::Overdue:
        case GapStatus::Missing:
            return colourBad();
    }
    return colourMuted();
}

const char* stateText(const CellState& s) {
    if (!s.required) return tr("gaps.not_required");
    switch (s.status) {
        case GapStatus::Met:
            return tr("gaps.met");
        case GapStatus::Due:
            return tr("gaps.due");
        case GapStatus::Overdue:
            return tr("gaps.overdue");
        case GapStatus::Missing:
            return tr("gaps.missing");
    }
    return "";
}

// The square, with a mark inside so the states differ by shape too, not by colour alone:
// met a tick, due a ring, overdue an exclamation mark, missing a cross, not required a dash.
void drawSquare(ImDrawList* dl, ImVec2 p, float size, const CellState& s, bool selected) {
    const ImVec2 q(p.x + size, p.y + size);
    const ImU32 colour = ImGui::GetColorU32(stateColour(s));
    const ImU32 ink = ImGui::GetColorU32(ImGuiCol_WindowBg);
    auto at = [&](float x, float y) { return ImVec2(p.x + x * size, p.y + y * size); };
    const float t = std::max(1.5f, size * 0.1f);
    if (!s.required) {
        ImVec4 faint = stateColour(s);
        faint.w *= 0.45f;
        dl->AddRect(p, q, ImGui::GetColorU32(faint), 3.0f);
        dl->AddLine(at(0.38f, 0.5f), at(0.62f, 0.5f), colour, t);
    } else {
        dl->AddRectFilled(p, q, colour, 3.0f);
        switch (s.status) {
            case GapStatus::Met:
                dl->AddLine(at(0.24f, 0.52f), at(0.43f, 0.71f), ink, t);
                dl->AddLine(at(0.43f, 0.71f), at(0.77f, 0.30f), ink, t);
                break;
            case GapStatus::Due:
                dl->AddCircle(at(0.5f, 0.5f), size * 0.22f, ink, 16, t);
                break;
            case GapStatus::Overdue:
                dl->AddLine(at(0.5f, 0.2f), at(0.5f, 0.58f), ink, t);
                dl->AddCircleFilled(at(0.5f, 0.76f), t * 0.75f, ink);
                break;
            case GapStatus::Missing:
                dl->AddLine(at(0.3f, 0.3f), at(0.7f, 0.7f), ink, t);
                dl->AddLine(at(0.7f, 0.3f), at(0.3f, 0.7f), ink, t);
                break;
        }
    }
    if (selected) {
        const float pad = 2.5f;
        dl->AddRect(ImVec2(p.x - pad, p.y - pad), ImVec2(q.x + pad, q.y + pad),
                    ImGui::GetColorU32(ImGuiCol_Text), 4.0f, 0, 2.0f);
    }
}

// Text that reads bottom to top, its first letter at `origin` (ImGui has no rotated text: the glyph
// quads are turned a quarter round after they are laid out).
void verticalText(const char* text, ImVec2 origin, ImU32 colour) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImVec4 clip = dl->_CmdHeader.ClipRect;
    // Laid out flat the text would be culled by the column's narrow clip; turned, it fits in it.
    dl->PushClipRectFullScreen();
    const int first = dl->VtxBuffer.Size;
    dl->AddText(origin, colour, text);
    for (int i = first; i < dl->VtxBuffer.Size; ++i) {
        ImVec2& v = dl->VtxBuffer[i].pos;
        v = ImVec2(origin.x + (v.y - origin.y), origin.y - (v.x - origin.x));
    }
    dl->CmdBuffer.back().ClipRect = clip;
    dl->PopClipRect();
}

std::string dueText(const core::ReferenceData& ref, const std::string& due) {
    for (const auto& item : ref.choiceList("requirement_due"))
        if (item.value("value", "") == due && item.contains("label"))
            return core::ReferenceData::label(item["label"], client::langCode(client::language()));
    return due;
}

std::string courseCode(const core::ReferenceData& ref, const std::string& id) {
    core::json code = ref.value("courses", id, "code");
    return code.is_string() ? code.get<std::string>() : id;
}

// The figures behind a square, one line each (tooltip and details box share them).
std::vector<std::string> cellFigures(const core::ReferenceData& ref, const core::GapCell& c) {
    std::vector<std::string> lines;
    std::string when = tr("gaps.required") + std::string(colon()) + dueText(ref, c.due);
    if (!c.dueBy.empty()) when += "  \xC2\xB7  " + std::string(tr("gaps.due_by")) + " " + c.dueBy;
    lines.push_back(when);
    std::string numbers = std::to_string(c.sessions) + " " + tr("gaps.sessions") + "  \xC2\xB7  " +
                          groupDigits(c.attendees) + " " + tr("gaps.trained") + "  \xC2\xB7  " +
                          groupDigits(c.passed) + " " + tr("gaps.passed");
    if (!c.lastDate.empty()) numbers += "  \xC2\xB7  " + std::string(tr("gaps.last")) + " " + c.lastDate;
    lines.push_back(numbers);
    if (c.coveragePct)
        lines.push_back(tr("gaps.coverage_label") + std::string(colon()) + formatPercent(*c.coveragePct) +
                        " " + tr("gaps.coverage") +
                        (c.strength ? " (" + groupDigits(*c.strength) + ")" : std::string()));
    return lines;
}

}  // namespace

// [SECTION] legend: on the title line when it fits, so the matrix keeps the height
void GapsPanel::drawLegend(float square) {
    const float em = ImGui::GetFontSize();
    const CellState states[] = {{true, GapStatus::Met},
                                {true, GapStatus::Due},
                                {true, GapStatus::Overdue},
                                {true, GapStatus::Missing},
                                {false, GapStatus::Missing}};
    float legendW = 0;
    for (const auto& s : states)
        legendW += square + 0.4f * em + ImGui::CalcTextSize(stateText(s)).x + 1.5f * em;
    const float rightEdge = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
    if (rightEdge - ImGui::GetItemRectMax().x - 2 * em > legendW) {
        ImGui::SameLine(0, 2 * em);
        ImGui::SetCursorPosX(ImGui::GetWindowContentRegionMax().x - legendW + 1.5f * em);
    }
    ImDrawList* dl = ImGui::GetWindowDrawList();
    bool firstItem = true;
    for (const auto& s : states) {
        if (!firstItem) ImGui::SameLine(0, 1.5f * em);
        firstItem = false;
        const float x = ImGui::GetCursorScreenPos().x;
        ImGui::Dummy(ImVec2(square, ImGui::GetTextLineHeight()));
        ImGui::SameLine(0, 0.4f * em);
        ImGui::TextUnformatted(stateText(s));
        // Centred on the word, wherever the line's baseline put it.
        const float mid = (ImGui::GetItemRectMin().y + ImGui::GetItemRectMax().y) / 2;
        drawSquare(dl, ImVec2(x, mid - square / 2), square, s, false);
    }
}

// [SECTION] the matrix
// Course codes stand upright so 24 columns fit the width of a 1366 px screen.
void GapsPanel::drawMatrixHeader(const core::ReferenceData& ref, const std::vector<std::string>& courses,
                                 float square, float headerH) {
    const ImGuiStyle& style = ImGui::GetStyle();
    ImGui::TableNextRow(ImGuiTableRowFlags_Headers, headerH);
    ImGui::TableSetColumnIndex(0);
    ImGui::SetCursorPosY(ImGui::GetCursorPosY() + headerH - ImGui::GetTextLineHeight() - style.CellPadding.y);
    ImGui::TextDisabled("%s", tr("app.unit"));
    for (std::size_t c = 0; c < courses.size(); ++c) {
        ImGui::TableSetColumnIndex(static_cast<int>(c) + 1);
        const std::string code = courseCode(ref, courses[c]);
        const ImVec2 p = ImGui::GetCursorScreenPos();
        const bool current = courses[c] == m_selectedCourse;
        if (current) ImGui::TableSetBgColor(ImGuiTableBgTarget_CellBg, ImGui::GetColorU32(ImGuiCol_Header));
        const float x = p.x + (square - ImGui::GetTextLineHeight()) / 2;
        verticalText(code.c_str(), ImVec2(x, p.y + headerH - style.CellPadding.y),
                     ImGui::GetColorU32(ImGuiCol_Text));
        ImGui::Dummy(ImVec2(square, headerH));
        if (mouseOnItem()) ImGui::SetTooltip("%s", referenceLabel(ref, "courses", courses[c]).c_str());
    }
}

// A unit's row: its short name, then one square per course (a button the keys and the mouse select).
void GapsPanel::drawMatrixRow(const core::ReferenceData& ref, const client::GapMatrix& g,
                              const std::string& unit, const std::vector<std::string>& courses, float square,
                              float rowH, FrameInput& in) {
    const ImGuiStyle& style = ImGui::GetStyle();
    ImGui::TableNextRow(0, rowH);
    ImGui::TableSetColumnIndex(0);
    const float cellTop = ImGui::GetCursorPosY();
    if (unit == m_selectedUnit)
        ImGui::TableSetBgColor(ImGuiTableBgTarget_CellBg, ImGui::GetColorU32(ImGuiCol_Header));
    ImGui::SetCursorPosY(cellTop + (rowH - 2 * style.CellPadding.y - ImGui::GetTextLineHeight()) / 2);
    ImGui::TextUnformatted(unitShortName(ref, unit).c_str());
    if (mouseOnItem()) ImGui::SetTooltip("%s", unitName(ref, unit).c_str());
    for (std::size_t c = 0; c < courses.size(); ++c) {
        ImGui::TableSetColumnIndex(static_cast<int>(c) + 1);
        const std::string& course = courses[c];
        auto it = g.cells.find({unit, course});
        CellState state;
        if (it != g.cells.end()) state = CellState{true, it->second.status};
        const bool selected = unit == m_selectedUnit && course == m_selectedCourse;
        const bool noSelection = m_selectedUnit.empty();
        const bool isStop = selected || (noSelection && unit == g.units.front() && c == 0);
        ImGui::PushID(unit.c_str());
        ImGui::PushID(course.c_str());
        ImGui::SetCursorPosY(cellTop + (rowH - 2 * style.CellPadding.y - square) / 2);
        const ImVec2 p = ImGui::GetCursorScreenPos();
        if (isStop) m_chain.before(false);
        const bool clicked = ImGui::InvisibleButton("##cell", ImVec2(square, square));
        track("gap." + unit + "." + course);
        // The arrow keys move ImGui's focus from square to square; the selection follows it.
        if (clicked || (ImGui::IsItemFocused() && !selected) || enterOnItem(in)) {
            m_selectedUnit = unit;
            m_selectedCourse = course;
        }
        if (isStop) m_chain.after();
        drawSquare(ImGui::GetWindowDrawList(), p, square, state, selected);
        if (mouseOnItem()) {
            ImGui::BeginTooltip();
            ImGui::Text("%s  \xC2\xB7  %s", unitShortName(ref, unit).c_str(),
                        courseCode(ref, course).c_str());
            ImGui::TextColored(stateColour(state), "%s", stateText(state));
            if (state.required)
                for (const auto& line : cellFigures(ref, it->second)) ImGui::TextUnformatted(line.c_str());
            ImGui::EndTooltip();
        }
        ImGui::PopID();
        ImGui::PopID();
    }
}

void GapsPanel::drawMatrix(client::App& app, const client::GapMatrix& g,
                           const std::vector<std::string>& courses, float square, float detailsH,
                           FrameInput& in) {
    const core::ReferenceData& ref = app.reference();
    const ImGuiStyle& style = ImGui::GetStyle();
    float headerH = 0, unitW = ImGui::CalcTextSize(tr("app.unit")).x;
    for (const auto& c : courses)
        headerH = std::max(headerH, ImGui::CalcTextSize(courseCode(ref, c).c_str()).x);
    for (const auto& u : g.units)
        unitW = std::max(unitW, ImGui::CalcTextSize(unitShortName(ref, u).c_str()).x);
    headerH += style.CellPadding.y;
    // Rows are exactly this tall (TableNextRow's minimum beats the square and its padding).
    const float rowH = square + style.CellPadding.y * 2 + 4;
    const ImGuiTableFlags flags = ImGuiTableFlags_ScrollX | ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg |
                                  ImGuiTableFlags_BordersOuter | ImGuiTableFlags_BordersInnerV |
                                  ImGuiTableFlags_SizingFixedFit;
    const int nCols = static_cast<int>(courses.size()) + 1;
    // Each column is its width, its cell padding and a one-pixel border.
    const float columnsW = unitW + static_cast<float>(courses.size()) * square +
                           static_cast<float>(nCols) * (style.CellPadding.x * 2 + 1) + 2;
    const float roomW = ImGui::GetContentRegionAvail().x;
    const float roomH = ImGui::GetContentRegionAvail().y - detailsH - style.ItemSpacing.y;
    const float rowsH = headerH + style.CellPadding.y * 2 + static_cast<float>(g.units.size()) * rowH + 2;
    const bool scrollX = columnsW > roomW;
    const bool scrollY = rowsH + (scrollX ? style.ScrollbarSize : 0) > roomH;
    const float tableW = std::min(roomW, columnsW + (scrollY ? style.ScrollbarSize : 0));
    const float tableH = std::max(std::min(roomH, rowsH + (scrollX ? style.ScrollbarSize : 0)), 6 * rowH);
    if (ImGui::BeginTable("##gaps", nCols, flags, ImVec2(tableW, tableH))) {
        ImGui::TableSetupScrollFreeze(1, 1);
        ImGui::TableSetupColumn("##unit", ImGuiTableColumnFlags_WidthFixed, unitW);
        for (const auto& c : courses)
            ImGui::TableSetupColumn(c.c_str(), ImGuiTableColumnFlags_WidthFixed, square);

        drawMatrixHeader(ref, courses, square, headerH);
        for (const auto& unit : g.units) drawMatrixRow(ref, g, unit, courses, square, rowH, in);
        ImGui::EndTable();
    }
}

// [SECTION] details of the chosen square
void GapsPanel::drawDetails(client::App& app, const client::GapMatrix& g, float detailsH) {
    const core::ReferenceData& ref = app.reference();
    ImGui::BeginChild("##gapdetails", ImVec2(0, detailsH), true);
    auto it = g.cells.find({m_selectedUnit, m_selectedCourse});
    if (m_selectedUnit.empty()) {
        ImGui::TextDisabled("%s", tr("gaps.pick"));
    } else {
        ImGui::PushFont(headingFont());
        ImGui::TextUnformatted(referenceLabel(ref, "courses", m_selectedCourse).c_str());
        ImGui::PopFont();
        ImGui::TextDisabled("%s", unitName(ref, m_selectedUnit).c_str());
        CellState state;
        if (it != g.cells.end()) state = CellState{true, it->second.status};
        badge(stateText(state), stateColour(state));
        if (state.required) {
            const auto lines = cellFigures(ref, it->second);
            ImGui::SameLine();
            ImGui::TextUnformatted(lines[0].c_str());
            std::string rest;
            for (std::size_t i = 1; i < lines.size(); ++i) rest += (i > 1 ? "  \xC2\xB7  " : "") + lines[i];
            ImGui::TextUnformatted(rest.c_str());
        }
    }
    ImGui::EndChild();
}

// [SECTION] the screen
void GapsPanel::draw(client::App& app, FrameInput& in) {
    const client::GapMatrix& g = app.gaps();
    const core::ReferenceData& ref = app.reference();
    const ImGuiStyle& style = ImGui::GetStyle();
    const float em = ImGui::GetFontSize();
    m_chain.begin(in);

    heading(tr("gaps.title"));
    ImGui::SameLine(0, 2 * em);
    ImGui::AlignTextToFramePadding();
    ImGui::TextColored(g.open ? colourWarn() : colourGood(), "%d %s", g.open,
                       client::trCount(g.open, "home.gaps_open_one", "home.gaps_open"));
    const float square = std::round(em * 1.15f);
    drawLegend(square);
    ImGui::Spacing();

    if (g.units.empty() || g.courses.empty()) {
        ImGui::Spacing();
        ImGui::TextDisabled("%s", tr("gaps.none"));
        m_chain.end();
        return;
    }

    // Courses in the reference data's order (the matrix lists them as it first meets them).
    std::vector<std::string> courses = g.courses;
    const auto& table = ref.table("courses");
    auto rank = [&](const std::string& id) {
        for (std::size_t i = 0; i < table.size(); ++i)
            if (table[i].value("id", "") == id) return i;
        return table.size();
    };
    std::stable_sort(courses.begin(), courses.end(),
                     [&](const auto& a, const auto& b) { return rank(a) < rank(b); });

    const float detailsH = ImGui::GetTextLineHeightWithSpacing() * 4.25f + style.WindowPadding.y * 2;
    drawMatrix(app, g, courses, square, detailsH, in);
    drawDetails(app, g, detailsH);
    m_chain.end();
}

}  // namespace outpost::ui
