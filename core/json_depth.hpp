// How deeply JSON text nests, found by a linear scan, so deep input is refused before a recursive
// parser (nlohmann::json) can exhaust the stack on it.
#pragma once

#include <cstddef>
#include <string_view>

namespace outpost::core {

// Walks JSON text one character at a time, counting open objects and arrays; brackets inside
// strings (escapes included) do not count, and a closing bracket with nothing open is ignored.
// It does not validate: malformed text only gives a meaningless depth. Pure; one per scan.
class JsonDepthScanner {
public:
    // Takes the next character and returns the depth after it.
    std::size_t step(char c) {
        if (m_inString) {
            if (m_escaped)
                m_escaped = false;
            else if (c == '\\')
                m_escaped = true;
            else if (c == '"')
                m_inString = false;
        } else if (c == '"') {
            m_inString = true;
        } else if (c == '{' || c == '[') {
            ++m_depth;
        } else if ((c == '}' || c == ']') && m_depth > 0) {
            --m_depth;
        }
        return m_depth;
    }

private:
    std::size_t m_depth = 0;
    bool m_inString = false;
    bool m_escaped = false;
};

// True when the JSON text nests objects and arrays deeper than maxDepth (strings skipped). Pure.
bool nestedDeeperThan(std::string_view text, std::size_t maxDepth);

}  // namespace outpost::core
