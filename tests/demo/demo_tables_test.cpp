// The demo generator's tables as compiled in (demo/data/*.json): each parses, and every phrase has both
// languages.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "demo/demo_tables.hpp"

using outpost::demo::demoTableSources;
using json = nlohmann::json;

namespace {

// Walks the document: every object holding "en" or "fr" is a phrase and must hold both, as non-empty
// strings. Counts the phrases; each problem is named by its JSON pointer.
void checkPhrases(const json& j, const std::string& where, int& phrases, std::vector<std::string>& problems) {
    if (j.is_object()) {
        if (j.contains("en") || j.contains("fr")) {
            ++phrases;
            for (const char* lang : {"en", "fr"}) {
                auto it = j.find(lang);
                if (it == j.end() || !it->is_string() || it->get<std::string>().empty())
                    problems.push_back(where + ": no " + lang + " text");
            }
        }
        for (const auto& [k, v] : j.items()) checkPhrases(v, where + "/" + k, phrases, problems);
    } else if (j.is_array()) {
        for (std::size_t i = 0; i < j.size(); ++i)
            checkPhrases(j[i], where + "/" + std::to_string(i), phrases, problems);
    }
}

}  // namespace

TEST_CASE("demo tables: every compiled-in table parses and every phrase has English and French", "[demo]") {
    const auto& sources = demoTableSources();
    std::set<std::string> names;
    for (const auto& [name, text] : sources) names.insert(std::string(name));
    CHECK(names == std::set<std::string>{"equipment.json", "incident.json", "languages.json",
                                         "readiness.json", "training.json", "training_gap.json"});
    int phrases = 0;
    for (const auto& [name, text] : sources) {
        INFO(name);
        json doc;
        REQUIRE_NOTHROW(doc = json::parse(text));
        REQUIRE(doc.is_object());
        CHECK_FALSE(doc.empty());
        int inFile = 0;
        std::vector<std::string> problems;
        checkPhrases(doc, std::string(name), inFile, problems);
        for (const auto& p : problems) UNSCOPED_INFO(p);
        CHECK(problems.empty());
        if (name != "languages.json") CHECK(inFile > 0);
        phrases += inFile;
    }
    // The tables as they were written in C++ held this many phrases; a lost file or section shows here.
    CHECK(phrases == 258);
}
