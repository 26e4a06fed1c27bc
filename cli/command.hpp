// How a command of outpostctl or outpost-hq fails, and how the program runs one: the parse, the chosen
// command, its error in words on stderr and its exit code. Also the passphrases both programs ask for.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <utility>

#include "cli/exit_code.hpp"
#include "core/error.hpp"

namespace CLI {
class App;
}

namespace outpost::cli {

// A command's failure: its message goes to stderr, its code becomes the exit status. Thrown by fail() and
// check(), caught by runCommandLine().
struct CommandError {
    ExitCode code = ExitCode::Internal;
    std::string message;
};

[[noreturn]] inline void fail(const Error& e) {
    throw CommandError{exitCodeFor(e), e.message};
}
[[noreturn]] inline void fail(ExitCode code, std::string message) {
    throw CommandError{code, std::move(message)};
}

// The value of r, or fail(r.error()).
template <typename T>
T check(Result<T> r) {
    if (!r) fail(r.error());
    return std::move(r).value();
}
inline void check(Result<void> r) {
    if (!r) fail(r.error());
}

// Parses argv with app (whose subcommands' callbacks set action), then runs action. Help goes to out
// (exit 0); every failure is one line "<program>: <message>" on err, and the exit status is its code:
// a parse error or no command is Usage, a CommandError its own code, an outpost::Failure
// exitCodeFor(its error), any other exception Internal. Never throws.
int runCommandLine(CLI::App& app, int argc, char** argv, std::ostream& out, std::ostream& err,
                   const std::function<void()>& action);

// Where a secret comes from: the environment variable when it is set and not empty, otherwise the
// terminal (nothing echoed), asked twice when repeatPrompt is given.
struct SecretSource {
    std::string envVar;        // e.g. OUTPOST_PASSPHRASE
    std::string prompt;        // e.g. "Outpost passphrase: "
    std::string repeatPrompt;  // empty: asked once
    std::string whenDiffer;    // what the refusal adds when the two differ, e.g. "nothing was created"
};

// The secret, or fail(): Auth when there is no variable and no terminal (the message names the variable
// and the program), Usage when the two answers differ.
std::string readSecret(const SecretSource& source, const std::string& program);

}  // namespace outpost::cli
