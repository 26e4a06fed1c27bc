// Every limit HQ's server enforces, in one place, each with the reason for its value. The protocol's
// own limits (body sizes, items per push, JSON depth, page size, requests per device) are in
// sync/protocol.hpp (sync::Limits), because the laptop obeys them too; docs/protocol.md lists both.
// Changing a value here changes HQ's behaviour under load: read docs/operations.md ("Limits") first.
//
// [SECTION] connections: counts and deadlines
// [SECTION] request memory budget
// [SECTION] enrollment throttle
#pragma once

#include <chrono>
#include <cstddef>

namespace outpost::hq::tuning {

// [SECTION] connections: counts and deadlines

// [SECTION] request memory budget

// [SECTION] enrollment throttle

}  // namespace outpost::hq::tuning
