// Record validation: every field type and rule, in drafts and at finalize, with the path of each problem.
#include <catch2/catch.hpp>

#include "core/form.hpp"
#include "core/refdata.hpp"
#include "core/validate.hpp"
#include "support/core_fixtures.hpp"

using namespace outpost::core;
using outpost::test::fixture;
using outpost::test::smallRef;

namespace {
const FormDef& sink() {
    static const FormDef f = parseFormDef(fixture("kitchen_sink.json"), smallRef()).value();
    return f;
}
json good() {
    return json::parse(R"({
      "unit": "U-INF-1", "title": "Weekly check", "notes": "All quiet.\nNo incident.", "count": 3,
      "ratio": 0.5, "day": "2026-11-01", "until": "2026-11-02", "at": "2026-11-01T10:00:00+01:00",
      "flag": false, "kind": "alpha", "tags": ["x", "z"], "score": 3,
      "where": {"lat": 4.36, "lon": 18.55},
      "lines": [{"qty": 10, "ok": 9}, {"qty": 4, "ok": 4}]})");
}
ValidationResult check(const json& p, ValidationMode m = ValidationMode::Final) {
    return validateRecord(sink(), p, m, smallRef(), "2026-11-27");
}
// The one blocking issue at path, or fails.
const Issue& issueAt(const ValidationResult& r, const std::string& path, const std::string& rule) {
    for (const auto& i : r.issues)
        if (i.path == path && i.rule == rule) return i;
    FAIL("no '" << rule << "' issue at " << path << "; got:\n" << r.text());
    throw std::logic_error("unreachable");
}
}  // namespace

TEST_CASE("a complete record validates and gets its computed values", "[core][validate]") {
    auto r = check(good());
    INFO(r.text());
    REQUIRE(r.ok());
    CHECK(r.normalized["total"] == 14);
    CHECK(r.normalized["lines"][0]["pct"] == Approx(90.0));
    CHECK(r.normalized["lines"][1]["pct"] == Approx(100.0));
    CHECK_FALSE(r.normalized.contains("secret"));
}

TEST_CASE("each field type refuses a value of the wrong type, even in a draft", "[core][validate]") {
    struct Case {
        const char* field;
        json bad;
    };
    std::vector<Case> cases = {
        {"title", 12},         {"notes", true},
        {"count", "many"},     {"count", 2.5},
        {"ratio", "half"},     {"day", "27/11/2026"},
        {"day", "2026-02-30"}, {"at", "2026-11-01 10:00"},
        {"flag", "yes"},       {"kind", 1},
        {"tags", "x"},         {"score", "good"},
        {"where", "here"},     {"where", json::object({{"lat", 100}, {"lon", 0}})},
        {"unit", 5},           {"lines", "none"},
    };
    for (const auto& c : cases) {
        json p = good();
        p[c.field] = c.bad;
        auto r = check(p, ValidationMode::Draft);
        INFO(c.field << " = " << c.bad.dump() << "\n" << r.text());
        CHECK_FALSE(r.ok());
        REQUIRE_FALSE(r.issues.empty());
        CHECK(r.issues[0].path == c.field);
    }
}

TEST_CASE("value rules: ranges, lengths, pattern, choices, references, rows", "[core][validate]") {
    json p = good();
    p["count"] = 101;
    CHECK_THAT(issueAt(check(p), "count", "max").message, Catch::Contains("at most 100"));
    p = good();
    p["count"] = -1;
    issueAt(check(p, ValidationMode::Draft), "count", "min");
    p = good();
    p["title"] = std::string(81, 'a');
    issueAt(check(p, ValidationMode::Draft), "title", "max_length");
    p = good();
    p["title"] = "bad # title";
    CHECK(issueAt(check(p), "title", "pattern").custom.fr == "Pas de # dans les titres");
    p = good();
    p["title"] = "two\nlines";
    issueAt(check(p), "title", "type");
    p = good();
    p["kind"] = "charlie";
    issueAt(check(p), "kind", "choice");
    p = good();
    p["tags"] = {"x", "x"};
    issueAt(check(p), "tags", "choice");
    p = good();
    p["tags"] = {"x", "y", "z"};
    issueAt(check(p), "tags", "max_selected");
    p = good();
    p["score"] = 7;
    issueAt(check(p), "score", "choice");
    p = good();
    p["unit"] = "U-NOPE";
    issueAt(check(p), "unit", "reference");
    p = good();
    p["day"] = "1999-12-31";
    issueAt(check(p), "day", "min");
    p = good();
    p["lines"] = json::array();
    for (int i = 0; i < 6; ++i) p["lines"].push_back({{"qty", 1}});
    issueAt(check(p, ValidationMode::Draft), "lines", "max_rows");
    p = good();
    p["lines"][1]["qty"] = "four";
    issueAt(check(p), "lines[1].qty", "type");
    p = good();
    p["lines"][0]["bogus"] = 1;
    issueAt(check(p), "lines[0].bogus", "unknown_field");
}

TEST_CASE("unknown fields and supplied computed values are refused", "[core][validate]") {
    json p = good();
    p["colour"] = "red";
    CHECK_THAT(issueAt(check(p, ValidationMode::Draft), "colour", "unknown_field").message,
               Catch::Contains("has no field 'colour'"));
    p = good();
    p["total"] = 99;
    issueAt(check(p, ValidationMode::Draft), "total", "computed");
    p = good();
    p["hdr"] = "x";
    issueAt(check(p, ValidationMode::Draft), "hdr", "unknown_field");
    auto r = check(json::array({1, 2}), ValidationMode::Draft);
    issueAt(r, "", "json");
}

TEST_CASE("required values: missing in a draft is fine, at finalize it is not", "[core][validate]") {
    json p = good();
    p.erase("title");
    p["lines"][0].erase("qty");
    CHECK(check(p, ValidationMode::Draft).ok());
    auto r = check(p);
    issueAt(r, "title", "required");
    issueAt(r, "lines[0].qty", "required");
    CHECK(r.errorCount() == 2);
}

TEST_CASE("relevance hides and drops values, and required_if follows it", "[core][validate]") {
    json p = good();
    p["secret"] = "VIC-01-1";
    auto r = check(p);
    REQUIRE(r.ok());
    CHECK_FALSE(r.normalized.contains("secret"));  // not relevant: dropped at finalize
    p["flag"] = true;
    p.erase("secret");
    issueAt(check(p), "secret", "required");
    p["secret"] = "VIC-01-1";
    r = check(p);
    REQUIRE(r.ok());
    CHECK(r.normalized["secret"] == "VIC-01-1");
}

TEST_CASE("hidden values do not feed computed values at finalize", "[core][validate]") {
    json p = good();
    p["extra"] = 5;  // flag is false: extra is not relevant
    CHECK(check(p, ValidationMode::Draft).normalized["total"] == 19);
    auto r = check(p);
    REQUIRE(r.ok());
    CHECK(r.normalized["total"] == 14);
    CHECK_FALSE(r.normalized.contains("extra"));
    p["flag"] = true;
    p["secret"] = "VIC-01-1";
    CHECK(check(p).normalized["total"] == 19);
}

TEST_CASE("constraints block finalize and warn in a draft", "[core][validate]") {
    json p = good();
    p["lines"][0]["ok"] = 11;
    p["until"] = "2026-10-01";
    auto fin = check(p);
    CHECK(issueAt(fin, "lines[0].ok", "constraint").message == "More serviceable than present");
    CHECK(issueAt(fin, "until", "constraint").custom.fr == "Fin avant début");
    auto draft = check(p, ValidationMode::Draft);
    CHECK(draft.ok());
    CHECK(issueAt(draft, "lines[0].ok", "constraint").warning);
}

TEST_CASE("MGRS locations are converted and kept", "[core][validate]") {
    json p = good();
    p["where"] = {{"mgrs", "31UDQ4825111932"}};
    auto r = check(p);
    INFO(r.text());
    REQUIRE(r.ok());
    CHECK(r.normalized["where"]["lat"].get<double>() == Approx(48.858).margin(0.01));
    CHECK(r.normalized["where"]["mgrs"] == "31UDQ4825111932");
    p["where"] = {{"mgrs", "99ZZZ1"}};
    issueAt(check(p), "where", "type");
}

TEST_CASE("identifying text draws a warning, never a block", "[core][validate]") {
    json p = good();
    p["notes"] = "The victim, Marie Dupont, called from +236 72 12 34 56.";
    auto r = check(p);
    CHECK(r.ok());
    bool warned = false;
    for (const auto& i : r.issues)
        warned = warned || (i.path == "notes" && i.rule == "identifying" && i.warning);
    CHECK(warned);
}

TEST_CASE("hostile input: invalid UTF-8, 10 MB of text, SQL metacharacters", "[core][validate]") {
    json p = good();
    p["notes"] = std::string("caf\xc3", 4);
    issueAt(check(p, ValidationMode::Draft), "notes", "utf8");
    p = good();
    p["notes"] = std::string(10 * 1024 * 1024, 'x');
    auto r = check(p, ValidationMode::Draft);
    CHECK_THAT(issueAt(r, "notes", "max_length").message, Catch::Contains("10485760 characters"));
    CHECK(r.text().size() < 2000);  // the message does not echo the essay back
    p = good();
    p["title"] = "'); DROP TABLE record; --";
    CHECK(check(p).ok());  // just text: the store binds it, never splices it
}

TEST_CASE("computed fields declared before what they read get the same values in one pass as by iteration",
          "[core][validate]") {
    // grand reads share and lines.net; share reads half; lines.net reads half: every computed field
    // comes before one it depends on, so a single pass in form order would see unsettled inputs.
    auto parsed = parseFormDef(json::parse(R"J({
      "form": "chain", "version": 1, "title": "Chain",
      "fields": [
        {"name": "grand", "type": "computed", "label": "Grand", "calculate": "sum(lines.net) + share"},
        {"name": "share", "type": "computed", "label": "Share", "calculate": "half * 2 + 1"},
        {"name": "lines", "type": "repeat", "label": "Lines", "fields": [
          {"name": "net", "type": "computed", "label": "Net", "calculate": "qty - half"},
          {"name": "qty", "type": "integer", "label": "Qty"}
        ]},
        {"name": "half", "type": "computed", "label": "Half", "calculate": "base / 2"},
        {"name": "base", "type": "integer", "label": "Base", "required": true},
        {"name": "bad", "type": "computed", "label": "Bad", "calculate": "1 / (base - base)"}
      ]})J"),
                               smallRef());
    INFO((parsed ? "" : parsed.error().message));
    REQUIRE(parsed);
    const FormDef& ordered = parsed.value();
    REQUIRE(ordered.computedOrder.size() == 5);
    FormDef iterated = ordered;  // no order: the validator iterates to a fixed point
    iterated.computedOrder.clear();
    for (const json& p :
         {json::parse(R"({"base": 10, "lines": [{"qty": 7}, {"qty": 3}]})"), json::parse(R"({"base": 4})"),
          json::parse(R"({"lines": [{"qty": 1}]})"), json::parse(R"({"base": "x", "lines": [{}]})")}) {
        for (auto mode : {ValidationMode::Draft, ValidationMode::Final}) {
            auto a = validateRecord(ordered, p, mode, smallRef(), "2026-11-27");
            auto b = validateRecord(iterated, p, mode, smallRef(), "2026-11-27");
            INFO(p.dump() << "\n" << a.text() << "\n--\n" << b.text());
            CHECK(a.normalized == b.normalized);
            CHECK(a.text() == b.text());
        }
    }
    auto r = validateRecord(ordered, json::parse(R"({"base": 10, "lines": [{"qty": 7}, {"qty": 3}]})"),
                            ValidationMode::Final, smallRef(), "2026-11-27");
    CHECK(r.normalized["half"] == 5);
    CHECK(r.normalized["share"] == 11);
    CHECK(r.normalized["lines"][0]["net"] == 2);
    CHECK(r.normalized["grand"] == 2 + (-2) + 11);
}
