// Settings persistence: a small JSON file, written durably (storage/durable_file.hpp).
#include "client/settings.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "storage/durable_file.hpp"

namespace outpost::client {

namespace fs = std::filesystem;
using json = nlohmann::json;

Result<Settings> Settings::load(const std::string& dir) {
    Settings s;
    fs::path p = fs::path(dir) / "settings.json";
    std::error_code ec;
    if (!fs::exists(p, ec)) return s;
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    json j = json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return Error{ErrorDomain::Input, ErrorCode::BadInput, p.string() + " is damaged (not a JSON object)"};
    if (j.contains("hq_url") && j["hq_url"].is_string()) s.hqUrl = j["hq_url"];
    if (j.contains("font_size") && j["font_size"].is_number()) {
        float f = j["font_size"].get<float>();
        if (f >= 10.0f && f <= 40.0f) s.fontSize = f;
    }
    if (j.contains("large_text") && j["large_text"].is_boolean()) s.largeText = j["large_text"];
    if (j.value("theme", "") == "night") s.theme = Theme::Night;
    if (j.value("language", "") == "fr") s.lang = Lang::Fr;
    if (j.contains("idle_lock_minutes") && j["idle_lock_minutes"].is_number_integer()) {
        int m = j["idle_lock_minutes"].get<int>();
        if (m >= 1 && m <= 240) s.idleLockMinutes = m;
    }
    return s;
}

Result<void> Settings::save(const std::string& dir) const {
    json j = {{"hq_url", hqUrl},
              {"font_size", fontSize},
              {"large_text", largeText},
              {"theme", theme == Theme::Night ? "night" : "day"},
              {"language", langCode(lang)},
              {"idle_lock_minutes", idleLockMinutes}};
    fs::path p = fs::path(dir) / "settings.json";
    std::string text = j.dump(2) + "\n";
    if (!storage::writeFileDurably(p.string(), text, 0600))
        return Error{ErrorDomain::Storage, ErrorCode::Io,
                     "cannot save the settings in " + dir + " (disk full?)"};
    return {};
}

}  // namespace outpost::client
