// The field client's screens: one panel class per screen, each in ui/panels/<name>_panel.cpp.
// A panel reads the App's view-models and calls its commands; it never touches SQL or the network.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sodium.h>

#include "client/app.hpp"
#include "ui/input.hpp"
#include "ui/panel.hpp"
#include "ui/widgets.hpp"

namespace outpost::ui {

class UnlockPanel final : public Panel {
public:
    void draw(client::App& app, FrameInput& in) override;
    void wipe() override;  // the passphrase buffer zeroed, everything typed forgotten

private:
    void drawAccount();
    bool drawPassphrase(double now, FrameInput& in);
    void tryUnlock(client::App& app);  // the passphrase leaves memory whatever happens
    std::string m_account;
    std::string m_pass;
    std::string m_error;
    std::vector<storage::Account> m_accounts;
    storage::AuthDelay m_delay;
    double m_checkedAt = -100;  // when m_accounts and m_delay were read
    bool m_focusPending = true;
};

class HomePanel final : public Panel {
public:
    void draw(client::App& app, FrameInput& in) override;
    void wipe() override { *this = HomePanel{}; }

private:
    void drawCounts(client::App& app, const client::HomeView& h);
    void drawReadiness(const client::HomeView& h);
    void drawQuickStart(client::App& app, FrameInput& in);
    FocusChain m_chain;
};

class RecordsPanel final : public Panel {
public:
    void draw(client::App& app, FrameInput& in) override;
    void wipe() override;  // the search words zeroed

private:
    // Each returns what the next needs: whether Enter or Down left the search box for the table, and
    // the id of the report to open ("" for none).
    bool drawFilters(client::App& app, FrameInput& in);
    std::int64_t drawCount(client::RecordListModel& model, bool searchToTable, std::string& toOpen,
                           FrameInput& in);
    void drawTable(client::App& app, std::int64_t count, std::string& toOpen, FrameInput& in);
    void tableKeys(client::RecordListModel& model, std::int64_t count, std::string& toOpen, FrameInput& in);
    void drawRows(client::App& app, std::int64_t count, float visTop, float visBottom, std::string& toOpen);
    std::string m_search;
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
class FormPanel final : public Panel {
public:
    void draw(client::App& app, FrameInput& in) override;
    void wipe() override;  // the text typed in every box zeroed

private:
    void followModel(const client::FormModel& model);
    void drawHeader(client::App& app, FrameInput& in);
    void drawFields(client::App& app, FrameInput& in);
    void drawRepeat(client::App& app, const core::FieldDef& f, bool headed, int& section, FrameInput& in);
    void drawConfirm(client::App& app);
    void drawField(client::App& app, const core::FieldDef& f, const std::string& path, nlohmann::json& slot,
                   const nlohmann::json& shown, FrameInput& in);
    // What an editor did this frame: changed the value (saved when typing pauses), or finished an edit
    // (saved at once).
    struct FieldEdit {
        bool edited = false, commit = false;
    };
    void drawFieldLabel(client::App& app, const core::FieldDef& f, const std::string& path);
    void editBoolean(const core::FieldDef& f, nlohmann::json& slot, const nlohmann::json& value,
                     const std::string& name, FieldEdit& e);
    void editChoice(client::App& app, const core::FieldDef& f, const std::string& path, nlohmann::json& slot,
                    const nlohmann::json& value, float width, FieldEdit& e);
    void editMultiple(const core::FieldDef& f, nlohmann::json& slot, const nlohmann::json& value,
                      const std::string& name, FieldEdit& e);
    void editLocation(const core::FieldDef& f, const std::string& path, nlohmann::json& slot,
                      const nlohmann::json& value, const nlohmann::json& shown, float width, FieldEdit& e);
    std::string& buffer(const std::string& path, const nlohmann::json& value, const core::FieldDef& f);
    void drawProblems(client::App& app, FrameInput& in);
    std::map<std::string, std::string> m_buffers;   // text being typed, per field path
    std::map<std::string, std::string> m_buffers2;  // second box of a field (longitude, MGRS)
    std::string m_openRecordId;                     // buffers belong to this record
    std::string m_openFormId;
    bool m_confirm = false;
    int m_confirmFrame = 0;
    bool m_showProblems = false;
    core::ValidationResult m_final;  // the finalize check, while problems are shown
    FocusChain m_chain;
    bool m_focusFirst = true;
    std::string m_focusPath;  // a field to focus when it is next drawn (a new row)
    std::vector<std::string> m_unmatched, m_unmatchedNow;  // choice boxes whose text matches no choice
    // The fields' two-column tables: one is open while consecutive plain fields are drawn.
    bool m_tableOpen = false;
};

class RecordPanel final : public Panel {
public:
    void onEnter(client::App& app) override;
    void draw(client::App& app, FrameInput& in) override;
    void wipe() override { *this = RecordPanel{}; }

private:
    // Returns whether the latest revision is a draft (the action resumes it rather than amending).
    bool drawTitle(client::App& app, const client::RecordView& view, FrameInput& in);
    void drawMeta(client::App& app, const client::RecordView& view);
    bool drawReview(client::App& app, const client::RecordView& view, bool draftOpen, FrameInput& in);
    void drawValues(client::App& app, const client::RecordView& view);
    void drawRevisions(const client::RecordView& view);
    void scrollWithKeys();
    std::string m_historyFor;  // the record whose revisions were last read again
    FocusChain m_chain;
};

class GapsPanel final : public Panel {
public:
    void draw(client::App& app, FrameInput& in) override;
    void wipe() override { *this = GapsPanel{}; }

private:
    void drawLegend(float square);
    void drawMatrix(client::App& app, const client::GapMatrix& g, const std::vector<std::string>& courses,
                    float square, float detailsH, FrameInput& in);
    void drawMatrixHeader(const core::ReferenceData& ref, const std::vector<std::string>& courses,
                          float square, float headerH);
    void drawMatrixRow(const core::ReferenceData& ref, const client::GapMatrix& g, const std::string& unit,
                       const std::vector<std::string>& courses, float square, float rowH, FrameInput& in);
    void drawDetails(client::App& app, const client::GapMatrix& g, float detailsH);
    std::string m_selectedUnit, m_selectedCourse;
    FocusChain m_chain;
};

class SyncPanel final : public Panel {
public:
    void onEnter(client::App& app) override;
    void draw(client::App& app, FrameInput& in) override;
    void wipe() override { *this = SyncPanel{}; }

private:
    void reload(client::App& app, const client::SyncSnapshot& snap);
    void drawEnroll(client::App& app, const client::SyncSnapshot& snap, FrameInput& in);
    void drawLink(const client::SyncSnapshot& snap);
    void drawProgress(client::App& app, const client::SyncSnapshot& snap, FrameInput& in);
    void drawQueue(client::App& app, FrameInput& in, float reserveBelow);
    std::int64_t drawQueueRows(const client::OutboxView& outbox, FrameInput& in);
    void drawErrors(const client::OutboxView& outbox);
    std::uint64_t m_passes = 0;                              // the App's pass count when the queue was read
    std::int64_t m_queuedSeen = -1, m_quarantinedSeen = -1;  // the App's counts then
    client::Lang m_lang = client::Lang::En;
    std::string m_hqUrl, m_code;  // the enrollment form
    bool m_enrollShown = false;
    FocusChain m_chain;
};

class SettingsPanel final : public Panel {
public:
    void onEnter(client::App& app) override;
    void draw(client::App& app, FrameInput& in) override;
    void wipe() override;  // the new account's passphrase zeroed

private:
    void drawForm(FrameInput& in, bool hqOk);
    void drawSave(client::App& app, FrameInput& in, bool hqOk);
    void drawWipe(client::App& app, FrameInput& in);
    void drawAccounts(client::App& app, FrameInput& in);
    void wipePassphrase();  // the new account's passphrase zeroed
    std::string m_newName, m_newPass, m_accountsMessage;
    int m_newRole = 3;  // clerk
    bool m_accountsError = false;
    client::Settings m_edit;
    std::string m_message;  // the outcome of the last Save
    bool m_messageIsError = false;
    std::string m_wipeConfirm;  // the unit id typed back to arm the panic wipe
    FocusChain m_chain;
};

// The frame around the screens: navigation bar, the current screen, status bar. It owns one panel per
// screen, tells a panel when its screen is entered, and keeps the window alive when one fails.
class Shell {
public:
    Shell();
    void draw(client::App& app, FrameInput& in);
    // Tests only: the screen's panel throws each time it is drawn, after opening ImGui scopes (a child,
    // a table, an ID, a colour, a font) as a failure in the middle of a panel would leave them.
    void failOnScreen(std::optional<client::Screen> s) { m_testFailure = s; }

private:
    // What went wrong with the current screen's panel; it is not drawn again until the person leaves
    // the screen or asks to try again.
    struct Failure {
        client::Screen screen;
        std::string detail;
    };
    Panel& panel(client::Screen s) { return *m_panels[static_cast<std::size_t>(s)]; }
    // The current screen's panel, entered when it was not drawn on the previous frame, under the guard.
    void drawScreen(client::App& app, FrameInput& in);
    void drawFailure(FrameInput& in);
    void drawNavigation(client::App& app, FrameInput& in);
    void drawStatus(client::App& app);
    // On lock (idle, the Lock button, a switch of user): every panel starts again from nothing, and
    // ImGui's own copies of edited text are zeroed.
    void forgetEverything();
    bool m_wasUnlocked = false;
    std::array<std::unique_ptr<Panel>, 8> m_panels;  // by client::Screen
    std::optional<client::Screen> m_shown;           // the screen drawn on the previous frame
    std::optional<Failure> m_failure;
    std::optional<client::Screen> m_testFailure;
};

}  // namespace outpost::ui
