// outpostctl: the scriptable command line of the field store (docs/cli.md).
#pragma once

#include <iosfwd>

namespace outpost::client {

// Runs outpostctl with the given arguments, writing results to out and messages to err. Returns the exit
// status: a code of cli::ExitCode (cli/exit_code.hpp, docs/cli.md), the one table outpost-hq uses too.
int runCli(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace outpost::client
