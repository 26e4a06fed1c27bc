// The rules both HQ store backends share (defined in hq_store.cpp), so SQLite and PostgreSQL decide and
// word things alike. Private to storage/.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/hq/store.hpp"

namespace outpost::storage::hq {

namespace detail {
using Existing = std::optional<std::pair<std::string, std::int64_t>>;
std::string newEpochId();
std::string newDeviceId();
Failure badInput(std::string message);
Failure notFound(std::string message);
void checkText(std::string_view value, const char* what);
void checkIngest(const std::string& deviceId, const std::string& batchId, const std::string& requestHash,
                 const std::vector<IncomingItem>& items, const std::string& nowUtc);
std::vector<ItemOutcome> planIngest(const std::vector<IncomingItem>& items,
                                    const std::function<Existing(const IncomingItem&)>& lookup,
                                    std::int64_t nextSeq, std::vector<std::size_t>& toStore,
                                    std::vector<std::pair<std::size_t, std::string>>& toConflict);
std::string resultsToText(const std::vector<ItemOutcome>& results);
std::vector<ItemOutcome> resultsFromText(const std::string& text);
[[noreturn]] void throwBatchReused(const std::string& batchId);
[[noreturn]] void throwUnknownDevice(const std::string& deviceId);
void checkRedeemable(bool found, bool used, const std::string& expiresUtc, const std::string& nowUtc);
void checkEnrollment(const std::string& secretHash, const std::string& unitId, const std::string& expiresUtc);
Failure enrollmentExists();
void checkReview(const std::string& recordId, core::ReviewStatus status, const std::string& comment,
                 const std::string& by, const std::string& nowUtc);
[[noreturn]] void throwUnknownReport(const std::string& recordId, int revision);
// The unit whose report recordId names: unitId when given, else the one unit in units (those holding
// recordId), "" when none does; Conflict (naming them) when several do.
std::string unitOfRecord(const std::string& recordId, const std::string& unitId,
                         const std::vector<std::string>& units);
json feedbackBody(const std::string& recordId, int revision, const std::string& status,
                  const std::string& comment, const std::string& by, const std::string& nowUtc);
void checkFeedEntry(const std::string& unitId, const std::string& kind, const std::string& nowUtc);
std::string jsonText(const json& j, const char* what);
json parseStored(const std::string& text, const char* what);
void checkForm(const std::string& formId, int version, const json& definition);
// The "version" of a conduct key list (BadInput when it has none, or no "keys" and "sig").
std::int64_t conductKeysVersion(const json& doc);
[[noreturn]] void throwConductKeysChanged(std::int64_t stored, std::int64_t offered);
bool formAlreadyStored(const std::optional<std::string>& existing, const std::string& formId, int version,
                       const std::string& definitionText);
std::optional<std::string> hashProblem(const char* what, std::int64_t id, const std::string& hash,
                                       const std::string& canonical);
// The audit log (hq_audit.cpp).
std::string auditCanonical(const AuditEntry& e);
std::string auditHash(const std::string& prevHash, const AuditEntry& e);
// The entry that follows head, hashed and signed with secretKey (unsigned when it is empty).
AuditEntry makeAuditEntry(const AuditHead& head, const std::string& actor, const std::string& action,
                          const std::string& subject, const json& detail, const std::string& nowUtc,
                          const std::vector<unsigned char>& secretKey);
AuditHead headAfter(const AuditEntry& e, const std::vector<unsigned char>& secretKey);
std::string auditHeadText(const AuditHead& h);
AuditHead auditHeadFrom(const std::optional<std::string>& text);  // empty head when nullopt
}  // namespace detail

}  // namespace outpost::storage::hq
