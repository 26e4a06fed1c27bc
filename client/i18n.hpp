// The message catalog: every string the field client shows, in English and French.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/form.hpp"
#include "core/validate.hpp"

namespace outpost::client {

enum class Lang { En, Fr };

const char* langCode(Lang l);  // "en", "fr"

// The language the catalog answers in. Set by the application from the settings; read from the UI thread.
void setLanguage(Lang l);
Lang language();

// The text for a catalog key in the current language. An unknown key returns the key itself (a test
// checks that every key used by ui/ exists and has both languages).
const char* tr(std::string_view key);
// The singular or plural key for a count: French counts 0 and 1 as singular, English only 1.
const char* trCount(long long n, std::string_view singularKey, std::string_view pluralKey);

// A catalog text with its placeholders {1}, {2}, ... replaced by args in order (French and English put
// them in different places): fill(tr("link.sending"), {"120", "400"}).
std::string fill(const char* text, std::initializer_list<std::string> args);

// A count as the current language writes it: 100000 as "100,000" (English) or "100 000" (French, with
// a no-break space).
std::string formatCount(long long n);

// A form's own localised text (labels, hints, choices) in the current language.
const std::string& tr(const core::LocalText& t);

// Every key of the catalog, with its English and French text (for the completeness test).
struct CatalogEntry {
    const char* key;
    const char* en;
    const char* fr;
};
const std::vector<CatalogEntry>& catalog();

// A validation issue in the current language: the form's own message when it has one, else the
// catalog's wording for the rule, with the field path.
std::string issueText(const core::Issue& issue);

}  // namespace outpost::client
