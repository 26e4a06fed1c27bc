// outpostctl: the scriptable command line of the field store (docs/cli.md).
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <vector>

namespace CLI {
class App;
}

namespace outpost::storage {
class Store;
}

namespace outpost::client {

// A subcommand that a program adds to outpostctl from a room above client: outpostctl's main adds
// demo-seed from demo/ (demo/demo_seed.hpp), so the field client's library carries no demo generator.
struct CliCommand {
    // Declares the subcommand and its options on the application and returns it. The options' variables
    // belong to the command (captured by these functions) and must live until runCli returns.
    std::function<CLI::App*(CLI::App& app)> declare;
    // Runs the command once the line is parsed. openStore opens --store as every command does (passphrase,
    // account, the audit log's sign-in) and throws as cli::fail does; so may run (cli/command.hpp).
    std::function<void(const std::function<std::unique_ptr<storage::Store>()>& openStore, std::ostream& out)>
        run;
};

// Runs outpostctl with the given arguments, writing results to out and messages to err. Returns the exit
// status: a code of cli::ExitCode (cli/exit_code.hpp, docs/cli.md), the one table outpost-hq uses too.
// `more` are the commands the program adds (declared after "bundle", listed in that order in --help).
int runCli(int argc, char** argv, std::ostream& out, std::ostream& err,
           const std::vector<CliCommand>& more = {});

}  // namespace outpost::client
