// Home: the unit at a glance, what is waiting, and a quick start for each form.
//
// [SECTION] helpers
// [SECTION] counts that need attention
// [SECTION] readiness at a glance
// [SECTION] quick start
// [SECTION] the screen
#include <imgui.h>

#include <cmath>

#include "ui/panels.hpp"
#include "ui/panels/panel_util.hpp"

namespace outpost::ui {

using client::tr;

// [SECTION] helpers
namespace {

// A count with its label above it. A value too long for the room left in the row (large French text)
// is written in the regular font rather than cut.
void figure(const char* label, const std::string& value, const ImVec4* colour = nullptr) {
    ImGui::BeginGroup();
    ImGui::TextDisabled("%s", label);
    ImGui::PushFont(headingFont());
    if (ImGui::CalcTextSize(value.c_str()).x > ImGui::GetContentRegionAvail().x) {
        ImGui::PopFont();
        ImGui::PushFont(ImGui::GetIO().Fonts->Fonts[0]);
    }
    if (colour)
        ImGui::TextColored(*colour, "%s", value.c_str());
    else
        ImGui::TextUnformatted(value.c_str());
    ImGui::PopFont();
    ImGui::EndGroup();
}

std::string fmt1(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", v);
    return b;
}

// A horizontal bar with a target mark, drawn with the draw list (there is no chart library).
void targetBar(double value, double target, double max, const ImVec4& colour) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    ImVec2 p = ImGui::GetCursorScreenPos();
    float w = std::min(ImGui::GetContentRegionAvail().x, 360.0f), h = ImGui::GetFontSize() * 0.7f;
    dl->AddRectFilled(p, ImVec2(p.x + w, p.y + h), ImGui::GetColorU32(ImGuiCol_FrameBg), 3);
    float fill = static_cast<float>(std::clamp(value / max, 0.0, 1.0)) * w;
    dl->AddRectFilled(p, ImVec2(p.x + fill, p.y + h), ImGui::GetColorU32(colour), 3);
    float t = static_cast<float>(std::clamp(target / max, 0.0, 1.0)) * w;
    dl->AddLine(ImVec2(p.x + t, p.y - 3), ImVec2(p.x + t, p.y + h + 3), ImGui::GetColorU32(ImGuiCol_Text), 2);
    dl->AddRect(p, ImVec2(p.x + w, p.y + h), ImGui::GetColorU32(ImGuiCol_Border), 3);
    ImGui::Dummy(ImVec2(w, h + 4));
}

}  // namespace

// [SECTION] counts that need attention
void HomePanel::drawCounts(client::App& app, const client::HomeView& h) {
    ImGui::BeginChild("##counts", ImVec2(0, ImGui::GetTextLineHeightWithSpacing() * 3.2f), true);
    figure(tr("home.drafts"), client::formatCount(h.drafts));
    ImGui::SameLine(0, 48);
    figure(tr("home.waiting"), client::formatCount(h.waiting));
    ImGui::SameLine(0, 48);
    ImVec4 bad = colourBad();
    figure(tr("home.problems"), client::formatCount(h.problems), h.problems ? &bad : nullptr);
    ImGui::SameLine(0, 48);
    ImVec4 warn = colourWarn();
    figure(tr("nav.gaps"),
           std::to_string(h.openGaps) + " " +
               client::trCount(h.openGaps, "home.gaps_open_one", "home.gaps_open"),
           h.openGaps ? &warn : nullptr);
    ImGui::SameLine(0, 48);
    const client::SyncSnapshot snap = app.syncSnapshot();
    const ImVec4 link = linkColour(snap.link);
    figure(tr("home.link"), h.linkState, &link);
    track(std::string("home.link.") + client::linkStateName(snap.link));
    ImGui::EndChild();
}

// [SECTION] readiness at a glance
void HomePanel::drawReadiness(const client::HomeView& h) {
    heading(tr("home.readiness"));
    const auto& r = h.readiness;
    if (!r.hasReport) {
        ImGui::TextDisabled("%s", tr("home.no_readiness"));
        return;
    }
    ImGui::Text("%s %s", tr("home.period_end"), r.periodEnd.c_str());
    if (r.womenPct) {
        ImVec4 c = r.parityColour == "green" ? colourGood()
                   : r.parityColour == "red" ? colourBad()
                                             : colourWarn();
        ImGui::Text("%s%s%s%%  (%s %s%%)", tr("home.women"), tr("punct.colon"), fmt1(*r.womenPct).c_str(),
                    tr("home.target"), r.parityTarget ? fmt1(*r.parityTarget).c_str() : "-");
        targetBar(*r.womenPct, r.parityTarget.value_or(0), std::max(40.0, r.parityTarget.value_or(0) * 1.5),
                  c);
    }
    const auto& f = r.facts;
    if (f.contains("domain_rating_avg") && f["domain_rating_avg"].is_number())
        ImGui::Text("%s%s%s / 4", tr("home.avg_rating"), tr("punct.colon"),
                    fmt1(f["domain_rating_avg"].get<double>()).c_str());
    if (f.contains("coe_serviceability_pct") && f["coe_serviceability_pct"].is_number()) {
        double pct = f["coe_serviceability_pct"].get<double>();
        long long below = f.value("equipment_below_threshold", 0LL);
        ImGui::Text("%s%s%s%%  (%lld %s)", tr("home.coe"), tr("punct.colon"), fmt1(pct).c_str(), below,
                    client::trCount(below, "home.below_threshold_one", "home.below_threshold"));
        targetBar(pct, 90, 100, pct >= 90 ? colourGood() : colourWarn());
    }
}

// [SECTION] quick start
void HomePanel::drawQuickStart(client::App& app, FrameInput& in) {
    heading(tr("home.new"));
    for (const auto& form : app.forms(core::FormAction::Create)) {
        m_chain.before(false);
        if (button(form.title.c_str(), "new." + form.id, in, ImVec2(0, ImGui::GetFrameHeight() * 1.4f)))
            app.newReport(form.id);
        m_chain.after();
        ImGui::SameLine();
    }
    ImGui::NewLine();
}

// [SECTION] the screen
void HomePanel::draw(client::App& app, FrameInput& in) {
    const auto& h = app.home();
    m_chain.begin(in);
    ImGui::PushFont(headingFont());
    ImGui::TextUnformatted(h.unitName.c_str());
    ImGui::PopFont();
    ImGui::TextDisabled("%s", h.unitId.c_str());
    ImGui::Spacing();
    drawCounts(app, h);
    ImGui::Spacing();
    drawReadiness(h);
    ImGui::Spacing();
    ImGui::Separator();
    drawQuickStart(app, in);
    m_chain.end();
}

}  // namespace outpost::ui
