// Form definition parsing: every structural problem is caught with its path before anyone fills a form.
#include <catch2/catch.hpp>

#include "core/builtin.hpp"
#include "core/form.hpp"
#include "core/refdata.hpp"
#include "support/core_fixtures.hpp"

using namespace outpost::core;
using outpost::test::fixture;
using outpost::test::smallRef;

namespace {
json minimalForm() {
    return json::parse(R"({"form": "t", "version": 1, "title": "T", "fields": [
        {"name": "a", "type": "integer", "label": "A"}]})");
}
std::string errorOf(const json& def) {
    auto r = parseFormDef(def, smallRef());
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}
}  // namespace

TEST_CASE("the kitchen-sink form parses with every field type", "[core][form]") {
    auto r = parseFormDef(fixture("kitchen_sink.json"), smallRef());
    INFO((r.ok() ? "" : r.error().message));
    REQUIRE(r.ok());
    std::set<FieldType> types;
    for (const auto& [path, f] : r->allFields()) types.insert(f->type);
    CHECK(types.size() == 15);
    CHECK(r->field("lines.pct")->type == FieldType::Computed);
    CHECK(r->hasSensitiveFields());
    // Sensitive fields are never indexed by default.
    CHECK(std::find(r->searchFields.begin(), r->searchFields.end(), "secret") == r->searchFields.end());
    CHECK(std::find(r->searchFields.begin(), r->searchFields.end(), "title") != r->searchFields.end());
}

TEST_CASE("form definition errors name the path and the problem", "[core][form]") {
    CHECK_THAT(errorOf(json::array()), Catch::Contains("expected a JSON object"));
    auto f = minimalForm();
    f["fields"][0]["type"] = "integr";
    CHECK_THAT(errorOf(f), Catch::Contains("fields[0](a).type: unknown field type 'integr'"));
    f = minimalForm();
    f["fields"][0]["name"] = "Bad Name";
    CHECK_THAT(errorOf(f), Catch::Contains("must match [a-z][a-z0-9_]*"));
    f = minimalForm();
    f["fields"].push_back(f["fields"][0]);
    CHECK_THAT(errorOf(f), Catch::Contains("duplicate field name 'a'"));
    f = minimalForm();
    f["fields"][0]["maxx"] = 3;
    CHECK_THAT(errorOf(f), Catch::Contains("maxx: not allowed on a integer field"));
    f = minimalForm();
    f["fields"][0]["pattern"] = "x";
    CHECK_THAT(errorOf(f), Catch::Contains("pattern: not allowed on a integer field"));
    f = minimalForm();
    f["version"] = 0;
    CHECK_THAT(errorOf(f), Catch::Contains("version: expected a positive integer"));
    f = minimalForm();
    f["fields"][0]["min"] = 5;
    f["fields"][0]["max"] = 1;
    CHECK_THAT(errorOf(f), Catch::Contains("min is greater than max"));
    f = minimalForm();
    f["fields"].push_back({{"name", "s"}, {"type", "rating"}, {"label", "S"}, {"scale", "nope"}});
    CHECK_THAT(errorOf(f), Catch::Contains("unknown rating scale 'nope'"));
    f = minimalForm();
    f["fields"].push_back({{"name", "r"}, {"type", "reference"}, {"label", "R"}, {"ref", "planets"}});
    CHECK_THAT(errorOf(f), Catch::Contains("unknown reference table 'planets'"));
    f = minimalForm();
    f["fields"].push_back({{"name", "c"}, {"type", "select_one"}, {"label", "C"}, {"choices", "@nolist"}});
    CHECK_THAT(errorOf(f), Catch::Contains("unknown choice list '@nolist'"));
    f = minimalForm();
    f["fields"].push_back({{"name", "t"}, {"type", "text"}, {"label", "T"}, {"pattern", "(["}});
    CHECK_THAT(errorOf(f), Catch::Contains("invalid regular expression"));
}

TEST_CASE("expressions in a form are checked at load: syntax, names, cycles", "[core][form]") {
    auto f = minimalForm();
    f["fields"].push_back({{"name", "c"}, {"type", "computed"}, {"label", "C"}, {"calculate", "a +"}});
    CHECK_THAT(errorOf(f), Catch::Contains("fields[1](c).calculate: column"));
    f = minimalForm();
    f["fields"].push_back({{"name", "c"}, {"type", "computed"}, {"label", "C"}, {"calculate", "aa + 1"}});
    CHECK_THAT(errorOf(f), Catch::Contains("unknown field 'aa'"));
    f = minimalForm();
    f["fields"].push_back({{"name", "c1"}, {"type", "computed"}, {"label", "C"}, {"calculate", "c2 + 1"}});
    f["fields"].push_back({{"name", "c2"}, {"type", "computed"}, {"label", "C"}, {"calculate", "c1 + a"}});
    CHECK_THAT(errorOf(f), Catch::Contains("computed fields form a cycle"));
    f = minimalForm();
    f["fields"][0]["constraint"] = ". > 0";
    CHECK_THAT(errorOf(f), Catch::Contains("a constraint needs a message"));
    f = minimalForm();
    f["fields"].push_back({{"name", "g"},
                           {"type", "repeat"},
                           {"label", "G"},
                           {"fields", {{{"name", "q"}, {"type", "integer"}, {"label", "Q"}}}}});
    f["fields"].push_back({{"name", "s"}, {"type", "computed"}, {"label", "S"}, {"calculate", "sum(g.qq)"}});
    CHECK_THAT(errorOf(f), Catch::Contains("unknown field 'g.qq'"));
}

TEST_CASE("the built-in forms parse against the demo reference data", "[core][form][builtin]") {
    const auto& ref = ReferenceData::demo();
    REQUIRE(builtinFormSources().size() >= 4);
    for (auto src : builtinFormSources()) {
        auto f = parseFormDefText(src, ref);
        INFO((f.ok() ? std::string() : f.error().message));
        REQUIRE(f.ok());
    }
    auto reg = builtinForms(ref);
    for (const char* id : {"readiness", "training", "training-gap", "incident"}) {
        INFO(id);
        REQUIRE(reg.latest(id) != nullptr);
        CHECK_FALSE(reg.latest(id)->title.fr.empty());
    }
    CHECK(reg.latest("incident")->hasSensitiveFields());
    CHECK(reg.latest("incident")->syncPriority > reg.latest("readiness")->syncPriority);
}
