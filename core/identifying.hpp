// Victim-centred warnings: heuristics that spot names, phone numbers and e-mail addresses in text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace outpost::core {

// Reasons, in English and in order of appearance, why `text` may identify a person; empty when
// nothing was spotted. Each reason quotes the text it is about:
//   "looks like a phone number: '+236 72 12 34 56'"
//   "looks like a person's name: 'Marie Dupont'"
//   "looks like an e-mail address: 'm.dupont@example.org'"
// The same reason is given once. These are warnings shown beside a field (the `identifying` rule
// of docs/forms.md); they never block saving. Pure and thread-safe; `text` should be UTF-8
// (invalid bytes are treated as punctuation).
//
// What is recognised:
//  - phone numbers: 8 or more digits written with spaces, '-', '.', '(' and ')' between groups
//    (one separator at a time) and an optional leading '+';
//  - names: two or more consecutive capitalised words ("Marie Dupont", "Jean DUPONT"), at least one
//    of them not in capitals throughout; a leading common word ("The", "During", "Le", ...) is
//    not counted; a title followed by a capitalised word (Mr, Mrs, Ms, Miss, Dr, M., Mme, Mlle,
//    Madame, Monsieur, Mademoiselle); a capitalised word after "name is", "named", "nommé(e)",
//    "s'appelle", "appelé(e)";
//  - e-mail addresses: local@domain.tld.
//
// Limits (it is a heuristic, not a name detector):
//  - single given names or surnames on their own ("Aminata was heard") are missed, and so are names
//    written in lowercase, initials ("J. Dupont") and names in scripts without letter case;
//  - two-word place and organisation names that are not in the built-in stop-list ("Kaga Bandoro",
//    "Quick Impact") are flagged as names. The stop-list holds UN, mission and unit words (UN,
//    MINUSCA, MONUSCO, OIOS, Sector, Team, Site, Camp, Force, Police, Battalion, Bataillon, ...),
//    compass points, weekdays and months in English and French;
//  - ISO dates (2026-11-27), day-first dates (27/11/2026, 27.11.2026), amounts grouped by thousands
//    ("12 500 000" when not starting with 0 or +), decimal coordinates and the digits of an MGRS
//    reference are not taken as phone numbers; other long numbers (serial numbers, accounts) are.
std::vector<std::string> identifyingHints(std::string_view text);

}  // namespace outpost::core
