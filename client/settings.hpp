// The field client's settings: HQ address, text size, theme and language, kept beside the store.
#pragma once

#include <string>

#include "client/i18n.hpp"
#include "core/error.hpp"

namespace outpost::client {

enum class Theme { Day, Night };

struct Settings {
    std::string hqUrl;
    float fontSize = 17.0f;  // pixels at 96 dpi; scaled by the monitor's content scale
    bool largeText = false;  // rugged screens and gloves: 1.35x text and larger hit targets
    Theme theme = Theme::Day;
    Lang lang = Lang::En;
    int idleLockMinutes = 10;  // lock after this long without input (1 to 240)

    float effectiveFontSize() const { return largeText ? fontSize * 1.35f : fontSize; }

    // settings.json in dir. Missing file: defaults. A damaged file is an error naming it.
    static Result<Settings> load(const std::string& dir);
    Result<void> save(const std::string& dir) const;
};

}  // namespace outpost::client
