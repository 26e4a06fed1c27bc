// Sync: the outbox in sending order, what is left to send, and the last errors in plain words.
#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "ui/panels.hpp"
#include "ui/panels/panel_util.hpp"

namespace outpost::ui {

using client::tr;

namespace {

// Counting the bytes to send reads every queued revision; this much per frame keeps the window fluid.
constexpr auto kCountBudget = std::chrono::milliseconds(4);
constexpr std::size_t kErrorsShown = 6;

}  // namespace

void SyncPanel::reload(client::App& app) {
    m_items = app.outbox();
    m_bytes = 0;
    m_counted = 0;
    m_titles.clear();
    m_errors.clear();
    for (std::size_t i = 0; i < m_items.size(); ++i)
        if (!m_items[i].lastError.empty()) m_errors.push_back(i);
    for (const auto& form : app.store()->forms().latestAll()) m_titles[form->id] = tr(form->title);
}

void SyncPanel::countBytes(client::App& app) {
    const auto start = std::chrono::steady_clock::now();
    while (m_counted < m_items.size() && std::chrono::steady_clock::now() - start < kCountBudget) {
        const auto& item = m_items[m_counted++];
        // The revision's content as JSON: what the sync engine will have to carry, before its own framing.
        if (auto rec = app.store()->get(item.recordId, item.revision)) m_bytes += rec->payload.dump().size();
    }
}

void SyncPanel::draw(client::App& app, FrameInput& in) {
    const ImGuiStyle& style = ImGui::GetStyle();
    const float em = ImGui::GetFontSize();
    // The queue is read when the screen is entered (and after a language change), not every frame:
    // it can hold many thousands of reports.
    const int frame = ImGui::GetFrameCount();
    if (frame != m_lastFrame + 1 || m_lang != client::language()) reload(app);
    m_lastFrame = frame;
    m_lang = client::language();
    countBytes(app);
    m_chain.begin(in);

    heading(tr("syncp.title"));
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(colourWarn(), "%s", tr("syncp.not_available"));
    ImGui::PopTextWrapPos();
    ImGui::Spacing();

    // [SECTION] the button and the progress: nothing is sent in this version, so nothing moves.
    // Disabled until the sync engine exists: the note above says why, and the bar below stays at zero.
    ImGui::BeginDisabled(true);
    button(tr("syncp.now"), "sync.now", in);
    ImGui::EndDisabled();
    ImGui::SameLine(0, em);
    const std::string of = std::string(" ") + tr("syncp.of") + " ";
    std::string total = formatBytes(m_bytes);
    if (m_counted < m_items.size()) total += "...";
    const std::string overlay = "0" + of + groupDigits(static_cast<std::int64_t>(m_items.size())) + " " +
                                tr("syncp.records") + "   \xC2\xB7   " + formatBytes(0) + of + total;
    ImGui::ProgressBar(0.0f, ImVec2(-1, ImGui::GetFrameHeight()), overlay.c_str());
    ImGui::Spacing();

    // [SECTION] the queue
    const auto& errors = m_errors;
    const float lineH = ImGui::GetTextLineHeightWithSpacing();
    const float errorsH = lineH * (static_cast<float>(std::min(errors.size(), kErrorsShown + 1)) + 1.5f) +
                          ImGui::GetFontSize() * 0.5f + style.ItemSpacing.y * 2;

    ImGui::PushFont(headingFont());
    ImGui::TextUnformatted(tr("syncp.queue"));
    ImGui::PopFont();
    if (m_items.empty()) {
        ImGui::TextDisabled("%s", tr("syncp.empty"));
    } else {
        const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg |
                                      ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_BordersOuter |
                                      ImGuiTableFlags_Resizable;
        const float rowH = ImGui::GetTextLineHeight() + style.CellPadding.y * 2;
        const float needed = rowH * (static_cast<float>(m_items.size()) + 1) + 4;
        const float room = std::max(rowH * 4, ImGui::GetContentRegionAvail().y - errorsH);
        if (ImGui::BeginTable("##outbox", 9, flags, ImVec2(0, std::min(needed, room)))) {
            auto width = [](const char* header, const char* sample) {
                return std::max(ImGui::CalcTextSize(header).x, ImGui::CalcTextSize(sample).x);
            };
            ImGui::TableSetupScrollFreeze(0, 1);
            ImGui::TableSetupColumn("#", ImGuiTableColumnFlags_WidthFixed, width("#", "0000"));
            ImGui::TableSetupColumn(tr("list.col_form"), ImGuiTableColumnFlags_WidthFixed, 11 * em);
            ImGui::TableSetupColumn(tr("record.title"), ImGuiTableColumnFlags_WidthFixed,
                                    width("", "00000000-0000-0000-0000-000000000000"));
            ImGui::TableSetupColumn(tr("record.revision"), ImGuiTableColumnFlags_WidthFixed,
                                    width(tr("record.revision"), "00"));
            ImGui::TableSetupColumn(tr("syncp.priority"), ImGuiTableColumnFlags_WidthFixed,
                                    width(tr("syncp.priority"), "000"));
            ImGui::TableSetupColumn(tr("syncp.enqueued"), ImGuiTableColumnFlags_WidthFixed,
                                    width(tr("syncp.enqueued"), "0000-00-00 00:00"));
            ImGui::TableSetupColumn(tr("syncp.attempts"), ImGuiTableColumnFlags_WidthFixed,
                                    width(tr("syncp.attempts"), "00"));
            ImGui::TableSetupColumn(
                tr("syncp.state"), ImGuiTableColumnFlags_WidthFixed,
                std::max(width(tr("syncp.state"), tr("sync.queued")), width("", tr("sync.quarantined"))));
            ImGui::TableSetupColumn(tr("syncp.last_error"), ImGuiTableColumnFlags_WidthStretch);
            ImGui::TableHeadersRow();
            ImGuiListClipper clipper;
            clipper.Begin(static_cast<int>(m_items.size()));
            while (clipper.Step()) {
                for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
                    const auto& item = m_items[static_cast<std::size_t>(i)];
                    ImGui::TableNextRow();
                    ImGui::TableNextColumn();
                    ImGui::TextDisabled("%d", i + 1);
                    ImGui::TableNextColumn();
                    auto title = m_titles.find(item.formId);
                    ImGui::TextUnformatted(title == m_titles.end() ? item.formId.c_str()
                                                                   : title->second.c_str());
                    ImGui::TableNextColumn();
                    ImGui::TextUnformatted(item.recordId.c_str());
                    ImGui::TableNextColumn();
                    ImGui::Text("%d", item.revision);
                    ImGui::TableNextColumn();
                    ImGui::Text("%d", item.priority);
                    ImGui::TableNextColumn();
                    ImGui::TextUnformatted(shortTime(item.enqueuedUtc).c_str());
                    ImGui::TableNextColumn();
                    ImGui::Text("%d", item.attempts);
                    ImGui::TableNextColumn();
                    ImGui::TextColored(syncColour(item.state), "%s", syncText(item.state).c_str());
                    ImGui::TableNextColumn();
                    if (!item.lastError.empty()) {
                        ImGui::TextColored(colourBad(), "%s", item.lastError.c_str());
                        if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", item.lastError.c_str());
                    }
                }
            }
            ImGui::EndTable();
        }
    }

    // [SECTION] the last errors, each with the report it belongs to
    ImGui::Spacing();
    ImGui::PushFont(headingFont());
    ImGui::TextUnformatted(tr("syncp.errors"));
    ImGui::PopFont();
    if (errors.empty()) {
        ImGui::TextDisabled("%s", tr("syncp.no_errors"));
    } else {
        ImGui::PushTextWrapPos(0);
        for (std::size_t i = 0; i < errors.size() && i < kErrorsShown; ++i) {
            const auto& item = m_items[errors[i]];
            auto title = m_titles.find(item.formId);
            ImGui::Bullet();
            ImGui::TextColored(colourBad(), "%s %s (%s %d, %d %s)%s%s",
                               title == m_titles.end() ? item.formId.c_str() : title->second.c_str(),
                               item.recordId.c_str(), tr("record.revision"), item.revision, item.attempts,
                               tr("syncp.attempts_lower"), colon(), item.lastError.c_str());
        }
        if (errors.size() > kErrorsShown)
            ImGui::TextDisabled("%s %s",
                                groupDigits(static_cast<std::int64_t>(errors.size() - kErrorsShown)).c_str(),
                                tr("syncp.more_errors"));
        ImGui::PopTextWrapPos();
    }
    m_chain.end();
}

}  // namespace outpost::ui
