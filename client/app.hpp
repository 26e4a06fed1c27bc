// The field application's state, commands and view-models. No ImGui here: ui/ draws what these hold.
//
// Contract: an App and everything it returns is used from the UI thread only (syncSnapshot() alone
// may be called from any thread). Every command returns or records its error as state (flash(),
// saveError()); nothing here throws to the UI. Sync runs on the SyncWorker's own thread with its own
// Store: the UI thread only reads its progress and reloads what a finished pass changed. The UI reaches
// the store only through the view-models and commands below, never directly (tests: app_test_access.hpp).
//
// [SECTION] home
// [SECTION] sync with HQ
// [SECTION] record lists
// [SECTION] form filling
// [SECTION] the other screens
// [SECTION] the outbox
// [SECTION] app
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/i18n.hpp"
#include "client/settings.hpp"
#include "storage/store.hpp"
#include "sync/client.hpp"

namespace outpost::client {

using json = nlohmann::json;

enum class Screen { Unlock, Home, Records, Form, Record, Gaps, Sync, Settings };
const char* screenName(Screen s);  // "unlock", "home", ... (scripts and tests name screens so)

// [SECTION] home
struct HomeView {
    std::string unitId;
    std::string unitName;
    std::string user;
    core::ReadinessSummary readiness;
    std::int64_t drafts = 0, waiting = 0, problems = 0;
    int openGaps = 0;
    std::string linkState;  // the link to HQ in words (linkText): "Up to date - last sync 14:02"
    std::string lastSync;   // local time of the last successful sync; "" when never
};

// [SECTION] sync with HQ
// Where the link to HQ stands, as the status bar and the sync screen say it.
enum class LinkState {
    NotEnrolled,    // no enrollment on this laptop
    Revoked,        // HQ refused this device: nothing is sent or received
    UpgradeNeeded,  // HQ speaks a newer protocol: no retry until Outpost is upgraded
    Starting,       // enrolled; the first pass has not finished yet
    Sending,        // a pass is running (connecting, pushing or pulling)
    UpToDate,       // the last pass succeeded and nothing is queued
    Waiting,        // the last pass succeeded; reports finalized since wait for the next one
    Offline,        // no network: HQ's name does not resolve, or no route
    Unreachable,    // HQ does not answer (down, or the link too poor)
    Failed,         // any other failure (HQ's error, a proxy answering for HQ, the store)
};
const char* linkStateName(LinkState s);  // "not-enrolled", "up-to-date", ... (scripts and tests)

// What the UI shows about sync, copied together: the worker's state and the enrollment.
struct SyncSnapshot {
    std::optional<storage::SyncConfig> config;  // none: not enrolled
    bool workerActive = false;                  // a SyncWorker runs for this store
    bool running = false;                       // a pass is in progress now
    sync::Progress progress;                    // the pass in progress, else the last one
    std::string lastOutcome;  // "" before the first pass; "ok", "offline", "failed: ...", "revoked"
    std::chrono::system_clock::time_point nextAttempt{};  // time_point::max(): none planned
    std::int64_t queued = 0, quarantined = 0;
    std::uint64_t passes = 0;  // passes finished since unlock: views reload what they hold when it moves
    LinkState link = LinkState::NotEnrolled;
};

// The snapshot in words, in the current language (all relative to `now`).
std::string linkText(const SyncSnapshot& s, std::chrono::system_clock::time_point now);
// The last outcome as a sentence ("HQ does not answer: ..."); "" before the first pass.
std::string outcomeText(const SyncSnapshot& s);
// "in 40 s", "in 3 min", "at 15:20"; "" when no attempt is planned.
std::string nextAttemptText(const SyncSnapshot& s, std::chrono::system_clock::time_point now);
// A UTC timestamp in the laptop's local time: "14:02" today, else "2026-11-27 14:02"; "" when empty.
std::string localClock(const std::string& utc, std::chrono::system_clock::time_point now);

// [SECTION] record lists
struct ListRow {
    storage::RecordMeta meta;
    std::string formTitle;
    std::string summary;  // the form's summary fields, decrypted when the row is first shown
};

// A window onto a possibly huge list: size() is one COUNT, rows are fetched a page at a time
// as they scroll into view, so 100,000 records cost what 40 visible rows cost.
class RecordListModel {
public:
    struct Filter {
        std::string formId;
        std::string unitId;
        std::optional<core::RecordStatus> status;  // none: any
        std::string search;                        // words; empty: no search
        bool oldestFirst = false;
        bool operator==(const Filter&) const = default;
    };
    explicit RecordListModel(storage::Store* store) : m_store(store) {}
    void setFilter(const Filter& f);
    const Filter& filter() const { return m_filter; }
    std::int64_t size();
    const ListRow* row(std::int64_t i);
    void invalidate();
    const std::string& error() const { return m_error; }

private:
    static constexpr int kPage = 128;
    ListRow makeRow(const storage::RecordMeta& m);
    storage::Store* m_store;
    Filter m_filter;
    std::optional<std::int64_t> m_size;
    std::map<std::int64_t, std::vector<ListRow>> m_pages;
    std::vector<storage::RecordMeta> m_searchHits;
    std::string m_error;
};

// [SECTION] form filling
enum class SaveState { Unsaved, Saved, Blocked, Failed };

class FormModel {
public:
    FormModel(storage::Store* store) : m_store(store) {}
    // A new report of a form: nothing is stored until the first change.
    void startNew(const std::string& formId);
    // Resumes the draft revision of a record. Error when it has none.
    Result<void> open(const std::string& id);
    bool active() const { return m_form != nullptr; }
    const core::FormDef& form() const { return *m_form; }
    const std::string& recordId() const { return m_id; }
    int revision() const { return m_revision; }

    json& values() { return m_values; }  // what the person entered (edit it, then call changed())
    const json& shown() const { return m_check.normalized; }  // with computed values
    const core::ValidationResult& check() const { return m_check; }
    const core::Issue* issueAt(const std::string& path) const;
    bool hidden(const std::string& path) const { return m_check.isHidden(path); }
    // The revision this draft amends sealed its sensitive section for HQ (0: none did): left empty, HQ
    // keeps that one; filled in, it is sealed again with this revision.
    int sealedRevision() const { return m_sealedRevision; }

    // Call after every edit. Revalidates at once; saves now (immediate) or when typing pauses.
    void changed(bool immediate);
    void addRow(const std::string& group);
    void removeRow(const std::string& group, std::size_t index);
    // Saves a pending change now (Ctrl+S, leaving the form). Returns false when it could not.
    bool saveNow();
    // Called once per frame with a monotonic clock (seconds); saves after a pause in typing.
    void tick(double now);

    SaveState saveState() const { return m_saveState; }
    const std::string& saveError() const { return m_saveError; }
    const std::string& savedAt() const { return m_savedAt; }
    bool dirty() const { return m_dirty; }

    // The complete check for finalize (required values, every rule), without storing anything.
    // Computed once per change.
    const core::ValidationResult& finalCheck() const;
    // Saves, then finalizes. On success the model closes and returns the final revision's meta.
    Result<storage::RecordMeta> finalize();
    void close();

private:
    // The draft's check: the form's rules, and a warning when the report is for another unit than the
    // laptop's (finalize refuses it).
    core::ValidationResult draftCheck() const;

    storage::Store* m_store;
    std::shared_ptr<const core::FormDef> m_form;
    std::string m_id;
    int m_revision = 0;
    json m_values = json::object();
    core::ValidationResult m_check;
    mutable std::optional<core::ValidationResult> m_final;
    int m_sealedRevision = 0;
    bool m_dirty = false;
    bool m_saveSoon = false;
    double m_lastEdit = 0, m_now = 0;
    SaveState m_saveState = SaveState::Unsaved;
    std::string m_saveError, m_savedAt;
};

// [SECTION] the other screens
struct RecordView {
    storage::Record record;
    std::vector<storage::RecordMeta> history;
    std::shared_ptr<const core::FormDef> form;
    std::optional<storage::ReceiptInfo> receipt;  // HQ's receipt for the shown revision
    std::optional<storage::Feedback> feedback;    // HQ's review of the shown revision
    // The sealed sensitive section standing for the shown revision (its own, or the one an earlier
    // revision sealed), and that revision's number; state "" when there is none.
    storage::SealedSection sealed;
    int sealedRevision = 0;
};

struct GapMatrix {
    std::vector<std::string> units;    // rows
    std::vector<std::string> courses;  // columns
    std::map<std::pair<std::string, std::string>, core::GapCell> cells;
    int open = 0;
};

// [SECTION] the outbox
// The sync screen's queue in sending order, read by App::reloadOutbox(). What the queue would carry
// (its revisions' content, decrypted one by one) is counted on a background thread with its own Store,
// so a frame never decrypts the queue: `bytes` grows (at each tick()) while `counting` is true.
struct OutboxView {
    std::vector<storage::OutboxItem> items;
    std::vector<std::size_t> errors;            // indexes of the items with a last error
    std::map<std::string, std::string> titles;  // form id -> title in the current language
    std::int64_t quarantined = 0;               // quarantined items among `items`
    std::int64_t waitingKeys = 0;               // items whose sealed section waits for HQ's conduct keys
    std::uint64_t bytes = 0;  // content bytes of the queued (not quarantined) items counted so far
    bool counting = false;    // the count is still going
};

// A form a person may pick (new report, list filter): its id and its title in the current language.
struct FormChoice {
    std::string id;
    std::string title;
};

// [SECTION] app
class App {
public:
    struct Options {
        std::string storeDir;
        std::string settingsDir;     // default: the store folder
        sync::ClientOptions sync;    // how the sync worker and enrollment reach HQ
        double idleLockSeconds = 0;  // tests: lock after this many idle seconds instead of Settings' minutes
    };
    explicit App(Options o);
    ~App();
    // The store folder when none is given: $OUTPOST_STORE, else $XDG_DATA_HOME/outpost, else
    // ~/.local/share/outpost.
    static std::string defaultStoreDir();

    Screen screen() const { return m_screen; }
    void go(Screen s);  // remembers where it came from
    // Esc: the previous screen (Home at the bottom). Leaving a form whose latest edits cannot be
    // saved (a bad entry) first warns, and leaves on the second call.
    void back();

    // Unlock and lock
    bool storeExists() const;
    const std::string& storeDir() const { return m_opts.storeDir; }
    // Signs in as an account (empty: whichever account the passphrase opens). During the wait after
    // failed passphrases it refuses at once (Auth, Busy); authDelay() says how long is left.
    Result<void> unlock(std::string_view account, std::string_view passphrase);
    Result<void> unlock(std::string_view passphrase) { return unlock({}, passphrase); }
    // For tests and the benchmark: open with a key, skipping the passphrase.
    Result<void> unlockWithKey(const storage::DataKey& key, const std::string& account = {});
    // Drops the Store, the key and every view-model and cache holding record data; back to Unlock.
    // Switching user is a lock: the next person signs in on a clean App.
    void lock();
    // The accounts for the unlock screen (names and roles only) and the failed-passphrase wait.
    std::vector<storage::Account> accounts() const;
    storage::AuthDelay authDelay() const;
    // Any keyboard or mouse input (the UI calls it each frame with input); tick() locks after the
    // idle time in Settings.
    void noteActivity(double now) { m_lastActivity = now; }
    // Seconds of idle left before the lock (for tests and a status hint); negative when locked.
    double idleLeft(double now) const;
    // The commander's Accounts panel. Each refreshes nothing else: accounts hold no record data.
    Result<void> addAccount(const storage::Account& a, std::string_view passphrase);
    Result<void> removeAccount(const std::string& name);
    Result<void> setRole(const std::string& name, core::Role role);
    bool unlocked() const { return m_store != nullptr; }
    // Panic wipe: confirmUnit must be the store's unit id, typed back by the user. Locks (the sync worker
    // and every view go, then the key), then destroys the store's keys and files (storage::wipeStore). A
    // revocation from HQ does the same at the next contact. The Unlock screen then says what happened.
    Result<void> wipe(const std::string& confirmUnit);
    const std::string& wipeNotice() const { return m_wipeNotice; }
    // The laptop's unit ("" while locked): the panic wipe asks for it to be typed back.
    std::string unitId() const;
    // Who is signed in ("" while locked).
    const std::string& accountName() const { return m_account; }
    // Whether the signed-in role may manage accounts (false while locked), and the store's accounts
    // for that panel (disabled ones included; an error while locked).
    bool mayManageAccounts() const;
    Result<std::vector<storage::Account>> storeAccounts();

    Settings& settings() { return m_settings; }
    Result<void> saveSettings();
    void applyLanguage();

    const HomeView& home();
    RecordListModel& records() { return *m_list; }
    FormModel& form() { return *m_form; }
    const std::optional<RecordView>& recordView() const { return m_record; }
    const GapMatrix& gaps();
    std::vector<storage::OutboxItem> outbox();
    // The reference data of the open store (units, courses, scales); empty while locked.
    const core::ReferenceData& reference() const;
    // The latest version of each form the signed-in role may act on so (Create: Home's quick start;
    // Read: the list's form filter), in the store's order. Empty while locked.
    std::vector<FormChoice> forms(core::FormAction action) const;
    // True when the signed-in role may not see this form's sensitive section (the store keeps it).
    bool sensitiveHidden(const std::string& formId) const;
    // Reads the shown record's revisions again (an amendment made since it was opened adds one); on an
    // error the history read at openRecord() stays.
    void reloadRecordHistory();
    // The sync screen's queue: reloadOutbox() reads it again and starts counting its bytes afresh (the
    // count of the previous read is abandoned). outboxView() is what was last read, with the count so far.
    void reloadOutbox();
    const OutboxView& outboxView() const { return m_outbox; }

    // Commands
    void newReport(const std::string& formId);
    void openRecord(const std::string& id);  // a draft opens for filling; a final one for reading
    void amendRecord(const std::string& id);
    Result<storage::RecordMeta> finalizeForm();
    void refresh();  // after any change: caches are rebuilt on next use

    // Sync with HQ. The worker runs while the store is unlocked and enrolled (not revoked).
    SyncSnapshot syncSnapshot() const;  // thread-safe
    void syncNow();                     // a pass at once (the "Sync now" button)
    // Puts a quarantined outbox item back in the queue and asks for a pass.
    Result<void> requeue(std::int64_t outboxSeq);
    // Enrolls this laptop with HQ on a background thread; the outcome arrives in a later tick().
    void startEnroll(const std::string& hqUrl, const std::string& code);
    bool enrolling() const { return m_enroll != nullptr; }
    const std::string& enrollError() const { return m_enrollError; }

    // A short message for the person (what just happened, or what went wrong), with its severity.
    const std::string& flash() const { return m_flash; }
    bool flashIsError() const { return m_flashError; }
    void setFlash(std::string m, bool error = false);

    void tick(double now);

private:
    friend struct AppTestAccess;
    struct EnrollJob;
    struct ByteCountJob;
    void pollByteCount();
    void stopByteCount();
    void startSync();  // starts the worker when enrolled and not revoked
    void stopSync();   // stops and joins the worker and any enrollment in progress
    void pollSync(double now);
    void afterPass();
    void updateSyncCounts();
    void reloadSyncConfig();
    void reloadRecordSync();
    void reopenStore();  // picks up forms and reference data a pass installed
    void finishEnroll();

    Options m_opts;
    Settings m_settings;
    std::string m_wipeNotice;  // why the store is gone, when this App wiped it
    Result<void> wipeNow(std::string notice);
    std::string m_account;       // who is signed in (the worker and enrollment open the Store as them)
    double m_lastActivity = -1;  // the monotonic time of the last input (-1: none seen since unlock)
    std::optional<storage::DataKey> m_key;  // while unlocked: the worker and enrollment open their own Store
    std::unique_ptr<sync::SyncWorker> m_worker;
    mutable std::mutex m_syncMu;  // guards m_sync
    SyncSnapshot m_sync;
    std::string m_passMark;  // the worker's outcome and next attempt after the last pass seen
    bool m_sawRunning = false;
    bool m_reopenPending = false;
    double m_countsAt = -1, m_linkAt = -1;
    std::unique_ptr<EnrollJob> m_enroll;
    OutboxView m_outbox;
    std::unique_ptr<ByteCountJob> m_count;
    std::string m_enrollError;
    std::unique_ptr<storage::Store> m_store;
    Screen m_screen = Screen::Unlock;
    std::vector<Screen> m_history;
    std::unique_ptr<RecordListModel> m_list;
    std::unique_ptr<FormModel> m_form;
    std::optional<RecordView> m_record;
    std::optional<HomeView> m_home;
    std::optional<GapMatrix> m_gaps;
    std::string m_flash;
    bool m_flashError = false;
    bool m_leaveArmed = false;
};

}  // namespace outpost::client
