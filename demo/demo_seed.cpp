// outpostctl demo-seed: DemoData's records into the store, in batches of one transaction.
#include "demo/demo_seed.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <ostream>
#include <vector>

#include "cli/command.hpp"
#include "demo/demo_data.hpp"
#include "storage/store.hpp"

namespace outpost::demo {

using cli::check;
using cli::ExitCode;
using cli::fail;

std::map<std::string, int> seedDemoRecords(storage::Store& store, int count, std::uint64_t seed) {
    DemoData demo(store.reference(), seed);
    // A laptop reports for its own unit only (finalize refuses another unit's report, HQ would too).
    const std::vector<std::string> units = {store.unitId()};
    constexpr int kBatch = 1000;
    std::map<std::string, std::vector<json>> pending;
    std::map<std::string, int> made;
    auto flush = [&] {
        for (auto& [form, payloads] : pending) {
            if (payloads.empty()) continue;
            check(store.importFinal(form, payloads));
            made[form] += static_cast<int>(payloads.size());
            payloads.clear();
        }
    };
    for (int i = 0; i < count; ++i) {
        // Mostly training sessions and readiness reports, as a mission's stores hold.
        int pick = i % 10;
        const char* form = pick < 5   ? "training"
                           : pick < 8 ? "readiness"
                           : pick < 9 ? "training-gap"
                                      : "incident";
        pending[form].push_back(demo.next(form, units[static_cast<std::size_t>(i) % units.size()]));
        if ((i + 1) % kBatch == 0) flush();
    }
    flush();
    return made;
}

client::CliCommand demoSeedCommand() {
    struct Options {
        int count = 200;
        std::uint64_t seed = 2026;
        std::string unit;
    };
    auto o = std::make_shared<Options>();
    client::CliCommand c;
    c.declare = [o](CLI::App& app) {
        auto* seed = app.add_subcommand("demo-seed",
                                        "add realistic demo records (final, queued) of this laptop's unit");
        seed->add_option("--count", o->count, "how many (default 200)")->check(CLI::Range(1, 1000000));
        seed->add_option("--seed", o->seed, "random seed (the same seed gives the same records)");
        seed->add_option(
            "--unit", o->unit,
            "the unit (it must be this laptop's: HQ accepts from a laptop only its own unit's reports)");
        return seed;
    };
    c.run = [o](const std::function<std::unique_ptr<storage::Store>()>& openStore, std::ostream& out) {
        auto s = openStore();
        const auto known = DemoData(s->reference(), o->seed).unitIds();
        if (!o->unit.empty() && std::find(known.begin(), known.end(), o->unit) == known.end())
            fail(ExitCode::NotFound, "no unit " + o->unit + " in the reference data");
        if (!o->unit.empty() && o->unit != s->unitId())
            fail(ExitCode::Input, "this laptop reports for " + s->unitId() + ", not " + o->unit +
                                      ": HQ takes a unit's reports only from that unit's laptops");
        for (const auto& [form, n] : seedDemoRecords(*s, o->count, o->seed))
            out << n << " final " << form << " record(s) added\n";
    };
    return c;
}

}  // namespace outpost::demo
