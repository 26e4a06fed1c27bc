// outpost-bench: performance measurements of Outpost, one subcommand per area, JSON lines on stdout.
#include <cstring>
#include <iostream>

#include "bench.hpp"

namespace {

struct Command {
    const char* name;
    const char* summary;
    int (*run)(int argc, char** argv);
};

// One row per subcommand; a new area (gui, sync, hq) adds its row and its run function.
const Command kCommands[] = {
    {"store", "the encrypted field store: fsync baseline, finalize, drafts, bulk import, search, gaps, size",
     outpost::bench::runStore},
    {"gui",
     "the field client against a bare ImGui window: cold start to first frame, frame build CPU, memory",
     outpost::bench::runGui},
    {"sync",
     "sync to the real outpost-hq over TLS: loopback and emulated satellite links, against the physical "
     "bound",
     outpost::bench::runSync},
    {"hq",
     "HQ ingest with many devices pushing at once, SQLite and PostgreSQL stores; the PostgreSQL ingest "
     "lane's ceiling",
     outpost::bench::runHq},
};

int usage(std::ostream& out, int status) {
    out << "Usage: outpost-bench COMMAND [OPTIONS]\n\nCommands:\n";
    for (const auto& c : kCommands) out << "  " << c.name << "  " << c.summary << "\n";
    out << "\nEach measurement is printed as one JSON object per line; progress goes to stderr.\nRun "
           "'outpost-bench COMMAND --help' for the options of a command.\n";
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage(std::cerr, 2);
    if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) return usage(std::cout, 0);
    for (const auto& c : kCommands)
        if (!std::strcmp(argv[1], c.name)) return c.run(argc - 1, argv + 1);
    std::cerr << "outpost-bench: unknown command '" << argv[1] << "'\n";
    return usage(std::cerr, 2);
}
