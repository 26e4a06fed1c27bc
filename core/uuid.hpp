// Record and revision ids: RFC 9562 UUIDv7 generation and canonical-form checks.
#pragma once

#include <string>
#include <string_view>

namespace outpost::core {

// A new UUIDv7 in lowercase canonical text ("0190f3c4-7b2e-7a1c-9d3e-5f6a7b8c9d0e"): 48-bit Unix
// time in milliseconds, version 7, variant 0b10, the remaining 74 bits from getrandom(2).
//
// Ids from one process sort (as text and as bytes) in creation order: when the clock has not
// advanced (or went backwards) since the previous id, the previous id's random bits are increased
// by a random step instead of drawing new ones, so offline laptops still produce ordered ids.
// Ids from different processes or machines are unique but only roughly time-ordered.
//
// Thread-safe. Throws Failure (Internal) when the kernel cannot supply random bytes.
std::string newUuidV7();

// True when `text` is a UUID in canonical form: 36 characters, 8-4-4-4-12 lowercase hex digits
// separated by '-'. Any version and variant is accepted. Uppercase hex is refused on purpose:
// ids are compared as text throughout Outpost, so one UUID must have exactly one spelling.
bool isUuid(std::string_view text);

}  // namespace outpost::core
