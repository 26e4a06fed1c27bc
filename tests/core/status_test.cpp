// The states in core/status.hpp: every value round-trips through its word, and other text is refused.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/status.hpp"

using namespace outpost;
using namespace outpost::core;

namespace {

// Each value's word is the one given, reads back as the value, and no two values share a word.
template <typename E>
void checkRoundTrip(const std::vector<std::pair<E, std::string>>& expected) {
    std::set<std::string> words;
    for (const auto& [value, word] : expected) {
        CAPTURE(word);
        CHECK(toText(value) == word);
        CHECK(isKnown(value));
        auto back = fromText<E>(word);
        REQUIRE(back.has_value());
        CHECK(*back == value);
        CHECK(parseText<E>(word).value() == value);
        CHECK(requireText<E>(word, ErrorDomain::Storage, ErrorCode::Corrupt) == value);
        CHECK(nlohmann::json(value) == word);
        words.insert(word);
    }
    CHECK(words.size() == expected.size());
}

// Unknown text, including the empty string, other cases and padding, is refused with its words named.
template <typename E>
void checkRefused(const std::string& aWord) {
    const std::vector<std::string> bad = {"", "unknown", " " + aWord, aWord + " ", "X" + aWord};
    for (const auto& text : bad) {
        CAPTURE(text);
        CHECK_FALSE(fromText<E>(text).has_value());
        auto r = parseText<E>(text);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().domain == ErrorDomain::Input);
        CHECK(r.error().code == ErrorCode::BadInput);
        CHECK(r.error().message == std::string("unknown ") + kindOf<E>() + " \"" + text + "\"");
    }
    std::string upper = aWord;
    for (auto& c : upper) c = static_cast<char>(c - 'a' + 'A');
    CHECK_FALSE(fromText<E>(upper).has_value());
    try {
        (void)requireText<E>("bogus", ErrorDomain::Storage, ErrorCode::Corrupt);
        FAIL("requireText accepted an unknown word");
    } catch (const Failure& f) {
        CHECK(f.error().domain == ErrorDomain::Storage);
        CHECK(f.error().code == ErrorCode::Corrupt);
        CHECK(f.error().message == std::string("unknown ") + kindOf<E>() + " \"bogus\"");
    }
    CHECK_FALSE(isKnown(static_cast<E>(99)));
    CHECK(toText(static_cast<E>(99)).empty());
}

}  // namespace

TEST_CASE("record status: draft and final", "[core]") {
    checkRoundTrip<RecordStatus>({{RecordStatus::Draft, "draft"}, {RecordStatus::Final, "final"}});
    checkRefused<RecordStatus>("draft");
    CHECK_FALSE(fromText<RecordStatus>("sent").has_value());
}

TEST_CASE("sync state: draft, queued, quarantined, sent, unsent", "[core]") {
    checkRoundTrip<SyncState>({{SyncState::Draft, "draft"},
                               {SyncState::Queued, "queued"},
                               {SyncState::Quarantined, "quarantined"},
                               {SyncState::Sent, "sent"},
                               {SyncState::Unsent, "unsent"}});
    checkRefused<SyncState>("queued");
    CHECK_FALSE(fromText<SyncState>("held").has_value());
}

TEST_CASE("outbox state: queued, held, quarantined", "[core]") {
    checkRoundTrip<OutboxState>({{OutboxState::Queued, "queued"},
                                 {OutboxState::Held, "held"},
                                 {OutboxState::Quarantined, "quarantined"}});
    checkRefused<OutboxState>("held");
    CHECK_FALSE(fromText<OutboxState>("sent").has_value());
}

TEST_CASE("item status: stored, duplicate, conflict, rejected", "[core]") {
    checkRoundTrip<ItemStatus>({{ItemStatus::Stored, "stored"},
                                {ItemStatus::Duplicate, "duplicate"},
                                {ItemStatus::Conflict, "conflict"},
                                {ItemStatus::Rejected, "rejected"}});
    checkRefused<ItemStatus>("stored");
    CHECK_FALSE(fromText<ItemStatus>("kept").has_value());
}

TEST_CASE("review status: received, accepted, returned", "[core]") {
    checkRoundTrip<ReviewStatus>({{ReviewStatus::Received, "received"},
                                  {ReviewStatus::Accepted, "accepted"},
                                  {ReviewStatus::Returned, "returned"}});
    checkRefused<ReviewStatus>("returned");
    CHECK_FALSE(fromText<ReviewStatus>("lost").has_value());
}

TEST_CASE("sync phase: connecting, pushing, pulling, done, failed, offline", "[core]") {
    checkRoundTrip<SyncPhase>({{SyncPhase::Connecting, "connecting"},
                               {SyncPhase::Pushing, "pushing"},
                               {SyncPhase::Pulling, "pulling"},
                               {SyncPhase::Done, "done"},
                               {SyncPhase::Failed, "failed"},
                               {SyncPhase::Offline, "offline"}});
    checkRefused<SyncPhase>("pulling");
}

TEST_CASE("an unknown word's error names it, cut short when long", "[core]") {
    auto r = parseText<ReviewStatus>(std::string(100, 'x'));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "unknown review status \"" + std::string(64, 'x') + "...\"");
}
