// The JSON nesting scan (see json_depth.hpp).
#include "core/json_depth.hpp"

namespace outpost::core {

bool nestedDeeperThan(std::string_view text, std::size_t maxDepth) {
    JsonDepthScanner scan;
    for (char c : text)
        if (scan.step(c) > maxDepth) return true;
    return false;
}

}  // namespace outpost::core
