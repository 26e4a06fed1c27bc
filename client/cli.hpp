// outpostctl: the scriptable command line of the field store (docs/cli.md).
#pragma once

#include <iosfwd>

namespace outpost::client {

// Exit codes, documented in docs/cli.md. Scripts may rely on them.
enum ExitCode : int {
    kExitOk = 0,
    kExitUsage = 1,     // unknown command, missing or malformed option
    kExitInvalid = 2,   // the record breaks its form's rules (every problem is listed)
    kExitNotFound = 3,  // unknown record, form, unit or store
    kExitAuth = 4,      // wrong passphrase
    kExitStorage = 5,   // disk full, I/O error, damaged store, store busy
    kExitConflict = 6,  // the record's state does not allow it (editing a final revision, ...)
    kExitInput = 7,     // unreadable or malformed input file (JSON, UTF-8, size)
    kExitVerify = 8,    // verify found problems
    kExitNetwork = 9,   // sync: HQ could not be reached, or what answered was not HQ (the queue is kept)
    kExitRevoked = 10,  // sync: HQ revoked this device
    kExitHeld = 11,     // sync: the pass went well but the queue is not drained: reports are held back
                        // until HQ's conduct keys arrive
    kExitInternal = 70,
};

// Runs outpostctl with the given arguments, writing results to out and messages to err.
int runCli(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace outpost::client
