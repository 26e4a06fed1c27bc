// Heuristics behind the victim-centred `identifying` warning: phone numbers, names, e-mail addresses.
#include "core/identifying.hpp"

#include <algorithm>
#include <string>
#include <unordered_set>

#include "core/utf8.hpp"

namespace outpost::core {
namespace {

using WordSet = std::unordered_set<std::string_view>;

// Capitalised words that are not names in a peacekeeping report (compared folded: lowercase,
// no accents). A word here breaks a run of capitalised words.
const WordSet& stopWords() {
    static const WordSet kWords = {
        // the UN, missions, bodies
        "un",
        "united",
        "nations",
        "nations-unies",
        "unies",
        "onu",
        "minusca",
        "monusco",
        "minusma",
        "unmiss",
        "unifil",
        "unisfa",
        "unficyp",
        "undof",
        "minurso",
        "unmik",
        "untso",
        "unmogip",
        "unsom",
        "unama",
        "oios",
        "nio",
        "cdt",
        "cdu",
        "sea",
        "eas",
        "hq",
        "qg",
        "dpo",
        "dos",
        "ohchr",
        "unhcr",
        "unicef",
        "unfpa",
        "wfp",
        "pam",
        "ocha",
        "undss",
        "unpol",
        "fpu",
        "upc",
        "tcc",
        "pcc",
        "coe",
        "mou",
        "cpas",
        "ngo",
        "ong",
        "icrc",
        "cicr",
        "msf",
        "faca",
        "fardc",
        "saf",
        "spla",
        "mission",
        "secretariat",
        "secretary-general",
        "secretary",
        "general",
        "special",
        "representative",
        "srsg",
        "dsrsg",
        "security",
        "council",
        "headquarters",
        "human",
        "rights",
        "protection",
        "civilians",
        "poc",
        "conduct",
        "discipline",
        "gender",
        "child",
        "focal",
        "point",
        "office",
        "bureau",
        "ministry",
        "ministere",
        "government",
        "gouvernement",
        "national",
        "nationale",
        "republic",
        "republique",
        "central",
        "centrale",
        "african",
        "africaine",
        "democratic",
        "democratique",
        "congo",
        // units and military words
        "sector",
        "secteur",
        "team",
        "equipe",
        "site",
        "camp",
        "base",
        "force",
        "forces",
        "police",
        "gendarmerie",
        "battalion",
        "bataillon",
        "batt",
        "company",
        "compagnie",
        "coy",
        "platoon",
        "peloton",
        "section",
        "squad",
        "group",
        "groupe",
        "unit",
        "unite",
        "contingent",
        "brigade",
        "regiment",
        "division",
        "corps",
        "army",
        "armee",
        "navy",
        "air",
        "commander",
        "commandant",
        "command",
        "commandement",
        "officer",
        "officier",
        "staff",
        "major",
        "captain",
        "capitaine",
        "lieutenant",
        "colonel",
        "lt",
        "col",
        "ltcol",
        "maj",
        "capt",
        "cpt",
        "gen",
        "brig",
        "sgt",
        "cpl",
        "pte",
        "adj",
        "adjudant",
        "sergeant",
        "sergent",
        "corporal",
        "caporal",
        "private",
        "soldier",
        "infantry",
        "infanterie",
        "engineer",
        "engineers",
        "engineering",
        "genie",
        "medical",
        "medicale",
        "hospital",
        "hopital",
        "clinic",
        "clinique",
        "level",
        "niveau",
        "signal",
        "signals",
        "logistics",
        "logistique",
        "transport",
        "aviation",
        "quick",
        "reaction",
        "qrf",
        "operations",
        "operation",
        "patrol",
        "patrouille",
        "convoy",
        "convoi",
        "checkpoint",
        "post",
        "poste",
        "cob",
        "tob",
        "tsb",
        "fob",
        "apc",
        "ied",
        "uxo",
        "rpg",
        "training",
        "formation",
        "course",
        "cours",
        "exercise",
        "exercice",
        "report",
        "rapport",
        "incident",
        "form",
        "annex",
        "annexe",
        // places and directions
        "north",
        "south",
        "east",
        "west",
        "nord",
        "sud",
        "est",
        "ouest",
        "northern",
        "southern",
        "eastern",
        "western",
        "province",
        "prefecture",
        "region",
        "district",
        "county",
        "state",
        "etat",
        "village",
        "town",
        "city",
        "ville",
        "road",
        "route",
        "axis",
        "axe",
        "river",
        "riviere",
        "bridge",
        "pont",
        "airport",
        "aeroport",
        "market",
        "marche",
        "school",
        "ecole",
        "church",
        "eglise",
        "mosque",
        "mosquee",
        "street",
        "rue",
        "avenue",
        "idp",
        "pdi",
        // weekdays and months
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "lundi",
        "mardi",
        "mercredi",
        "jeudi",
        "vendredi",
        "samedi",
        "dimanche",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "janvier",
        "fevrier",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "aout",
        "septembre",
        "octobre",
        "novembre",
        "decembre",
    };
    return kWords;
}

// Words that start sentences without being names; one of them leading a run is not counted.
const WordSet& commonWords() {
    static const WordSet kWords = {
        "the",         "a",          "an",        "this",     "that",       "these",       "those",
        "on",          "in",         "at",        "by",       "for",        "from",        "to",
        "of",          "with",       "without",   "during",   "after",      "before",      "since",
        "until",       "while",      "when",      "where",    "what",       "who",         "which",
        "why",         "how",        "and",       "but",      "or",         "so",          "then",
        "there",       "here",       "it",        "its",      "he",         "she",         "they",
        "we",          "i",          "you",       "his",      "her",        "their",       "our",
        "my",          "your",       "all",       "some",     "any",        "no",          "not",
        "each",        "every",      "one",       "two",      "three",      "several",     "many",
        "most",        "both",       "if",        "as",       "also",       "however",     "following",
        "further",     "according",  "upon",      "into",     "about",      "over",        "under",
        "between",     "among",      "yesterday", "today",    "tomorrow",   "last",        "next",
        "please",      "dear",       "victim",    "survivor", "witness",    "complainant", "alleged",
        "perpetrator", "le",         "la",        "les",      "un",         "une",         "des",
        "du",          "de",         "au",        "aux",      "ce",         "cet",         "cette",
        "ces",         "en",         "dans",      "sur",      "sous",       "par",         "pour",
        "avec",        "sans",       "pendant",   "apres",    "avant",      "depuis",      "lors",
        "il",          "elle",       "ils",       "elles",    "nous",       "on",          "je",
        "tu",          "vous",       "son",       "sa",       "ses",        "leur",        "leurs",
        "notre",       "nos",        "mon",       "ma",       "mes",        "et",          "mais",
        "ou",          "donc",       "or",        "ni",       "car",        "puis",        "selon",
        "suite",       "lorsque",    "quand",     "qui",      "que",        "hier",        "demain",
        "plusieurs",   "aucun",      "aucune",    "tous",     "toutes",     "chaque",      "ensuite",
        "enfin",       "cependant",  "toutefois", "victime",  "survivante", "survivant",   "temoin",
        "plaignant",   "plaignante", "auteur",    "presume",  "presumee",
    };
    return kWords;
}

const WordSet& titles() {
    static const WordSet kWords = {"mr",   "mrs",    "ms",       "miss",         "mister", "dr", "mme",
                                   "mlle", "madame", "monsieur", "mademoiselle", "mmes",   "mm"};
    return kWords;
}

// Words after which the next capitalised word is a name ("named Marie", "s'appelle Aminata").
const WordSet& namingWords() {
    static const WordSet kWords = {"named",     "nomme",       "nommee", "nommes", "nommees",
                                   "s'appelle", "s'appellent", "appele", "appelee"};
    return kWords;
}

bool isAsciiDigit(char c) {
    return c >= '0' && c <= '9';
}
bool isAsciiAlpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool isAsciiAlnum(char c) {
    return isAsciiDigit(c) || isAsciiAlpha(c);
}

bool isUpperLetter(char32_t cp) {
    return (cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) || cp == 0x152 || cp == 0x178;
}
bool isLowerLetter(char32_t cp) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 0xDF && cp <= 0xFF && cp != 0xF7) || cp == 0x153;
}
// Letters of any script: without the Unicode tables, everything from U+00C0 on that is not a
// known punctuation or symbol block.
bool isLetter(char32_t cp) {
    if (cp < 0x80) return isAsciiAlpha(static_cast<char>(cp));
    if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7) return false;
    if (cp >= 0x2000 && cp <= 0x2BFF) return false;
    if (cp >= 0x3000 && cp <= 0x303F) return false;
    if (cp >= 0xFE30 && cp <= 0xFFFF) return false;
    return true;
}
bool isApostrophe(char32_t cp) {
    return cp == '\'' || cp == 0x2019;
}

struct Word {
    std::size_t begin = 0, end = 0;  // bytes in the text
    std::string folded;              // lowercase, no accents, ’ as '
    bool capitalised = false;        // first letter (after an elided l'/d') is uppercase
    bool mixedCase = false;          // has a lowercase letter too: "Dupont", not "DUPONT"
    bool hasDigit = false;
    bool joinedToPrevious = false;  // only spaces or tabs since the previous word
};

std::vector<Word> splitWords(std::string_view text) {
    std::vector<Word> words;
    std::size_t pos = 0;
    std::size_t lastEnd = 0;
    while (pos < text.size()) {
        std::size_t start = pos;
        char32_t cp = decodeCodePoint(text, pos);
        if (!isLetter(cp) && !(cp < 0x80 && isAsciiDigit(static_cast<char>(cp)))) continue;
        Word w;
        w.begin = start;
        // Letters and digits, with an apostrophe or hyphen allowed between two of them.
        std::size_t end = pos;
        while (end < text.size()) {
            std::size_t next = end;
            char32_t c = decodeCodePoint(text, next);
            if (isLetter(c) || (c < 0x80 && isAsciiDigit(static_cast<char>(c)))) {
                end = next;
                continue;
            }
            if ((isApostrophe(c) || c == '-') && next < text.size()) {
                std::size_t after = next;
                char32_t d = decodeCodePoint(text, after);
                if (isLetter(d) || (d < 0x80 && isAsciiDigit(static_cast<char>(d)))) {
                    end = after;
                    continue;
                }
            }
            break;
        }
        w.end = end;
        std::string raw(text.substr(w.begin, w.end - w.begin));
        for (std::size_t i = 0; (i = raw.find("\xE2\x80\x99", i)) != std::string::npos;)
            raw.replace(i, 3, "'");
        w.folded = foldForSearch(raw);
        // The case of "L'Équipe" or "d'Almeida" is that of the word after the elided article.
        std::size_t letters = 0;
        if (raw.size() > 2 && raw[1] == '\'' &&
            (raw[0] == 'l' || raw[0] == 'L' || raw[0] == 'd' || raw[0] == 'D'))
            letters = 2;
        bool first = true;
        for (std::size_t p = 0; p < raw.size();) {
            const bool counts = p >= letters;
            char32_t c = decodeCodePoint(raw, p);
            if (c < 0x80 && isAsciiDigit(static_cast<char>(c))) w.hasDigit = true;
            if (!counts) continue;
            if (first && isLetter(c)) {
                w.capitalised = isUpperLetter(c);
                first = false;
            } else if (isLowerLetter(c)) {
                w.mixedCase = true;
            }
        }
        w.joinedToPrevious = !words.empty();
        for (std::size_t i = lastEnd; w.joinedToPrevious && i < w.begin; ++i)
            if (text[i] != ' ' && text[i] != '\t') w.joinedToPrevious = false;
        words.push_back(std::move(w));
        lastEnd = end;
        pos = end;
    }
    return words;
}

bool isNameWord(const Word& w) {
    return w.capitalised && !w.hasDigit && !stopWords().contains(w.folded) && !titles().contains(w.folded);
}

struct Hint {
    std::size_t begin, end;
    std::string message;
};

void findNames(std::string_view text, std::vector<Hint>& hints) {
    const std::vector<Word> words = splitWords(text);
    std::vector<bool> used(words.size(), false);
    const auto quote = [&](std::size_t from, std::size_t to) {
        return "looks like a person's name: '" +
               std::string(text.substr(words[from].begin, words[to].end - words[from].begin)) + "'";
    };
    // The run of name words from i on, joined by spaces only; returns one past its last word.
    // A title or "named" followed by "The" is a sentence break, not a name.
    const auto runFrom = [&](std::size_t i) {
        std::size_t j = i;
        if (i < words.size() && commonWords().contains(words[i].folded)) return i;
        while (j < words.size() && isNameWord(words[j]) && (j == i || words[j].joinedToPrevious) && !used[j])
            ++j;
        return j;
    };
    const auto mark = [&](std::size_t from, std::size_t to) {
        for (std::size_t k = from; k < to; ++k) used[k] = true;
    };

    for (std::size_t i = 0; i < words.size(); ++i) {
        const Word& w = words[i];
        // A title: "Mme Ngaba", "M. Dupont", "Dr. Smith".
        bool isTitle = titles().contains(w.folded);
        if (w.folded == "m") isTitle = text.substr(w.begin, 2) == "M.";
        if (isTitle && i + 1 < words.size()) {
            // Only a '.' and spaces may stand between the title and the name.
            bool adjacent = true;
            for (std::size_t k = w.end; k < words[i + 1].begin; ++k) {
                const char c = text[k];
                if (!(c == ' ' || c == '\t' || (c == '.' && k == w.end))) adjacent = false;
            }
            const std::size_t end = adjacent ? runFrom(i + 1) : i + 1;
            if (end > i + 1) {
                hints.push_back({w.begin, words[end - 1].end, quote(i, end - 1)});
                mark(i, end);
                continue;
            }
        }
        // After "named", "nommée", "s'appelle", or "name is".
        const bool naming =
            namingWords().contains(w.folded) ||
            (w.folded == "is" && i > 0 && words[i - 1].folded == "name" && w.joinedToPrevious);
        if (naming && i + 1 < words.size()) {
            const std::size_t end = runFrom(i + 1);
            if (end > i + 1) {
                hints.push_back({words[i + 1].begin, words[end - 1].end, quote(i + 1, end - 1)});
                mark(i + 1, end);
                continue;
            }
        }
    }
    // Two or more capitalised words in a row.
    for (std::size_t i = 0; i < words.size();) {
        if (used[i] || !isNameWord(words[i])) {
            ++i;
            continue;
        }
        std::size_t end = i + 1;
        while (end < words.size() && isNameWord(words[end]) && words[end].joinedToPrevious && !used[end])
            ++end;
        std::size_t start = i;
        while (start < end && commonWords().contains(words[start].folded)) ++start;
        bool anyMixed = false;
        for (std::size_t k = start; k < end; ++k) anyMixed = anyMixed || words[k].mixedCase;
        if (end - start >= 2 && anyMixed) {
            hints.push_back({words[start].begin, words[end - 1].end, quote(start, end - 1)});
            mark(start, end);
        }
        i = end;
    }
}

// Byte ranges of dates, so their digits are not read as a phone number: YYYY-MM-DD and
// DD/MM/YYYY, DD.MM.YYYY, DD-MM-YYYY (1 or 2 digit day and month).
std::vector<bool> dateMask(std::string_view text) {
    std::vector<bool> mask(text.size(), false);
    const auto digitsAt = [&](std::size_t p, std::size_t n) {
        if (p + n > text.size()) return false;
        for (std::size_t k = p; k < p + n; ++k)
            if (!isAsciiDigit(text[k])) return false;
        return true;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (!isAsciiDigit(text[i]) || (i > 0 && isAsciiDigit(text[i - 1]))) continue;
        std::size_t len = 0;
        if (digitsAt(i, 4) && i + 10 <= text.size() && text[i + 4] == '-' && digitsAt(i + 5, 2) &&
            text[i + 7] == '-' && digitsAt(i + 8, 2)) {
            len = 10;
        } else {
            for (std::size_t d = 1; d <= 2 && len == 0; ++d) {
                if (!digitsAt(i, d) || i + d >= text.size()) continue;
                const char sep = text[i + d];
                if (sep != '/' && sep != '.' && sep != '-') continue;
                for (std::size_t m = 1; m <= 2 && len == 0; ++m) {
                    const std::size_t p = i + d + 1;
                    if (digitsAt(p, m) && p + m < text.size() && text[p + m] == sep && digitsAt(p + m + 1, 4))
                        len = d + 1 + m + 1 + 4;
                }
            }
        }
        if (len > 0 && !(i + len < text.size() && isAsciiDigit(text[i + len]))) {
            std::fill(mask.begin() + static_cast<std::ptrdiff_t>(i),
                      mask.begin() + static_cast<std::ptrdiff_t>(i + len), true);
            i += len - 1;
        }
    }
    return mask;
}

// True when the text before `pos` ends with an MGRS grid zone and square: "34N BK " or "34NBK".
bool followsMgrsSquare(std::string_view text, std::size_t pos) {
    std::size_t k = pos;
    const auto skipSpaces = [&] {
        while (k > 0 && text[k - 1] == ' ') --k;
    };
    skipSpaces();
    if (k < 2 || !isAsciiAlpha(text[k - 1]) || !isAsciiAlpha(text[k - 2])) return false;
    k -= 2;
    skipSpaces();
    if (k < 2 || !isAsciiAlpha(text[k - 1])) return false;
    --k;
    std::size_t digits = 0;
    while (k > 0 && isAsciiDigit(text[k - 1]) && digits < 3) {
        --k;
        ++digits;
    }
    return digits >= 1 && digits <= 2 && (k == 0 || !isAsciiAlnum(text[k - 1]));
}

bool isPhoneSeparator(char c) {
    return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

void findPhones(std::string_view text, const std::vector<bool>& skip, std::vector<Hint>& hints) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (skip[i] || !(isAsciiDigit(c) || c == '+' || c == '(')) continue;
        const std::size_t start = i;
        if (i > 0) {
            const auto prev = static_cast<unsigned char>(text[i - 1]);
            if (prev >= 0x80 || isAsciiAlnum(static_cast<char>(prev)) || prev == '@' || prev == '_' ||
                prev == '+')
                continue;
        }
        // Digit groups with one separator between them (or a bracket next to a space: "+236 (0) 72").
        std::size_t end = i + 1;
        std::size_t lastDigitEnd = isAsciiDigit(c) ? i + 1 : i;
        std::size_t sepRun = 0;
        while (end < text.size() && !skip[end]) {
            const char d = text[end];
            if (isAsciiDigit(d)) {
                sepRun = 0;
                lastDigitEnd = end + 1;
            } else if (isPhoneSeparator(d)) {
                const bool bracketPair =
                    sepRun == 1 && (d == '(' || d == ')' || text[end - 1] == '(' || text[end - 1] == ')');
                if (sepRun >= 1 && !bracketPair) break;
                ++sepRun;
            } else {
                break;
            }
            ++end;
        }
        if (lastDigitEnd <= i) continue;
        std::size_t stop = lastDigitEnd;
        if (stop < text.size() && text[stop] == ')' &&
            text.substr(start, stop - start).find('(') != std::string_view::npos)
            ++stop;
        const std::string_view candidate = text.substr(start, stop - start);
        const std::size_t digitCount =
            static_cast<std::size_t>(std::count_if(candidate.begin(), candidate.end(), isAsciiDigit));
        // A letter, '@' or '_' right after the digits: a serial number or part of an address.
        const bool glued =
            lastDigitEnd < text.size() &&
            (isAsciiAlpha(text[lastDigitEnd]) || text[lastDigitEnd] == '@' || text[lastDigitEnd] == '_');
        i = stop - 1;
        if (digitCount < 8 || glued) continue;
        if (followsMgrsSquare(text, start)) continue;
        // Decimal coordinates ("4.36125 18.55501"): a '.' followed by five or more digits.
        bool decimal = false;
        for (std::size_t k = 0; k < candidate.size(); ++k) {
            if (candidate[k] != '.') continue;
            std::size_t n = 0;
            while (k + 1 + n < candidate.size() && isAsciiDigit(candidate[k + 1 + n])) ++n;
            decimal = decimal || n >= 5;
        }
        if (decimal) continue;
        // Amounts grouped by thousands ("12 500 000"), which phone numbers starting 0 or + are not.
        if (candidate[0] != '0' && candidate[0] != '+' && candidate[0] != '(') {
            const std::size_t firstSep = candidate.find_first_of(" .");
            bool thousands =
                firstSep != std::string_view::npos && firstSep <= 3 &&
                std::all_of(candidate.begin(), candidate.begin() + static_cast<std::ptrdiff_t>(firstSep),
                            isAsciiDigit);
            for (std::size_t k = firstSep; thousands && k < candidate.size(); k += 4) {
                thousands =
                    candidate[k] == candidate[firstSep] && k + 4 <= candidate.size() &&
                    std::all_of(candidate.begin() + static_cast<std::ptrdiff_t>(k + 1),
                                candidate.begin() + static_cast<std::ptrdiff_t>(k + 4), isAsciiDigit) &&
                    (k + 4 == candidate.size() || candidate[k + 4] == candidate[firstSep]);
            }
            if (thousands) continue;
        }
        hints.push_back({start, stop, "looks like a phone number: '" + std::string(candidate) + "'"});
    }
}

bool isEmailLocalChar(char c) {
    return isAsciiAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool isEmailDomainChar(char c) {
    return isAsciiAlnum(c) || c == '.' || c == '-';
}

void findEmails(std::string_view text, std::vector<bool>& skip, std::vector<Hint>& hints) {
    for (std::size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
        std::size_t begin = at;
        while (begin > 0 && isEmailLocalChar(text[begin - 1])) --begin;
        std::size_t end = at + 1;
        while (end < text.size() && isEmailDomainChar(text[end])) ++end;
        while (end > at + 1 && (text[end - 1] == '.' || text[end - 1] == '-')) --end;  // sentence end
        if (begin == at || end == at + 1) continue;
        const std::string_view domain = text.substr(at + 1, end - at - 1);
        const std::size_t dot = domain.rfind('.');
        if (dot == std::string_view::npos || dot == 0 || domain.size() - dot - 1 < 2) continue;
        const std::string_view tld = domain.substr(dot + 1);
        if (!std::all_of(tld.begin(), tld.end(), isAsciiAlpha)) continue;
        hints.push_back(
            {begin, end,
             "looks like an e-mail address: '" + std::string(text.substr(begin, end - begin)) + "'"});
        std::fill(skip.begin() + static_cast<std::ptrdiff_t>(begin),
                  skip.begin() + static_cast<std::ptrdiff_t>(end), true);
    }
}

}  // namespace

std::vector<std::string> identifyingHints(std::string_view text) {
    std::vector<Hint> hints;
    std::vector<bool> skip = dateMask(text);
    findEmails(text, skip, hints);
    findPhones(text, skip, hints);
    findNames(text, hints);
    std::stable_sort(hints.begin(), hints.end(),
                     [](const Hint& a, const Hint& b) { return a.begin < b.begin; });
    std::vector<std::string> out;
    for (auto& h : hints) {
        if (std::find(out.begin(), out.end(), h.message) == out.end()) out.push_back(std::move(h.message));
    }
    return out;
}

}  // namespace outpost::core
