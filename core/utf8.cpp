// UTF-8 decoding, validation, and the accent/case folding and tokenising used by search.
#include "core/utf8.hpp"

#include <unordered_set>

namespace outpost::core {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

struct Decoded {
    char32_t cp = 0;
    std::size_t length = 1;  // bytes consumed; 1 for an invalid byte, so decoding always advances
    bool valid = false;
};

bool isContinuation(unsigned char b) {
    return (b & 0xC0) == 0x80;
}

// One code point at text[pos]. The tables of RFC 3629 section 4 are expressed through the
// allowed range of the second byte, which is what rules out overlongs, surrogates and > U+10FFFF.
Decoded decodeAt(std::string_view text, std::size_t pos) {
    const auto b0 = static_cast<unsigned char>(text[pos]);
    if (b0 < 0x80) return {b0, 1, true};
    std::size_t length = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    char32_t cp = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        length = 2;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        length = 3;
        cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;  // below: overlong
        if (b0 == 0xED) hi = 0x9F;  // above: surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        length = 4;
        cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;  // below: overlong
        if (b0 == 0xF4) hi = 0x8F;  // above: beyond U+10FFFF
    } else {
        return {};  // a stray continuation byte, C0/C1 (always overlong) or F5..FF
    }
    if (pos + length > text.size()) return {};
    const auto b1 = static_cast<unsigned char>(text[pos + 1]);
    if (b1 < lo || b1 > hi) return {};
    cp = (cp << 6) | (b1 & 0x3F);
    for (std::size_t i = 2; i < length; ++i) {
        const auto b = static_cast<unsigned char>(text[pos + i]);
        if (!isContinuation(b)) return {};
        cp = (cp << 6) | (b & 0x3F);
    }
    return {cp, length, true};
}

void appendUtf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

// Folded spelling of U+00C0..U+00FF; nullptr where the code point is not a letter (× and ÷).
constexpr const char* kLatin1Fold[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c",     "e", "e", "e", "e", "i", "i", "i",  "i",   // C0..CF
    "d", "n", "o", "o", "o", "o", "o",  nullptr, "o", "u", "u", "u", "u", "y", "th", "ss",  // D0..DF
    "a", "a", "a", "a", "a", "a", "ae", "c",     "e", "e", "e", "e", "i", "i", "i",  "i",   // E0..EF
    "d", "n", "o", "o", "o", "o", "o",  nullptr, "o", "u", "u", "u", "u", "y", "th", "y",   // F0..FF
};

// Non-ASCII code points that separate words rather than belong to them. Without the Unicode
// character database we list the punctuation, space and symbol blocks that occur in field text;
// everything else is taken as a letter or digit of some script.
bool isNonAsciiSeparator(char32_t cp) {
    if (cp >= 0x80 && cp <= 0xBF) return cp != 0xAA && cp != 0xB5 && cp != 0xBA;    // NBSP, « », °, ...
    if (cp == 0xD7 || cp == 0xF7) return true;                                      // × ÷
    if (cp >= 0x02BB && cp <= 0x02BD) return true;                                  // modifier apostrophes
    if (cp == 0x060C || cp == 0x061B || cp == 0x061F || cp == 0x06D4) return true;  // Arabic punctuation
    if (cp >= 0x066A && cp <= 0x066D) return true;
    if (cp >= 0x2000 && cp <= 0x206F) return true;  // spaces, dashes, quotes, bullets, ellipsis
    if (cp >= 0x20A0 && cp <= 0x20CF) return true;  // currency signs
    if (cp >= 0x2100 && cp <= 0x214F) return true;  // letterlike symbols (№, ℃, ™)
    if (cp >= 0x2190 && cp <= 0x2BFF) return true;  // arrows, maths, box drawing, shapes, dingbats
    if (cp >= 0x2E00 && cp <= 0x2E7F) return true;  // supplemental punctuation
    if (cp >= 0x3000 && cp <= 0x303F) return true;  // CJK spaces and punctuation
    if (cp >= 0xFE10 && cp <= 0xFE1F) return true;  // vertical forms
    if (cp >= 0xFE30 && cp <= 0xFE6F) return true;  // CJK compatibility and small forms
    if (cp == 0xFEFF) return true;                  // byte-order mark / zero-width no-break space
    if ((cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) ||
        (cp >= 0xFF5B && cp <= 0xFF65))
        return true;                                  // full-width punctuation
    if (cp >= 0xFFF0 && cp <= 0xFFFF) return true;    // specials, including U+FFFD
    if (cp >= 0x1F000 && cp <= 0x1FAFF) return true;  // emoji and pictographs
    return false;
}

bool isWordChar(char32_t cp) {
    if (cp < 0x80) {
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    }
    return !isNonAsciiSeparator(cp);
}

}  // namespace

bool isValidUtf8(std::string_view text) {
    for (std::size_t pos = 0; pos < text.size();) {
        const Decoded d = decodeAt(text, pos);
        if (!d.valid) return false;
        pos += d.length;
    }
    return true;
}

char32_t decodeCodePoint(std::string_view text, std::size_t& pos) {
    const Decoded d = decodeAt(text, pos);
    pos += d.length;
    return d.valid ? d.cp : kReplacement;
}

size_t codePointCount(std::string_view text) {
    size_t count = 0;
    for (std::size_t pos = 0; pos < text.size(); ++count) pos += decodeAt(text, pos).length;
    return count;
}

std::string foldForSearch(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t pos = 0; pos < text.size();) {
        const Decoded d = decodeAt(text, pos);
        pos += d.length;
        const char32_t cp = d.valid ? d.cp : kReplacement;
        if (cp >= 'A' && cp <= 'Z') {
            out.push_back(static_cast<char>(cp - 'A' + 'a'));
        } else if (cp >= 0xC0 && cp <= 0xFF && kLatin1Fold[cp - 0xC0] != nullptr) {
            out += kLatin1Fold[cp - 0xC0];
        } else if (cp == 0x152 || cp == 0x153) {
            out += "oe";
        } else if (cp == 0x178) {
            out.push_back('y');
        } else if (cp >= 0x300 && cp <= 0x36F) {
            // a combining accent: dropped with the accent of precomposed letters
        } else {
            appendUtf8(out, cp);
        }
    }
    return out;
}

std::vector<std::string> searchTokens(std::string_view text) {
    const std::string folded = foldForSearch(text);
    std::vector<std::string> tokens;
    std::unordered_set<std::string> seen;
    std::string current;
    std::size_t currentLength = 0;
    const auto flush = [&] {
        if (currentLength >= 2 && seen.insert(current).second) tokens.push_back(current);
        current.clear();
        currentLength = 0;
    };
    // The folded text is valid UTF-8 by construction, so every step decodes a whole code point.
    for (std::size_t pos = 0; pos < folded.size();) {
        const Decoded d = decodeAt(folded, pos);
        if (isWordChar(d.cp)) {
            current.append(folded, pos, d.length);
            ++currentLength;
        } else {
            flush();
        }
        pos += d.length;
    }
    flush();
    return tokens;
}

}  // namespace outpost::core
