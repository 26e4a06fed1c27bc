// Dates and times as Outpost stores them: UTC timestamps with the local offset, ISO checks.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace outpost::core {

// "Now" as recorded on a record: the UTC instant and the machine's offset from UTC at that instant,
// so a report can be shown both in UTC and in the local time it was written in.
struct Timestamp {
    std::string utc;        // "2026-11-27T17:05:03.123Z": always UTC, millisecond precision
    int offsetMinutes = 0;  // local time minus UTC, in minutes (+60 for UTC+01:00)
};

// The current instant, from the system clock; the offset comes from the machine's time zone
// (localtime_r's tm_gmtoff). Thread-safe.
Timestamp nowTimestamp();

// The current date in UTC, "YYYY-MM-DD" (what the expression function today() returns).
// Thread-safe.
std::string todayUtc();

// The calendar: the one set of Gregorian rules every date check in Outpost uses (the
// validator below, the expression language's date functions, the derived figures).

// A day of the proleptic Gregorian calendar.
struct CivilDate {
    int year = 0;
    int month = 0;
    int day = 0;
};

// Leap years: every fourth year, but not centuries unless divisible by 400 (1900 no, 2000 yes). Pure.
bool isLeapYear(int year);

// 28 to 31; month MUST be 1..12. Pure.
int daysInMonth(int year, int month);

// The day named by exactly "YYYY-MM-DD" (four, two and two digits), with the year in 0001..9999 and
// the day real in its month; nullopt for anything else. Callers narrow the year range as they need
// (isValidDate allows 1900..2200). Pure.
std::optional<CivilDate> parseCivilDate(std::string_view text);

// Days from 1970-01-01 to the date (negative before it). The date MUST be a real one. Pure.
long long daysFromCivil(const CivilDate& date);

// The inverse of daysFromCivil, as "YYYY-MM-DD" (the year padded to four digits). Pure.
std::string civilFromDays(long long days);

// Validation and conversion

// True for exactly "YYYY-MM-DD" naming a real calendar day (Gregorian, leap years included) with
// the year in 1900..2200. Pure.
bool isValidDate(std::string_view text);

// True for "YYYY-MM-DDTHH:MM", optionally ":SS" and then optionally "." with 1 to 3 digits,
// followed by "Z" or "+HH:MM" / "-HH:MM". The date follows isValidDate; hours 00-23 (no "24:00"),
// minutes and seconds 00-59 (no leap second), offsets up to ±14:00. The separators 'T' and 'Z' must
// be uppercase: Outpost stores one spelling. Pure.
bool isValidDateTime(std::string_view text);

// Days from 1970-01-01 to the date (negative before it), or nullopt when !isValidDate(isoDate).
// Pure.
std::optional<long long> daysFromCivil(std::string_view isoDate);

// The same instant as a valid datetime, in UTC: "YYYY-MM-DDTHH:MM:SSZ" (seconds added when absent,
// a fraction dropped, not rounded). nullopt when !isValidDateTime(text). The result's year may fall
// just outside 1900..2200 when the offset moves the instant across the range's edge. Pure.
std::optional<std::string> dateTimeToUtc(std::string_view text);

}  // namespace outpost::core
