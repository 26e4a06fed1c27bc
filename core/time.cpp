// Clock reading, ISO 8601 date/datetime validation and conversion to UTC.
#include "core/time.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace outpost::core {
namespace {

constexpr int kMinYear = 1900;
constexpr int kMaxYear = 2200;
constexpr int kMaxOffsetMinutes = 14 * 60;  // UTC+14:00 (Line Islands) is the furthest zone

struct ParsedDateTime {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    int offsetMinutes = 0;
};

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}

// The number in text[pos, pos+count) when every character there is a digit.
std::optional<int> digits(std::string_view text, std::size_t pos, std::size_t count) {
    if (pos + count > text.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
        if (!isDigit(text[i])) return std::nullopt;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

bool parseDate(std::string_view text, ParsedDateTime& out) {
    if (text.size() < 10) return false;
    const auto date = parseCivilDate(text.substr(0, 10));
    if (!date || date->year < kMinYear || date->year > kMaxYear) return false;
    out.year = date->year;
    out.month = date->month;
    out.day = date->day;
    return true;
}

std::optional<ParsedDateTime> parseDateTime(std::string_view text) {
    ParsedDateTime out;
    if (!parseDate(text, out) || text.size() < 16 || text[10] != 'T' || text[13] != ':') return std::nullopt;
    const auto h = digits(text, 11, 2), mi = digits(text, 14, 2);
    if (!h || !mi || *h > 23 || *mi > 59) return std::nullopt;
    out.hour = *h;
    out.minute = *mi;
    std::size_t pos = 16;
    if (pos < text.size() && text[pos] == ':') {
        const auto s = digits(text, pos + 1, 2);
        if (!s || *s > 59) return std::nullopt;
        out.second = *s;
        pos += 3;
        if (pos < text.size() && text[pos] == '.') {
            std::size_t n = 0;
            while (pos + 1 + n < text.size() && isDigit(text[pos + 1 + n])) ++n;
            if (n < 1 || n > 3) return std::nullopt;
            pos += 1 + n;
        }
    }
    if (pos >= text.size()) return std::nullopt;  // a datetime without a zone is ambiguous
    if (text[pos] == 'Z') {
        return pos + 1 == text.size() ? std::optional(out) : std::nullopt;
    }
    if (text[pos] != '+' && text[pos] != '-') return std::nullopt;
    if (text.size() != pos + 6 || text[pos + 3] != ':') return std::nullopt;
    const auto oh = digits(text, pos + 1, 2), om = digits(text, pos + 4, 2);
    if (!oh || !om || *om > 59) return std::nullopt;
    const int offset = *oh * 60 + *om;
    if (offset > kMaxOffsetMinutes) return std::nullopt;
    out.offsetMinutes = text[pos] == '-' ? -offset : offset;
    return out;
}

long long daysFrom(int year, int month, int day) {
    return daysFromCivil(CivilDate{year, month, day});
}

std::string formatUtc(std::chrono::sys_time<std::chrono::milliseconds> t, bool withMillis) {
    using namespace std::chrono;
    const auto dayPoint = floor<days>(t);
    const year_month_day ymd{dayPoint};
    const hh_mm_ss hms{t - dayPoint};
    char buf[40];
    if (withMillis) {
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                      static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                      static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
    } else {
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                      static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                      static_cast<int>(hms.seconds().count()));
    }
    return buf;
}

}  // namespace

bool isLeapYear(int year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int daysInMonth(int year, int month) {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && isLeapYear(year) ? 29 : kDays[month - 1];
}

std::optional<CivilDate> parseCivilDate(std::string_view text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    const auto y = digits(text, 0, 4), m = digits(text, 5, 2), d = digits(text, 8, 2);
    if (!y || !m || !d) return std::nullopt;
    // Year 0 is left out: the Gregorian calendar has none, and ISO 8601 needs agreement to use it.
    if (*y < 1 || *m < 1 || *m > 12 || *d < 1 || *d > daysInMonth(*y, *m)) return std::nullopt;
    return CivilDate{*y, *m, *d};
}

long long daysFromCivil(const CivilDate& date) {
    const std::chrono::year_month_day ymd{std::chrono::year{date.year},
                                          std::chrono::month{static_cast<unsigned>(date.month)},
                                          std::chrono::day{static_cast<unsigned>(date.day)}};
    return std::chrono::sys_days{ymd}.time_since_epoch().count();
}

std::string civilFromDays(long long z) {
    // Howard Hinnant's civil_from_days (proleptic Gregorian).
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = yoe + era * 400;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    long long d = doy - (153 * mp + 2) / 5 + 1;
    long long m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) ++y;
    auto pad = [](long long v, std::size_t width) {
        std::string t = std::to_string(v);
        return t.size() < width ? std::string(width - t.size(), '0') + t : t;
    };
    return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2);
}

Timestamp nowTimestamp() {
    using namespace std::chrono;
    const auto now = floor<milliseconds>(system_clock::now());
    Timestamp ts;
    ts.utc = formatUtc(now, true);
    // The offset of the same instant: it depends on the date where daylight saving applies.
    const std::time_t secs = system_clock::to_time_t(now);
    std::tm local{};
    if (::localtime_r(&secs, &local) != nullptr) ts.offsetMinutes = static_cast<int>(local.tm_gmtoff / 60);
    return ts;
}

std::string todayUtc() {
    using namespace std::chrono;
    return formatUtc(floor<milliseconds>(system_clock::now()), false).substr(0, 10);
}

bool isValidDate(std::string_view text) {
    ParsedDateTime unused;
    return text.size() == 10 && parseDate(text, unused);
}

bool isValidDateTime(std::string_view text) {
    return parseDateTime(text).has_value();
}

std::optional<long long> daysFromCivil(std::string_view isoDate) {
    ParsedDateTime d;
    if (isoDate.size() != 10 || !parseDate(isoDate, d)) return std::nullopt;
    return daysFrom(d.year, d.month, d.day);
}

std::optional<std::string> dateTimeToUtc(std::string_view text) {
    const auto p = parseDateTime(text);
    if (!p) return std::nullopt;
    using namespace std::chrono;
    const long long localSeconds =
        daysFrom(p->year, p->month, p->day) * 86400LL + p->hour * 3600LL + p->minute * 60LL + p->second;
    const sys_time<milliseconds> utc{milliseconds{(localSeconds - p->offsetMinutes * 60LL) * 1000LL}};
    return formatUtc(utc, false);
}

}  // namespace outpost::core
