// outpostctl demo-seed: realistic demo records of the laptop's unit, added final and queued.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "client/cli.hpp"

namespace outpost::storage {
class Store;
}

namespace outpost::demo {

// Adds `count` demo records of the store's unit (half training sessions, then readiness reports,
// training gaps and incidents), final and queued for HQ, in batches of one transaction each. The same seed
// gives the same records. Returns how many records of each form were added; throws what cli::check
// throws when the store refuses a batch (the batches before it stay).
std::map<std::string, int> seedDemoRecords(storage::Store& store, int count, std::uint64_t seed);

// The demo-seed subcommand for runCli (docs/cli.md): --count, --seed, --unit (which must be this
// laptop's unit). outpostctl's main adds it; the field client's library does not carry it.
client::CliCommand demoSeedCommand();

}  // namespace outpost::demo
