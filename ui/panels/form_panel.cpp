// Form filling, rendered from the form definition: every field type, repeat rows, live relevance,
// computed values, messages beside each field, autosave, and a confirmed finalize.
//
// [SECTION] value helpers
// [SECTION] one field
// [SECTION] problems
// [SECTION] header: title, save state, actions
// [SECTION] the fields
// [SECTION] repeat groups
// [SECTION] confirmation before a report becomes final
// [SECTION] the panel
#include <imgui.h>
#include <imgui_stdlib.h>
#include <sodium.h>

#include <charconv>
#include <cmath>

#include "client/i18n.hpp"
#include "ui/panels.hpp"

namespace outpost::ui {

using client::tr;
using core::FieldDef;
using core::FieldType;
using json = nlohmann::json;

// [SECTION] value helpers
namespace {

std::string valueToText(const json& v) {
    if (v.is_null()) return {};
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_integer()) return std::to_string(v.get<long long>());
    if (v.is_number()) {
        std::string s = v.dump();
        return s;
    }
    return v.dump();
}

// Numbers typed as text: a clean parse becomes a JSON number; anything else stays text so the
// validator can say, beside the field, what is wrong with it.
json parseNumber(const std::string& text, bool integer) {
    std::string t = text;
    while (!t.empty() && t.back() == ' ') t.pop_back();
    while (!t.empty() && t.front() == ' ') t.erase(t.begin());
    if (t.empty()) return nullptr;
    std::string dot = t;
    for (char& c : dot)
        if (c == ',') c = '.';  // French decimal comma
    if (integer) {
        long long v = 0;
        auto r = std::from_chars(dot.data(), dot.data() + dot.size(), v);
        if (r.ec == std::errc() && r.ptr == dot.data() + dot.size()) return v;
        return t;
    }
    double d = 0;
    auto r = std::from_chars(dot.data(), dot.data() + dot.size(), d);
    if (r.ec == std::errc() && r.ptr == dot.data() + dot.size() && std::isfinite(d)) return d;
    return t;
}

void setOrErase(json& obj, const std::string& key, json v) {
    if (v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty()))
        obj.erase(key);
    else
        obj[key] = std::move(v);
}

std::vector<ChoiceOption> optionsFor(const FieldDef& f, const core::ReferenceData& ref) {
    std::vector<ChoiceOption> out;
    const char* lang = client::langCode(client::language());
    if (f.type == FieldType::SelectOne) {
        for (const auto& c : f.choices) out.push_back({c.value, tr(c.label)});
    } else if (f.type == FieldType::Reference) {
        for (const auto& row : ref.table(f.ref)) {
            std::string id = row.value("id", "");
            std::string label;
            for (const char* col : {"name", "title"})
                if (row.contains(col)) {
                    label = core::ReferenceData::label(row[col], lang);
                    break;
                }
            if (row.contains("code") && row["code"].is_string())
                label = row["code"].get<std::string>() + " - " + label;
            out.push_back({id, label.empty() ? id : label});
        }
    } else if (f.type == FieldType::Rating) {
        for (const auto& lv : ref.scaleLevels(f.scale)) {
            std::string v = std::to_string(lv.value("value", 0));
            out.push_back({v, v + " - " + core::ReferenceData::label(lv.value("label", json()), lang)});
        }
    }
    return out;
}

std::string labelFor(const std::vector<ChoiceOption>& opts, const std::string& value) {
    for (const auto& o : opts)
        if (o.value == value) return o.label;
    return value;
}

}  // namespace

// [SECTION] one field
std::string& FormPanel::buffer(const std::string& path, const json& value, const FieldDef& f) {
    auto it = m_buffers.find(path);
    if (it != m_buffers.end()) return it->second;
    std::string text;
    if (f.type == FieldType::SelectOne || f.type == FieldType::Reference || f.type == FieldType::Rating) {
        // Choice boxes show the label of the stored value.
        text = value.is_null() ? "" : valueToText(value);
    } else {
        text = valueToText(value);
    }
    return m_buffers.emplace(path, text).first->second;
}

// The label column: the label, a star when a value is required (now), and the hint under it.
void FormPanel::drawFieldLabel(client::App& app, const FieldDef& f, const std::string& path) {
    client::FormModel& model = app.form();
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(0);
    ImGui::AlignTextToFramePadding();
    ImGui::TextWrapped("%s", tr(f.label).c_str());
    bool required = f.required;
    if (!f.requiredIf.empty()) {
        const core::Issue* fi = model.finalCheck().firstAt(path);
        required = required || (fi && fi->rule == "required");
    }
    if (required && f.type != FieldType::Computed) {
        ImGui::SameLine(0, 4);
        ImGui::TextColored(colourBad(), "*");
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("form.required"));
    }
    if (!tr(f.hint).empty()) {
        ImGui::PushTextWrapPos(0);
        ImGui::TextDisabled("%s", tr(f.hint).c_str());
        ImGui::PopTextWrapPos();
    }
}

// Yes / No, with neither chosen until someone answers: "no" and "not answered" differ.
void FormPanel::editBoolean(const FieldDef& f, json& slot, const json& value, const std::string& name,
                            FieldEdit& e) {
    bool yes = value.is_boolean() && value.get<bool>(), no = value.is_boolean() && !value.get<bool>();
    m_chain.before(false);
    if (ImGui::RadioButton(tr("form.yes"), yes)) {
        slot[f.name] = true;
        e.edited = e.commit = true;
    }
    track(name + ".yes");
    m_chain.after();
    ImGui::SameLine(0, 24);
    m_chain.before(false);
    if (ImGui::RadioButton(tr("form.no"), no)) {
        slot[f.name] = false;
        e.edited = e.commit = true;
    }
    track(name + ".no");
    m_chain.after();
}

// A choice, a reference or a rating: picked by typing in a box that filters the options.
void FormPanel::editChoice(client::App& app, const FieldDef& f, const std::string& path, json& slot,
                           const json& value, float width, FieldEdit& e) {
    const std::string name = "field." + path;
    auto opts = optionsFor(f, app.reference());
    std::string current = value.is_null() ? "" : valueToText(value);
    auto it = m_buffers.find(path);
    if (it == m_buffers.end())
        it = m_buffers.emplace(path, current.empty() ? "" : labelFor(opts, current)).first;
    m_chain.before(true);
    bool ch = choiceInput("##c", it->second, current, opts, tr("form.choose"), width);
    track(name);
    m_chain.after();
    if (ImGui::IsItemDeactivated()) {
        // Leaving the box: show the chosen label again, or keep the unmatched text visible.
        if (!current.empty()) it->second = labelFor(opts, current);
        e.commit = true;
    }
    if (current.empty() && !it->second.empty()) {
        m_unmatchedNow.push_back(path);
        if (!ImGui::IsItemActive()) ImGui::TextColored(colourBad(), "%s", tr("form.no_match"));
    }
    if (ch) {
        if (current.empty())
            slot.erase(f.name);
        else if (f.type == FieldType::Rating)
            slot[f.name] = std::stoll(current);
        else
            slot[f.name] = current;
        e.edited = e.commit = true;
    }
}

// One checkbox per choice, as many on a line as fit.
void FormPanel::editMultiple(const FieldDef& f, json& slot, const json& value, const std::string& name,
                             FieldEdit& e) {
    json chosen = value.is_array() ? value : json::array();
    for (std::size_t i = 0; i < f.choices.size(); ++i) {
        const auto& c = f.choices[i];
        bool on = std::find(chosen.begin(), chosen.end(), c.value) != chosen.end();
        if (i > 0) {
            float next = ImGui::GetItemRectMax().x + ImGui::CalcTextSize(tr(c.label).c_str()).x + 60;
            if (next < ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x) ImGui::SameLine(0, 18);
        }
        m_chain.before(false);
        if (ImGui::Checkbox(tr(c.label).c_str(), &on)) {
            json out = json::array();
            for (const auto& cc : f.choices) {
                bool keep = cc.value == c.value
                                ? on
                                : std::find(chosen.begin(), chosen.end(), cc.value) != chosen.end();
                if (keep) out.push_back(cc.value);
            }
            setOrErase(slot, f.name, out.empty() ? json(nullptr) : out);
            e.edited = e.commit = true;
        }
        track(name + "." + c.value);
        m_chain.after();
    }
}

// Latitude and longitude, or an MGRS reference (then the position it stands for, under it).
void FormPanel::editLocation(const FieldDef& f, const std::string& path, json& slot, const json& value,
                             const json& shown, float width, FieldEdit& e) {
    const std::string name = "field." + path;
    std::string& lat = buffer(path, value.is_object() ? value.value("lat", json()) : json(), f);
    auto it2 = m_buffers2.find(path);
    if (it2 == m_buffers2.end())
        it2 =
            m_buffers2.emplace(path, value.is_object() ? valueToText(value.value("lon", json())) : "").first;
    std::string& lon = it2->second;
    std::string& mgrs = m_buffers2[path + "#mgrs"];
    if (mgrs.empty() && value.is_object() && value.contains("mgrs") && !ImGui::IsAnyItemActive())
        mgrs = value["mgrs"].get<std::string>();
    const float third = (width - 2 * ImGui::GetStyle().ItemSpacing.x) / 3;
    bool ch = false;
    m_chain.before(true);
    ImGui::SetNextItemWidth(third);
    ch |= ImGui::InputTextWithHint("##lat", tr("form.lat"), &lat);
    track(name + ".lat");
    m_chain.after();
    e.commit |= ImGui::IsItemDeactivatedAfterEdit();
    ImGui::SameLine();
    m_chain.before(true);
    ImGui::SetNextItemWidth(third);
    ch |= ImGui::InputTextWithHint("##lon", tr("form.lon"), &lon);
    track(name + ".lon");
    m_chain.after();
    e.commit |= ImGui::IsItemDeactivatedAfterEdit();
    ImGui::SameLine();
    m_chain.before(true);
    ImGui::SetNextItemWidth(third);
    ch |= ImGui::InputTextWithHint("##mgrs", tr("form.mgrs"), &mgrs);
    track(name + ".mgrs");
    m_chain.after();
    e.commit |= ImGui::IsItemDeactivatedAfterEdit();
    if (ch) {
        if (!mgrs.empty())
            slot[f.name] = json{{"mgrs", mgrs}};
        else if (lat.empty() && lon.empty())
            slot.erase(f.name);
        else
            slot[f.name] = json{{"lat", parseNumber(lat, false)}, {"lon", parseNumber(lon, false)}};
        e.edited = true;
    }
    const json& sv = shown.is_object() ? shown.value(f.name, json()) : json();
    if (!mgrs.empty() && sv.is_object() && sv.contains("lat"))
        ImGui::TextDisabled("= %.5f, %.5f", sv["lat"].get<double>(), sv["lon"].get<double>());
}

void FormPanel::drawField(client::App& app, const FieldDef& f, const std::string& path, json& slot,
                          const json& shown, FrameInput& in) {
    (void)in;  // fields take Enter and Tab through the focus chain, not directly
    client::FormModel& model = app.form();
    if (model.hidden(path)) return;
    ImGui::PushID(path.c_str());

    if (f.type == FieldType::Note) {
        ImGui::Spacing();
        heading(tr(f.label).c_str());
        if (!tr(f.hint).empty()) ImGui::TextWrapped("%s", tr(f.hint).c_str());
        ImGui::PopID();
        return;
    }

    json value = slot.is_object() && slot.contains(f.name) ? slot[f.name] : json(nullptr);
    drawFieldLabel(app, f, path);

    // Editor column
    ImGui::TableSetColumnIndex(1);
    if (!m_focusPath.empty() && path == m_focusPath && f.type != FieldType::Computed) {
        m_chain.focusHere();
        m_focusPath.clear();
    }
    const float width = std::min(ImGui::GetContentRegionAvail().x, ImGui::GetFontSize() * 30);
    const std::string name = "field." + path;
    FieldEdit e;

    auto textBox = [&](const char* hint, bool multiline) -> bool {
        std::string& buf = buffer(path, value, f);
        m_chain.before(true);
        bool ch;
        if (multiline) {
            ch = ImGui::InputTextMultiline("##v", &buf, ImVec2(width, ImGui::GetTextLineHeight() * 4.5f));
        } else {
            ImGui::SetNextItemWidth(width);
            ch = ImGui::InputTextWithHint("##v", hint, &buf);
        }
        track(name);
        m_chain.after();
        if (ImGui::IsItemDeactivatedAfterEdit()) e.commit = true;
        return ch;
    };

    switch (f.type) {
        case FieldType::Text:
        case FieldType::Multiline:
            if (textBox("", f.type == FieldType::Multiline)) {
                setOrErase(slot, f.name, m_buffers[path]);
                e.edited = true;
            }
            break;
        case FieldType::Integer:
        case FieldType::Decimal:
            if (textBox("", false)) {
                setOrErase(slot, f.name, parseNumber(m_buffers[path], f.type == FieldType::Integer));
                e.edited = true;
            }
            break;
        case FieldType::Date:
            if (textBox(tr("form.date_hint"), false)) {
                setOrErase(slot, f.name, m_buffers[path]);
                e.edited = true;
            }
            break;
        case FieldType::DateTime:
            if (textBox(tr("form.datetime_hint"), false)) {
                setOrErase(slot, f.name, m_buffers[path]);
                e.edited = true;
            }
            break;
        case FieldType::Boolean:
            editBoolean(f, slot, value, name, e);
            break;
        case FieldType::SelectOne:
        case FieldType::Reference:
        case FieldType::Rating:
            editChoice(app, f, path, slot, value, width, e);
            break;
        case FieldType::SelectMultiple:
            editMultiple(f, slot, value, name, e);
            break;
        case FieldType::Location:
            editLocation(f, path, slot, value, shown, width, e);
            break;
        case FieldType::Computed: {
            const json& sv = shown.is_object() ? shown.value(f.name, json()) : json();
            std::string text = sv.is_null()      ? "-"
                               : sv.is_boolean() ? (sv.get<bool>() ? tr("form.yes") : tr("form.no"))
                                                 : valueToText(sv);
            ImGui::AlignTextToFramePadding();
            ImGui::TextUnformatted(text.c_str());
            ImGui::SameLine();
            ImGui::TextDisabled("(%s)", tr("form.computed"));
            break;
        }
        case FieldType::Repeat:
        case FieldType::Note:
            break;
    }

    // The field's message, beside it.
    const core::Issue* issue = model.issueAt(path);
    if (!issue && m_showProblems) issue = m_final.firstAt(path);
    if (issue) {
        ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
        ImGui::TextColored(issue->warning ? colourWarn() : colourBad(), "%s",
                           client::issueText(*issue).c_str());
        ImGui::PopTextWrapPos();
    }
    if (e.edited) model.changed(false);
    if (e.commit) model.changed(true);
    ImGui::PopID();
}

// [SECTION] problems
void FormPanel::drawProblems(client::App& app, FrameInput& in) {
    (void)app;
    (void)in;
    ImGui::PushStyleColor(ImGuiCol_ChildBg, ImVec4(colourBad().x, colourBad().y, colourBad().z, 0.08f));
    float lines = std::min<float>(6.0f, static_cast<float>(m_final.errorCount()) + 1.6f);
    ImGui::BeginChild("##problems", ImVec2(0, ImGui::GetTextLineHeightWithSpacing() * lines), true);
    ImGui::TextColored(colourBad(), "%s (%zu)", tr("form.problems"), m_final.errorCount());
    const auto& form = app.form().form();
    for (const auto& i : m_final.issues) {
        if (i.warning) continue;
        // Name the field by its label, with the row for repeat groups.
        std::string label = i.path;
        std::string top = i.path.substr(0, i.path.find_first_of("[."));
        if (const FieldDef* f = form.field(top)) {
            label = tr(f->label);
            auto br = i.path.find('[');
            if (br != std::string::npos) {
                std::string rest = i.path.substr(br);
                auto dot = rest.find('.');
                std::string col = dot == std::string::npos ? "" : rest.substr(dot + 1);
                const FieldDef* c = form.field(top + "." + col);
                label += " " + rest.substr(0, rest.find(']') + 1) + (c ? " " + tr(c->label) : "");
            }
        }
        ImGui::BulletText("%s%s%s", label.c_str(), tr("punct.colon"), client::issueText(i).c_str());
    }
    ImGui::EndChild();
    ImGui::PopStyleColor();
}

// [SECTION] header: title, save state, actions
void FormPanel::drawHeader(client::App& app, FrameInput& in) {
    client::FormModel& model = app.form();
    const auto& form = model.form();
    heading(tr(form.title).c_str());
    ImGui::SameLine();
    ImGui::AlignTextToFramePadding();
    ImGui::TextDisabled("%s", model.recordId().empty()
                                  ? ""
                                  : (model.recordId() + "  r" + std::to_string(model.revision())).c_str());
    switch (model.saveState()) {
        case client::SaveState::Saved:
            ImGui::TextColored(colourGood(), "%s %s", tr("form.saved"),
                               model.savedAt().substr(11, 8).c_str());
            break;
        case client::SaveState::Unsaved:
            ImGui::TextDisabled("%s", model.dirty() ? tr("form.saving") : tr("form.unsaved"));
            break;
        case client::SaveState::Blocked:
            ImGui::TextColored(colourBad(), "%s", tr("form.not_saved"));
            break;
        case client::SaveState::Failed:
            ImGui::TextColored(colourBad(), "%s: %s", tr("form.save_failed"), model.saveError().c_str());
            break;
    }
    float bw = ImGui::CalcTextSize(tr("form.save")).x + ImGui::CalcTextSize(tr("form.finalize")).x +
               ImGui::GetStyle().FramePadding.x * 4 + ImGui::GetStyle().ItemSpacing.x;
    ImGui::SameLine(std::max(ImGui::GetCursorPosX(), ImGui::GetWindowContentRegionMax().x - bw));
    bool save = button(tr("form.save"), "form.save", in) || in.ctrlS;
    ImGui::SameLine();
    bool finalize = button(tr("form.finalize"), "form.finalize", in) || in.ctrlEnter;
    if (save) {
        if (model.saveNow() || model.saveState() == client::SaveState::Saved)
            app.setFlash(tr("form.saved"));
        else
            app.setFlash(tr("form.not_saved"), true);
    }
    if (finalize && !m_confirm) {
        m_final = model.finalCheck();
        m_showProblems = !m_final.ok() || !m_unmatched.empty();
        // Text typed in a choice box that matches nothing would be lost silently: it blocks too.
        if (!m_unmatched.empty()) app.setFlash(tr("form.no_match_block"), true);
        if (m_final.ok() && m_unmatched.empty()) {
            m_confirm = true;
            m_confirmFrame = ImGui::GetFrameCount();
            ImGui::OpenPopup("##confirm");
        }
    }
    if (m_showProblems) {
        m_final = model.finalCheck();
        if (m_final.ok() && !m_unmatched.empty())
            ImGui::TextColored(colourBad(), "%s", tr("form.no_match_block"));
        else if (m_final.ok())
            ImGui::TextColored(colourGood(), "%s", tr("form.no_problems"));
        else
            drawProblems(app, in);
    }
}

// [SECTION] the fields
namespace {

// Plain fields sit in two-column tables (label, value); a note, a repeat group or the sensitive
// section's heading ends the table, and the next plain field opens another.
void openFieldTable(bool& open, const char* id) {
    if (open) return;
    open = ImGui::BeginTable(id, 2, ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_PadOuterX);
    if (open) {
        ImGui::TableSetupColumn("label", ImGuiTableColumnFlags_WidthStretch, 0.38f);
        ImGui::TableSetupColumn("value", ImGuiTableColumnFlags_WidthStretch, 0.62f);
    }
}

void closeFieldTable(bool& open) {
    if (open) ImGui::EndTable();
    open = false;
}

}  // namespace

void FormPanel::drawFields(client::App& app, FrameInput& in) {
    client::FormModel& model = app.form();
    const auto& form = model.form();
    m_unmatchedNow.clear();
    ImGui::BeginChild("##fields", ImVec2(0, 0), false);
    m_chain.begin(m_confirm ? FrameInput{} : in);
    if (m_focusFirst) {
        m_chain.focus(0);
        m_focusFirst = false;
    }
    json& values = model.values();
    const json& shown = model.shown();
    bool inSensitive = false;
    m_tableOpen = false;
    int section = 0;
    const FieldDef* previous = nullptr;
    // A role without the right to the sensitive section never sees its fields (the store keeps them).
    const bool hideSensitive = app.sensitiveHidden(form.id);
    for (const auto& f : form.fields) {
        const FieldDef* before = previous;
        previous = &f;
        if (model.hidden(f.name)) continue;
        if (f.sensitive && hideSensitive) continue;
        if (f.sensitive && !inSensitive) {
            closeFieldTable(m_tableOpen);
            inSensitive = true;
            ImGui::Spacing();
            ImGui::TextColored(colourWarn(), "%s", tr("form.sensitive"));
            if (model.sealedRevision() > 0) {
                ImGui::PushTextWrapPos(0);
                ImGui::TextDisabled(tr("form.sealed_earlier"), model.sealedRevision());
                ImGui::PopTextWrapPos();
            }
            ImGui::Separator();
        }
        if (f.type == FieldType::Note) {
            closeFieldTable(m_tableOpen);
            drawField(app, f, f.name, values, shown, in);
            continue;
        }
        if (f.type == FieldType::Repeat) {
            closeFieldTable(m_tableOpen);
            // A note just before the group already heads it; do not say the title twice.
            const bool headed = before && before->type == FieldType::Note && !model.hidden(before->name);
            drawRepeat(app, f, headed, section, in);
            continue;
        }
        std::string tid = "##table" + std::to_string(section);
        if (!m_tableOpen) ++section;
        openFieldTable(m_tableOpen, tid.c_str());
        drawField(app, f, f.name, values, shown, in);
    }
    closeFieldTable(m_tableOpen);
    m_chain.end();
    m_unmatched = m_unmatchedNow;
    ImGui::Dummy(ImVec2(0, ImGui::GetFontSize() * 4));
    ImGui::EndChild();
}

// [SECTION] repeat groups
void FormPanel::drawRepeat(client::App& app, const FieldDef& f, bool headed, int& section, FrameInput& in) {
    client::FormModel& model = app.form();
    json& values = model.values();
    const json& shown = model.shown();
    ImGui::Spacing();
    if (!headed) heading(tr(f.label).c_str());
    if (!tr(f.hint).empty()) ImGui::TextDisabled("%s", tr(f.hint).c_str());
    if (const core::Issue* gi = model.issueAt(f.name); gi || (m_showProblems && m_final.firstAt(f.name))) {
        const core::Issue* i = gi ? gi : m_final.firstAt(f.name);
        ImGui::TextColored(colourBad(), "%s", client::issueText(*i).c_str());
    }
    if (!values.contains(f.name) || !values[f.name].is_array()) values[f.name] = json::array();
    json& rows = values[f.name];
    const json& shownRows = shown.is_object() && shown.contains(f.name) ? shown[f.name] : json::array();
    std::optional<std::size_t> remove;
    for (std::size_t r = 0; r < rows.size(); ++r) {
        std::string rp = f.name + "[" + std::to_string(r) + "]";
        ImGui::PushID(rp.c_str());
        ImGui::Indent();
        ImGui::TextDisabled("%s %zu", tr("form.row"), r + 1);
        ImGui::SameLine();
        m_chain.before(false);
        if (button(tr("form.remove_row"), "form.remove." + rp, in)) remove = r;
        m_chain.after();
        std::string tid = "##rowtable" + std::to_string(section++);
        openFieldTable(m_tableOpen, tid.c_str());
        for (const auto& c : f.fields) {
            const json& shownRow = r < shownRows.size() ? shownRows[r] : json::object();
            if (c.type == FieldType::Note) continue;
            drawField(app, c, rp + "." + c.name, rows[r], shownRow, in);
        }
        closeFieldTable(m_tableOpen);
        ImGui::Unindent();
        ImGui::Separator();
        ImGui::PopID();
    }
    if (remove) {
        model.removeRow(f.name, *remove);
        m_buffers.clear();
        m_buffers2.clear();
    }
    ImGui::Indent();
    m_chain.before(false);
    if (button((std::string(tr("form.add_row")) + "##" + f.name).c_str(), "form.add." + f.name, in)) {
        model.addRow(f.name);
        m_buffers.clear();
        m_buffers2.clear();
        // Typing goes on in the new row's first field.
        for (const auto& c : f.fields)
            if (c.userEditable()) {
                m_focusPath = f.name + "[" + std::to_string(values[f.name].size() - 1) + "]." + c.name;
                break;
            }
    }
    m_chain.after();
    ImGui::Unindent();
    ImGui::Spacing();
}

// [SECTION] confirmation before a report becomes final
void FormPanel::drawConfirm(client::App& app) {
    client::FormModel& model = app.form();
    const auto& form = model.form();
    const json& shown = model.shown();
    if (m_confirm) ImGui::OpenPopup("##confirm");
    ImGui::SetNextWindowSize(ImVec2(std::min(640.0f, ImGui::GetMainViewport()->WorkSize.x - 40), 0));
    if (!ImGui::BeginPopupModal("##confirm", nullptr,
                                ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_AlwaysAutoResize))
        return;
    heading(tr("form.confirm_title"));
    ImGui::TextWrapped("%s", tr("form.confirm_text"));
    ImGui::Spacing();
    ImGui::Text("%s", tr(form.title).c_str());
    for (const auto& name : form.summaryFields) {
        const FieldDef* f = form.field(name);
        const json& v = shown.value(name, json());
        if (!f || v.is_null()) continue;
        std::string text = valueToText(v);
        if (f->type == FieldType::SelectOne || f->type == FieldType::Reference ||
            f->type == FieldType::Rating)
            text = labelFor(optionsFor(*f, app.reference()), text);
        ImGui::BulletText("%s: %s", tr(f->label).c_str(), text.c_str());
    }
    for (const auto& i : m_final.issues)
        if (i.warning)
            ImGui::TextColored(colourWarn(), "%s: %s", tr("form.warning"), client::issueText(i).c_str());
    ImGui::Spacing();
    bool yes = ImGui::Button(tr("form.confirm_yes"));
    track("form.confirm");
    ImGui::SameLine();
    bool no = ImGui::Button(tr("form.confirm_no"));
    track("form.cancel");
    // The Enter of the Ctrl+Enter that opened this dialog must not confirm it too.
    const bool fresh = ImGui::GetFrameCount() > m_confirmFrame && !ImGui::GetIO().KeyCtrl;
    if (fresh && ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter), false)) yes = true;
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape), false)) no = true;
    if (yes) {
        m_confirm = false;
        ImGui::CloseCurrentPopup();
        auto r = app.finalizeForm();
        if (!r) app.setFlash(r.error().message, true);
    } else if (no) {
        m_confirm = false;
        ImGui::CloseCurrentPopup();
    }
    ImGui::EndPopup();
}

// [SECTION] the panel
// A different report: forget the text boxes of the previous one.
void FormPanel::followModel(const client::FormModel& model) {
    if (model.recordId() == m_openRecordId && model.form().id == m_openFormId) return;
    // (A new report that was just saved for the first time gets its id: it is still the same report.)
    if (!(m_openRecordId.empty() && !model.recordId().empty() && model.form().id == m_openFormId)) {
        m_buffers.clear();
        m_buffers2.clear();
        m_focusFirst = true;
        m_showProblems = false;
        m_confirm = false;
    }
    m_openRecordId = model.recordId();
    m_openFormId = model.form().id;
}

void FormPanel::draw(client::App& app, FrameInput& in) {
    client::FormModel& model = app.form();
    if (!model.active()) {
        ImGui::TextDisabled("-");
        return;
    }
    followModel(model);
    drawHeader(app, in);
    ImGui::Separator();
    drawFields(app, in);
    drawConfirm(app);
    in.escape = in.escape && !m_confirm;
}

void FormPanel::wipe() {
    for (auto* m : {&m_buffers, &m_buffers2})
        for (auto& [k, v] : *m) sodium_memzero(v.data(), v.size());
    *this = FormPanel{};
}

}  // namespace outpost::ui
