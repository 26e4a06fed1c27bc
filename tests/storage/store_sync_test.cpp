// The field store's side of sync: enrollment and the sealed device key, the outbox for the wire,
// receipts, quarantine and requeue, pulled pages, resync, migration from schema 3, and the invariant that a
// final revision is always in the outbox or acknowledged by HQ, whatever fails on the way.
#include <catch2/catch.hpp>

#include <sodium.h>
#include <sqlite3.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/revision.hpp"
#include "core/uuid.hpp"
#include "storage/recovery.hpp"
#include "storage/store.hpp"
#include "support/faulty_vfs.hpp"
#include "support/test_support.hpp"

using namespace outpost;
using namespace outpost::storage;
using outpost::test::FaultKind;
using outpost::test::FaultyVfs;
using outpost::test::TempDir;
using json = nlohmann::json;

namespace {

DataKey syncKey() {
    unsigned char b[DataKey::kSize];
    std::fill(std::begin(b), std::end(b), static_cast<unsigned char>(0x2b));
    return DataKey::fromBytes(b, DataKey::kSize);
}

std::string firstUnit() {
    return core::ReferenceData::demo().table("units")[0]["id"];
}

json sinkPayload(const std::string& title) {
    json p = json::parse(R"({"count": 3, "day": "2026-11-01", "kind": "alpha", "tags": ["x"],
        "lines": [{"qty": 10, "ok": 9}], "notes": "routine"})");
    p["title"] = title;
    p["unit"] = firstUnit();
    return p;
}

// The kitchen-sink fixture under another id, sent before everything else (as incidents are).
json urgentSinkForm() {
    json f = test::fixture("kitchen_sink.json");
    f["form"] = "urgent-sink";
    f["sync_priority"] = 100;
    return f;
}

std::unique_ptr<Store> openStore(const std::string& dir, const StoreOptions& o = {}) {
    auto s = Store::open(dir, syncKey(), o);
    INFO((s.ok() ? "" : s.error().message));
    REQUIRE(s.ok());
    return std::move(s).value();
}

std::unique_ptr<Store> makeStore(const TempDir& t, const StoreOptions& o = {}) {
    InitOptions io;
    io.unitId = firstUnit();
    io.user = "cdr.sync";
    auto c = Store::createWithKey(t.path(), syncKey(), io);
    INFO((c.ok() ? "" : c.error().message));
    REQUIRE(c.ok());
    auto s = openStore(t.path(), o);
    REQUIRE(s->installForm(test::fixture("kitchen_sink.json")).ok());
    REQUIRE(s->installForm(urgentSinkForm()).ok());
    return s;
}

std::string finalRecord(Store& s, const std::string& title, const std::string& form = "kitchen-sink") {
    auto d = s.createDraft(form, sinkPayload(title));
    INFO((d.ok() ? "" : d.error().message));
    REQUIRE(d.ok());
    auto f = s.finalize(d->meta.id);
    INFO((f.ok() ? "" : f.error().message));
    REQUIRE(f.ok());
    return d->meta.id;
}

std::vector<unsigned char> deviceKey(unsigned char fill = 0) {
    std::vector<unsigned char> k(64);
    if (fill)
        std::fill(k.begin(), k.end(), fill);
    else
        randombytes_buf(k.data(), k.size());
    return k;
}

SyncConfig enrollConfig() {
    SyncConfig c;
    c.hqUrl = "https://hq-marker-host.example:8443";
    c.pin = "pinpinpinpinpinpinpinpinpinpinpinpinpinpinp";
    c.deviceId = "dev-0001";
    c.hqId = "hq-a";
    c.hqSignKey = "c2lnbmluZy1rZXktb2YtaHE=";
    c.epoch = "epoch-1";
    return c;
}

void enroll(Store& s) {
    auto r = s.saveEnrollment(enrollConfig(), deviceKey());
    INFO((r.ok() ? "" : r.error().message));
    REQUIRE(r.ok());
}

PushOutcome outcome(const OutgoingItem& i, const std::string& status, std::int64_t q,
                    const std::string& reason = {}) {
    PushOutcome o;
    o.outboxSeq = i.outboxSeq;
    o.status = core::fromText<core::ItemStatus>(status).value();
    o.hqSeq = q;
    o.reason = reason;
    if (status != "rejected") o.hash = std::string(64, 'a');
    return o;
}

// The invariant: every final revision is either in the outbox or acknowledged by a receipt, never both
// and never neither; and verify agrees.
void requireInvariant(Store& s) {
    ListFilter all;
    all.latestOnly = false;
    all.status = core::RecordStatus::Final;
    all.limit = 100000;
    auto finals = s.list(all);
    REQUIRE(finals.ok());
    auto ob = s.outbox();
    REQUIRE(ob.ok());
    std::set<std::pair<std::string, int>> queued;
    for (const auto& i : *ob) queued.insert({i.recordId, i.revision});
    for (const auto& m : *finals) {
        auto r = s.receipt(m.id, m.revision);
        REQUIRE(r.ok());
        bool inOutbox = queued.count({m.id, m.revision}) == 1;
        INFO("record " << m.id << " r" << m.revision << " queued " << inOutbox << " receipt "
                       << r->has_value());
        CHECK(inOutbox != r->has_value());
        CHECK(m.syncState ==
              (inOutbox ? (m.syncState == core::SyncState::Quarantined ? core::SyncState::Quarantined
                                                                       : core::SyncState::Queued)
                        : core::SyncState::Sent));
    }
    auto v = s.verify();
    INFO((v.ok() ? "" : v.error().message));
    REQUIRE(v.ok());
    std::string text;
    for (const auto& p : *v) text += "\n  " + p;
    INFO("verify:" << text);
    CHECK(v->empty());
}

// What the sync methods change, as a caller sees it.
json syncSnapshot(Store& s) {
    json out = {{"outbox", json::array()}, {"receipts", json::array()}, {"feedback", json::array()}};
    auto ob = s.outbox();
    REQUIRE(ob.ok());
    for (const auto& i : *ob)
        out["outbox"].push_back(
            {i.seq, i.recordId, i.revision, i.priority, i.attempts, i.state, i.lastError});
    ListFilter all;
    all.latestOnly = false;
    all.status = core::RecordStatus::Final;
    all.limit = 100000;
    auto finals = s.list(all);
    REQUIRE(finals.ok());
    for (const auto& m : *finals) {
        auto r = s.receipt(m.id, m.revision);
        INFO((r.ok() ? "" : r.error().message));
        REQUIRE(r.ok());
        if (*r) out["receipts"].push_back({(*r)->recordId, (*r)->revision, (*r)->status, (*r)->hqSeq});
    }
    auto fb = s.feedback();
    REQUIRE(fb.ok());
    for (const auto& f : *fb)
        out["feedback"].push_back({f.recordId, f.revision, f.status, f.comment, f.feedSeq});
    auto cfg = s.syncConfig();
    REQUIRE(cfg.ok());
    if (*cfg) out["config"] = {(*cfg)->epoch, (*cfg)->pullCursor, (*cfg)->revoked};
    json forms = json::array();
    for (const auto& f : s.forms().latestAll()) forms.push_back({f->id, f->version});
    out["forms"] = forms;
    out["units"] = s.reference().table("units").size();
    return out;
}

std::string rawText(const std::string& dir, const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open((dir + "/outpost.db").c_str(), &db);
    sqlite3_stmt* st = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

void rawExec(const std::string& dir, const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open((dir + "/outpost.db").c_str(), &db);
    char* msg = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
    INFO((msg ? msg : ""));
    sqlite3_free(msg);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
}

json feedbackEntry(const std::string& id, int rev, const std::string& status, const std::string& comment) {
    return {{"record", id},       {"rev", rev},          {"status", status},
            {"comment", comment}, {"by", "hq.reviewer"}, {"at", "2026-11-28T09:00:00Z"}};
}

}  // namespace

TEST_CASE("enrollment is kept sealed: config and device key read back, nothing secret on disk",
          "[storage][sync]") {
    TempDir t;
    auto key = deviceKey();
    {
        auto s = makeStore(t);
        auto none = s->syncConfig();
        REQUIRE(none.ok());
        CHECK_FALSE(none->has_value());
        auto noKey = s->deviceSecretKey();
        REQUIRE_FALSE(noKey.ok());
        CHECK(noKey.error().code == ErrorCode::NotFound);
        CHECK(s->setSyncStatus("x", "y").error().code == ErrorCode::NotFound);
        CHECK(s->markRevoked().error().code == ErrorCode::NotFound);

        CHECK(s->saveEnrollment(enrollConfig(), std::vector<unsigned char>(32, 1)).error().code ==
              ErrorCode::BadInput);
        SyncConfig noDevice = enrollConfig();
        noDevice.deviceId.clear();
        CHECK_FALSE(s->saveEnrollment(noDevice, key).ok());

        REQUIRE(s->saveEnrollment(enrollConfig(), key).ok());
        REQUIRE(s->backup().ok());
        // Scanned while open: the WAL holds the newest pages.
        char hex[129];
        sodium_bin2hex(hex, sizeof hex, key.data(), key.size());
        char b64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof b64, key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
        std::string raw(key.begin(), key.end());
        std::string where;
        for (const std::string& needle :
             {raw, raw.substr(0, 32), raw.substr(32), std::string(hex), std::string(b64),
              std::string("hq-marker-host"), std::string("dev-0001")}) {
            CHECK_FALSE(test::anyFileContains(t.path(), needle, &where));
        }
    }
    auto s = openStore(t.path());
    auto cfg = s->syncConfig();
    REQUIRE(cfg.ok());
    REQUIRE(cfg->has_value());
    CHECK((*cfg)->hqUrl == "https://hq-marker-host.example:8443");
    CHECK((*cfg)->deviceId == "dev-0001");
    CHECK((*cfg)->hqSignKey == enrollConfig().hqSignKey);
    CHECK((*cfg)->epoch == "epoch-1");
    CHECK((*cfg)->pullCursor == 0);
    CHECK_FALSE((*cfg)->revoked);
    auto k = s->deviceSecretKey();
    REQUIRE(k.ok());
    CHECK(*k == key);

    REQUIRE(s->setSyncStatus("2026-11-28T10:00:00.000Z", "").ok());
    REQUIRE(s->setSyncStatus("", "HQ is unreachable").ok());
    cfg = s->syncConfig();
    CHECK((*cfg)->lastSyncUtc == "2026-11-28T10:00:00.000Z");
    CHECK((*cfg)->lastError == "HQ is unreachable");
    REQUIRE(s->markRevoked().ok());
    CHECK((*s->syncConfig())->revoked);

    // The sealed key is bound to its row: moved into the config's row, it does not open.
    rawExec(t.path(),
            "UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'device_key') WHERE key = "
            "'sync_config'");
    s = openStore(t.path());
    CHECK_FALSE(s->syncConfig().ok());
}

TEST_CASE(
    "nextOutgoing serves the queue by priority then finalize order, decrypted, skipping batches in flight",
    "[storage][sync]") {
    TempDir t;
    auto s = makeStore(t);
    std::string a = finalRecord(*s, "Patrol A");
    std::string b = finalRecord(*s, "Patrol B");
    std::string urgent = finalRecord(*s, "Urgent C", "urgent-sink");
    std::string c = finalRecord(*s, "Patrol D");
    REQUIRE(s->amend(a).ok());
    REQUIRE(s->finalize(a).ok());
    auto d = s->createDraft("kitchen-sink", sinkPayload("Draft only"));
    REQUIRE(d.ok());

    CHECK(s->nextOutgoing(0).error().code == ErrorCode::BadInput);
    auto all = s->nextOutgoing(100);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 5);
    CHECK((*all)[0].recordId == urgent);
    CHECK((*all)[0].priority == 100);
    CHECK((*all)[1].recordId == a);
    CHECK((*all)[1].revision == 1);
    CHECK((*all)[2].recordId == b);
    CHECK((*all)[3].recordId == c);
    CHECK((*all)[4].recordId == a);
    CHECK((*all)[4].revision == 2);
    CHECK((*all)[4].parent == 1);
    CHECK_FALSE((*all)[1].parent.has_value());
    for (const auto& i : *all) {
        auto rec = s->get(i.recordId, i.revision);
        REQUIRE(rec.ok());
        CHECK(i.payload == rec->payload);
        CHECK(i.formId == rec->meta.formId);
        CHECK(i.formVersion == rec->meta.formVersion);
        CHECK(i.unitId == firstUnit());
        CHECK(i.author == "cdr.sync");
        CHECK(i.createdUtc == rec->meta.createdUtc);
        CHECK(i.createdOffset == rec->meta.createdOffsetMinutes);
        CHECK(i.finalizedUtc == rec->meta.finalizedUtc);
        CHECK_FALSE(i.finalizedUtc.empty());
    }
    CHECK((*all)[1].payload["title"] == "Patrol A");

    auto first = s->nextOutgoing(2);
    REQUIRE(first->size() == 2);
    auto second = s->nextOutgoing(2, {(*first)[0].outboxSeq, (*first)[1].outboxSeq});
    REQUIRE(second->size() == 2);
    CHECK((*second)[0].recordId == b);
    CHECK((*second)[1].recordId == c);
    auto rest = s->nextOutgoing(
        2, {(*first)[0].outboxSeq, (*first)[1].outboxSeq, (*second)[0].outboxSeq, (*second)[1].outboxSeq});
    REQUIRE(rest->size() == 1);
    CHECK((*rest)[0].revision == 2);
}

TEST_CASE("push outcomes: receipts replace outbox rows in one step, rejected items are quarantined",
          "[storage][sync]") {
    TempDir t;
    auto s = makeStore(t);
    enroll(*s);
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(finalRecord(*s, "Patrol " + std::to_string(i)));
    auto batch = s->nextOutgoing(4);
    REQUIRE(batch.ok());
    REQUIRE(batch->size() == 4);
    std::vector<PushOutcome> outs = {
        outcome((*batch)[0], "stored", 41), outcome((*batch)[1], "duplicate", 12),
        outcome((*batch)[2], "conflict", 13),
        outcome((*batch)[3], "rejected", 0, "kitchen-sink v1 is not a form HQ knows")};
    CHECK(s->applyPushOutcomes("", outs, "{}").error().code == ErrorCode::BadInput);
    auto badStatus = outs;
    badStatus[0].status = static_cast<core::ItemStatus>(99);  // no such status
    CHECK(s->applyPushOutcomes("b1", badStatus, "{}").error().code == ErrorCode::BadInput);
    CHECK(*s->receiptCount() == 0);

    const std::string doc = R"({"batch":"b1","sig":"c2ln"})";
    auto r = s->applyPushOutcomes("b1", outs, doc);
    INFO((r.ok() ? "" : r.error().message));
    REQUIRE(r.ok());
    requireInvariant(*s);
    CHECK(*s->receiptCount() == 3);
    auto rc = s->receipt(ids[0], 1);
    REQUIRE(rc.ok());
    REQUIRE(rc->has_value());
    CHECK((*rc)->status == core::ItemStatus::Stored);
    CHECK((*rc)->hqSeq == 41);
    CHECK((*rc)->hash == std::string(64, 'a'));
    CHECK((*rc)->batchId == "b1");
    CHECK_FALSE((*rc)->receivedUtc.empty());
    CHECK((*s->receipt(ids[1], 1))->status == core::ItemStatus::Duplicate);
    CHECK((*s->receipt(ids[2], 1))->status == core::ItemStatus::Conflict);
    CHECK_FALSE(s->receipt(ids[3], 1)->has_value());
    CHECK(rawText(t.path(), "SELECT document FROM receipt_doc WHERE batch_id = 'b1'") == doc);

    CHECK(s->get(ids[0])->meta.syncState == core::SyncState::Sent);
    CHECK(s->get(ids[2])->meta.syncState == core::SyncState::Sent);
    CHECK(s->get(ids[3])->meta.syncState == core::SyncState::Quarantined);
    CHECK(s->get(ids[4])->meta.syncState == core::SyncState::Queued);

    auto ob = s->outbox();
    REQUIRE(ob->size() == 2);
    CHECK((*ob)[0].recordId == ids[4]);
    CHECK((*ob)[1].recordId == ids[3]);
    CHECK((*ob)[1].state == core::OutboxState::Quarantined);
    CHECK((*ob)[1].lastError == "kitchen-sink v1 is not a form HQ knows");
    CHECK((*ob)[1].attempts == 1);
    auto counts = s->outboxCounts();
    CHECK(counts->queued == 1);
    CHECK(counts->quarantined == 1);
    // The quarantined item does not block the queue.
    auto next = s->nextOutgoing(10);
    REQUIRE(next->size() == 1);
    CHECK(next->front().recordId == ids[4]);

    // The newest receipt is the highest HQ sequence, whatever the order of arrival.
    auto last = s->lastReceipt();
    REQUIRE(last.ok());
    REQUIRE(last->has_value());
    CHECK((*last)->hqSeq == 41);
    CHECK((*last)->recordId == ids[0]);

    // A late answer for the same batch (a retry that crossed the first answer) changes nothing.
    json before = syncSnapshot(*s);
    REQUIRE(s->applyPushOutcomes("b1", outs, doc).ok());
    CHECK(json::diff(before, syncSnapshot(*s)).dump() == "[]");

    // Requeue puts the quarantined item back; it goes after nothing: it keeps its place in the outbox order.
    CHECK(s->requeue(999999).error().code == ErrorCode::NotFound);
    REQUIRE(s->requeue((*ob)[1].seq).ok());
    next = s->nextOutgoing(10);
    REQUIRE(next->size() == 2);
    CHECK(next->at(0).recordId == ids[3]);
    CHECK(next->at(1).recordId == ids[4]);
    CHECK(s->outbox()->at(0).lastError.empty());
    CHECK(s->get(ids[3])->meta.syncState == core::SyncState::Queued);

    REQUIRE(s->applyPushOutcomes(
                 "b2", {outcome(next->at(0), "stored", 50), outcome(next->at(1), "stored", 51)}, "{}")
                .ok());
    CHECK(s->outbox()->empty());
    CHECK(*s->receiptCount() == 5);
    CHECK((*s->lastReceipt())->hqSeq == 51);
    requireInvariant(*s);
    // Across a reopen, too.
    s = openStore(t.path());
    requireInvariant(*s);
    CHECK(s->get(ids[4])->meta.syncState == core::SyncState::Sent);
    CHECK(s->info().outbox == 0);
}

TEST_CASE("a failed push counts an attempt and keeps the error on each item", "[storage][sync]") {
    TempDir t;
    auto s = makeStore(t);
    finalRecord(*s, "One");
    finalRecord(*s, "Two");
    finalRecord(*s, "Three");
    auto batch = s->nextOutgoing(2);
    REQUIRE(s->notePushFailure({}, "nothing").ok());
    REQUIRE(s->notePushFailure({(*batch)[0].outboxSeq, (*batch)[1].outboxSeq}, "HQ answered 503").ok());
    REQUIRE(s->notePushFailure({(*batch)[0].outboxSeq}, "timeout").ok());
    auto ob = s->outbox();
    REQUIRE(ob->size() == 3);
    CHECK((*ob)[0].attempts == 2);
    CHECK((*ob)[0].lastError == "timeout");
    CHECK((*ob)[1].attempts == 1);
    CHECK((*ob)[1].lastError == "HQ answered 503");
    CHECK((*ob)[2].attempts == 0);
    CHECK((*ob)[2].state == core::OutboxState::Queued);
    // Still queued: a network failure never quarantines.
    CHECK(s->nextOutgoing(10)->size() == 3);
}

TEST_CASE("resync re-queues exactly the acknowledged revisions, clears receipts and the cursor",
          "[storage][sync]") {
    TempDir t;
    auto s = makeStore(t);
    CHECK(s->beginResync("epoch-2").error().code == ErrorCode::NotFound);
    enroll(*s);
    std::vector<std::string> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(finalRecord(*s, "Patrol " + std::to_string(i)));
    std::string urgent = finalRecord(*s, "Urgent", "urgent-sink");
    auto batch = s->nextOutgoing(3);  // urgent, 0, 1
    REQUIRE(batch->size() == 3);
    REQUIRE(s->applyPushOutcomes("b1",
                                 {outcome((*batch)[0], "stored", 1), outcome((*batch)[1], "stored", 2),
                                  outcome((*batch)[2], "rejected", 0, "bad")},
                                 "{}")
                .ok());
    REQUIRE(s->applyPull({}, 77).ok());
    CHECK((*s->syncConfig())->pullCursor == 77);
    // Queued: 2, 3; quarantined: 1; acknowledged: urgent, 0.
    CHECK(s->beginResync("").error().code == ErrorCode::BadInput);
    REQUIRE(s->beginResync("epoch-2").ok());
    requireInvariant(*s);
    CHECK(*s->receiptCount() == 0);
    CHECK_FALSE(s->lastReceipt()->has_value());
    auto cfg = *s->syncConfig();
    CHECK(cfg->epoch == "epoch-2");
    CHECK(cfg->pullCursor == 0);
    auto ob = s->outbox();
    REQUIRE(ob->size() == 5);
    std::set<std::string> queued, quarantined;
    for (const auto& i : *ob)
        (i.state == core::OutboxState::Queued ? queued : quarantined).insert(i.recordId);
    CHECK(queued == std::set<std::string>{urgent, ids[0], ids[2], ids[3]});
    CHECK(quarantined == std::set<std::string>{ids[1]});
    // The re-queued items keep their priority and their finalize order.
    auto next = s->nextOutgoing(10);
    REQUIRE(next->size() == 4);
    CHECK(next->at(0).recordId == urgent);
    CHECK(next->at(0).priority == 100);
    CHECK(next->at(1).recordId == ids[2]);
    CHECK(next->at(2).recordId == ids[3]);
    CHECK(next->at(3).recordId == ids[0]);
    CHECK(s->get(urgent)->meta.syncState == core::SyncState::Queued);
}

TEST_CASE("enrolling with another HQ re-queues what the first one acknowledged", "[storage][sync]") {
    TempDir t;
    auto s = makeStore(t);
    enroll(*s);
    std::string id = finalRecord(*s, "Patrol");
    auto batch = s->nextOutgoing(1);
    REQUIRE(s->applyPushOutcomes("b1", {outcome(batch->at(0), "stored", 9)}, "{}").ok());
    // The same HQ again (a new device id): HQ still holds the report.
    SyncConfig same = enrollConfig();
    same.deviceId = "dev-0002";
    REQUIRE(s->saveEnrollment(same, deviceKey(3)).ok());
    CHECK(*s->receiptCount() == 1);
    CHECK(*s->deviceSecretKey() == deviceKey(3));
    SyncConfig other = enrollConfig();
    other.hqId = "hq-b";
    REQUIRE(s->saveEnrollment(other, deviceKey(4)).ok());
    CHECK(*s->receiptCount() == 0);
    CHECK(s->get(id)->meta.syncState == core::SyncState::Queued);
    requireInvariant(*s);
}

TEST_CASE("a pulled page installs forms, replaces the reference data and upserts feedback, with its cursor",
          "[storage][sync]") {
    TempDir t;
    auto s = makeStore(t);
    std::string id = finalRecord(*s, "Patrol");
    CHECK(s->applyPull({}, 1).error().code == ErrorCode::NotFound);
    enroll(*s);

    json v2 = test::fixture("kitchen_sink.json");
    v2["version"] = 2;
    v2["fields"].push_back({{"name", "remark"}, {"type", "text"}, {"label", "Remark"}});
    json ref = core::ReferenceData::demo().doc();
    json unit = ref["units"][0];
    unit["id"] = "TEST-NEW-UNIT";
    ref["units"].push_back(unit);
    std::vector<PulledEntry> page = {
        {10, "form", v2},
        {11, "reference", ref},
        {12, "feedback", feedbackEntry(id, 1, "received", "")},
        {13, "feedback", feedbackEntry(id, 1, "returned", "MARKERCOMMENT7731: the count is wrong")},
        {14, "something-newer", json::object()},
    };
    auto r = s->applyPull(page, 14);
    INFO((r.ok() ? "" : r.error().message));
    REQUIRE(r.ok());
    CHECK((*s->syncConfig())->pullCursor == 14);
    CHECK(s->forms().latest("kitchen-sink")->version == 2);
    CHECK(s->reference().row("units", "TEST-NEW-UNIT") != nullptr);
    auto fb = s->feedback(id);
    REQUIRE(fb.ok());
    REQUIRE(fb->size() == 1);
    CHECK(fb->at(0).status == core::ReviewStatus::Returned);
    CHECK(fb->at(0).comment == "MARKERCOMMENT7731: the count is wrong");
    CHECK(fb->at(0).by == "hq.reviewer");
    CHECK(fb->at(0).atUtc == "2026-11-28T09:00:00Z");
    CHECK(fb->at(0).feedSeq == 13);
    CHECK(s->feedback("0190f3c4-7b2e-7a1c-9d3e-5f6a7b8c9d0e")->empty());
    // A draft on the new version, for the new unit.
    json p = sinkPayload("On v2");
    p["unit"] = "TEST-NEW-UNIT";
    p["remark"] = "more";
    auto d = s->createDraft("kitchen-sink", p);
    INFO((d.ok() ? "" : d.error().message));
    REQUIRE(d.ok());
    CHECK(d->meta.formVersion == 2);
    // The same page again (a retry) is harmless.
    REQUIRE(s->applyPull(page, 14).ok());
    CHECK(s->feedback()->size() == 1);
    // The comment is sealed.
    CHECK_FALSE(test::anyFileContains(t.path(), "MARKERCOMMENT7731"));
    // Everything is still there after a reopen.
    s = openStore(t.path());
    CHECK(s->forms().latest("kitchen-sink")->version == 2);
    CHECK(s->reference().row("units", "TEST-NEW-UNIT") != nullptr);
    CHECK(s->feedback(id)->at(0).comment == "MARKERCOMMENT7731: the count is wrong");
    CHECK((*s->syncConfig())->pullCursor == 14);
    requireInvariant(*s);
}

TEST_CASE("a bad entry fails the whole pulled page: nothing applied, cursor unchanged", "[storage][sync]") {
    TempDir t;
    auto s = makeStore(t);
    std::string id = finalRecord(*s, "Patrol");
    enroll(*s);
    REQUIRE(s->applyPull({{1, "feedback", feedbackEntry(id, 1, "received", "first")}}, 1).ok());
    const json before = syncSnapshot(*s);

    json v3 = test::fixture("kitchen_sink.json");
    v3["version"] = 3;
    json broken = v3;
    broken["fields"].push_back({{"name", "oops"}, {"type", "no-such-type"}, {"label", "Oops"}});
    json changedV1 = test::fixture("kitchen_sink.json");
    changedV1["title"] = "Another title under the same version";
    json refWithoutSectors = core::ReferenceData::demo().doc();
    refWithoutSectors.erase("sectors");  // the built-in incident form needs it
    json refWithoutMyUnit = core::ReferenceData::demo().doc();
    refWithoutMyUnit["units"].erase(0);
    json badRef = core::ReferenceData::demo().doc();
    badRef["units"] = "not a table";

    struct Case {
        const char* what;
        PulledEntry bad;
    };
    std::vector<Case> cases = {
        {"a broken form", {5, "form", broken}},
        {"a different definition under an existing version", {5, "form", changedV1}},
        {"a form that is not an object", {5, "form", json::array()}},
        {"reference data that is not an object", {5, "reference", json("x")}},
        {"malformed reference data", {5, "reference", badRef}},
        {"reference data without this laptop's unit", {5, "reference", refWithoutMyUnit}},
        {"reference data that breaks a stored form", {5, "reference", refWithoutSectors}},
        {"feedback with an unknown status", {5, "feedback", feedbackEntry(id, 1, "maybe", "")}},
        {"feedback without a revision", {5, "feedback", {{"record", id}, {"status", "accepted"}}}},
        {"feedback about something that is not a record id",
         {5, "feedback", feedbackEntry("x", 1, "accepted", "")}},
        {"feedback that is not an object", {5, "feedback", json(3)}},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        std::vector<PulledEntry> page = {{2, "form", v3},
                                         {3, "feedback", feedbackEntry(id, 1, "accepted", "second")},
                                         c.bad,
                                         {6, "feedback", feedbackEntry(id, 1, "returned", "third")}};
        auto r = s->applyPull(page, 6);
        REQUIRE_FALSE(r.ok());
        INFO(r.error().message);
        CHECK_THAT(r.error().message, Catch::Contains("nothing from this page was applied"));
        CHECK(json::diff(before, syncSnapshot(*s)).dump() == "[]");
        CHECK(s->forms().latest("kitchen-sink")->version == 1);
    }
    s = openStore(t.path());
    CHECK(json::diff(before, syncSnapshot(*s)).dump() == "[]");
    CHECK(s->feedback(id)->at(0).comment == "first");
}

TEST_CASE("verify wants every final revision in the outbox or acknowledged", "[storage][sync]") {
    TempDir t;
    auto s = makeStore(t);
    enroll(*s);
    std::string a = finalRecord(*s, "Acknowledged");
    std::string b = finalRecord(*s, "Lost");
    auto batch = s->nextOutgoing(1);
    REQUIRE(s->applyPushOutcomes("b1", {outcome(batch->at(0), "stored", 3)}, "{}").ok());
    CHECK(s->verify()->empty());
    rawExec(t.path(), "DELETE FROM outbox WHERE record_id = '" + b + "'");
    auto v = s->verify();
    REQUIRE(v.ok());
    REQUIRE(v->size() == 1);
    CHECK_THAT(v->at(0), Catch::Contains(b) && Catch::Contains("neither in the outbox nor acknowledged"));
    CHECK(s->get(b)->meta.syncState == core::SyncState::Unsent);
    CHECK(s->get(a)->meta.syncState == core::SyncState::Sent);
}

TEST_CASE("a schema-3 store migrates to the current schema on open: records stay queued and sync works",
          "[storage][sync][migration]") {
    TempDir t;
    std::vector<std::string> ids;
    {
        auto s = makeStore(t);
        ids.push_back(finalRecord(*s, "Before the update"));
        ids.push_back(finalRecord(*s, "Also before"));
        REQUIRE(s->amend(ids[1]).ok());
    }
    // As release 3 left the file.
    rawExec(t.path(),
            "ALTER TABLE outbox DROP COLUMN sig; DROP TABLE sealed_part; DROP TABLE account; DROP TABLE "
            "audit_log; DELETE FROM meta WHERE key = "
            "'audit_head'; "
            "DROP TABLE feedback; DROP TABLE receipt; DROP TABLE receipt_doc; PRAGMA user_version = 3;");
    CHECK(rawText(t.path(), "PRAGMA user_version") == "3");
    auto s = openStore(t.path());
    CHECK(s->info().schemaVersion == kSchemaVersion);
    CHECK(rawText(t.path(), "PRAGMA user_version") == std::to_string(kSchemaVersion));
    CHECK(s->get(ids[0])->meta.syncState == core::SyncState::Queued);
    CHECK(s->get(ids[1])->meta.syncState == core::SyncState::Draft);
    CHECK(*s->receiptCount() == 0);
    CHECK_FALSE(s->syncConfig()->has_value());
    requireInvariant(*s);
    enroll(*s);
    auto batch = s->nextOutgoing(10);
    REQUIRE(batch->size() == 2);
    REQUIRE(s->applyPushOutcomes(
                 "b1", {outcome(batch->at(0), "stored", 1), outcome(batch->at(1), "stored", 2)}, "{}")
                .ok());
    requireInvariant(*s);
    // A newer file is refused by name, not damaged.
    s.reset();
    rawExec(t.path(), "PRAGMA user_version = " + std::to_string(kSchemaVersion + 1) + ";");
    auto newer = Store::open(t.path(), syncKey());
    REQUIRE_FALSE(newer.ok());
    CHECK_THAT(newer.error().message, Catch::Contains("newer Outpost"));
}

// --- Disk full and I/O errors in the sync writes ----------------------------------------------------------
namespace {

constexpr int kMaxSteps = 300;

StoreOptions faultyOptions() {
    FaultyVfs::instance();
    return StoreOptions{.vfs = FaultyVfs::kName};
}

// A store with history: two revisions acknowledged, two queued, one quarantined, feedback pulled.
struct SyncFixture {
    TempDir dir;
    std::unique_ptr<Store> store;
    std::vector<std::string> ids;

    SyncFixture() {
        store = makeStore(dir);
        enroll(*store);
        for (int i = 0; i < 5; ++i) ids.push_back(finalRecord(*store, "Patrol " + std::to_string(i)));
        auto batch = store->nextOutgoing(3);
        REQUIRE(
            store
                ->applyPushOutcomes("b0",
                                    {outcome(batch->at(0), "stored", 1), outcome(batch->at(1), "stored", 2),
                                     outcome(batch->at(2), "rejected", 0, "unknown form")},
                                    "{}")
                .ok());
        REQUIRE(store->applyPull({{1, "feedback", feedbackEntry(ids[0], 1, "received", "ok")}}, 1).ok());
        reopen();
    }
    void reopen() {
        store.reset();
        store = openStore(dir.path(), faultyOptions());
    }
};

struct SyncOp {
    const char* name;
    std::function<Result<void>(SyncFixture&)> run;
    std::function<void(SyncFixture&)> done;  // the effect, checked once the call went through
};

std::vector<SyncOp> syncOps() {
    return {
        {"applyPushOutcomes",
         [](SyncFixture& f) {
             auto batch = f.store->nextOutgoing(2);
             if (!batch) return Result<void>(batch.error());
             return f.store->applyPushOutcomes(
                 "b1", {outcome(batch->at(0), "duplicate", 3), outcome(batch->at(1), "rejected", 0, "no")},
                 "{}");
         },
         [](SyncFixture& f) {
             CHECK(*f.store->receiptCount() == 3);
             CHECK(f.store->outboxCounts()->quarantined == 2);
         }},
        {"beginResync", [](SyncFixture& f) { return f.store->beginResync("epoch-2"); },
         [](SyncFixture& f) {
             CHECK(*f.store->receiptCount() == 0);
             CHECK(f.store->outbox()->size() == 5);
             CHECK((*f.store->syncConfig())->epoch == "epoch-2");
         }},
        {"applyPull",
         [](SyncFixture& f) {
             json v2 = test::fixture("kitchen_sink.json");
             v2["version"] = 2;
             return f.store->applyPull({{2, "form", v2},
                                        {3, "reference", core::ReferenceData::demo().doc()},
                                        {4, "feedback", feedbackEntry(f.ids[1], 1, "returned", "fix it")}},
                                       4);
         },
         [](SyncFixture& f) {
             CHECK(f.store->forms().latest("kitchen-sink")->version == 2);
             CHECK(f.store->feedback()->size() == 2);
             CHECK((*f.store->syncConfig())->pullCursor == 4);
         }},
        {"requeue",
         [](SyncFixture& f) {
             auto ob = f.store->outbox();
             if (!ob) return Result<void>(ob.error());
             return f.store->requeue(ob->back().seq);
         },
         [](SyncFixture& f) { CHECK(f.store->outboxCounts()->quarantined == 0); }},
    };
}

void walkSync(const SyncOp& op, FaultKind kind, bool persistent) {
    SyncFixture fx;
    const json before = syncSnapshot(*fx.store);
    requireInvariant(*fx.store);
    auto& vfs = FaultyVfs::instance();
    for (int n = 1; n <= kMaxSteps; ++n) {
        INFO(op.name << (kind == FaultKind::DiskFull ? ", disk full" : ", I/O error")
                     << (persistent ? " (persistent)" : " (once)") << ", failing operation " << n);
        vfs.arm(n, kind, persistent);
        auto r = op.run(fx);
        if (vfs.failures() == 0) {
            vfs.disarm();
            INFO((r.ok() ? "" : r.error().message));
            REQUIRE(r.ok());
            CHECK(n > 1);  // the call writes through the faulty disk: otherwise the walk proves nothing
            op.done(fx);
            requireInvariant(*fx.store);
            fx.reopen();
            op.done(fx);
            requireInvariant(*fx.store);
            return;
        }
        REQUIRE_FALSE(r.ok());
        INFO("error: " << r.error().message);
        CHECK((r.error().code == ErrorCode::DiskFull || r.error().code == ErrorCode::Io));
        const bool uncertain = r.error().message.find("may or may not") != std::string::npos;
        // As the program that got the error sees the store.
        CHECK(json::diff(before, syncSnapshot(*fx.store)).dump() == "[]");
        if (persistent) fx.store.reset();
        vfs.disarm();
        // As the next start sees it.
        fx.reopen();
        requireInvariant(*fx.store);
        json now = syncSnapshot(*fx.store);
        if (uncertain && json::diff(before, now).dump() != "[]") {
            op.done(fx);
            return;
        }
        CHECK(json::diff(before, now).dump() == "[]");
    }
    FAIL(op.name << " still reached the fault after " << kMaxSteps << " operations");
}

}  // namespace

TEST_CASE("disk full or I/O error in a sync write: an error, the store as it was, the invariant kept",
          "[storage][sync][fault]") {
    for (const auto& op : syncOps()) {
        walkSync(op, FaultKind::DiskFull, false);
        walkSync(op, FaultKind::IoError, true);
    }
}

TEST_CASE(
    "a revision finalized on an enrolled laptop is signed then, and one finalized before enrollment or "
    "after a new key is left for the sender to sign",
    "[storage][sync]") {
    TempDir t;
    auto s = makeStore(t);
    const std::string before = finalRecord(*s, "Before enrollment");
    std::vector<unsigned char> pk(crypto_sign_PUBLICKEYBYTES), sk(crypto_sign_SECRETKEYBYTES);
    crypto_sign_keypair(pk.data(), sk.data());
    REQUIRE(s->saveEnrollment(enrollConfig(), sk).ok());
    const std::string after = finalRecord(*s, "After enrollment");
    auto items = s->nextOutgoing(10);
    REQUIRE(items.ok());
    REQUIRE(items->size() == 2);
    for (const auto& it : *items) {
        INFO(it.recordId);
        if (it.recordId == before) {
            CHECK(it.signature.empty());
            continue;
        }
        REQUIRE(it.recordId == after);
        REQUIRE_FALSE(it.signature.empty());
        // The signature is over the canonical bytes the sender would build from this very item.
        core::RevisionHead h;
        h.id = it.recordId;
        h.revision = it.revision;
        h.parent = it.parent;
        h.formId = it.formId;
        h.formVersion = it.formVersion;
        h.unitId = it.unitId;
        h.author = it.author;
        h.createdUtc = it.createdUtc;
        h.createdOffset = it.createdOffset;
        h.finalizedUtc = it.finalizedUtc;
        h.sealedHash = it.sealedHash;
        const std::string message = core::revisionSigningString(core::canonicalRevision(h, it.payloadText));
        auto sig = fromBase64(it.signature);
        REQUIRE(sig);
        REQUIRE(sig->size() == crypto_sign_BYTES);
        CHECK(crypto_sign_verify_detached(sig->data(), reinterpret_cast<const unsigned char*>(message.data()),
                                          message.size(), pk.data()) == 0);
        // The signature is not on disk in the clear.
        CHECK(rawText(t.path(), "SELECT count(*) FROM outbox WHERE instr(sig, '" + it.signature + "') > 0") ==
              "0");
    }
    // A new device key: signatures made with the old one would not verify at HQ, so they are dropped.
    std::vector<unsigned char> pk2(crypto_sign_PUBLICKEYBYTES), sk2(crypto_sign_SECRETKEYBYTES);
    crypto_sign_keypair(pk2.data(), sk2.data());
    SyncConfig again = enrollConfig();
    again.deviceId = "dev-0002";
    REQUIRE(s->saveEnrollment(again, sk2).ok());
    auto afterNewKey = s->nextOutgoing(10);
    REQUIRE(afterNewKey.ok());
    for (const auto& it : *afterNewKey) CHECK(it.signature.empty());
    requireInvariant(*s);
}
