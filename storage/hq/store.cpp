// HQ's store: the choice of backend and the rules both backends share, so SQLite and PostgreSQL
// decide alike (input checks, the stored / duplicate / conflict decision, batch results as recorded,
// enrollment and review rules, hashes, the messages a person reads).
#include "storage/hq/store.hpp"
#include "storage/hq/store_detail.hpp"

#include <sodium.h>

#include <functional>
#include <map>
#include <string_view>
#include <tuple>
#include <utility>

#include "core/utf8.hpp"
#include "core/uuid.hpp"
#include "storage/crypto.hpp"

namespace outpost::storage::hq {

// The shared rules, declared again (and only used) in hq_store_sqlite.cpp and hq_store_postgres.cpp.
namespace detail {

using Existing = std::optional<std::pair<std::string, std::int64_t>>;  // stored hash and hqSeq

std::string newEpochId() {
    return core::newUuidV7();
}

std::string newDeviceId() {
    return core::newUuidV7();
}

Failure badInput(std::string message) {
    return Failure(ErrorDomain::Input, ErrorCode::BadInput, std::move(message));
}

Failure notFound(std::string message) {
    return Failure(ErrorDomain::NotFound, ErrorCode::NotFound, std::move(message));
}

Failure conflict(std::string message) {
    return Failure(ErrorDomain::State, ErrorCode::Conflict, std::move(message));
}

// Text HQ stores must be valid UTF-8 without NUL (PostgreSQL text cannot hold NUL; SQLite refuses
// the same, so both backends answer alike).
void checkText(std::string_view value, const char* what) {
    if (value.find('\0') != std::string_view::npos)
        throw badInput(std::string(what) + " contains a NUL character");
    if (!core::isValidUtf8(value)) throw badInput(std::string(what) + " is not valid UTF-8");
}

void checkIngest(const std::string& deviceId, const std::string& batchId, const std::string& requestHash,
                 const std::vector<IncomingItem>& items, const std::string& nowUtc) {
    checkText(deviceId, "the device id");
    checkText(batchId, "the batch id");
    checkText(requestHash, "the request hash");
    checkText(nowUtc, "the time");
    if (batchId.empty()) throw badInput("a push batch needs a batch id");
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto& it = items[i];
        std::string where = "item " + std::to_string(i + 1) + ": ";
        if (it.rejectReason) {
            checkText(*it.rejectReason, "a reject reason");
            continue;
        }
        for (auto [value, what] : {std::pair<const std::string&, const char*>{it.recordId, "the record id"},
                                   {it.formId, "the form id"},
                                   {it.unitId, "the unit"},
                                   {it.author, "the author"},
                                   {it.createdUtc, "the creation time"},
                                   {it.finalizedUtc, "the finalization time"},
                                   {it.hash, "the hash"},
                                   {it.canonical, "the canonical bytes"}})
            checkText(value, (where + what).c_str());
        if (it.recordId.empty()) throw badInput(where + "the record id is empty");
        if (it.revision < 1) throw badInput(where + "the revision must be 1 or more");
        if (it.hash.empty() || it.canonical.empty())
            throw badInput(where + "the hash and canonical bytes are needed");
    }
}

// Decides every item's outcome in order. lookup(item) gives what HQ already holds for the item's
// (unitId, recordId, revision) before this batch. Items stored earlier in the same batch count as held.
// toStore gets the indices of the items to insert (their hqSeq is in the outcome, from nextSeq on);
// toConflict the indices of items whose other bytes join the conflict list, with the kept hash
// (once per distinct hash within the batch; the backend ignores a hash already on the list).
std::vector<ItemOutcome> planIngest(const std::vector<IncomingItem>& items,
                                    const std::function<Existing(const IncomingItem&)>& lookup,
                                    std::int64_t nextSeq, std::vector<std::size_t>& toStore,
                                    std::vector<std::pair<std::size_t, std::string>>& toConflict) {
    std::vector<ItemOutcome> out(items.size());
    std::map<std::tuple<std::string, std::string, int>, std::pair<std::string, std::int64_t>> held;
    std::map<std::tuple<std::string, int, std::string>, bool> conflictSeen;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto& it = items[i];
        auto& o = out[i];
        if (it.rejectReason) {
            o.status = core::ItemStatus::Rejected;
            o.reason = *it.rejectReason;
            continue;
        }
        auto key = std::make_tuple(it.unitId, it.recordId, it.revision);
        auto h = held.find(key);
        if (h == held.end()) {
            if (auto e = lookup(it)) h = held.emplace(key, *e).first;
        }
        if (h == held.end()) {
            o.status = core::ItemStatus::Stored;
            o.hqSeq = nextSeq++;
            held.emplace(key, std::make_pair(it.hash, o.hqSeq));
            toStore.push_back(i);
        } else if (h->second.first == it.hash) {
            o.status = core::ItemStatus::Duplicate;
            o.hqSeq = h->second.second;
        } else {
            o.status = core::ItemStatus::Conflict;
            o.hqSeq = h->second.second;
            o.reason = "HQ holds other content for " + it.recordId + " revision " +
                       std::to_string(it.revision) + " (hash " + h->second.first +
                       "); these bytes are kept for HQ staff to see";
            if (conflictSeen.emplace(std::make_tuple(it.recordId, it.revision, it.hash), true).second)
                toConflict.emplace_back(i, h->second.first);
        }
    }
    return out;
}

// Batch results as recorded, in the protocol's member names.
std::string resultsToText(const std::vector<ItemOutcome>& results) {
    json a = json::array();
    for (const auto& r : results) {
        json o = {{"s", core::toText(r.status)}};
        if (r.status != core::ItemStatus::Rejected) o["q"] = r.hqSeq;
        if (!r.reason.empty()) o["r"] = r.reason;
        a.push_back(std::move(o));
    }
    return a.dump();
}

std::vector<ItemOutcome> resultsFromText(const std::string& text) {
    json a = json::parse(text, nullptr, false);
    if (!a.is_array())
        throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                      "a recorded push batch has unreadable results");
    std::vector<ItemOutcome> out;
    out.reserve(a.size());
    for (const auto& o : a) {
        ItemOutcome r;
        r.status =
            core::requireText<core::ItemStatus>(o.value("s", ""), ErrorDomain::Storage, ErrorCode::Corrupt);
        r.hqSeq = o.value("q", std::int64_t{0});
        r.reason = o.value("r", "");
        out.push_back(std::move(r));
    }
    return out;
}

[[noreturn]] void throwBatchReused(const std::string& batchId) {
    throw conflict("push batch " + batchId + " was used before with other content; nothing was stored");
}

[[noreturn]] void throwUnknownDevice(const std::string& deviceId) {
    throw notFound("no device " + deviceId + " is enrolled at HQ");
}

// Why an enrollment code cannot be redeemed, or nothing when it can.
void checkRedeemable(bool found, bool used, const std::string& expiresUtc, const std::string& nowUtc) {
    if (!found) throw notFound("this enrollment code is not known at HQ");
    // Auth, so the caller can tell it from an expired code (State) by domain as well as by code.
    if (used)
        throw Failure(ErrorDomain::Auth, ErrorCode::Conflict,
                      "this enrollment code was used already; ask HQ for a new one");
    if (nowUtc >= expiresUtc)
        throw Failure(ErrorDomain::State, ErrorCode::Invalid,
                      "this enrollment code expired at " + expiresUtc + "; ask HQ for a new one");
}

void checkEnrollment(const std::string& secretHash, const std::string& unitId,
                     const std::string& expiresUtc) {
    checkText(secretHash, "the enrollment secret hash");
    checkText(unitId, "the unit");
    checkText(expiresUtc, "the expiry");
    if (secretHash.empty() || unitId.empty() || expiresUtc.empty())
        throw badInput("an enrollment needs a secret hash, a unit and an expiry");
}

Failure enrollmentExists() {
    return conflict("this enrollment secret is already stored");
}

void checkReview(const std::string& recordId, core::ReviewStatus status, const std::string& comment,
                 const std::string& by, const std::string& nowUtc) {
    checkText(recordId, "the record id");
    checkText(comment, "the comment");
    checkText(by, "the reviewer");
    checkText(nowUtc, "the time");
    if (!core::isKnown(status))
        throw badInput("review status " + std::to_string(static_cast<int>(status)) +
                       " is not one of received, accepted, returned");
}

[[noreturn]] void throwUnknownReport(const std::string& recordId, int revision) {
    throw notFound("HQ holds no report " + recordId + " revision " + std::to_string(revision));
}

std::string unitOfRecord(const std::string& recordId, const std::string& unitId,
                         const std::vector<std::string>& units) {
    if (!unitId.empty()) return unitId;
    if (units.size() > 1) {
        std::string names;
        for (const auto& u : units) names += (names.empty() ? "" : ", ") + u;
        throw Failure(ErrorDomain::Input, ErrorCode::Conflict,
                      "record " + recordId + " is held by several units (" + names + "); name the unit");
    }
    return units.empty() ? std::string() : units.front();
}

json feedbackBody(const std::string& recordId, int revision, const std::string& status,
                  const std::string& comment, const std::string& by, const std::string& nowUtc) {
    return json{{"record", recordId}, {"rev", revision}, {"status", status},
                {"comment", comment}, {"by", by},        {"at", nowUtc}};
}

void checkFeedEntry(const std::string& unitId, const std::string& kind, const std::string& nowUtc) {
    checkText(unitId, "the unit");
    checkText(kind, "the feed entry kind");
    checkText(nowUtc, "the time");
    if (kind.empty()) throw badInput("a feed entry needs a kind");
}

// JSON text for storage. Throws BadInput for strings that are not valid UTF-8.
std::string jsonText(const json& j, const char* what) {
    std::string s;
    try {
        s = j.dump();
    } catch (const json::exception&) {
        throw badInput(std::string(what) + " holds text that is not valid UTF-8");
    }
    checkText(s, what);
    return s;
}

json parseStored(const std::string& text, const char* what) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded())
        throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt,
                      std::string("a stored ") + what + " is unreadable");
    return j;
}

void checkForm(const std::string& formId, int version, const json& definition) {
    checkText(formId, "the form id");
    if (formId.empty() || version < 1) throw badInput("a form needs an id and a version of 1 or more");
    if (!definition.is_object()) throw badInput("a form definition must be a JSON object");
}

std::int64_t conductKeysVersion(const json& doc) {
    if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array() || !doc.contains("sig"))
        throw badInput("a conduct key list needs \"keys\" and HQ's signature \"sig\"");
    auto v = doc.find("version");
    if (v == doc.end() || !v->is_number_integer() || v->get<std::int64_t>() < 1)
        throw badInput("a conduct key list needs a \"version\" of 1 or more");
    return v->get<std::int64_t>();
}

void throwConductKeysChanged(std::int64_t stored, std::int64_t offered) {
    throw conflict("the conduct key list changed meanwhile (HQ holds version " + std::to_string(stored) +
                   ", this change would be version " + std::to_string(offered) + "); run the command again");
}

// A form version, once published, never changes: putting it again is a no-op when identical and a
// conflict otherwise. existing: the stored definition's text, when there is one. True: nothing to do.
bool formAlreadyStored(const std::optional<std::string>& existing, const std::string& formId, int version,
                       const std::string& definitionText) {
    if (!existing) return false;
    if (*existing == definitionText) return true;
    throw conflict("form " + formId + " version " + std::to_string(version) +
                   " is already published with another definition; publish a new version instead");
}

std::optional<std::string> hashProblem(const char* what, std::int64_t id, const std::string& hash,
                                       const std::string& canonical) {
    if (blake2b256Hex(canonical) == hash) return std::nullopt;
    return std::string(what) + " " + std::to_string(id) +
           ": the stored hash does not match its canonical bytes";
}

}  // namespace detail

namespace {
bool startsWith(const std::string& s, const char* prefix) {
    return s.rfind(prefix, 0) == 0;
}
}  // namespace

Result<std::unique_ptr<HqStore>> openHqStore(const std::string& location, const SessionLimits& limits) {
    if (startsWith(location, "postgresql://") || startsWith(location, "postgres://"))
        return openPostgresHqStore(location, limits);
    if (location.empty())
        return Error{ErrorDomain::Input, ErrorCode::BadInput,
                     "HQ's store needs a folder or a postgresql:// address"};
    return openSqliteHqStore(location);
}

}  // namespace outpost::storage::hq
