// The words for each state in core/status.hpp, one table per enum.
#include "core/status.hpp"

#include <array>
#include <nlohmann/json.hpp>
#include <utility>

namespace outpost::core {

namespace {

template <typename E, std::size_t N>
using Table = std::array<std::pair<E, std::string_view>, N>;

constexpr Table<RecordStatus, 2> kRecordStatus{
    {{RecordStatus::Draft, "draft"}, {RecordStatus::Final, "final"}}};
constexpr Table<SyncState, 5> kSyncState{{{SyncState::Draft, "draft"},
                                          {SyncState::Queued, "queued"},
                                          {SyncState::Quarantined, "quarantined"},
                                          {SyncState::Sent, "sent"},
                                          {SyncState::Unsent, "unsent"}}};
constexpr Table<OutboxState, 3> kOutboxState{{{OutboxState::Queued, "queued"},
                                              {OutboxState::Held, "held"},
                                              {OutboxState::Quarantined, "quarantined"}}};
constexpr Table<ItemStatus, 4> kItemStatus{{{ItemStatus::Stored, "stored"},
                                            {ItemStatus::Duplicate, "duplicate"},
                                            {ItemStatus::Conflict, "conflict"},
                                            {ItemStatus::Rejected, "rejected"}}};
constexpr Table<ReviewStatus, 3> kReviewStatus{{{ReviewStatus::Received, "received"},
                                                {ReviewStatus::Accepted, "accepted"},
                                                {ReviewStatus::Returned, "returned"}}};
constexpr Table<SyncPhase, 6> kSyncPhase{{{SyncPhase::Connecting, "connecting"},
                                          {SyncPhase::Pushing, "pushing"},
                                          {SyncPhase::Pulling, "pulling"},
                                          {SyncPhase::Done, "done"},
                                          {SyncPhase::Failed, "failed"},
                                          {SyncPhase::Offline, "offline"}}};

template <typename E, std::size_t N>
std::string_view textIn(const Table<E, N>& table, E v) {
    for (const auto& [value, text] : table)
        if (value == v) return text;
    return {};  // a value outside the enum (a programmer error)
}

template <typename E, std::size_t N>
std::optional<E> valueIn(const Table<E, N>& table, std::string_view text) {
    for (const auto& [value, word] : table)
        if (word == text) return value;
    return std::nullopt;
}

}  // namespace

std::string_view toText(RecordStatus v) {
    return textIn(kRecordStatus, v);
}
std::string_view toText(SyncState v) {
    return textIn(kSyncState, v);
}
std::string_view toText(OutboxState v) {
    return textIn(kOutboxState, v);
}
std::string_view toText(ItemStatus v) {
    return textIn(kItemStatus, v);
}
std::string_view toText(ReviewStatus v) {
    return textIn(kReviewStatus, v);
}
std::string_view toText(SyncPhase v) {
    return textIn(kSyncPhase, v);
}

void to_json(nlohmann::json& j, RecordStatus v) {
    j = std::string(toText(v));
}
void to_json(nlohmann::json& j, SyncState v) {
    j = std::string(toText(v));
}
void to_json(nlohmann::json& j, OutboxState v) {
    j = std::string(toText(v));
}
void to_json(nlohmann::json& j, ItemStatus v) {
    j = std::string(toText(v));
}
void to_json(nlohmann::json& j, ReviewStatus v) {
    j = std::string(toText(v));
}
void to_json(nlohmann::json& j, SyncPhase v) {
    j = std::string(toText(v));
}

template <>
std::optional<RecordStatus> fromText<RecordStatus>(std::string_view text) {
    return valueIn(kRecordStatus, text);
}
template <>
std::optional<SyncState> fromText<SyncState>(std::string_view text) {
    return valueIn(kSyncState, text);
}
template <>
std::optional<OutboxState> fromText<OutboxState>(std::string_view text) {
    return valueIn(kOutboxState, text);
}
template <>
std::optional<ItemStatus> fromText<ItemStatus>(std::string_view text) {
    return valueIn(kItemStatus, text);
}
template <>
std::optional<ReviewStatus> fromText<ReviewStatus>(std::string_view text) {
    return valueIn(kReviewStatus, text);
}
template <>
std::optional<SyncPhase> fromText<SyncPhase>(std::string_view text) {
    return valueIn(kSyncPhase, text);
}

template <>
const char* kindOf<RecordStatus>() {
    return "record status";
}
template <>
const char* kindOf<SyncState>() {
    return "sync state";
}
template <>
const char* kindOf<OutboxState>() {
    return "outbox state";
}
template <>
const char* kindOf<ItemStatus>() {
    return "item status";
}
template <>
const char* kindOf<ReviewStatus>() {
    return "review status";
}
template <>
const char* kindOf<SyncPhase>() {
    return "sync phase";
}

Error unknownText(const char* kind, std::string_view text, ErrorDomain domain, ErrorCode code) {
    std::string shown(text.substr(0, 64));
    if (text.size() > 64) shown += "...";
    return Error{domain, code, std::string("unknown ") + kind + " \"" + shown + "\""};
}

}  // namespace outpost::core
