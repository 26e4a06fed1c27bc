// The field client's screens: one panel class per screen, each in ui/panels/<name>_panel.cpp.
// A panel reads the App's view-models and calls its commands; it never touches SQL or the network.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <sodium.h>

#include "client/app.hpp"
#include "ui/input.hpp"
#include "ui/widgets.hpp"

namespace outpost::ui {

class UnlockPanel {
public:
    void draw(client::App& app, FrameInput& in);
    void wipe();  // the passphrase buffer zeroed, everything typed forgotten

private:
    std::string m_account;
    std::string m_pass;
    std::string m_error;
    std::vector<storage::Account> m_accounts;
    storage::AuthDelay m_delay;
    double m_checkedAt = -100;  // when m_accounts and m_delay were read
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

public:
    void wipe() { sodium_memzero(m_search.data(), m_search.size()); }

private:
    int m_formIndex = 0;    // 0: all forms
    int m_statusIndex = 0;  // 0: any, 1: draft, 2: final
    bool m_oldestFirst = false;
    bool m_focusSearch = false;
    std::int64_t m_selected = -1;
    bool m_scrollTop = false;       // the filter changed: back to the first row
    bool m_focusRow = false;        // move the keyboard focus onto the selected row
    bool m_revealSelected = false;  // scroll the selected row into view
    int m_pageRows = 10;            // rows that fit in the table, for Page Up/Down
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

public:
    void wipe() {
        for (auto* m : {&m_buffers, &m_buffers2})
            for (auto& [k, v] : *m) sodium_memzero(v.data(), v.size());
    }

private:
    std::string m_openRecordId;  // buffers belong to this record
    std::string m_openFormId;
    bool m_confirm = false;
    int m_confirmFrame = 0;
    bool m_showProblems = false;
    core::ValidationResult m_final;  // the finalize check, while problems are shown
    FocusChain m_chain;
    bool m_focusFirst = true;
    std::string m_focusPath;  // a field to focus when it is next drawn (a new row)
    std::vector<std::string> m_unmatched, m_unmatchedNow;  // choice boxes whose text matches no choice
};

class RecordPanel {
public:
    void draw(client::App& app, FrameInput& in);

private:
    std::vector<storage::RecordMeta> m_history;  // read from the store when the screen is entered
    std::string m_historyFor;                    // the record m_history belongs to
    int m_lastFrame = -10;
    FocusChain m_chain;
};

class GapsPanel {
public:
    void draw(client::App& app, FrameInput& in);

private:
    std::string m_selectedUnit, m_selectedCourse;
    FocusChain m_chain;
};

class SyncPanel {
public:
    void draw(client::App& app, FrameInput& in);

private:
    void reload(client::App& app);
    void countBytes(client::App& app);
    void drawEnroll(client::App& app, const client::SyncSnapshot& snap, FrameInput& in);
    void drawLink(const client::SyncSnapshot& snap);
    void drawProgress(client::App& app, const client::SyncSnapshot& snap, FrameInput& in);
    void drawQueue(client::App& app, FrameInput& in, float reserveBelow);
    void drawErrors();
    std::vector<storage::OutboxItem> m_items;     // read when the screen is entered and after each pass
    std::vector<std::size_t> m_errors;            // indexes of the items with a last error
    std::map<std::string, std::string> m_titles;  // form id -> title in the current language
    std::uint64_t m_bytes = 0;                    // bytes of the items counted so far
    std::size_t m_counted = 0;
    std::int64_t m_quarantined = 0;                          // quarantined items among m_items
    std::int64_t m_waitingKeys = 0;  // items whose sealed section waits for HQ's conduct keys
    std::uint64_t m_passes = 0;                              // the App's pass count when m_items was read
    std::int64_t m_queuedSeen = -1, m_quarantinedSeen = -1;  // the App's counts then
    int m_lastFrame = -10;
    client::Lang m_lang = client::Lang::En;
    std::string m_hqUrl, m_code;  // the enrollment form
    bool m_enrollShown = false;
    FocusChain m_chain;
};

class SettingsPanel {
public:
    void draw(client::App& app, FrameInput& in);
    void wipe();  // the new account's passphrase zeroed

private:
    void drawAccounts(client::App& app, FrameInput& in);
    std::string m_newName, m_newPass, m_accountsMessage;
    int m_newRole = 3;  // clerk
    bool m_accountsError = false;
    bool m_loaded = false;
    client::Settings m_edit;
    std::string m_message;  // the outcome of the last Save
    bool m_messageIsError = false;
    std::string m_wipeConfirm;  // the unit id typed back to arm the panic wipe
    int m_lastFrame = -10;      // a gap in frames means the screen was left and entered again
    FocusChain m_chain;
};

// The frame around the screens: navigation bar, the current screen, status bar.
class Shell {
public:
    void draw(client::App& app, FrameInput& in);

private:
    // On lock (idle, the Lock button, a switch of user): every panel starts again from nothing, and
    // ImGui's own copies of edited text are zeroed.
    void forgetEverything();
    bool m_wasUnlocked = false;
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
