// The exit codes of outpostctl and outpost-hq: one table for both programs (docs/cli.md, "Exit codes").
#pragma once

#include <array>
#include <string_view>

#include "core/error.hpp"

namespace outpost::cli {

// Scripts rely on these numbers: never renumber one, and add a new one to kExitCodes and docs/cli.md.
enum class ExitCode : int {
    Ok = 0,         // done
    Usage = 1,      // unknown command, missing or malformed option, options that do not go together
    Invalid = 2,    // well formed but breaks its rules: a record, a form definition (every problem listed)
    NotFound = 3,   // no such record, form, unit, device, report, key, store or data folder
    Auth = 4,       // wrong passphrase or key, no passphrase; a role that may not do this; a forged signature
    Storage = 5,    // disk full, I/O error, damaged store, store busy or database down: nothing was written
    Conflict = 6,   // the state does not allow it: a final revision, already there, already used, revoked
    Input = 7,      // an input file that cannot be read or is malformed (JSON, UTF-8, size, another kind)
    Verify = 8,     // verify or audit verify found problems (each is listed)
    Network = 9,    // unreachable, or not this protocol (outpostctl keeps its queue); serve cannot listen
    Revoked = 10,   // outpostctl sync: HQ revoked this laptop, and its store was wiped
    Held = 11,      // outpostctl sync: reports are held back until HQ's conduct keys arrive
    Internal = 70,  // a bug (EX_SOFTWARE): please report it with the command
};

// One row of the table: the code, a short name, and what it means in words.
struct ExitCodeInfo {
    ExitCode code;
    std::string_view name;
    std::string_view meaning;
};

// Every exit code, in numeric order. docs/cli.md lists the same codes (a test compares them).
inline constexpr std::array<ExitCodeInfo, 13> kExitCodes = {{
    {ExitCode::Ok, "ok", "done"},
    {ExitCode::Usage, "usage", "unknown command, missing or malformed option"},
    {ExitCode::Invalid, "invalid", "well-formed input that breaks its rules (a record its form's)"},
    {ExitCode::NotFound, "not found", "no such record, form, unit, device, report, key or store"},
    {ExitCode::Auth, "auth",
     "wrong passphrase or key; the role may not do this; a signature that is not its maker's"},
    {ExitCode::Storage, "storage", "disk full, I/O error, damaged store, store busy: nothing was written"},
    {ExitCode::Conflict, "conflict", "the state does not allow it"},
    {ExitCode::Input, "input", "an input file that cannot be read or is malformed"},
    {ExitCode::Verify, "verify", "verify or audit verify found problems"},
    {ExitCode::Network, "network",
     "the other end could not be reached, the address could not be used, or the other end does not speak "
     "this protocol"},
    {ExitCode::Revoked, "revoked", "HQ revoked this laptop"},
    {ExitCode::Held, "held", "reports are held back until HQ's conduct keys arrive"},
    {ExitCode::Internal, "internal", "internal error (a bug)"},
}};

// The process exit status of a code.
constexpr int exitStatus(ExitCode c) noexcept {
    return static_cast<int>(c);
}

// The exit code of an error at a layer's boundary: by domain first (the network, the protocol and
// authentication each have one code, whatever the detail), then by its code. Total: every ErrorDomain
// and ErrorCode gives a code of kExitCodes.
ExitCode exitCodeFor(const Error& e) noexcept;

}  // namespace outpost::cli
