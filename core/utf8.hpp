// UTF-8 checks and the text folding behind search (case and French/Latin accent insensitive).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::core {

// True when `text` is well-formed UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates
// (U+D800..U+DFFF), nothing above U+10FFFF, no truncated or stray continuation bytes. Pure.
bool isValidUtf8(std::string_view text);

// The number of code points in `text` (what form length limits count). For invalid UTF-8 each
// byte that does not start or continue a well-formed sequence counts as one. Pure.
size_t codePointCount(std::string_view text);

// The code point that starts at text[pos], advancing pos past it. An invalid byte (see
// isValidUtf8) gives U+FFFD and advances by one byte, so a loop always makes progress.
// Precondition: pos < text.size(). Pure.
char32_t decodeCodePoint(std::string_view text, std::size_t& pos);

// `text` folded for search, so "ÉQUIPE", "Équipe" and "equipe" all match:
//  - ASCII letters are lowercased;
//  - the letters of Latin-1 (U+00C0..U+00FF) in both cases lose case and accent: à á â ã ä å→a,
//    æ→ae, ç→c, è é ê ë→e, ì í î ï→i, ð→d, ñ→n, ò ó ô õ ö ø→o, ù ú û ü→u, ý ÿ→y, þ→th, ß→ss;
//    also Œ œ→oe and Ÿ→y;
//  - combining accents (U+0300..U+036F) are dropped, so decomposed "e" + U+0301 folds like "é";
//  - every other code point is kept as it is (no case folding beyond the above);
//  - each invalid byte becomes U+FFFD.
// Pure.
std::string foldForSearch(std::string_view text);

// The words of `text` for the search index, in order of first appearance, each once: the text is
// folded (foldForSearch), then split at every ASCII character that is not a letter or digit and at
// non-ASCII spaces, punctuation and symbols (U+0080..U+00BF but ª µ º, × ÷, general punctuation
// U+2000..U+206F including U+00A0-like spaces and typographic quotes, currency, arrows,
// mathematical and other symbol blocks, CJK and full-width punctuation, Arabic punctuation,
// emoji, U+FEFF, U+FFFD). Other non-ASCII code points (letters of any script) stay in words.
// Words shorter than 2 code points are dropped. Pure.
std::vector<std::string> searchTokens(std::string_view text);

}  // namespace outpost::core
