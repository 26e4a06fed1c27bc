// Tests for the form expression language: parsing, errors with columns, operators and every function.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/expr.hpp"

using outpost::core::EvalContext;
using outpost::core::EvalError;
using outpost::core::Expr;
using outpost::core::ExprError;
using outpost::core::json;

namespace {

// Field values from a map; records which fields and services were asked for, to check laziness.
class MapContext : public EvalContext {
public:
    std::map<std::string, json, std::less<>> fields;
    json selfValue;
    std::string todayValue = "2026-11-27";
    std::map<std::string, json> refs;        // "table/id/column"
    std::map<std::string, json> parity;      // "category/date"
    std::map<std::string, json> thresholds;  // name
    mutable std::vector<std::string> reads;
    mutable std::vector<std::string> calls;

    json field(std::string_view name) const override {
        reads.emplace_back(name);
        const auto it = fields.find(name);
        return it == fields.end() ? json() : it->second;
    }
    json self() const override { return selfValue; }
    json ref(std::string_view table, std::string_view id, std::string_view column) const override {
        const std::string key = std::string(table) + "/" + std::string(id) + "/" + std::string(column);
        calls.push_back("ref:" + key);
        const auto it = refs.find(key);
        return it == refs.end() ? json() : it->second;
    }
    json parityTarget(std::string_view category, std::string_view isoDate) const override {
        const std::string key = std::string(category) + "/" + std::string(isoDate);
        calls.push_back("parity:" + key);
        const auto it = parity.find(key);
        return it == parity.end() ? json() : it->second;
    }
    json threshold(std::string_view name) const override {
        calls.push_back("threshold:" + std::string(name));
        const auto it = thresholds.find(std::string(name));
        return it == thresholds.end() ? json() : it->second;
    }
    std::string today() const override { return todayValue; }
};

Expr compile(std::string_view src) {
    Expr e;
    ExprError err;
    INFO("source: " << src);
    const bool ok = Expr::parse(src, e, err);
    INFO("error: " << err.text());
    REQUIRE(ok);
    return e;
}

json run(std::string_view src, const MapContext& ctx) {
    return compile(src).eval(ctx);
}

json run(std::string_view src) {
    const MapContext ctx;
    return run(src, ctx);
}

ExprError parseError(std::string_view src) {
    Expr e;
    ExprError err;
    INFO("source: " << src);
    REQUIRE_FALSE(Expr::parse(src, e, err));
    return err;
}

std::string evalError(std::string_view src, const MapContext& ctx) {
    const Expr e = compile(src);
    try {
        const json v = e.eval(ctx);
        FAIL("expected an EvalError from '" << src << "', got " << v.dump());
    } catch (const EvalError& ex) {
        return ex.what();
    }
    return {};
}

std::string evalError(std::string_view src) {
    const MapContext ctx;
    return evalError(src, ctx);
}

bool isInt(const json& v, std::int64_t want) {
    return v.is_number_integer() && v.get<std::int64_t>() == want;
}
bool isFloat(const json& v, double want) {
    return v.is_number_float() && v.get<double>() == want;
}

std::string repeat(std::string_view s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

}  // namespace

TEST_CASE("expr: literals", "[core][expr]") {
    CHECK(isInt(run("12"), 12));
    CHECK(isFloat(run("3.5"), 3.5));
    CHECK(isFloat(run(".5"), 0.5));
    CHECK(run("'text'") == "text");
    CHECK(run("\"text\"") == "text");
    CHECK(run("'it\\'s'") == "it's");
    CHECK(run("'a\\\\b\\n\\t\\\"'") == "a\\b\n\t\"");
    CHECK(run("'say \"hi\"'") == "say \"hi\"");
    CHECK(run("true") == json(true));
    CHECK(run("false") == json(false));
    CHECK(run("null").is_null());
    // Too large for int64: still a number, as a float.
    CHECK(isFloat(run("99999999999999999999"), 1e20));
    CHECK(run("'héllo'") == "héllo");
}

TEST_CASE("expr: arithmetic operators keep integers where they can", "[core][expr]") {
    CHECK(isInt(run("2 + 3"), 5));
    CHECK(isInt(run("2 - 3"), -1));
    CHECK(isInt(run("4 * 3"), 12));
    CHECK(isFloat(run("7 / 2"), 3.5));
    CHECK(isFloat(run("6 / 3"), 2.0));  // '/' always gives a float
    CHECK(isInt(run("7 % 3"), 1));
    CHECK(isInt(run("-7 % 3"), -1));  // truncating remainder, like C and JavaScript
    CHECK(isFloat(run("7.5 % 2"), 1.5));
    CHECK(isFloat(run("1 + 0.5"), 1.5));
    CHECK(isFloat(run("2.5 * 2"), 5.0));
    CHECK(isFloat(run("1.5 - 2"), -0.5));
    CHECK(isInt(run("-4"), -4));
    CHECK(isFloat(run("-4.25"), -4.25));
    CHECK(isInt(run("- -3"), 3));
    CHECK(isInt(run("2 * -3"), -6));
    CHECK(isInt(run("2 - -3"), 5));
    // Integer overflow falls back to a float instead of wrapping.
    CHECK(isFloat(run("9223372036854775807 + 1"), 9223372036854775808.0));
    CHECK(isFloat(run("4611686018427387904 * 4"), 18446744073709551616.0));
    CHECK(isInt(run("-9223372036854775807 - 1"), std::numeric_limits<std::int64_t>::min()));
    CHECK(isInt(run("(-9223372036854775807 - 1) % -1"), 0));
}

TEST_CASE("expr: float overflow is an evaluation error, not inf", "[core][expr]") {
    MapContext ctx;
    ctx.fields["big"] = 1e308;
    CHECK(evalError("big * 10", ctx) == "column 5: number out of range");
}

TEST_CASE("expr: numbers parsed from JSON as unsigned mix with signed ones", "[core][expr]") {
    MapContext ctx;
    ctx.fields["n"] = json::parse("5");
    REQUIRE(ctx.fields["n"].is_number_unsigned());
    CHECK(isInt(run("n - 10", ctx), -5));
    CHECK(run("n = 5.0", ctx) == json(true));
    CHECK(run("-n < 0", ctx) == json(true));
}

TEST_CASE("expr: precedence and associativity", "[core][expr]") {
    CHECK(isInt(run("1 + 2 * 3"), 7));
    CHECK(isInt(run("(1 + 2) * 3"), 9));
    CHECK(isInt(run("2 - 3 - 4"), -5));
    CHECK(isFloat(run("24 / 4 / 2"), 3.0));
    CHECK(isInt(run("10 - 2 * 3 % 4"), 8));
    CHECK(isInt(run("-2 * 3"), -6));
    CHECK(isInt(run("-(2 + 3) * 2"), -10));
    CHECK(run("1 + 2 = 3") == json(true));
    CHECK(run("2 * 3 > 5 + 0") == json(true));
    CHECK(run("not 1 = 2") == json(true));
    CHECK(run("not false and false") == json(false));  // (not false) and false
    CHECK(run("not (false and false)") == json(true));
    CHECK(run("true or false and false") == json(true));  // and binds tighter than or
    CHECK(run("(true or false) and false") == json(false));
    CHECK(run("false and false or true") == json(true));
    CHECK(run("1 < 2 and 3 < 4") == json(true));
    CHECK(run("not not true") == json(true));
}

TEST_CASE("expr: comparisons", "[core][expr]") {
    CHECK(run("2 = 2") == json(true));
    CHECK(run("2 == 2") == json(true));
    CHECK(run("2 != 2") == json(false));
    CHECK(run("2 != 3") == json(true));
    CHECK(run("1 < 2") == json(true));
    CHECK(run("2 < 2") == json(false));
    CHECK(run("2 <= 2") == json(true));
    CHECK(run("3 <= 2") == json(false));
    CHECK(run("3 > 2") == json(true));
    CHECK(run("2 > 2") == json(false));
    CHECK(run("2 >= 2") == json(true));
    CHECK(run("1 >= 2") == json(false));
    CHECK(run("2 = 2.0") == json(true));  // numerically, int against float
    CHECK(run("2 < 2.5") == json(true));
    CHECK(run("'abc' = 'abc'") == json(true));
    CHECK(run("'abc' != 'abd'") == json(true));
    CHECK(run("'abc' < 'abd'") == json(true));
    CHECK(run("'2026-01-31' < '2026-02-01'") == json(true));  // ISO dates compare as text
    CHECK(run("true = true") == json(true));
    CHECK(run("true != false") == json(true));
    CHECK(evalError("true < false") == "column 6: cannot order true/false values");
    CHECK(evalError("1 = '1'") == "column 3: cannot compare a number with text");
    CHECK(evalError("'a' < 2") == "column 5: cannot compare text with a number");
    CHECK(evalError("true = 1") == "column 6: cannot compare true/false with a number");
    MapContext ctx;
    ctx.fields["tags"] = json::array({"a"});
    CHECK(evalError("tags = 'a'", ctx) == "column 6: cannot compare a list with text");
}

TEST_CASE("expr: comparisons cannot be chained", "[core][expr]") {
    const ExprError err = parseError("1 < x < 3");
    CHECK(err.column == 7);
    CHECK(err.message == "comparisons cannot be chained; join them with 'and'");
}

TEST_CASE("expr: null spreads through arithmetic and comparisons", "[core][expr]") {
    MapContext ctx;  // 'x' is absent, so null
    for (const char* src :
         {"x + 1", "1 - x", "x * 2", "x / 2", "2 % x", "-x", "x + 'text'", "x = 1", "x != 1", "x < 1",
          "x <= 1", "1 > x", "x >= 1", "x = null", "(x + 1) * 2", "null + null"}) {
        INFO(src);
        CHECK(run(src, ctx).is_null());
    }
}

TEST_CASE("expr: logic treats null as false and short-circuits", "[core][expr]") {
    MapContext ctx;
    CHECK(run("true and true") == json(true));
    CHECK(run("true and false") == json(false));
    CHECK(run("false or true") == json(true));
    CHECK(run("false or false") == json(false));
    CHECK(run("not true") == json(false));
    CHECK(run("null and true") == json(false));
    CHECK(run("null or true") == json(true));
    CHECK(run("null or null") == json(false));
    CHECK(run("not null") == json(true));
    CHECK(run("not x", ctx) == json(true));
    CHECK(run("x < 1 or true", ctx) == json(true));

    ctx.fields["t"] = "text";
    ctx.reads.clear();
    CHECK(run("false and t * 2 = 1", ctx) == json(false));
    CHECK(ctx.reads.empty());
    CHECK(run("true or t * 2 = 1", ctx) == json(true));
    CHECK(ctx.reads.empty());

    CHECK(evalError("1 and true") == "column 1: 'and' needs true or false, got a number");
    CHECK(evalError("false or 'yes'") == "column 10: 'or' needs true or false, got text");
    CHECK(evalError("not 0") == "column 1: 'not' needs true or false, got a number");
}

TEST_CASE("expr: division and remainder by zero give null", "[core][expr]") {
    CHECK(run("1 / 0").is_null());
    CHECK(run("1 % 0").is_null());
    CHECK(run("1.5 / 0.0").is_null());
    CHECK(run("5 % 0.0").is_null());
    CHECK(run("0 / 0").is_null());
    CHECK(run("1 / (2 - 2) + 1").is_null());
    MapContext ctx;
    ctx.fields["present"] = 0;
    ctx.fields["women"] = 0;
    CHECK(run("women * 100 / present", ctx).is_null());
}

TEST_CASE("expr: fields, repeat columns and the self value", "[core][expr]") {
    MapContext ctx;
    ctx.fields["women"] = 3;
    ctx.fields["present_total"] = 10;
    ctx.fields["equipment.serviceable"] = json::array({4, 5, nullptr, 1});
    ctx.selfValue = 4;

    CHECK(isInt(run("women + present_total", ctx), 13));
    CHECK(run("equipment.serviceable", ctx) == json::array({4, 5, nullptr, 1}));
    CHECK(isInt(run("sum(equipment.serviceable)", ctx), 10));
    CHECK(run(". <= present_total", ctx) == json(true));
    CHECK(isInt(run(". * 2", ctx), 8));
    CHECK(isFloat(run(".5 + .", ctx), 4.5));  // '.5' is a number, the lone '.' the self value
    CHECK(run("unknown_field", ctx).is_null());

    const Expr e = compile("women + equipment.serviceable_x + women * if(flag, total, women) + sum(a.b)");
    CHECK(e.references() ==
          std::vector<std::string>{"women", "equipment.serviceable_x", "flag", "total", "a.b"});
    CHECK_FALSE(e.usesSelf());

    const Expr withSelf = compile(". <= present_total and not empty(.)");
    CHECK(withSelf.usesSelf());
    CHECK(withSelf.references() == std::vector<std::string>{"present_total"});

    // Keywords, function names and string arguments are not field names.
    const Expr noRefs = compile("true and not false or null = 1 + len('women') + ref('units', 'u', 'c')");
    CHECK(noRefs.references().empty());
    CHECK_FALSE(noRefs.usesSelf());
    CHECK(compile(".5 * 2").usesSelf() == false);
    CHECK(compile("_private1 + x_2").references() == std::vector<std::string>{"_private1", "x_2"});
}

TEST_CASE("expr: if and coalesce are lazy", "[core][expr]") {
    MapContext ctx;
    ctx.fields["t"] = "text";
    CHECK(isInt(run("if(true, 1, t * 2)", ctx), 1));
    CHECK(isInt(run("if(false, t * 2, 2)", ctx), 2));
    CHECK(isInt(run("if(null, 1, 2)", ctx), 2));
    CHECK(run("if(1 > 0, 'yes', 'no')", ctx) == "yes");
    CHECK(run("if(true, null, 1)", ctx).is_null());
    ctx.reads.clear();
    CHECK(isInt(run("if(true, 1, never_read)", ctx), 1));
    CHECK(ctx.reads.empty());
    CHECK(evalError("if(1, 2, 3)") == "column 4: 'if' needs true or false, got a number");

    CHECK(isInt(run("coalesce(x, y, 3, 4)", ctx), 3));
    CHECK(run("coalesce(x, y)", ctx).is_null());
    CHECK(run("coalesce(t)", ctx) == "text");
    ctx.reads.clear();
    CHECK(isInt(run("coalesce(1, never_read * 2)", ctx), 1));
    CHECK(ctx.reads.empty());
}

TEST_CASE("expr: empty, len, count", "[core][expr]") {
    MapContext ctx;
    ctx.fields["list"] = json::array({1, nullptr, 3});
    ctx.fields["none"] = json::array();
    CHECK(run("empty(null)") == json(true));
    CHECK(run("empty('')") == json(true));
    CHECK(run("empty(none)", ctx) == json(true));
    CHECK(run("empty(x)", ctx) == json(true));
    CHECK(run("empty(0)") == json(false));
    CHECK(run("empty(' ')") == json(false));
    CHECK(run("empty(list)", ctx) == json(false));
    CHECK(run("empty(false)") == json(false));

    CHECK(isInt(run("len('héllo')"), 5));  // code points, not bytes
    CHECK(isInt(run("len('')"), 0));
    CHECK(isInt(run("len(list)", ctx), 3));
    CHECK(isInt(run("len(x)", ctx), 0));
    CHECK(evalError("len(5)") == "column 1: 'len' needs text or a list, got a number");

    CHECK(isInt(run("count(list)", ctx), 2));
    CHECK(isInt(run("count(none)", ctx), 0));
    CHECK(isInt(run("count(x)", ctx), 0));
    CHECK(isInt(run("count('one')"), 1));
}

TEST_CASE("expr: sum and avg", "[core][expr]") {
    MapContext ctx;
    ctx.fields["ints"] = json::array({1, 2, nullptr, 3});
    ctx.fields["mixed"] = json::array({1, 2.5});
    ctx.fields["none"] = json::array();
    ctx.fields["nulls"] = json::array({nullptr, nullptr});
    ctx.fields["words"] = json::array({1, "two"});
    CHECK(isInt(run("sum(ints)", ctx), 6));
    CHECK(isFloat(run("sum(mixed)", ctx), 3.5));
    CHECK(isInt(run("sum(none)", ctx), 0));
    CHECK(isInt(run("sum(nulls)", ctx), 0));
    CHECK(isInt(run("sum(x)", ctx), 0));
    CHECK(isInt(run("sum(7)"), 7));
    CHECK(isFloat(run("avg(ints)", ctx), 2.0));
    CHECK(isFloat(run("avg(mixed)", ctx), 1.75));
    CHECK(run("avg(none)", ctx).is_null());
    CHECK(run("avg(nulls)", ctx).is_null());
    CHECK(evalError("sum(words)", ctx) == "column 1: 'sum' needs numbers, got text");
    CHECK(evalError("avg(words)", ctx) == "column 1: 'avg' needs numbers, got text");
}

TEST_CASE("expr: min and max", "[core][expr]") {
    MapContext ctx;
    ctx.fields["nums"] = json::array({4, nullptr, 2.5, 9});
    ctx.fields["dates"] = json::array({"2026-03-01", "2025-12-31", "2026-01-15"});
    ctx.fields["none"] = json::array();
    ctx.fields["odd"] = json::array({1, "a"});
    CHECK(isFloat(run("min(nums)", ctx), 2.5));
    CHECK(isInt(run("max(nums)", ctx), 9));
    CHECK(isInt(run("min(3, 1, 2)"), 1));
    CHECK(isInt(run("max(3, 1, 2)"), 3));
    CHECK(isInt(run("max(x, 1, null)", ctx), 1));
    CHECK(run("min(dates)", ctx) == "2025-12-31");
    CHECK(run("max('b', 'a')") == "b");
    CHECK(run("min(none)", ctx).is_null());
    CHECK(run("max(x, y)", ctx).is_null());
    CHECK(evalError("min(odd)", ctx) == "column 1: 'min' cannot compare a number with text");
    CHECK(evalError("max(1, true)") == "column 1: 'max' needs numbers or text, got true/false");
}

TEST_CASE("expr: round, floor, ceil, abs", "[core][expr]") {
    CHECK(isInt(run("round(2.5)"), 3));
    CHECK(isInt(run("round(-2.5)"), -3));  // half away from zero
    CHECK(isInt(run("round(2.4)"), 2));
    CHECK(isInt(run("round(7)"), 7));
    CHECK(isFloat(run("round(2.675, 2)"), 2.68));  // decimal rounding of what the author wrote
    CHECK(isFloat(run("round(1.005, 2)"), 1.01));
    CHECK(isFloat(run("round(-1.005, 2)"), -1.01));
    CHECK(isFloat(run("round(1.23456, 3)"), 1.235));
    CHECK(isFloat(run("round(9.996, 2)"), 10.0));
    CHECK(isFloat(run("round(0.04, 1)"), 0.0));
    CHECK(isFloat(run("round(33.333333333333336, 1)"), 33.3));
    CHECK(isFloat(run("round(2.5, 3)"), 2.5));
    CHECK(isInt(run("round(5, 2)"), 5));
    CHECK(isInt(run("round(1234, -2)"), 1200));
    CHECK(isInt(run("round(1250, -2)"), 1300));
    CHECK(isInt(run("round(-1250, -2)"), -1300));
    CHECK(isInt(run("round(1234.5, -1)"), 1230));
    CHECK(isInt(run("round(0.5)"), 1));
    CHECK(isInt(run("round(2.5, 0)"), 3));
    CHECK(isInt(run("round(49, -2)"), 0));
    CHECK(run("round(x)").is_null());
    CHECK(run("round(2.5, x)").is_null());
    CHECK(run("round(-0.001, 1)").dump() == "0.0");  // no negative zero
    CHECK(evalError("round('a')") == "column 1: 'round' needs a number, got text");
    CHECK(evalError("round(2.5, 1.5)") == "column 1: 'round' needs a whole number of digits");

    CHECK(isInt(run("floor(2.7)"), 2));
    CHECK(isInt(run("floor(-2.5)"), -3));
    CHECK(isInt(run("floor(4)"), 4));
    CHECK(isInt(run("ceil(2.1)"), 3));
    CHECK(isInt(run("ceil(-2.1)"), -2));
    CHECK(run("floor(x)").is_null());
    CHECK(run("ceil(null)").is_null());
    MapContext huge;
    huge.fields["h"] = 1e301;
    CHECK(isFloat(run("floor(h)", huge), 1e301));  // beyond int64: stays a float
    CHECK(evalError("ceil('1')") == "column 1: 'ceil' needs a number, got text");

    CHECK(isInt(run("abs(-3)"), 3));
    CHECK(isInt(run("abs(3)"), 3));
    CHECK(isFloat(run("abs(-2.5)"), 2.5));
    CHECK(run("abs(null)").is_null());
    CHECK(evalError("abs(true)") == "column 1: 'abs' needs a number, got true/false");
}

TEST_CASE("expr: number and string conversions", "[core][expr]") {
    CHECK(isFloat(run("number('12.5')"), 12.5));
    CHECK(isInt(run("number('42')"), 42));
    CHECK(isInt(run("number(' -7 ')"), -7));
    CHECK(isInt(run("number('+7')"), 7));
    CHECK(isFloat(run("number('1e3')"), 1000.0));
    CHECK(run("number('x')").is_null());
    CHECK(run("number('12x')").is_null());
    CHECK(run("number('')").is_null());
    CHECK(run("number('inf')").is_null());
    CHECK(run("number('nan')").is_null());
    CHECK(run("number('0x10')").is_null());
    CHECK(isInt(run("number(3)"), 3));
    CHECK(isFloat(run("number(3.5)"), 3.5));
    CHECK(isInt(run("number(true)"), 1));
    CHECK(run("number(null)").is_null());
    MapContext ctx;
    ctx.fields["list"] = json::array({1});
    CHECK(evalError("number(list)", ctx) == "column 1: 'number' needs text or a number, got a list");

    CHECK(run("string(3)") == "3");
    CHECK(run("string(-3)") == "-3");
    CHECK(run("string(12.5)") == "12.5");
    CHECK(run("string(0.1)") == "0.1");
    CHECK(run("string(2.0)") == "2");
    CHECK(run("string(1 / 3)") == "0.3333333333333333");
    CHECK(run("string(true)") == "true");
    CHECK(run("string('a')") == "a");
    CHECK(run("string(null)").is_null());
    CHECK(evalError("string(list)", ctx) == "column 1: 'string' cannot turn a list into text");
}

TEST_CASE("expr: concat and contains", "[core][expr]") {
    CHECK(run("concat('a', null, 1, 2.5, true)") == "a12.5true");
    CHECK(run("concat(x)") == "");
    CHECK(run("concat('Sector ', 'West')") == "Sector West");
    MapContext ctx;
    ctx.fields["list"] = json::array({1});
    CHECK(evalError("concat('a', list)", ctx) == "column 1: 'concat' cannot turn a list into text");

    CHECK(run("contains('hello', 'ell')") == json(true));
    CHECK(run("contains('hello', 'xyz')") == json(false));
    CHECK(run("contains('hello', '')") == json(true));
    CHECK(run("contains(null, 'a')") == json(false));
    CHECK(run("contains('a', null)") == json(false));
    CHECK(evalError("contains(1, 'a')") == "column 1: 'contains' needs text, got a number");
}

TEST_CASE("expr: selected, count_selected, count_if", "[core][expr]") {
    MapContext ctx;
    ctx.fields["bodies"] = json::array({"oios", "nio"});
    ctx.fields["codes"] = json::array({"1", "2"});
    ctx.fields["kind"] = "monthly";
    ctx.fields["rows.status"] = json::array({"ok", "broken", "ok", nullptr});
    ctx.fields["rows.qty"] = json::array({2, 2.0, 3});
    CHECK(run("selected(bodies, 'nio')", ctx) == json(true));
    CHECK(run("selected(bodies, 'other')", ctx) == json(false));
    CHECK(run("selected(kind, 'monthly')", ctx) == json(true));
    CHECK(run("selected(kind, 'weekly')", ctx) == json(false));
    CHECK(run("selected(x, 'a')", ctx) == json(false));
    CHECK(run("selected(codes, 1)", ctx) == json(true));  // compared as text

    CHECK(isInt(run("count_selected(bodies)", ctx), 2));
    CHECK(isInt(run("count_selected(x)", ctx), 0));
    CHECK(isInt(run("count_selected(kind)", ctx), 1));
    CHECK(evalError("count_selected(3)") ==
          "column 1: 'count_selected' needs a list of choices, got a number");

    CHECK(isInt(run("count_if(rows.status, 'ok')", ctx), 2));
    CHECK(isInt(run("count_if(rows.status, null)", ctx), 1));
    CHECK(isInt(run("count_if(rows.qty, 2)", ctx), 2));    // numerically: 2 and 2.0
    CHECK(isInt(run("count_if(rows.qty, '2')", ctx), 0));  // a number is never equal to text
    CHECK(isInt(run("count_if(x, 1)", ctx), 0));
}

TEST_CASE("expr: dates", "[core][expr]") {
    MapContext ctx;
    ctx.todayValue = "2026-11-27";
    ctx.fields["start"] = "2026-11-20";
    CHECK(run("today()", ctx) == "2026-11-27");
    CHECK(isInt(run("days_between(start, today())", ctx), 7));
    CHECK(isInt(run("days_between('2026-01-01', '2026-03-01')"), 59));
    CHECK(isInt(run("days_between('2024-02-28', '2024-03-01')"), 2));  // leap year
    CHECK(isInt(run("days_between('1900-02-28', '1900-03-01')"), 1));  // 1900 is not a leap year
    CHECK(isInt(run("days_between('2000-02-28', '2000-03-01')"), 2));  // 2000 is
    CHECK(isInt(run("days_between('2026-03-01', '2026-01-01')"), -59));
    CHECK(isInt(run("days_between('1970-01-01', '2000-01-01')"), 10957));
    CHECK(isInt(run("days_between('2026-11-27T23:59:00+01:00', '2026-11-28')"), 1));
    CHECK(run("days_between('2026-02-30', '2026-03-01')").is_null());
    CHECK(run("days_between('2026-13-01', '2026-03-01')").is_null());
    CHECK(run("days_between('0000-01-01', '2026-03-01')").is_null());
    CHECK(run("days_between('nonsense', '2026-03-01')").is_null());
    CHECK(run("days_between('2026-03-01x', '2026-03-01')").is_null());
    CHECK(run("days_between(x, '2026-03-01')", ctx).is_null());
    CHECK(evalError("days_between(1, '2026-03-01')") == "column 1: 'days_between' needs text, got a number");

    // Cross-check the day count against the standard library's civil calendar.
    using namespace std::chrono;
    const auto chronoDays = [](int y, unsigned m, unsigned d) {
        return sys_days(year_month_day(year(y), month(m), day(d))).time_since_epoch().count();
    };
    CHECK(isInt(run("days_between('0001-01-01', '9999-12-31')"),
                chronoDays(9999, 12, 31) - chronoDays(1, 1, 1)));
    CHECK(isInt(run("days_between('1600-02-29', '2400-02-29')"),
                chronoDays(2400, 2, 29) - chronoDays(1600, 2, 29)));
    CHECK(isInt(run("days_between('1969-07-20', '2026-11-27')"),
                chronoDays(2026, 11, 27) - chronoDays(1969, 7, 20)));

    CHECK(isInt(run("year('2026-11-27')"), 2026));
    CHECK(isInt(run("year('2026-11-27T14:05:00Z')"), 2026));
    CHECK(run("year('27/11/2026')").is_null());
    CHECK(run("year(null)").is_null());
    CHECK(evalError("year(2026)") == "column 1: 'year' needs text, got a number");
}

TEST_CASE("expr: ref, parity_target and threshold ask the context", "[core][expr]") {
    MapContext ctx;
    ctx.fields["unit"] = "RWABATT-1";
    ctx.fields["date"] = "2026-11-27T10:00Z";
    ctx.refs["units/RWABATT-1/personnel_category"] = "troops";
    ctx.parity["troops/2026-11-27"] = 15;
    ctx.thresholds["coe_serviceability_pct"] = 90;

    CHECK(run("ref('units', unit, 'personnel_category')", ctx) == "troops");
    CHECK(ctx.calls.back() == "ref:units/RWABATT-1/personnel_category");
    CHECK(run("ref('units', 'nope', 'x')", ctx).is_null());
    CHECK(isInt(run("parity_target(ref('units', unit, 'personnel_category'), date)", ctx), 15));
    CHECK(ctx.calls.back() == "parity:troops/2026-11-27");  // a datetime is cut to its date
    CHECK(isInt(run("threshold('coe_serviceability_pct')", ctx), 90));
    CHECK(ctx.calls.back() == "threshold:coe_serviceability_pct");

    // A missing argument gives null without bothering the context.
    ctx.calls.clear();
    CHECK(run("ref('units', missing, 'x')", ctx).is_null());
    CHECK(run("parity_target('troops', missing)", ctx).is_null());
    CHECK(run("parity_target('troops', 'not a date')", ctx).is_null());
    CHECK(run("threshold(missing)", ctx).is_null());
    CHECK(ctx.calls.empty());
    CHECK(evalError("threshold(1)", ctx) == "column 1: 'threshold' needs text, got a number");
}

TEST_CASE("expr: run-time type errors name the column and the types", "[core][expr]") {
    CHECK(evalError("'a' * 2") == "column 5: cannot multiply text by a number");
    CHECK(evalError("'a' + 'b'") == "column 5: cannot add text to text (use concat())");
    CHECK(evalError("1 + true") == "column 3: cannot add a number and true/false");
    CHECK(evalError("1 - 'a'") == "column 3: cannot subtract text from a number");
    CHECK(evalError("1 / 'a'") == "column 3: cannot divide a number by text");
    CHECK(evalError("1 % 'a'") == "column 3: cannot take the remainder of a number divided by text");
    CHECK(evalError("-'a'") == "column 1: cannot negate text");
    CHECK(evalError("1 + 2 + 'x'") == "column 7: cannot add a number and text");
}

TEST_CASE("expr: syntax errors carry a column and a message", "[core][expr]") {
    struct Case {
        const char* src;
        int column;
        const char* message;
    };
    const Case cases[] = {
        // unexpected characters
        {"1 # 2", 3, "unexpected character '#'"},
        {"a & b", 3, "unexpected character '&' (use 'and')"},
        {"a || b", 3, "unexpected character '|' (use 'or')"},
        {"!a", 1, "unexpected character '!' (use 'not' or '!=')"},
        {"womenPresent", 6, "unexpected character 'P' (names are lower case)"},
        {"'é' + é", 7, "unexpected character 'é'"},  // columns count characters, not bytes
        {"1 +\x01", 4, "unexpected character U+0001"},
        // strings and numbers
        {"concat('abc", 8, "unterminated string"},
        {"'abc\\", 1, "unterminated string"},
        {"'a\\qb'", 3, "unknown escape '\\q' in text (use \\\\, \\', \\\", \\n or \\t)"},
        {"'\\é'", 2, "unknown escape '\\é' in text (use \\\\, \\', \\\", \\n or \\t)"},
        {"12abc + 1", 1, "malformed number '12abc'"},
        {"1.2.3", 1, "malformed number '1.2.3'"},
        // names and dots
        {"a.b.c", 4, "a field name has at most one '.' (group.field)"},
        {".abc", 1, "'.' alone is the field's own value; a field is 'name' or 'group.field'"},
        // parentheses
        {"(1 + 2", 7, "expected ')'"},
        {"(1 + 2 3", 8, "expected ')'"},
        {"if(a, 1, 2", 11, "expected ')' after the arguments of 'if'"},
        {"if(a, 1 2)", 9, "expected ')' after the arguments of 'if'"},
        {"a)", 2, "unexpected ')' without a matching '('"},
        // functions
        {"sume(x)", 1, "unknown function 'sume'"},
        {"1 + group.field(2)", 5, "unknown function 'group.field'"},
        {"round(1, 2, 3)", 1, "'round' takes 1 or 2 arguments, got 3"},
        {"1 + len()", 5, "'len' takes 1 argument, got 0"},
        {"if(a, b)", 1, "'if' takes 3 arguments, got 2"},
        {"today(1)", 1, "'today' takes no arguments, got 1"},
        {"coalesce()", 1, "'coalesce' takes at least 1 argument, got 0"},
        {"days_between(a)", 1, "'days_between' takes 2 arguments, got 1"},
        {"max(1,)", 7, "expected a value, got ')'"},
        // incomplete and trailing input
        {"", 1, "empty expression"},
        {"   ", 1, "empty expression"},
        {"1 +", 4, "expected a value, got the end of the expression"},
        {"1 + * 2", 5, "expected a value, got '*'"},
        {"a = not b", 5, "expected a value, got 'not'"},
        {"1 2", 3, "unexpected '2' after a complete expression"},
        {"a 'b'", 3, "unexpected 'b' after a complete expression"},
        {"a .", 3, "unexpected '.' after a complete expression"},
        {"\xff", 1, "invalid UTF-8"},
    };
    for (const Case& c : cases) {
        INFO("source: " << c.src);
        const ExprError err = parseError(c.src);
        CHECK(err.column == c.column);
        CHECK(err.message == c.message);
    }
}

TEST_CASE("expr: ExprError text, truthy and an empty Expr", "[core][expr]") {
    const ExprError err{14, "expected ')'"};
    CHECK(err.text() == "column 14: expected ')'");
    CHECK(parseError("(1 + 2").text() == "column 7: expected ')'");

    CHECK(Expr::truthy(true));
    CHECK_FALSE(Expr::truthy(false));
    CHECK_FALSE(Expr::truthy(nullptr));
    CHECK_FALSE(Expr::truthy(1));
    CHECK_FALSE(Expr::truthy("true"));

    const Expr none;
    CHECK(none.empty());
    CHECK(none.eval(MapContext{}).is_null());

    // A failed parse leaves no stale expression behind.
    Expr e = compile("a + b");
    CHECK_FALSE(e.empty());
    CHECK(e.source() == "a + b");
    ExprError err2;
    CHECK_FALSE(Expr::parse("a +", e, err2));
    CHECK(e.empty());
    CHECK(e.references().empty());

    // Copies share the compiled tree and give the same answers.
    MapContext ctx;
    ctx.fields["a"] = 2;
    ctx.fields["b"] = 5;
    const Expr original = compile("a * b");
    const Expr copy = original;
    CHECK(isInt(copy.eval(ctx), 10));
    CHECK(copy.references() == original.references());
}

TEST_CASE("expr: nesting depth is limited", "[core][expr]") {
    CHECK(isInt(run(repeat("(", 63) + "1" + repeat(")", 63)), 1));
    CHECK(isInt(run(repeat("-", 62) + "1"), 1));

    ExprError err = parseError(repeat("(", 100) + "1" + repeat(")", 100));
    CHECK(err.column == 64);
    CHECK(err.message == "expression is nested too deeply (the limit is 64 levels)");

    err = parseError(repeat("(", 64) + "1" + repeat(")", 64));
    CHECK(err.column == 64);

    err = parseError(repeat("-", 1000) + "1");
    CHECK(err.column == 64);
    CHECK(err.message == "expression is nested too deeply (the limit is 64 levels)");

    err = parseError(repeat("not ", 100) + "true");
    CHECK(err.column == 1 + 63 * 4);
    CHECK(err.message == "expression is nested too deeply (the limit is 64 levels)");

    err = parseError(repeat("abs(", 100) + "1" + repeat(")", 100));
    CHECK(err.column == 1 + 64 * 4);  // the argument that opened level 65
    CHECK(err.message == "expression is nested too deeply (the limit is 64 levels)");
}

TEST_CASE("expr: a long flat chain is not nesting", "[core][expr]") {
    MapContext ctx;
    ctx.fields["x"] = 1;
    const std::string src = "x" + repeat(" + x", 999);
    CHECK(isInt(run(src, ctx), 1000));
    CHECK(compile(src).references() == std::vector<std::string>{"x"});
    CHECK(run("true" + repeat(" and true", 400)) == json(true));
}

TEST_CASE("expr: source length is limited", "[core][expr]") {
    const std::string atLimit = "1" + std::string(4095, ' ');
    CHECK(isInt(run(atLimit), 1));

    const ExprError err = parseError("1" + std::string(4096, ' '));
    CHECK(err.column == 4097);
    CHECK(err.message == "expression is too long (4097 bytes; the limit is 4096)");
}
