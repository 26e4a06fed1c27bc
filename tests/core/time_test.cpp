// Tests for timestamps, ISO date/datetime validation, day counts and UTC normalisation.
#include <catch2/catch.hpp>

#include <ctime>
#include <string>

#include "core/time.hpp"

using namespace outpost::core;

TEST_CASE("nowTimestamp gives UTC with millisecond precision", "[core][time]") {
    const Timestamp ts = nowTimestamp();
    REQUIRE(ts.utc.size() == 24);
    CHECK(ts.utc[10] == 'T');
    CHECK(ts.utc[19] == '.');
    CHECK(ts.utc.back() == 'Z');
    CHECK(isValidDateTime(ts.utc));
    CHECK(ts.offsetMinutes >= -14 * 60);
    CHECK(ts.offsetMinutes <= 14 * 60);
    // The same instant's offset as the C library sees it.
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    REQUIRE(localtime_r(&now, &local) != nullptr);
    CHECK(ts.offsetMinutes == local.tm_gmtoff / 60);
}

TEST_CASE("todayUtc is the date part of now", "[core][time]") {
    const std::string before = nowTimestamp().utc.substr(0, 10);
    const std::string today = todayUtc();
    const std::string after = nowTimestamp().utc.substr(0, 10);
    CHECK(isValidDate(today));
    CHECK((today == before || today == after));
}

TEST_CASE("isValidDate follows the calendar", "[core][time]") {
    CHECK(isValidDate("2026-11-27"));
    CHECK(isValidDate("2024-02-29"));  // leap year
    CHECK(isValidDate("2000-02-29"));  // divisible by 400
    CHECK_FALSE(isValidDate("2026-02-29"));
    CHECK_FALSE(isValidDate("1900-02-29"));  // divisible by 100, not by 400
    CHECK_FALSE(isValidDate("2100-02-29"));
    CHECK(isValidDate("2026-04-30"));
    CHECK_FALSE(isValidDate("2026-04-31"));
    CHECK(isValidDate("2026-12-31"));
    CHECK_FALSE(isValidDate("2026-13-01"));
    CHECK_FALSE(isValidDate("2026-00-10"));
    CHECK_FALSE(isValidDate("2026-01-00"));
    CHECK_FALSE(isValidDate("2026-01-32"));
}

TEST_CASE("isValidDate keeps years to 1900..2200 and the exact form", "[core][time]") {
    CHECK(isValidDate("1900-01-01"));
    CHECK(isValidDate("2200-12-31"));
    CHECK_FALSE(isValidDate("1899-12-31"));
    CHECK_FALSE(isValidDate("2201-01-01"));
    CHECK_FALSE(isValidDate(""));
    CHECK_FALSE(isValidDate("2026-1-27"));
    CHECK_FALSE(isValidDate("2026/11/27"));
    CHECK_FALSE(isValidDate("2026-11-27 "));
    CHECK_FALSE(isValidDate(" 2026-11-27"));
    CHECK_FALSE(isValidDate("20261127"));
    CHECK_FALSE(isValidDate("27-11-2026"));
    CHECK_FALSE(isValidDate("2026-11-2a"));
    CHECK_FALSE(isValidDate("+026-11-27"));
    CHECK_FALSE(isValidDate("2026-11-27T00:00Z"));
}

TEST_CASE("isValidDateTime accepts the documented forms", "[core][time]") {
    CHECK(isValidDateTime("2026-11-27T14:05Z"));
    CHECK(isValidDateTime("2026-11-27T14:05:00Z"));
    CHECK(isValidDateTime("2026-11-27T14:05:00.123Z"));
    CHECK(isValidDateTime("2026-11-27T14:05:00.1Z"));
    CHECK(isValidDateTime("2026-11-27T14:05:00+01:00"));
    CHECK(isValidDateTime("2026-11-27T14:05-03:30"));
    CHECK(isValidDateTime("2026-11-27T00:00:00+14:00"));
    CHECK(isValidDateTime("2026-11-27T23:59:59-12:00"));
    CHECK(isValidDateTime("2024-02-29T12:00Z"));
}

TEST_CASE("isValidDateTime refuses bad values and separators", "[core][time]") {
    CHECK_FALSE(isValidDateTime("2026-11-27T24:00Z"));
    CHECK_FALSE(isValidDateTime("2026-11-27T23:60Z"));
    CHECK_FALSE(isValidDateTime("2026-11-27T23:59:60Z"));
    CHECK_FALSE(isValidDateTime("2026-02-29T12:00Z"));
    CHECK_FALSE(isValidDateTime("2026-11-27T14:05"));  // no zone
    CHECK_FALSE(isValidDateTime("2026-11-27 14:05Z"));
    CHECK_FALSE(isValidDateTime("2026-11-27t14:05z"));
    CHECK_FALSE(isValidDateTime("2026-11-27T14.05Z"));
    CHECK_FALSE(isValidDateTime("2026-11-27T14:5Z"));
    CHECK_FALSE(isValidDateTime("2026-11-27T14:05:00.Z"));
    CHECK_FALSE(isValidDateTime("2026-11-27T14:05:00.1234Z"));
    CHECK_FALSE(isValidDateTime("2026-11-27T14:05.123Z"));  // fraction needs seconds
    CHECK_FALSE(isValidDateTime("2026-11-27T14:05+14:01"));
    CHECK_FALSE(isValidDateTime("2026-11-27T14:05+15:00"));
    CHECK_FALSE(isValidDateTime("2026-11-27T14:05+01:60"));
    CHECK_FALSE(isValidDateTime("2026-11-27T14:05+0100"));
    CHECK_FALSE(isValidDateTime("2026-11-27T14:05+01"));
    CHECK_FALSE(isValidDateTime("2026-11-27T14:05Z "));
    CHECK_FALSE(isValidDateTime("2026-11-27T14:05ZZ"));
    CHECK_FALSE(isValidDateTime("2026-11-27"));
    CHECK_FALSE(isValidDateTime(""));
}

TEST_CASE("daysFromCivil counts days from the Unix epoch", "[core][time]") {
    CHECK(daysFromCivil("1970-01-01") == 0LL);
    CHECK(daysFromCivil("1970-01-02") == 1LL);
    CHECK(daysFromCivil("1969-12-31") == -1LL);
    CHECK(daysFromCivil("2000-03-01") == 11017LL);
    CHECK(daysFromCivil("1900-01-01") == -25567LL);
    CHECK(daysFromCivil("2026-11-27") == 20784LL);
    CHECK(*daysFromCivil("2024-03-01") - *daysFromCivil("2024-02-28") == 2);
    CHECK(*daysFromCivil("2026-03-01") - *daysFromCivil("2026-02-28") == 1);
    CHECK_FALSE(daysFromCivil("2026-02-29").has_value());
    CHECK_FALSE(daysFromCivil("not a date").has_value());
}

TEST_CASE("dateTimeToUtc normalises the offset", "[core][time]") {
    CHECK(dateTimeToUtc("2026-11-27T14:05:00+01:00") == std::string("2026-11-27T13:05:00Z"));
    CHECK(dateTimeToUtc("2026-11-27T14:05Z") == std::string("2026-11-27T14:05:00Z"));
    CHECK(dateTimeToUtc("2026-11-27T14:05:09.999Z") == std::string("2026-11-27T14:05:09Z"));
    CHECK(dateTimeToUtc("2026-11-27T22:30-03:30") == std::string("2026-11-28T02:00:00Z"));
    CHECK(dateTimeToUtc("2027-01-01T00:30+14:00") == std::string("2026-12-31T10:30:00Z"));
    CHECK(dateTimeToUtc("2024-02-28T23:00-02:00") == std::string("2024-02-29T01:00:00Z"));
    CHECK(dateTimeToUtc("2026-02-28T23:00-02:00") == std::string("2026-03-01T01:00:00Z"));
    CHECK(dateTimeToUtc("1900-01-01T00:00+01:00") == std::string("1899-12-31T23:00:00Z"));
    CHECK_FALSE(dateTimeToUtc("2026-11-27T24:00Z").has_value());
    CHECK_FALSE(dateTimeToUtc("2026-11-27").has_value());
}
