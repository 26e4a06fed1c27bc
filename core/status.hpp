// The states a report passes through, as enums: what the layers hand each other. Text only where SQL or
// JSON is written or read (storage/, sync/'s protocol, HQ's answers, --json output), with these words.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/error.hpp"

namespace outpost::core {

// A record revision on the laptop: "draft" (editable) or "final" (signed, queued for HQ).
enum class RecordStatus { Draft, Final };

// Where a revision stands with HQ, as the laptop sees it: "draft" (not final), "queued" (in the outbox),
// "quarantined" (HQ rejected it; it waits for a person), "sent" (HQ's receipt held), "unsent" (final but
// neither queued nor receipted: verify reports it, a sound store never has one).
enum class SyncState { Draft, Queued, Quarantined, Sent, Unsent };

// An outbox entry: "queued", "held" (queued, but waiting for HQ's conduct keys to seal its confidential
// section) or "quarantined".
enum class OutboxState { Queued, Held, Quarantined };

// HQ's answer for one pushed item: "stored", "duplicate", "conflict", "rejected".
enum class ItemStatus { Stored, Duplicate, Conflict, Rejected };

// HQ's review of a report: "received", "accepted", "returned".
enum class ReviewStatus { Received, Accepted, Returned };

// How far a sync pass has come: "connecting", "pushing", "pulling", "done", "failed", "offline".
enum class SyncPhase { Connecting, Pushing, Pulling, Done, Failed, Offline };

// The word for each value: the same text the database and the wire have always held. Empty only for a
// value outside the enum (a cast gone wrong), which isKnown() refuses.
std::string_view toText(RecordStatus v);
std::string_view toText(SyncState v);
std::string_view toText(OutboxState v);
std::string_view toText(ItemStatus v);
std::string_view toText(ReviewStatus v);
std::string_view toText(SyncPhase v);

template <typename E>
bool isKnown(E v) {
    return !toText(v).empty();
}

// A value as JSON is its word (never the enum's number): what nlohmann::json calls when one is put in a
// JSON document. There is deliberately no from_json: a word read from JSON goes through requireText(),
// so an unknown one is an error naming it.
void to_json(nlohmann::json& j, RecordStatus v);
void to_json(nlohmann::json& j, SyncState v);
void to_json(nlohmann::json& j, OutboxState v);
void to_json(nlohmann::json& j, ItemStatus v);
void to_json(nlohmann::json& j, ReviewStatus v);
void to_json(nlohmann::json& j, SyncPhase v);

// The value a word names; nullopt for any other text (exact match, lower case).
template <typename E>
std::optional<E> fromText(std::string_view text);
template <>
std::optional<RecordStatus> fromText<RecordStatus>(std::string_view text);
template <>
std::optional<SyncState> fromText<SyncState>(std::string_view text);
template <>
std::optional<OutboxState> fromText<OutboxState>(std::string_view text);
template <>
std::optional<ItemStatus> fromText<ItemStatus>(std::string_view text);
template <>
std::optional<ReviewStatus> fromText<ReviewStatus>(std::string_view text);
template <>
std::optional<SyncPhase> fromText<SyncPhase>(std::string_view text);

// What kind of value E is, in words ("record status", "sync state", ...), for error messages.
template <typename E>
const char* kindOf();
template <>
const char* kindOf<RecordStatus>();
template <>
const char* kindOf<SyncState>();
template <>
const char* kindOf<OutboxState>();
template <>
const char* kindOf<ItemStatus>();
template <>
const char* kindOf<ReviewStatus>();
template <>
const char* kindOf<SyncPhase>();

// The error for a text that names no value: `unknown <kind> "<text>"`, in the given domain and code.
Error unknownText(const char* kind, std::string_view text, ErrorDomain domain, ErrorCode code);

// The value a word names, or an Error{Input, BadInput} naming the text.
template <typename E>
Result<E> parseText(std::string_view text) {
    if (auto v = fromText<E>(text)) return *v;
    return unknownText(kindOf<E>(), text, ErrorDomain::Input, ErrorCode::BadInput);
}

// The value a word read from a database or the network names; otherwise throws Failure(domain, code)
// naming the text (never a silent default).
template <typename E>
E requireText(std::string_view text, ErrorDomain domain, ErrorCode code) {
    if (auto v = fromText<E>(text)) return *v;
    throw Failure(unknownText(kindOf<E>(), text, domain, code));
}

}  // namespace outpost::core
