// outpost-hq: HQ's server and admin commands (init, serve, enroll, revoke, forms, reports, backups).
#pragma once

#include <iosfwd>

namespace outpost::hq {

// Runs outpost-hq with the given arguments, results to out, messages to err. `serve` blocks until
// SIGINT or SIGTERM. Returns the exit status: a code of cli::ExitCode (cli/exit_code.hpp, docs/cli.md),
// the one table outpostctl uses too.
int runHqCli(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace outpost::hq
