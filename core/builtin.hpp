// The built-in form definitions and the demo reference data, compiled into every binary.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace outpost::core {

// The JSON text of each built-in form definition (core/forms/*.json), sorted by file name.
const std::vector<std::string_view>& builtinFormSources();

// The JSON text of the demo reference data (core/reference/demo.json).
std::string_view demoReferenceSource();

}  // namespace outpost::core
