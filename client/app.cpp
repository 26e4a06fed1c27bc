// The field application's state and view-models: unlock, home, lists, form filling, gaps, outbox.
//
// [SECTION] screens
// [SECTION] sync in words
// [SECTION] record lists
// [SECTION] form filling
// [SECTION] app
// [SECTION] the outbox
// [SECTION] sync with HQ
#include "client/app.hpp"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <filesystem>

#include "core/sensitive.hpp"
#include "core/time.hpp"
#include "core/utf8.hpp"
#include "storage/store_wipe.hpp"

namespace outpost::client {

namespace fs = std::filesystem;

// Typing pauses longer than this save the draft (leaving a field or choosing a value saves at once).
constexpr double kSaveAfterIdleSeconds = 0.8;
// Search results shown at most; a person refines the words rather than scroll past this.
constexpr int kMaxSearchHits = 5000;
// While a pass runs, the queue counts are read again this often (one indexed count each time).
constexpr double kCountEverySeconds = 1.0;
// The home screen's link text ("next try in 3 min") is refreshed this often.
constexpr double kLinkEverySeconds = 1.0;

// [SECTION] screens
const char* screenName(Screen s) {
    switch (s) {
        case Screen::Unlock:
            return "unlock";
        case Screen::Home:
            return "home";
        case Screen::Records:
            return "records";
        case Screen::Form:
            return "form";
        case Screen::Record:
            return "record";
        case Screen::Gaps:
            return "gaps";
        case Screen::Sync:
            return "sync";
        case Screen::Settings:
            return "settings";
    }
    return "?";
}

// [SECTION] sync in words
const char* linkStateName(LinkState s) {
    switch (s) {
        case LinkState::NotEnrolled:
            return "not-enrolled";
        case LinkState::Revoked:
            return "revoked";
        case LinkState::UpgradeNeeded:
            return "upgrade-needed";
        case LinkState::Starting:
            return "starting";
        case LinkState::Sending:
            return "sending";
        case LinkState::UpToDate:
            return "up-to-date";
        case LinkState::Waiting:
            return "waiting";
        case LinkState::Offline:
            return "offline";
        case LinkState::Unreachable:
            return "unreachable";
        case LinkState::Failed:
            return "failed";
    }
    return "?";
}

namespace {

using Clock = std::chrono::system_clock;

bool contains(const std::string& text, const char* part) {
    return text.find(part) != std::string::npos;
}

// The pass that failed, in the engine's words (after "failed: ", or the progress message).
std::string failureDetail(const SyncSnapshot& s) {
    if (s.lastOutcome.rfind("failed: ", 0) == 0) return s.lastOutcome.substr(8);
    return s.progress.message;
}

// Where the link stands, from the worker's state and the enrollment.
LinkState classify(const SyncSnapshot& s) {
    if (!s.config) return LinkState::NotEnrolled;
    if (s.config->revoked || s.lastOutcome == "revoked") return LinkState::Revoked;
    if (s.running) return LinkState::Sending;
    if (s.lastOutcome.empty()) return LinkState::Starting;
    if (s.lastOutcome == "ok") return s.queued > 0 ? LinkState::Waiting : LinkState::UpToDate;
    const std::string detail = failureDetail(s);
    if (s.lastOutcome == "offline") {
        // libcurl's words: no name resolution or no route means no network at all.
        if (contains(detail, "resolve") || contains(detail, "unreachable") || contains(detail, "No route"))
            return LinkState::Offline;
        return LinkState::Unreachable;
    }
    // A parked worker after an HTTP 426: HQ speaks a newer protocol.
    if (s.nextAttempt == Clock::time_point::max() && contains(detail, " 426"))
        return LinkState::UpgradeNeeded;
    return LinkState::Failed;
}

std::tm localTm(Clock::time_point t) {
    const std::time_t tt = Clock::to_time_t(t);
    std::tm tm{};
    localtime_r(&tt, &tm);
    return tm;
}

std::string hhmm(const std::tm& tm) {
    char b[16];
    std::snprintf(b, sizeof b, "%02d:%02d", tm.tm_hour, tm.tm_min);
    return b;
}

}  // namespace

std::string localClock(const std::string& utc, Clock::time_point now) {
    if (utc.size() < 19 || utc[10] != 'T') return utc;
    std::tm tm{};
    if (std::sscanf(utc.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &tm.tm_sec) != 6)
        return utc;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const std::tm local = localTm(Clock::from_time_t(timegm(&tm)));
    const std::tm today = localTm(now);
    if (local.tm_year == today.tm_year && local.tm_yday == today.tm_yday) return hhmm(local);
    char b[32];
    std::snprintf(b, sizeof b, "%04d-%02d-%02d %s", local.tm_year + 1900, local.tm_mon + 1, local.tm_mday,
                  hhmm(local).c_str());
    return b;
}

std::string nextAttemptText(const SyncSnapshot& s, Clock::time_point now) {
    if (!s.workerActive || s.nextAttempt == Clock::time_point::max() || s.nextAttempt == Clock::time_point{})
        return {};
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(s.nextAttempt - now).count();
    if (left <= 1) return tr("time.soon");
    if (left < 60) return fill(tr("time.in_seconds"), {std::to_string(left)});
    if (left < 3600) return fill(tr("time.in_minutes"), {std::to_string((left + 59) / 60)});
    return fill(tr("time.at"), {hhmm(localTm(s.nextAttempt))});
}

std::string linkText(const SyncSnapshot& s, Clock::time_point now) {
    const std::string next = nextAttemptText(s, now);
    const std::string retry =
        next.empty() ? std::string(tr("link.no_retry")) : fill(tr("link.next_try"), {next});
    switch (s.link) {
        case LinkState::NotEnrolled:
            return tr("link.not_enrolled");
        case LinkState::Revoked:
            return tr("link.revoked");
        case LinkState::UpgradeNeeded:
            return tr("link.upgrade");
        case LinkState::Starting:
            return tr("link.starting");
        case LinkState::Sending:
            if (s.progress.phase == core::SyncPhase::Pushing && s.progress.itemsTotal > 0)
                return fill(tr("link.sending"),
                            {formatCount(s.progress.itemsSent), formatCount(s.progress.itemsTotal)});
            if (s.progress.phase == core::SyncPhase::Pulling) return tr("link.receiving");
            return tr("link.connecting");
        case LinkState::UpToDate:
        case LinkState::Waiting: {
            const std::string last = s.config ? localClock(s.config->lastSyncUtc, now) : std::string();
            const std::string head =
                s.link == LinkState::UpToDate ? tr("link.up_to_date") : tr("link.waiting");
            return last.empty() ? head : head + " \xE2\x80\x94 " + fill(tr("link.last_sync"), {last});
        }
        case LinkState::Offline:
            return std::string(tr("link.offline")) + " \xE2\x80\x94 " + retry;
        case LinkState::Unreachable:
            return std::string(tr("link.unreachable")) + " \xE2\x80\x94 " + retry;
        case LinkState::Failed:
            return std::string(tr("link.failed")) + " \xE2\x80\x94 " + retry;
    }
    return {};
}

std::string outcomeText(const SyncSnapshot& s) {
    switch (s.link) {
        case LinkState::NotEnrolled:
            return tr("outcome.not_enrolled");
        case LinkState::Revoked:
            return tr("outcome.revoked");
        case LinkState::UpgradeNeeded:
            return tr("outcome.upgrade");
        case LinkState::Starting:
        case LinkState::Sending:
            return {};  // the progress says it
        case LinkState::UpToDate:
        case LinkState::Waiting:
            return tr("outcome.ok");
        case LinkState::Offline:
            return tr("outcome.offline");
        case LinkState::Unreachable:
            return tr("outcome.unreachable");
        case LinkState::Failed:
            return tr("outcome.failed");
    }
    return {};
}

// [SECTION] record lists
void RecordListModel::setFilter(const Filter& f) {
    if (f == m_filter) return;
    m_filter = f;
    invalidate();
}

void RecordListModel::invalidate() {
    m_size.reset();
    m_pages.clear();
    m_searchHits.clear();
    m_error.clear();
}

ListRow RecordListModel::makeRow(const storage::RecordMeta& m) {
    ListRow r;
    r.meta = m;
    auto form = m_store->forms().find(m.formId, m.formVersion);
    r.formTitle = form ? tr(form->title) : m.formId;
    if (!form) return r;
    auto rec = m_store->get(m.id, m.revision);
    if (!rec) {
        r.summary = rec.error().message;
        return r;
    }
    for (const auto& name : form->summaryFields) {
        auto it = rec->payload.find(name);
        if (it == rec->payload.end() || it->is_null()) continue;
        std::string v;
        const core::FieldDef* f = form->field(name);
        if (it->is_string()) {
            v = it->get<std::string>();
            if (f && f->type == core::FieldType::SelectOne)
                if (auto c = f->findChoice(v)) v = tr(c->label);
            if (f && f->type == core::FieldType::Reference) {
                json label = m_store->reference().value(f->ref, v, "name");
                if (label.is_null()) label = m_store->reference().value(f->ref, v, "title");
                if (!label.is_null()) v = core::ReferenceData::label(label, langCode(language()));
            }
        } else {
            v = it->dump();
        }
        if (core::codePointCount(v) > 48) v = v.substr(0, 48) + "...";
        r.summary += (r.summary.empty() ? "" : " · ") + v;
    }
    return r;
}

std::int64_t RecordListModel::size() {
    if (m_size) return *m_size;
    m_size = 0;
    if (!m_filter.search.empty()) {
        auto hits = m_store->search(m_filter.search, kMaxSearchHits);
        if (!hits) {
            m_error = hits.error().message;
            return 0;
        }
        for (auto& h : *hits)
            if ((m_filter.formId.empty() || h.formId == m_filter.formId) &&
                (m_filter.unitId.empty() || h.unitId == m_filter.unitId) &&
                (!m_filter.status || h.status == *m_filter.status))
                m_searchHits.push_back(std::move(h));
        if (m_filter.oldestFirst) std::reverse(m_searchHits.begin(), m_searchHits.end());
        m_size = static_cast<std::int64_t>(m_searchHits.size());
        return *m_size;
    }
    storage::ListFilter lf;
    lf.formId = m_filter.formId;
    lf.unitId = m_filter.unitId;
    lf.status = m_filter.status;
    auto n = m_store->count(lf);
    if (!n) {
        m_error = n.error().message;
        return 0;
    }
    m_size = *n;
    return *m_size;
}

const ListRow* RecordListModel::row(std::int64_t i) {
    if (i < 0 || i >= size()) return nullptr;
    std::int64_t page = i / kPage;
    auto it = m_pages.find(page);
    if (it == m_pages.end()) {
        std::vector<ListRow> rows;
        if (!m_filter.search.empty()) {
            for (std::int64_t k = page * kPage; k < std::min<std::int64_t>((page + 1) * kPage, size()); ++k)
                rows.push_back(makeRow(m_searchHits[static_cast<std::size_t>(k)]));
        } else {
            storage::ListFilter lf;
            lf.formId = m_filter.formId;
            lf.unitId = m_filter.unitId;
            lf.status = m_filter.status;
            lf.oldestFirst = m_filter.oldestFirst;
            lf.limit = kPage;
            lf.offset = static_cast<int>(page * kPage);
            auto metas = m_store->list(lf);
            if (!metas) {
                m_error = metas.error().message;
                return nullptr;
            }
            for (const auto& m : *metas) rows.push_back(makeRow(m));
        }
        // Keep memory flat while scrolling through 100k rows: a handful of pages is plenty.
        if (m_pages.size() > 16) m_pages.erase(m_pages.begin());
        it = m_pages.emplace(page, std::move(rows)).first;
    }
    std::size_t k = static_cast<std::size_t>(i - page * kPage);
    return k < it->second.size() ? &it->second[k] : nullptr;
}

// [SECTION] form filling
void FormModel::startNew(const std::string& formId) {
    close();
    m_form = m_store->forms().latest(formId);
    if (!m_form) return;
    m_values = json::object();
    if (!m_form->unitField.empty() && !m_store->unitId().empty())
        m_values[m_form->unitField] = m_store->unitId();
    m_check = draftCheck();
    m_final.reset();
}

Result<void> FormModel::open(const std::string& id) {
    auto rec = m_store->get(id);
    if (!rec) return rec.error();
    if (rec->meta.status != core::RecordStatus::Draft)
        return Error{ErrorDomain::State, ErrorCode::Conflict, "this report is final; amend it to change it"};
    close();
    m_form = m_store->forms().find(rec->meta.formId, rec->meta.formVersion);
    if (!m_form) return Error{ErrorDomain::NotFound, ErrorCode::NotFound, "unknown form " + rec->meta.formId};
    m_id = id;
    m_revision = rec->meta.revision;
    m_values = core::stripComputed(*m_form, rec->payload);
    m_check = draftCheck();
    m_final.reset();
    m_sealedRevision = 0;
    for (int rev = m_revision - 1; rev >= 1 && m_form->hasSensitiveFields(); --rev)
        if (auto s = m_store->sealedSection(id, rev); s && !s->state.empty()) {
            m_sealedRevision = rev;
            break;
        }
    m_saveState = SaveState::Saved;
    m_savedAt = rec->meta.updatedUtc;
    return {};
}

core::ValidationResult FormModel::draftCheck() const {
    auto v = core::validateRecord(*m_form, m_values, core::ValidationMode::Draft, m_store->reference());
    core::checkOwnUnit(*m_form, m_store->unitId(), core::ValidationMode::Draft, v);
    return v;
}

void FormModel::close() {
    m_form.reset();
    m_id.clear();
    m_revision = 0;
    m_sealedRevision = 0;
    m_values = json::object();
    m_check = {};
    m_final.reset();
    m_dirty = m_saveSoon = false;
    m_saveState = SaveState::Unsaved;
    m_saveError.clear();
    m_savedAt.clear();
}

const core::Issue* FormModel::issueAt(const std::string& path) const {
    return m_check.firstAt(path);
}

void FormModel::changed(bool immediate) {
    if (!m_form) return;
    m_check = draftCheck();
    m_final.reset();
    m_dirty = true;
    m_lastEdit = m_now;
    if (immediate) saveNow();
}

void FormModel::addRow(const std::string& group) {
    if (!m_values.contains(group) || !m_values[group].is_array()) m_values[group] = json::array();
    m_values[group].push_back(json::object());
    changed(true);
}

void FormModel::removeRow(const std::string& group, std::size_t index) {
    if (!m_values.contains(group) || !m_values[group].is_array() || index >= m_values[group].size()) return;
    m_values[group].erase(index);
    changed(true);
}

bool FormModel::saveNow() {
    if (!m_form) return false;
    if (!m_dirty) return m_saveState == SaveState::Saved;
    if (!m_check.ok()) {
        // The store refuses a malformed draft; the person's entry stays on screen to be fixed.
        m_saveState = SaveState::Blocked;
        return false;
    }
    auto r = m_id.empty() ? m_store->createDraft(m_form->id, m_values) : m_store->saveDraft(m_id, m_values);
    if (!r) {
        m_saveState = r.error().code == ErrorCode::Invalid ? SaveState::Blocked : SaveState::Failed;
        m_saveError = r.error().message;
        return false;
    }
    m_id = r->meta.id;
    m_revision = r->meta.revision;
    m_dirty = false;
    m_saveState = SaveState::Saved;
    m_saveError.clear();
    m_savedAt = r->meta.updatedUtc;
    return true;
}

void FormModel::tick(double now) {
    m_now = now;
    if (m_dirty && now - m_lastEdit >= kSaveAfterIdleSeconds) saveNow();
}

const core::ValidationResult& FormModel::finalCheck() const {
    if (!m_final) {
        // The sensitive section is not this screen's to require when it went to HQ sealed with an earlier
        // revision and is left empty, or when this role cannot see it (the store keeps its values and
        // checks them at finalize).
        const bool relaxSensitive =
            m_form && m_form->hasSensitiveFields() &&
            ((m_sealedRevision > 0 && core::sensitivePathsWithValues(*m_form, m_values).empty()) ||
             !core::formRights(m_store->role(), m_form->id).readSensitive);
        m_final = !m_form          ? core::ValidationResult{}
                  : relaxSensitive ? core::validateRecord(core::withSealedSection(*m_form), m_values,
                                                          core::ValidationMode::Final, m_store->reference())
                                   : core::validateRecord(*m_form, m_values, core::ValidationMode::Final,
                                                          m_store->reference());
        if (m_form) core::checkOwnUnit(*m_form, m_store->unitId(), core::ValidationMode::Final, *m_final);
    }
    return *m_final;
}

Result<storage::RecordMeta> FormModel::finalize() {
    if (!m_form) return Error{ErrorDomain::State, ErrorCode::Conflict, "no report is open"};
    const auto& check = finalCheck();
    if (!check.ok())
        return Error{ErrorDomain::Validation, ErrorCode::Invalid,
                     std::to_string(check.errorCount()) + " problem(s)"};
    m_dirty = true;  // make sure what is on screen is what gets finalized
    if (!saveNow())
        return Error{ErrorDomain::Storage, ErrorCode::Io,
                     m_saveError.empty() ? "the draft could not be saved" : m_saveError};
    auto r = m_store->finalize(m_id);
    if (!r) return r.error();
    close();
    return r->meta;
}

// [SECTION] app
std::string App::defaultStoreDir() {
    return storage::defaultStoreDir();
}

App::App(Options o) : m_opts(std::move(o)) {
    if (m_opts.settingsDir.empty()) m_opts.settingsDir = m_opts.storeDir;
    auto s = Settings::load(m_opts.settingsDir);
    if (s)
        m_settings = *s;
    else
        setFlash(s.error().message, true);
    applyLanguage();
}

App::~App() {
    if (m_form && m_form->active()) m_form->saveNow();
    stopSync();
    stopByteCount();
}

void App::applyLanguage() {
    setLanguage(m_settings.lang);
}

void App::go(Screen s) {
    if (s == m_screen) return;
    if (m_screen == Screen::Form && m_form) {
        m_form->saveNow();
        // Drafts were saved on the way: counts and lists must show them. Other screens change
        // nothing, so moving between them reuses what was computed (cheap at 100,000 records).
        refresh();
    }
    if (m_screen != Screen::Unlock) m_history.push_back(m_screen);
    if (m_history.size() > 32) m_history.erase(m_history.begin());
    m_screen = s;
}

void App::back() {
    if (m_screen == Screen::Unlock) return;
    if (m_screen == Screen::Form && m_form && !m_form->saveNow() && m_form->dirty() && !m_leaveArmed) {
        m_leaveArmed = true;
        setFlash(tr("form.leave_unsaved"), true);
        return;
    }
    m_leaveArmed = false;
    Screen target = Screen::Home;
    while (!m_history.empty()) {
        target = m_history.back();
        m_history.pop_back();
        // Never step back into a form that was finalized or closed.
        if (target == Screen::Form && !(m_form && m_form->active())) continue;
        if (target != m_screen) break;
    }
    m_screen = target;
    refresh();
}

bool App::storeExists() const {
    return fs::exists(fs::path(m_opts.storeDir) / storage::kStoreFileName);
}

Result<void> App::unlock(std::string_view account, std::string_view passphrase) {
    if (unlocked()) lock();  // a sign-in always starts from a clean App
    auto who = storage::Store::signIn(m_opts.storeDir, account, passphrase);
    if (!who) return who.error();
    auto r = unlockWithKey(who->key, who->account);
    if (r && m_store)
        (void)m_store->appendAudit("unlock", who->account,
                                   storage::json{{"via", "window"}, {"failed_before", who->failedBefore}});
    return r;
}

Result<void> App::unlockWithKey(const storage::DataKey& key, const std::string& account) {
    storage::StoreOptions o;
    o.autoBackup = true;
    o.account = account;
    auto s = storage::Store::open(m_opts.storeDir, key, o);
    if (!s) return s.error();
    m_store = std::move(s).value();
    m_key = key;
    m_account = m_store->account().name;
    m_lastActivity = -1;
    m_list = std::make_unique<RecordListModel>(m_store.get());
    m_form = std::make_unique<FormModel>(m_store.get());
    m_history.clear();
    m_screen = Screen::Home;
    {
        std::lock_guard lk(m_syncMu);
        m_sync = {};
    }
    m_passMark.clear();
    m_sawRunning = m_reopenPending = false;
    m_enrollError.clear();
    reloadSyncConfig();
    refresh();
    startSync();
    return {};
}

void App::lock() {
    if (m_form && m_form->active()) m_form->saveNow();
    if (m_store) (void)m_store->appendAudit("lock", m_account);
    // The worker, an enrollment and a byte count in progress hold their own Store and a copy of the key:
    // they go first.
    stopSync();
    stopByteCount();
    m_outbox = {};
    m_key.reset();
    {
        std::lock_guard lk(m_syncMu);
        m_sync = {};
    }
    // Drop every view-model that holds decrypted values before the key goes.
    m_record.reset();
    m_home.reset();
    m_gaps.reset();
    m_form.reset();
    m_list.reset();
    m_store.reset();
    m_history.clear();
    m_screen = Screen::Unlock;
    m_flash.clear();
    m_enrollError.clear();
    m_passMark.clear();
    m_account.clear();
    m_lastActivity = -1;
    m_leaveArmed = false;
}

std::vector<storage::Account> App::accounts() const {
    auto r = storage::Store::listAccounts(m_opts.storeDir);
    if (!r) return {};
    std::vector<storage::Account> out;
    for (auto& a : *r)
        if (!a.disabled) out.push_back(std::move(a));
    return out;
}

storage::AuthDelay App::authDelay() const {
    auto r = storage::Store::authDelay(m_opts.storeDir);
    return r ? *r : storage::AuthDelay{};
}

double App::idleLeft(double now) const {
    if (!unlocked()) return -1;
    const double limit = m_opts.idleLockSeconds > 0 ? m_opts.idleLockSeconds
                                                    : 60.0 * std::clamp(m_settings.idleLockMinutes, 1, 240);
    return m_lastActivity < 0 ? limit : limit - (now - m_lastActivity);
}

Result<void> App::addAccount(const storage::Account& a, std::string_view passphrase) {
    if (!m_store) return Error{ErrorDomain::State, ErrorCode::Conflict, "the store is locked"};
    return m_store->addAccount(a, passphrase);
}

Result<void> App::removeAccount(const std::string& name) {
    if (!m_store) return Error{ErrorDomain::State, ErrorCode::Conflict, "the store is locked"};
    return m_store->removeAccount(name);
}

Result<void> App::setRole(const std::string& name, core::Role role) {
    if (!m_store) return Error{ErrorDomain::State, ErrorCode::Conflict, "the store is locked"};
    return m_store->setRole(name, role);
}

Result<void> App::wipe(const std::string& confirmUnit) {
    if (!m_store) return Error{ErrorDomain::State, ErrorCode::Conflict, tr("wipe.locked")};
    if (confirmUnit != m_store->unitId())
        return Error{ErrorDomain::Input, ErrorCode::BadInput, tr("wipe.confirm_mismatch")};
    return wipeNow(tr("wipe.done"));
}

Result<void> App::wipeNow(std::string notice) {
    lock();
    auto w = storage::wipeStore(m_opts.storeDir);
    if (!w) {
        m_wipeNotice = std::string(tr("wipe.failed")) + " " + w.error().message;
        return w.error();
    }
    m_wipeNotice = std::move(notice);
    return {};
}

Result<void> App::saveSettings() {
    applyLanguage();
    refresh();
    return m_settings.save(m_opts.settingsDir);
}

void App::refresh() {
    m_home.reset();
    m_gaps.reset();
    if (m_list) m_list->invalidate();
    updateSyncCounts();
}

const HomeView& App::home() {
    if (m_home) return *m_home;
    HomeView h;
    if (m_store) {
        h.unitId = m_store->unitId();
        h.user = m_store->user();
        json name = m_store->reference().value("units", h.unitId, "name");
        h.unitName = name.is_null() ? h.unitId : core::ReferenceData::label(name, langCode(language()));
        if (auto r = m_store->readiness(h.unitId)) h.readiness = *r;
        if (auto d = m_store->draftCount()) h.drafts = *d;
        if (auto ob = m_store->outboxCounts()) {
            h.waiting = ob->queued;
            h.problems = ob->quarantined;
        }
        if (auto g = m_store->trainingGaps({h.unitId}))
            for (const auto& c : *g) h.openGaps += c.status != core::GapStatus::Met;
        const SyncSnapshot snap = syncSnapshot();
        const auto now = std::chrono::system_clock::now();
        h.linkState = linkText(snap, now);
        if (snap.config) h.lastSync = localClock(snap.config->lastSyncUtc, now);
    }
    m_home = std::move(h);
    return *m_home;
}

const GapMatrix& App::gaps() {
    if (m_gaps) return *m_gaps;
    GapMatrix g;
    if (m_store) {
        auto cells = m_store->trainingGaps({});
        if (cells) {
            for (const auto& c : *cells) {
                if (std::find(g.units.begin(), g.units.end(), c.unitId) == g.units.end())
                    g.units.push_back(c.unitId);
                if (std::find(g.courses.begin(), g.courses.end(), c.courseId) == g.courses.end())
                    g.courses.push_back(c.courseId);
                g.open += c.status != core::GapStatus::Met;
                g.cells[{c.unitId, c.courseId}] = c;
            }
        } else {
            setFlash(cells.error().message, true);
        }
    }
    m_gaps = std::move(g);
    return *m_gaps;
}

std::vector<storage::OutboxItem> App::outbox() {
    if (!m_store) return {};
    auto r = m_store->outbox();
    if (!r) {
        setFlash(r.error().message, true);
        return {};
    }
    return *r;
}

std::string App::unitId() const {
    return m_store ? m_store->unitId() : std::string();
}

bool App::mayManageAccounts() const {
    return m_store && core::mayManageAccounts(m_store->role());
}

Result<std::vector<storage::Account>> App::storeAccounts() {
    if (!m_store) return Error{ErrorDomain::State, ErrorCode::Conflict, "the store is locked"};
    return m_store->accounts();
}

const core::ReferenceData& App::reference() const {
    static const core::ReferenceData kNone;
    return m_store ? m_store->reference() : kNone;
}

std::vector<FormChoice> App::forms(core::FormAction action) const {
    std::vector<FormChoice> out;
    if (!m_store) return out;
    for (const auto& form : m_store->forms().latestAll())
        if (core::allows(m_store->role(), form->id, action)) out.push_back({form->id, tr(form->title)});
    return out;
}

bool App::sensitiveHidden(const std::string& formId) const {
    return m_store && !core::formRights(m_store->role(), formId).readSensitive;
}

void App::reloadRecordHistory() {
    if (!m_record || !m_store) return;
    if (auto h = m_store->history(m_record->record.meta.id)) m_record->history = *h;
}

void App::newReport(const std::string& formId) {
    if (!m_form) return;
    m_form->startNew(formId);
    if (!m_form->active()) {
        setFlash("unknown form " + formId, true);
        return;
    }
    go(Screen::Form);
}

void App::openRecord(const std::string& id) {
    if (!m_store) return;
    auto rec = m_store->get(id);
    if (!rec) {
        setFlash(rec.error().message, true);
        return;
    }
    if (rec->meta.status == core::RecordStatus::Draft) {
        if (auto r = m_form->open(id); !r) {
            setFlash(r.error().message, true);
            return;
        }
        go(Screen::Form);
        return;
    }
    RecordView v;
    v.record = std::move(rec).value();
    if (auto h = m_store->history(id)) v.history = *h;
    v.form = m_store->forms().find(v.record.meta.formId, v.record.meta.formVersion);
    m_record = std::move(v);
    reloadRecordSync();
    go(Screen::Record);
}

void App::amendRecord(const std::string& id) {
    auto r = m_store->amend(id);
    if (!r) {
        setFlash(r.error().message, true);
        return;
    }
    refresh();
    openRecord(id);
}

Result<storage::RecordMeta> App::finalizeForm() {
    auto r = m_form->finalize();
    if (r) {
        setFlash(tr("form.finalized"));
        refresh();
        openRecord(r->id);
        if (m_worker) m_worker->poke();  // a new report goes to HQ at once when the link allows
    }
    return r;
}

void App::setFlash(std::string m, bool error) {
    m_flash = std::move(m);
    m_flashError = error;
}

void App::tick(double now) {
    if (unlocked()) {
        if (m_lastActivity < 0) m_lastActivity = now;  // the idle time counts from the first frame
        if (idleLeft(now) <= 0) {
            lock();
            setFlash(tr("unlock.idle_locked"));
            return;
        }
    }
    if (m_form) m_form->tick(now);
    pollSync(now);
    pollByteCount();
}

// [SECTION] the outbox
// One thread with a Store of its own, for as long as the App is unlocked: it counts what each read of
// the queue would carry. A newer read supersedes the count in progress.
struct App::ByteCountJob {
    std::thread thread;
    std::mutex mu;  // guards everything below
    std::condition_variable wake;
    bool stop = false;
    std::uint64_t generation = 0;  // the latest read of the queue
    bool pending = false;          // `queued` waits for the thread
    std::vector<std::pair<std::string, int>> queued;
    std::uint64_t counted = 0;  // the read the figures below belong to
    std::uint64_t bytes = 0;
    bool done = true;

    void run(const std::string& dir, const storage::DataKey& key, const std::string& account);
};

void App::ByteCountJob::run(const std::string& dir, const storage::DataKey& key, const std::string& account) {
    std::unique_ptr<storage::Store> store;
    for (;;) {
        std::vector<std::pair<std::string, int>> items;
        std::uint64_t gen = 0;
        {
            std::unique_lock lk(mu);
            wake.wait(lk, [&] { return stop || pending; });
            if (stop) return;
            items = std::move(queued);
            pending = false;
            gen = counted = generation;
            bytes = 0;
            done = false;
        }
        if (!store) {
            storage::StoreOptions so;
            so.account = account;
            if (auto s = storage::Store::open(dir, key, so)) store = std::move(s).value();
        }
        for (const auto& [id, revision] : items) {
            if (!store) break;
            {
                std::lock_guard lk(mu);
                if (stop || generation != gen) break;
            }
            // The revision's content as JSON: what the sync engine will have to carry, before its own
            // framing.
            auto rec = store->get(id, revision);
            if (!rec) continue;
            const std::size_t n = rec->payload.dump().size();
            std::lock_guard lk(mu);
            if (generation == gen) bytes += n;
        }
        std::lock_guard lk(mu);
        if (generation == gen) done = true;
    }
}

void App::reloadOutbox() {
    m_outbox = {};
    if (!m_store) return;
    m_outbox.items = outbox();
    for (std::size_t i = 0; i < m_outbox.items.size(); ++i) {
        if (!m_outbox.items[i].lastError.empty()) m_outbox.errors.push_back(i);
        m_outbox.quarantined += m_outbox.items[i].state == core::OutboxState::Quarantined;
    }
    auto waiting = m_store->waitingSealedCount();
    m_outbox.waitingKeys = waiting ? *waiting : 0;
    for (const auto& form : m_store->forms().latestAll()) m_outbox.titles[form->id] = tr(form->title);

    // A quarantined item is not sent until it is put back in the queue: it is not counted.
    std::vector<std::pair<std::string, int>> queued;
    for (const auto& item : m_outbox.items)
        if (item.state != core::OutboxState::Quarantined) queued.emplace_back(item.recordId, item.revision);
    if (!m_key) return;
    if (!m_count) {
        m_count = std::make_unique<ByteCountJob>();
        m_count->thread = std::thread([job = m_count.get(), dir = m_opts.storeDir, key = *m_key,
                                       account = m_account] { job->run(dir, key, account); });
    }
    m_outbox.counting = !queued.empty();
    std::lock_guard lk(m_count->mu);
    ++m_count->generation;
    m_count->queued = std::move(queued);
    m_count->pending = true;
    m_count->wake.notify_one();
}

void App::pollByteCount() {
    if (!m_count || !m_outbox.counting) return;
    std::lock_guard lk(m_count->mu);
    if (m_count->counted != m_count->generation) return;  // the thread has not taken the last read yet
    m_outbox.bytes = m_count->bytes;
    if (m_count->done) m_outbox.counting = false;
}

void App::stopByteCount() {
    if (!m_count) return;
    {
        std::lock_guard lk(m_count->mu);
        m_count->stop = true;
        m_count->wake.notify_one();
    }
    if (m_count->thread.joinable()) m_count->thread.join();
    m_count.reset();
    m_outbox.counting = false;
}

// [SECTION] sync with HQ
struct App::EnrollJob {
    std::thread thread;
    std::mutex mu;
    bool done = false;
    std::optional<Result<storage::SyncConfig>> result;
};

namespace {

std::string deviceName() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "laptop";
    return buf;
}

}  // namespace

SyncSnapshot App::syncSnapshot() const {
    std::lock_guard lk(m_syncMu);
    return m_sync;
}

void App::reloadSyncConfig() {
    std::optional<storage::SyncConfig> cfg;
    if (m_store) {
        auto c = m_store->syncConfig();
        if (c)
            cfg = *c;
        else
            setFlash(c.error().message, true);
    }
    std::lock_guard lk(m_syncMu);
    m_sync.config = std::move(cfg);
    m_sync.link = classify(m_sync);
}

void App::updateSyncCounts() {
    if (!m_store) return;
    auto c = m_store->outboxCounts();
    if (!c) return;
    {
        std::lock_guard lk(m_syncMu);
        m_sync.queued = c->queued;
        m_sync.quarantined = c->quarantined;
        m_sync.link = classify(m_sync);
    }
    if (m_home) {
        m_home->waiting = c->queued;
        m_home->problems = c->quarantined;
    }
}

void App::startSync() {
    if (m_worker || !m_store || !m_key) return;
    const SyncSnapshot snap = syncSnapshot();
    if (!snap.config || snap.config->revoked) return;
    m_worker = std::make_unique<sync::SyncWorker>(m_opts.storeDir, *m_key, m_opts.sync, m_account);
    m_worker->start();
    m_passMark.clear();
    m_sawRunning = false;
    std::lock_guard lk(m_syncMu);
    m_sync.workerActive = true;
    m_sync.link = classify(m_sync);
}

void App::stopSync() {
    if (m_worker) {
        m_worker->stop();
        m_worker.reset();
    }
    if (m_enroll) {
        if (m_enroll->thread.joinable()) m_enroll->thread.join();
        m_enroll.reset();
    }
    std::lock_guard lk(m_syncMu);
    m_sync.workerActive = false;
    m_sync.running = false;
}

void App::syncNow() {
    if (m_worker) m_worker->poke();
}

Result<void> App::requeue(std::int64_t outboxSeq) {
    if (!m_store) return Error{ErrorDomain::State, ErrorCode::Conflict, "the store is locked"};
    auto r = m_store->requeue(outboxSeq);
    if (!r) return r;
    refresh();
    reloadRecordSync();
    syncNow();
    return {};
}

void App::startEnroll(const std::string& hqUrl, const std::string& code) {
    if (m_enroll || !m_store || !m_key) return;
    m_enrollError.clear();
    m_enroll = std::make_unique<EnrollJob>();
    // Enrollment talks to HQ (seconds on a poor link): it runs on its own thread with its own Store.
    m_enroll->thread = std::thread([job = m_enroll.get(), dir = m_opts.storeDir, key = *m_key, url = hqUrl,
                                    code, opts = m_opts.sync, account = m_account] {
        Result<storage::SyncConfig> r = Error{};
        storage::StoreOptions so;
        so.account = account;
        auto store = storage::Store::open(dir, key, so);
        if (!store)
            r = store.error();
        else
            r = sync::enroll(**store, url, code, deviceName(), opts);
        std::lock_guard lk(job->mu);
        job->result = std::move(r);
        job->done = true;
    });
}

void App::finishEnroll() {
    {
        std::lock_guard lk(m_enroll->mu);
        if (!m_enroll->done) return;
    }
    m_enroll->thread.join();
    Result<storage::SyncConfig> r = std::move(*m_enroll->result);
    m_enroll.reset();
    if (!r) {
        m_enrollError = r.error().message;
        return;
    }
    m_enrollError.clear();
    setFlash(fill(tr("syncp.enrolled"), {r->hqUrl}));
    // A re-enrollment after a revocation replaces the stopped worker's configuration.
    if (m_worker) {
        m_worker->stop();
        m_worker.reset();
    }
    {
        std::lock_guard lk(m_syncMu);
        m_sync.lastOutcome.clear();
        m_sync.progress = {};
        m_sync.nextAttempt = {};
    }
    reloadSyncConfig();
    refresh();
    startSync();
}

void App::pollSync(double now) {
    if (m_enroll) finishEnroll();
    if (!m_worker) {
        if (m_home && now - m_linkAt >= kLinkEverySeconds) {
            m_linkAt = now;
            m_home->linkState = linkText(syncSnapshot(), std::chrono::system_clock::now());
        }
        return;
    }
    // Each read takes the worker's lock; a pass may end between them, and the next tick sees it.
    const bool running = m_worker->running();
    const std::string outcome = m_worker->lastOutcome();
    const auto next = m_worker->nextAttempt();
    const sync::Progress progress = m_worker->progress();
    const std::string mark = outcome + "|" + std::to_string(next.time_since_epoch().count());
    const bool finished = !running && ((m_sawRunning) || (!outcome.empty() && mark != m_passMark));
    m_sawRunning = running;
    {
        std::lock_guard lk(m_syncMu);
        m_sync.running = running;
        m_sync.lastOutcome = outcome;
        m_sync.nextAttempt = next;
        m_sync.progress = progress;
        m_sync.link = classify(m_sync);
    }
    if (finished) {
        m_passMark = mark;
        afterPass();
    } else if (running && now - m_countsAt >= kCountEverySeconds) {
        // The queue shrinks batch by batch while a pass runs; the counts follow.
        m_countsAt = now;
        updateSyncCounts();
    }
    if (m_reopenPending && !(m_form && m_form->active()) && m_screen != Screen::Form) reopenStore();
    if (m_home && now - m_linkAt >= kLinkEverySeconds) {
        m_linkAt = now;
        const SyncSnapshot snap = syncSnapshot();
        const auto clock = std::chrono::system_clock::now();
        m_home->linkState = linkText(snap, clock);
        m_home->lastSync = snap.config ? localClock(snap.config->lastSyncUtc, clock) : std::string();
    }
}

// A pass finished: the worker's Store changed the outbox, receipts, feedback, maybe forms and
// reference data. The UI's own Store reads the new state; nothing here waits on the network.
void App::afterPass() {
    bool pulled = false;
    {
        std::lock_guard lk(m_syncMu);
        ++m_sync.passes;
        pulled = m_sync.progress.pulled > 0;
    }
    reloadSyncConfig();
    refresh();
    reloadRecordSync();
    m_linkAt = -1;
    // Forms and reference data are read when a Store opens: a pull may have brought new ones.
    if (pulled) m_reopenPending = true;
    const SyncSnapshot snap = syncSnapshot();
    if (snap.config && snap.config->revoked) {
        // Revoked: this laptop may be in the wrong hands. Its store goes at this contact.
        (void)wipeNow(tr("wipe.revoked"));
    }
}

void App::reloadRecordSync() {
    if (!m_record || !m_store) return;
    const auto& meta = m_record->record.meta;
    m_record->receipt.reset();
    m_record->feedback.reset();
    if (auto r = m_store->receipt(meta.id, meta.revision)) m_record->receipt = *r;
    if (auto f = m_store->feedback(meta.id))
        for (const auto& item : *f)
            if (item.revision == meta.revision) m_record->feedback = item;
    // The revision's sync state ("sent" once a receipt is in) is part of its meta.
    if (auto rec = m_store->get(meta.id, meta.revision)) m_record->record.meta = rec->meta;
    // A sealed section moves from "waiting" to "sealed" to "purged" as keys and receipts arrive.
    m_record->sealed = {};
    m_record->sealedRevision = 0;
    for (int rev = meta.revision; rev >= 1 && meta.status == core::RecordStatus::Final; --rev)
        if (auto s = m_store->sealedSection(meta.id, rev); s && !s->state.empty()) {
            m_record->sealed = *s;
            m_record->sealedRevision = rev;
            break;
        }
}

void App::reopenStore() {
    m_reopenPending = false;
    if (!m_key) return;
    storage::StoreOptions so;
    so.account = m_account;
    auto s = storage::Store::open(m_opts.storeDir, *m_key, so);
    if (!s) {
        setFlash(s.error().message, true);
        return;
    }
    const RecordListModel::Filter filter = m_list ? m_list->filter() : RecordListModel::Filter{};
    m_store = std::move(s).value();
    m_list = std::make_unique<RecordListModel>(m_store.get());
    m_list->setFilter(filter);
    m_form = std::make_unique<FormModel>(m_store.get());
    refresh();
}

}  // namespace outpost::client
