// The demo generator's tables (demo/data/*.json), compiled into the binary: nothing is read at run time.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace outpost::demo {

// Every file of demo/data as {file name, JSON text}, sorted by file name. Generated at build time by
// demo/embed_tables.cmake; the texts live as long as the program. DemoData parses them on first use.
const std::vector<std::pair<std::string_view, std::string_view>>& demoTableSources();

}  // namespace outpost::demo
