// Tests for UTF-8 validation, code point counting, search folding and search tokens.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/utf8.hpp"

using namespace outpost::core;
using Tokens = std::vector<std::string>;

TEST_CASE("isValidUtf8 accepts well-formed text", "[core][utf8]") {
    CHECK(isValidUtf8(""));
    CHECK(isValidUtf8("plain ASCII"));
    CHECK(isValidUtf8("Évacuation sanitaire — l’équipe"));
    CHECK(isValidUtf8("\xC2\x80"));              // U+0080, smallest 2-byte
    CHECK(isValidUtf8("\xDF\xBF"));              // U+07FF
    CHECK(isValidUtf8("\xE0\xA0\x80"));          // U+0800, smallest 3-byte
    CHECK(isValidUtf8("\xED\x9F\xBF"));          // U+D7FF, just below the surrogates
    CHECK(isValidUtf8("\xEE\x80\x80"));          // U+E000, just above them
    CHECK(isValidUtf8("\xEF\xBF\xBF"));          // U+FFFF
    CHECK(isValidUtf8("\xF0\x90\x80\x80"));      // U+10000, smallest 4-byte
    CHECK(isValidUtf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF
    CHECK(isValidUtf8(std::string("a\0b", 3)));  // NUL is a valid code point
}

TEST_CASE("isValidUtf8 refuses malformed text", "[core][utf8]") {
    CHECK_FALSE(isValidUtf8("\x80"));  // stray continuation
    CHECK_FALSE(isValidUtf8("abc\xBF"));
    CHECK_FALSE(isValidUtf8("\xC0\xAF"));          // overlong '/'
    CHECK_FALSE(isValidUtf8("\xC1\xBF"));          // overlong
    CHECK_FALSE(isValidUtf8("\xE0\x80\xAF"));      // overlong 3-byte
    CHECK_FALSE(isValidUtf8("\xE0\x9F\xBF"));      // overlong U+07FF
    CHECK_FALSE(isValidUtf8("\xF0\x80\x80\xAF"));  // overlong 4-byte
    CHECK_FALSE(isValidUtf8("\xF0\x8F\xBF\xBF"));  // overlong U+FFFF
    CHECK_FALSE(isValidUtf8("\xED\xA0\x80"));      // U+D800 surrogate
    CHECK_FALSE(isValidUtf8("\xED\xBF\xBF"));      // U+DFFF surrogate
    CHECK_FALSE(isValidUtf8("\xF4\x90\x80\x80"));  // U+110000
    CHECK_FALSE(isValidUtf8("\xF5\x80\x80\x80"));
    CHECK_FALSE(isValidUtf8("\xFF"));
    CHECK_FALSE(isValidUtf8("\xC3"));  // truncated é
    CHECK_FALSE(isValidUtf8("caf\xC3"));
    CHECK_FALSE(isValidUtf8("\xE2\x80"));      // truncated 3-byte
    CHECK_FALSE(isValidUtf8("\xF0\x9F\x98"));  // truncated 4-byte
    CHECK_FALSE(
        isValidUtf8("\xC3"
                    "a"));  // lead byte then ASCII
    CHECK_FALSE(
        isValidUtf8("\xE2\x80"
                    "a"));
    CHECK_FALSE(isValidUtf8("\xE9t\xE9"));  // Latin-1, not UTF-8
}

TEST_CASE("codePointCount counts code points, not bytes", "[core][utf8]") {
    CHECK(codePointCount("") == 0);
    CHECK(codePointCount("abc") == 3);
    CHECK(codePointCount("équipe") == 6);
    CHECK(codePointCount("l’équipe") == 8);
    CHECK(codePointCount("\xF0\x9F\x98\x80") == 1);  // an emoji
    CHECK(codePointCount("e\xCC\x81") == 2);         // e + combining acute
    CHECK(codePointCount("a\x80"
                         "b") == 3);         // the stray byte counts as one
    CHECK(codePointCount("\xE2\x80") == 2);  // truncated: each byte on its own
}

TEST_CASE("foldForSearch lowercases and strips French and Latin accents", "[core][utf8]") {
    CHECK(foldForSearch("ÉVACUATION Sanitaire") == "evacuation sanitaire");
    CHECK(foldForSearch("éèêë ÉÈÊË") == "eeee eeee");
    CHECK(foldForSearch("àâä ÀÂÄ") == "aaa aaa");
    CHECK(foldForSearch("îï ÎÏ") == "ii ii");
    CHECK(foldForSearch("ôö ÔÖ") == "oo oo");
    CHECK(foldForSearch("ùûü ÙÛÜ") == "uuu uuu");
    CHECK(foldForSearch("ç Ç") == "c c");
    CHECK(foldForSearch("cœur Œuvre") == "coeur oeuvre");
    CHECK(foldForSearch("Æ æ") == "ae ae");
    CHECK(foldForSearch("ÿ Ÿ") == "y y");
    CHECK(foldForSearch("Niño São Łódź") == "nino sao Łodź");  // Ł and ź are outside the folded set
    CHECK(foldForSearch("Straße") == "strasse");
    CHECK(foldForSearch("e\xCC\x81quipe") == "equipe");  // decomposed é
    CHECK(foldForSearch("Москва") == "Москва");          // other scripts are kept as they are
    CHECK(foldForSearch("3 × 4") == "3 × 4");
}

TEST_CASE("foldForSearch replaces invalid bytes", "[core][utf8]") {
    CHECK(foldForSearch("a\xFF"
                        "b") ==
          "a\xEF\xBF\xBD"
          "b");
    CHECK(foldForSearch("caf\xC3") == "caf\xEF\xBF\xBD");
    CHECK(isValidUtf8(foldForSearch("\xED\xA0\x80\xC0\xAF")));
}

TEST_CASE("searchTokens folds, splits and drops short words", "[core][utf8]") {
    CHECK(searchTokens("Évacuation SANITAIRE, l'équipe") == Tokens{"evacuation", "sanitaire", "equipe"});
    CHECK(searchTokens("l’équipe") == Tokens{"equipe"});  // typographic apostrophe
    CHECK(searchTokens("") == Tokens{});
    CHECK(searchTokens("a b c , ; !") == Tokens{});
}

TEST_CASE("searchTokens deduplicates in order of first appearance", "[core][utf8]") {
    CHECK(searchTokens("Patrouille, patrouille, PATROUILLE et équipe Équipe") ==
          Tokens{"patrouille", "et", "equipe"});
}

TEST_CASE("searchTokens keeps digits and other scripts inside words", "[core][utf8]") {
    CHECK(searchTokens("Sector-West 2026-11-27 APC12") ==
          Tokens{"sector", "west", "2026", "11", "27", "apc12"});
    CHECK(searchTokens("Москва, Łódź") == Tokens{"Москва", "Łodź"});
    CHECK(searchTokens("مرحبا، عالم") == Tokens{"مرحبا", "عالم"});  // Arabic comma separates
}

TEST_CASE("searchTokens splits at non-ASCII spaces and punctuation", "[core][utf8]") {
    CHECK(searchTokens("100\xC2\xA0km") == Tokens{"100", "km"});  // no-break space
    CHECK(searchTokens("«\xC2\xA0"
                       "camp\xC2\xA0» — site…base") == Tokens{"camp", "site", "base"});
    CHECK(searchTokens("“quoted” text") == Tokens{"quoted", "text"});
    CHECK(searchTokens("20°C ok") == Tokens{"20", "ok"});
    CHECK(searchTokens("bad\xFF"
                       "byte") == Tokens{"bad", "byte"});
}
