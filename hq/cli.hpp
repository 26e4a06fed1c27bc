// outpost-hq: HQ's server and admin commands (init, serve, enroll, revoke, forms, reports, backups).
#pragma once

#include <iosfwd>

namespace outpost::hq {

// Exit codes. Scripts may rely on them.
enum ExitCode : int {
    kExitOk = 0,
    kExitOther = 1,     // anything else (an internal failure)
    kExitInput = 2,     // bad input: unknown command, malformed option, broken file
    kExitNotFound = 3,  // unknown unit, device, report or data folder
    kExitState = 4,     // conflict or state: already initialised, already there, reused
    kExitStorage = 5,   // disk full, I/O error, damaged store, database down, verify found problems
    kExitAuth = 6,      // a conduct key's wrong passphrase, or a sealed section not sealed to that key
};

// Runs outpost-hq with the given arguments, results to out, messages to err. `serve` blocks until
// SIGINT or SIGTERM.
int runHqCli(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace outpost::hq
