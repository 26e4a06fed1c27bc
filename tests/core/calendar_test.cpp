// The one calendar (core/time.hpp): the expression language's date functions and the record
// validator give the same verdict on every edge date.
#include <catch2/catch.hpp>

#include <string>

#include "core/expr.hpp"
#include "core/form.hpp"
#include "core/refdata.hpp"
#include "core/time.hpp"
#include "core/validate.hpp"
#include "support/core_fixtures.hpp"

using namespace outpost::core;
using outpost::test::fixture;
using outpost::test::smallRef;

namespace {

class NoContext : public EvalContext {
public:
    json field(std::string_view) const override { return nullptr; }
    json self() const override { return nullptr; }
    json ref(std::string_view, std::string_view, std::string_view) const override { return nullptr; }
    json parityTarget(std::string_view, std::string_view) const override { return nullptr; }
    json threshold(std::string_view) const override { return nullptr; }
    std::string today() const override { return "2026-11-27"; }
};

// True when the expression language takes the text as a date: year() gives a number.
bool exprTakes(const std::string& date) {
    Expr e;
    ExprError err;
    REQUIRE(Expr::parse("year('" + date + "')", e, err));
    return !e.eval(NoContext{}).is_null();
}

// True when the validator takes the text as the value of a date field (no "type" issue on it).
bool validatorTakes(const std::string& date) {
    static const FormDef form = parseFormDef(fixture("kitchen_sink.json"), smallRef()).value();
    const auto r = validateRecord(form, json{{"day", date}}, ValidationMode::Draft, smallRef(), "2026-11-27");
    for (const auto& i : r.issues)
        if (i.path == "day" && i.rule == "type") return false;
    return true;
}

}  // namespace

TEST_CASE("the expression language and the validator agree on edge dates", "[core][time]") {
    struct Case {
        const char* date;
        bool real;
    };
    const Case cases[] = {
        {"2024-02-29", true},  {"2023-02-29", false},  {"2000-02-29", true},  {"1900-02-29", false},
        {"2100-02-29", false}, {"2104-02-29", true},   {"2026-04-31", false}, {"2026-04-30", true},
        {"0000-01-01", false}, {"1900-01-01", true},   {"2000-12-31", true},  {"2100-12-31", true},
        {"2026-13-01", false}, {"2026-00-10", false},  {"2026-01-00", false}, {"2026-01-32", false},
        {"2024-2-3", false},   {"2024-02-3", false},   {"2024-02-03", true},  {"2024/02/03", false},
        {"+024-02-03", false}, {"2024-02-03 ", false}, {"", false},
    };
    for (const auto& c : cases) {
        INFO(c.date);
        CHECK(exprTakes(c.date) == c.real);
        CHECK(validatorTakes(c.date) == c.real);
        CHECK(isValidDate(c.date) == c.real);
        CHECK(parseCivilDate(c.date).has_value() == c.real);
    }
}

TEST_CASE("the calendar's rules", "[core][time]") {
    CHECK(isLeapYear(2024));
    CHECK(isLeapYear(2000));
    CHECK(isLeapYear(1600));
    CHECK_FALSE(isLeapYear(1900));
    CHECK_FALSE(isLeapYear(2100));
    CHECK_FALSE(isLeapYear(2023));
    CHECK(daysInMonth(2024, 2) == 29);
    CHECK(daysInMonth(2023, 2) == 28);
    CHECK(daysInMonth(2026, 4) == 30);
    CHECK(daysInMonth(2026, 12) == 31);
    const auto d = parseCivilDate("2024-02-29");
    REQUIRE(d);
    CHECK(d->year == 2024);
    CHECK(d->month == 2);
    CHECK(d->day == 29);
    CHECK(daysFromCivil(CivilDate{1970, 1, 1}) == 0);
    CHECK(daysFromCivil(CivilDate{2000, 3, 1}) - daysFromCivil(CivilDate{2000, 2, 28}) == 2);
    CHECK(civilFromDays(0) == "1970-01-01");
    CHECK(civilFromDays(daysFromCivil(CivilDate{2024, 2, 29})) == "2024-02-29");
    CHECK(civilFromDays(daysFromCivil(CivilDate{1, 1, 1})) == "0001-01-01");
    // The validator narrows the years to 1900..2200; the expression language counts across any.
    CHECK_FALSE(isValidDate("1899-12-31"));
    CHECK_FALSE(isValidDate("2201-01-01"));
    CHECK(parseCivilDate("1899-12-31").has_value());
}
