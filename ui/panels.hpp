// The field client's screens: one panel class per screen, each in ui/panels/<name>_panel.cpp.
// A panel reads the App's view-models and calls its commands; it never touches SQL or the network.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "client/app.hpp"
#include "ui/input.hpp"
#include "ui/widgets.hpp"

namespace outpost::ui {

class UnlockPanel {
public:
    void draw(client::App& app, FrameInput& in);

private:
    std::string m_pass;
    std::string m_error;
    bool m_focusPending = true;
};

class HomePanel {
public:
    void draw(client::App& app, FrameInput& in);

private:
    FocusChain m_chain;
};

class RecordsPanel {
public:
    void draw(client::App& app, FrameInput& in);

private:
    std::string m_search;
    int m_formIndex = 0;    // 0: all forms
    int m_statusIndex = 0;  // 0: any, 1: draft, 2: final
    bool m_oldestFirst = false;
    bool m_focusSearch = false;
    std::int64_t m_selected = -1;
    FocusChain m_chain;
};

// Renders a form from its definition; see form_panel.cpp.
class FormPanel {
public:
    void draw(client::App& app, FrameInput& in);

private:
    void drawField(client::App& app, const core::FieldDef& f, const std::string& path, nlohmann::json& slot,
                   const nlohmann::json& shown, FrameInput& in);
    std::string& buffer(const std::string& path, const nlohmann::json& value, const core::FieldDef& f);
    void drawProblems(client::App& app, FrameInput& in);
    std::map<std::string, std::string> m_buffers;   // text being typed, per field path
    std::map<std::string, std::string> m_buffers2;  // second box of a field (longitude, MGRS)
    std::string m_openRecordId;                      // buffers belong to this record
    std::string m_openFormId;
    bool m_confirm = false;
    bool m_showProblems = false;
    core::ValidationResult m_final;                  // the finalize check, while problems are shown
    FocusChain m_chain;
    bool m_focusFirst = true;
};

class RecordPanel {
public:
    void draw(client::App& app, FrameInput& in);

private:
    FocusChain m_chain;
};

class GapsPanel {
public:
    void draw(client::App& app, FrameInput& in);

private:
    std::string m_selectedUnit, m_selectedCourse;
};

class SyncPanel {
public:
    void draw(client::App& app, FrameInput& in);

private:
    FocusChain m_chain;
};

class SettingsPanel {
public:
    void draw(client::App& app, FrameInput& in);

private:
    bool m_loaded = false;
    client::Settings m_edit;
    FocusChain m_chain;
};

// The frame around the screens: navigation bar, the current screen, status bar.
class Shell {
public:
    void draw(client::App& app, FrameInput& in);

private:
    UnlockPanel m_unlock;
    HomePanel m_home;
    RecordsPanel m_records;
    FormPanel m_form;
    RecordPanel m_record;
    GapsPanel m_gaps;
    SyncPanel m_sync;
    SettingsPanel m_settings;
};

}  // namespace outpost::ui
