// Sync: the link to HQ (or the enrollment form), "Sync now" with the live progress of a pass, the
// outbox in sending order with HQ's reasons for what it rejected, and the last errors in plain words.
//
// [SECTION] helpers
// [SECTION] enrollment
// [SECTION] the link to HQ
// [SECTION] the button and the progress
// [SECTION] the queue
// [SECTION] the last errors
// [SECTION] the screen
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "ui/panels.hpp"
#include "ui/panels/panel_util.hpp"

namespace outpost::ui {

using client::LinkState;
using client::tr;

// [SECTION] helpers
namespace {

constexpr std::size_t kErrorsShown = 6;
// While a pass runs, a queue up to this size is read again as it shrinks; a longer one at the end.
constexpr std::size_t kLiveReloadItems = 5000;

std::string trim(const std::string& s) {
    const auto a = s.find_first_not_of(" \t\r\n");
    if (a == std::string::npos) return {};
    return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

// A label and its value in a two-pair row of the link table; the second pair keeps its distance.
void linkCell(const char* label, const std::string& value, const ImVec4* colour = nullptr,
              bool second = false) {
    ImGui::TableNextColumn();
    if (second) {
        ImGui::Dummy(ImVec2(ImGui::GetFontSize() * 1.5f, 0));
        ImGui::SameLine(0, 0);
    }
    ImGui::TextDisabled("%s", label);
    ImGui::TableNextColumn();
    if (colour)
        ImGui::TextColored(*colour, "%s", value.c_str());
    else
        ImGui::TextUnformatted(value.c_str());
}

// "Stored 398", with the number in colour when it needs attention.
void countItem(const char* label, std::int64_t n, bool alarming, bool first) {
    if (!first) {
        ImGui::SameLine(0, 0);
        ImGui::TextDisabled("   \xC2\xB7   ");
        ImGui::SameLine(0, 0);
    }
    ImGui::TextUnformatted(label);
    ImGui::SameLine(0, ImGui::CalcTextSize(" ").x);
    const std::string v = groupDigits(n);
    if (alarming && n > 0)
        ImGui::TextColored(colourBad(), "%s", v.c_str());
    else
        ImGui::TextUnformatted(v.c_str());
}

}  // namespace

// The queue is read when the screen is entered, after a language change and after each pass, not
// every frame: it can hold many thousands of reports. While a pass runs a short queue follows it.
void SyncPanel::reload(client::App& app, const client::SyncSnapshot& snap) {
    app.reloadOutbox();
    m_passes = snap.passes;
    m_queuedSeen = snap.queued;
    m_quarantinedSeen = snap.quarantined;
    m_lang = client::language();
}

// [SECTION] enrollment
void SyncPanel::drawEnroll(client::App& app, const client::SyncSnapshot& snap, FrameInput& in) {
    const float em = ImGui::GetFontSize();
    if (!m_enrollShown) {
        if (m_hqUrl.empty()) m_hqUrl = snap.config ? snap.config->hqUrl : app.settings().hqUrl;
        m_enrollShown = true;
    }
    const bool revoked = snap.link == LinkState::Revoked;
    ImGui::PushTextWrapPos(0);
    if (!revoked) ImGui::TextColored(colourWarn(), "%s", tr("syncp.not_enrolled"));
    ImGui::TextUnformatted(revoked ? tr("syncp.reenroll_how") : tr("syncp.enroll_how"));
    track(std::string("sync.link.") + client::linkStateName(snap.link));
    ImGui::PopTextWrapPos();
    ImGui::Spacing();

    const bool busy = app.enrolling();
    const char* enrollLabel = busy ? tr("syncp.enrolling") : tr("syncp.enroll");
    const std::string buttonId = std::string(enrollLabel) + "###enroll";
    const float buttonW =
        std::max(ImGui::CalcTextSize(tr("syncp.enroll")).x, ImGui::CalcTextSize(tr("syncp.enrolling")).x) +
        ImGui::GetStyle().FramePadding.x * 2;
    bool submit = false;
    ImGui::BeginDisabled(busy);
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted(tr("syncp.hq_address"));
    ImGui::SameLine();
    m_chain.before(true);
    ImGui::SetNextItemWidth(16 * em);
    ImGui::InputTextWithHint("##hq", "https://hq.example.org:8443", &m_hqUrl);
    track("sync.hq_url");
    m_chain.after();
    ImGui::SameLine(0, 1.5f * em);
    ImGui::TextUnformatted(tr("syncp.code"));
    ImGui::SameLine();
    m_chain.before(true);
    // Wide enough for a whole code (about 75 characters), never wider than the row leaves.
    const float codeW =
        ImGui::CalcTextSize("OP1.abcdefghijklmnopqrstuvwxyz.ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789-abcdefghi")
            .x +
        ImGui::GetStyle().FramePadding.x * 2;
    ImGui::SetNextItemWidth(
        std::clamp(ImGui::GetContentRegionAvail().x - buttonW - 1.5f * em, 8 * em, codeW));
    submit = ImGui::InputTextWithHint("##code", "OP1.", &m_code, ImGuiInputTextFlags_EnterReturnsTrue);
    track("sync.code");
    m_chain.after();
    ImGui::EndDisabled();
    ImGui::SameLine(0, 1.5f * em);
    const bool ready = !busy && !trim(m_hqUrl).empty() && !trim(m_code).empty();
    ImGui::BeginDisabled(!ready);
    m_chain.before(false);
    submit = button(buttonId.c_str(), "sync.enroll", in, ImVec2(buttonW, 0)) || submit;
    m_chain.after();
    ImGui::EndDisabled();
    if (submit && ready) app.startEnroll(trim(m_hqUrl), trim(m_code));
    if (!app.enrollError().empty()) {
        ImGui::PushTextWrapPos(0);
        ImGui::TextColored(colourBad(), "%s%s%s", tr("syncp.enroll_failed"), colon(),
                           app.enrollError().c_str());
        track("sync.enroll_error");
        ImGui::PopTextWrapPos();
    }
}

// [SECTION] the link to HQ
void SyncPanel::drawLink(const client::SyncSnapshot& snap) {
    const auto now = std::chrono::system_clock::now();
    const ImVec4 colour = linkColour(snap.link);
    const std::string last = client::localClock(snap.config->lastSyncUtc, now);
    std::string next = client::nextAttemptText(snap, now);
    if (next.empty())
        next = snap.link == LinkState::UpgradeNeeded || snap.link == LinkState::Failed ? tr("syncp.no_retry")
                                                                                       : "-";
    if (ImGui::BeginTable("##link", 4, ImGuiTableFlags_SizingFixedFit)) {
        ImGui::TableSetupColumn("##l1", ImGuiTableColumnFlags_WidthFixed);
        ImGui::TableSetupColumn("##v1", ImGuiTableColumnFlags_WidthFixed);
        ImGui::TableSetupColumn("##l2", ImGuiTableColumnFlags_WidthFixed);
        ImGui::TableSetupColumn("##v2", ImGuiTableColumnFlags_WidthStretch);
        ImGui::TableNextRow();
        linkCell(tr("syncp.hq"), snap.config->hqUrl);
        linkCell(tr("home.last_sync"), last.empty() ? tr("home.never") : last, nullptr, true);
        ImGui::TableNextRow();
        linkCell(tr("syncp.link"), client::linkText(snap, now), &colour);
        // Scripts wait for a state by this name ("wait-for sync.link.up-to-date").
        track(std::string("sync.link.") + client::linkStateName(snap.link));
        linkCell(tr("syncp.next"), next, nullptr, true);
        ImGui::EndTable();
    }
    const std::string outcome = client::outcomeText(snap);
    if (!outcome.empty()) {
        ImGui::PushTextWrapPos(0);
        const bool ok = snap.lastOutcome == "ok";
        ImGui::TextColored(ok ? colourGood() : colour, "%s", outcome.c_str());
        const std::string detail =
            snap.lastOutcome.rfind("failed: ", 0) == 0 ? snap.lastOutcome.substr(8) : snap.progress.message;
        if (!ok && !detail.empty() && snap.link != LinkState::Revoked)
            ImGui::TextDisabled("%s%s%s", tr("syncp.detail"), colon(), detail.c_str());
        ImGui::PopTextWrapPos();
    }
}

// [SECTION] the button and the progress
void SyncPanel::drawProgress(client::App& app, const client::SyncSnapshot& snap, FrameInput& in) {
    const float em = ImGui::GetFontSize();
    const bool canSync = snap.workerActive;
    ImGui::BeginDisabled(!canSync);
    m_chain.before(false);
    if (button(tr("syncp.now"), "sync.now", in)) app.syncNow();
    m_chain.after();
    ImGui::EndDisabled();
    ImGui::SameLine(0, em);

    const sync::Progress& p = snap.progress;
    float fraction = 0;
    std::string overlay;
    if (snap.running && p.phase == core::SyncPhase::Pushing && p.itemsTotal > 0) {
        fraction = static_cast<float>(p.itemsSent) / static_cast<float>(p.itemsTotal);
        overlay = client::fill(tr("syncp.bar_sending"), {groupDigits(p.itemsSent), groupDigits(p.itemsTotal),
                                                         formatBytes(p.bytesSent)});
    } else if (snap.running && p.phase == core::SyncPhase::Pulling) {
        fraction = 1;
        overlay = client::fill(tr("syncp.bar_receiving"), {groupDigits(p.pulled)});
    } else if (snap.running) {
        overlay = tr("link.connecting");
    } else if (snap.queued > 0) {
        const client::OutboxView& outbox = app.outboxView();
        std::string bytes = formatBytes(outbox.bytes);
        if (outbox.counting) bytes += "...";
        overlay = client::fill(tr("syncp.bar_waiting"), {groupDigits(snap.queued), bytes});
    } else if (snap.lastOutcome == "ok") {
        fraction = 1;
        overlay = tr("syncp.bar_done");
    } else {
        overlay = tr("syncp.bar_nothing");
    }
    // A finished bar is tinted green; the words sit in its middle (ImGui puts them at the edge of the fill).
    const bool done = !snap.running && fraction >= 1.0f;
    if (done) {
        const ImVec4 g = colourGood(), f = ImGui::GetStyle().Colors[ImGuiCol_FrameBg];
        ImGui::PushStyleColor(
            ImGuiCol_PlotHistogram,
            ImVec4(g.x * 0.45f + f.x * 0.55f, g.y * 0.45f + f.y * 0.55f, g.z * 0.45f + f.z * 0.55f, 1.0f));
    }
    ImGui::ProgressBar(fraction, ImVec2(-1, ImGui::GetFrameHeight()), "");
    if (done) ImGui::PopStyleColor();
    const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    const ImVec2 size = ImGui::CalcTextSize(overlay.c_str());
    ImGui::GetWindowDrawList()->AddText(
        ImVec2(std::max(a.x + em * 0.5f, (a.x + b.x - size.x) / 2), (a.y + b.y - size.y) / 2),
        ImGui::GetColorU32(ImGuiCol_Text), overlay.c_str());
    if (!canSync && snap.link == LinkState::NotEnrolled) {
        ImGui::TextDisabled("%s", tr("syncp.now_disabled"));
    }

    // What HQ answered, item by item, in the pass running now or the last one.
    if (snap.running || !snap.lastOutcome.empty()) {
        ImGui::TextDisabled("%s%s", snap.running ? tr("syncp.this_pass") : tr("syncp.last_pass"), colon());
        ImGui::SameLine(0, 0);
        countItem(tr("syncp.stored"), p.stored, false, true);
        countItem(tr("syncp.duplicates"), p.duplicates, false, false);
        countItem(tr("syncp.conflicts"), p.conflicts, true, false);
        countItem(tr("syncp.rejected"), p.rejected, true, false);
        countItem(tr("syncp.pulled"), p.pulled, false, false);
    }
}

// [SECTION] the queue
namespace {

// The queue's columns: the form's title and the report's id give way (cut, whole on hover) before HQ's
// reason does.
void setupQueueColumns(const client::OutboxView& outbox) {
    const ImGuiStyle& style = ImGui::GetStyle();
    const float em = ImGui::GetFontSize();
    auto width = [](const char* header, const char* sample) {
        return std::max(ImGui::CalcTextSize(header).x, ImGui::CalcTextSize(sample).x);
    };
    const float hashW = width("#", "0000"), revW = width(tr("record.revision"), "00"),
                prioW = width(tr("syncp.priority"), "000"),
                enqW = width(tr("syncp.enqueued"), "0000-00-00 00:00"),
                attW = width(tr("syncp.attempts"), "00"),
                stateW = std::max({width(tr("syncp.state"), tr("sync.queued")),
                                   width("", tr("sync.quarantined")), width("", tr("sync.held"))});
    float formW = ImGui::CalcTextSize(tr("list.col_form")).x;
    for (const auto& [id, title] : outbox.titles)
        formW = std::max(formW, ImGui::CalcTextSize(title.c_str()).x);
    formW = std::clamp(formW, 8 * em, 20 * em);
    float idW = width("", "00000000-0000-0000-0000-000000000000");
    const float cell = style.CellPadding.x * 2 + 1;
    const float spare = ImGui::GetContentRegionAvail().x - (hashW + revW + prioW + enqW + attW + stateW) -
                        9 * cell - (outbox.quarantined > 0 ? 16 : 10) * em;
    if (formW + idW > spare) {
        formW = std::max(6 * em, std::min(formW, spare * 0.4f));
        idW = std::max(6 * em, spare - formW);
    }
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("#", ImGuiTableColumnFlags_WidthFixed, hashW);
    ImGui::TableSetupColumn(tr("list.col_form"), ImGuiTableColumnFlags_WidthFixed, formW);
    ImGui::TableSetupColumn(tr("record.title"), ImGuiTableColumnFlags_WidthFixed, idW);
    ImGui::TableSetupColumn(tr("record.revision"), ImGuiTableColumnFlags_WidthFixed, revW);
    ImGui::TableSetupColumn(tr("syncp.priority"), ImGuiTableColumnFlags_WidthFixed, prioW);
    ImGui::TableSetupColumn(tr("syncp.enqueued"), ImGuiTableColumnFlags_WidthFixed, enqW);
    ImGui::TableSetupColumn(tr("syncp.attempts"), ImGuiTableColumnFlags_WidthFixed, attW);
    ImGui::TableSetupColumn(tr("syncp.state"), ImGuiTableColumnFlags_WidthFixed, stateW);
    ImGui::TableSetupColumn(tr("syncp.reason"), ImGuiTableColumnFlags_WidthStretch);
    ImGui::TableHeadersRow();
}

}  // namespace

// One row per item, as they scroll into view. Returns the item whose Requeue button was pressed (-1: none).
std::int64_t SyncPanel::drawQueueRows(const client::OutboxView& outbox, FrameInput& in) {
    const auto& items = outbox.items;
    const auto& titles = outbox.titles;
    const ImGuiStyle& style = ImGui::GetStyle();
    std::int64_t requeued = -1;
    ImGuiListClipper clipper;
    clipper.Begin(static_cast<int>(items.size()));
    while (clipper.Step()) {
        for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
            const auto& item = items[static_cast<std::size_t>(i)];
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::TextDisabled("%d", i + 1);
            ImGui::TableNextColumn();
            auto title = titles.find(item.formId);
            const char* formTitle = title == titles.end() ? item.formId.c_str() : title->second.c_str();
            ImGui::TextUnformatted(formTitle);
            // A long French title is cut by the column: the whole of it on hover.
            if (ImGui::CalcTextSize(formTitle).x > ImGui::GetColumnWidth() && mouseOnItem())
                ImGui::SetTooltip("%s", formTitle);
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(item.recordId.c_str());
            if (ImGui::CalcTextSize(item.recordId.c_str()).x > ImGui::GetColumnWidth() && mouseOnItem())
                ImGui::SetTooltip("%s", item.recordId.c_str());
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
            if (item.state == core::OutboxState::Quarantined) {
                // A small button keeps every row one text line high (the clipper counts on it).
                ImGui::PushID(static_cast<int>(item.seq));
                ImGui::PushStyleVar(ImGuiStyleVar_FramePadding, ImVec2(style.FramePadding.x, 0));
                if (button(tr("syncp.requeue"), "sync.requeue." + std::to_string(item.seq), in))
                    requeued = item.seq;
                ImGui::PopStyleVar();
                ImGui::PopID();
                ImGui::SameLine();
            }
            if (!item.lastError.empty()) {
                ImGui::TextColored(colourBad(), "%s", item.lastError.c_str());
                if (mouseOnItem()) ImGui::SetTooltip("%s", item.lastError.c_str());
            } else if (item.state == core::OutboxState::Held) {
                ImGui::TextColored(colourWarn(), "%s", tr("syncp.held_reason"));
                if (mouseOnItem()) ImGui::SetTooltip("%s", tr("syncp.held_reason"));
            }
        }
    }
    return requeued;
}

void SyncPanel::drawQueue(client::App& app, FrameInput& in, float reserveBelow) {
    const client::OutboxView& outbox = app.outboxView();
    const auto& items = outbox.items;
    const ImGuiStyle& style = ImGui::GetStyle();
    ImGui::PushFont(headingFont());
    ImGui::TextUnformatted(tr("syncp.queue"));
    ImGui::PopFont();
    if (items.empty()) {
        ImGui::TextDisabled("%s", tr("syncp.empty"));
        return;
    }
    if (outbox.quarantined > 0) {
        ImGui::PushTextWrapPos(0);
        const char* note =
            client::trCount(outbox.quarantined, "syncp.quarantined_note_one", "syncp.quarantined_note");
        ImGui::TextColored(colourBad(), "%s", client::fill(note, {groupDigits(outbox.quarantined)}).c_str());
        ImGui::PopTextWrapPos();
    }
    if (outbox.waitingKeys > 0) {
        ImGui::PushTextWrapPos(0);
        const char* note =
            client::trCount(outbox.waitingKeys, "syncp.waiting_keys_one", "syncp.waiting_keys");
        ImGui::TextColored(colourWarn(), "%s", client::fill(note, {groupDigits(outbox.waitingKeys)}).c_str());
        ImGui::PopTextWrapPos();
    }
    const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg |
                                  ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_BordersOuter |
                                  ImGuiTableFlags_Resizable;
    const float rowH = ImGui::GetTextLineHeight() + style.CellPadding.y * 2;
    const float needed = rowH * (static_cast<float>(items.size()) + 1) + 2;
    const float room = std::max(rowH * 4, ImGui::GetContentRegionAvail().y - reserveBelow);
    if (!ImGui::BeginTable("##outbox", 9, flags, ImVec2(0, std::min(needed, room)))) return;
    setupQueueColumns(outbox);
    const std::int64_t requeued = drawQueueRows(outbox, in);
    ImGui::EndTable();
    if (requeued >= 0) {
        if (auto r = app.requeue(requeued); !r)
            app.setFlash(r.error().message, true);
        else
            app.setFlash(tr("syncp.requeued"));
        reload(app, app.syncSnapshot());
    }
}

// [SECTION] the last errors
// Each with the report it belongs to.
void SyncPanel::drawErrors(const client::OutboxView& outbox) {
    ImGui::PushFont(headingFont());
    ImGui::TextUnformatted(tr("syncp.errors"));
    ImGui::PopFont();
    if (outbox.errors.empty()) {
        ImGui::TextDisabled("%s", tr("syncp.no_errors"));
        return;
    }
    ImGui::PushTextWrapPos(0);
    for (std::size_t i = 0; i < outbox.errors.size() && i < kErrorsShown; ++i) {
        const auto& item = outbox.items[outbox.errors[i]];
        auto title = outbox.titles.find(item.formId);
        ImGui::Bullet();
        ImGui::TextColored(colourBad(), "%s %s (%s %d, %d %s)%s%s",
                           title == outbox.titles.end() ? item.formId.c_str() : title->second.c_str(),
                           item.recordId.c_str(), tr("record.revision"), item.revision, item.attempts,
                           tr("syncp.attempts_lower"), colon(), item.lastError.c_str());
    }
    if (outbox.errors.size() > kErrorsShown)
        ImGui::TextDisabled(
            "%s %s", groupDigits(static_cast<std::int64_t>(outbox.errors.size() - kErrorsShown)).c_str(),
            tr("syncp.more_errors"));
    ImGui::PopTextWrapPos();
}

// [SECTION] the screen
void SyncPanel::onEnter(client::App& app) {
    reload(app, app.syncSnapshot());
    m_enrollShown = false;
}

void SyncPanel::draw(client::App& app, FrameInput& in) {
    const ImGuiStyle& style = ImGui::GetStyle();
    const client::SyncSnapshot snap = app.syncSnapshot();
    const bool countsMoved = snap.queued != m_queuedSeen || snap.quarantined != m_quarantinedSeen;
    if (m_lang != client::language() || snap.passes != m_passes ||
        (countsMoved && app.outboxView().items.size() <= kLiveReloadItems))
        reload(app, snap);
    m_chain.begin(in);

    heading(tr("syncp.title"));
    if (snap.link == LinkState::Revoked) {
        callout(colourBad(), [] {
            ImGui::PushFont(headingFont());
            ImGui::TextColored(colourBad(), "%s", tr("syncp.revoked_title"));
            ImGui::PopFont();
            ImGui::TextUnformatted(tr("outcome.revoked"));
        });
        ImGui::Spacing();
    }
    if (!snap.config || snap.link == LinkState::Revoked)
        drawEnroll(app, snap, in);
    else
        drawLink(snap);
    ImGui::Spacing();
    drawProgress(app, snap, in);
    ImGui::Spacing();

    const client::OutboxView& outbox = app.outboxView();
    const float lineH = ImGui::GetTextLineHeightWithSpacing();
    const float errorsH =
        lineH * (static_cast<float>(std::min(outbox.errors.size(), kErrorsShown + 1)) + 1.5f) +
        ImGui::GetFontSize() * 0.5f + style.ItemSpacing.y * 2;
    drawQueue(app, in, errorsH);
    ImGui::Spacing();
    drawErrors(outbox);
    m_chain.end();
}

}  // namespace outpost::ui
