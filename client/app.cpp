// The field application's state and view-models: unlock, home, lists, form filling, gaps, outbox.
//
// [SECTION] screens
// [SECTION] record lists
// [SECTION] form filling
// [SECTION] app
#include "client/app.hpp"

#include <algorithm>
#include <filesystem>

#include "core/time.hpp"
#include "core/utf8.hpp"

namespace outpost::client {

namespace fs = std::filesystem;

// Typing pauses longer than this save the draft (leaving a field or choosing a value saves at once).
constexpr double kSaveAfterIdleSeconds = 0.8;
// Search results shown at most; a person refines the words rather than scroll past this.
constexpr int kMaxSearchHits = 5000;

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
                (m_filter.status.empty() || h.status == m_filter.status))
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
    m_check = core::validateRecord(*m_form, m_values, core::ValidationMode::Draft, m_store->reference());
    m_final.reset();
}

Result<void> FormModel::open(const std::string& id) {
    auto rec = m_store->get(id);
    if (!rec) return rec.error();
    if (rec->meta.status != "draft")
        return Error{ErrorDomain::State, ErrorCode::Conflict, "this report is final; amend it to change it"};
    close();
    m_form = m_store->forms().find(rec->meta.formId, rec->meta.formVersion);
    if (!m_form) return Error{ErrorDomain::NotFound, ErrorCode::NotFound, "unknown form " + rec->meta.formId};
    m_id = id;
    m_revision = rec->meta.revision;
    m_values = core::stripComputed(*m_form, rec->payload);
    m_check = core::validateRecord(*m_form, m_values, core::ValidationMode::Draft, m_store->reference());
    m_final.reset();
    m_saveState = SaveState::Saved;
    m_savedAt = rec->meta.updatedUtc;
    return {};
}

void FormModel::close() {
    m_form.reset();
    m_id.clear();
    m_revision = 0;
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
    m_check = core::validateRecord(*m_form, m_values, core::ValidationMode::Draft, m_store->reference());
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
        m_final = m_form ? core::validateRecord(*m_form, m_values, core::ValidationMode::Final,
                                                m_store->reference())
                         : core::ValidationResult{};
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

Result<void> App::unlock(std::string_view passphrase) {
    auto key = storage::Store::unlock(m_opts.storeDir, passphrase);
    if (!key) return key.error();
    return unlockWithKey(*key);
}

Result<void> App::unlockWithKey(const storage::DataKey& key) {
    storage::StoreOptions o;
    o.autoBackup = true;
    auto s = storage::Store::open(m_opts.storeDir, key, o);
    if (!s) return s.error();
    m_store = std::move(s).value();
    m_list = std::make_unique<RecordListModel>(m_store.get());
    m_form = std::make_unique<FormModel>(m_store.get());
    m_history.clear();
    m_screen = Screen::Home;
    refresh();
    return {};
}

void App::lock() {
    if (m_form && m_form->active()) m_form->saveNow();
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
    if (rec->meta.status == "draft") {
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
    }
    return r;
}

void App::setFlash(std::string m, bool error) {
    m_flash = std::move(m);
    m_flashError = error;
}

void App::tick(double now) {
    if (m_form) m_form->tick(now);
}

}  // namespace outpost::client
