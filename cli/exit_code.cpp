// Error to exit code: the one mapping both command lines use.
#include "cli/exit_code.hpp"

namespace outpost::cli {

ExitCode exitCodeFor(const Error& e) noexcept {
    // outpostctl: HQ could not be reached, or what answered was not HQ's answer. outpost-hq: a bundle's
    // pushes speak another protocol version.
    if (e.domain == ErrorDomain::Network || e.domain == ErrorDomain::Protocol) return ExitCode::Network;
    // A wrong passphrase, the wait after failed ones, a role that may not do this, a forged signature.
    if (e.domain == ErrorDomain::Auth) return ExitCode::Auth;
    // No default: a new ErrorCode must be given its exit code here (-Wswitch says so).
    switch (e.code) {
        case ErrorCode::BadInput:
            return ExitCode::Input;
        case ErrorCode::Invalid:
            return ExitCode::Invalid;
        case ErrorCode::NotFound:
            return ExitCode::NotFound;
        case ErrorCode::WrongKey:
        case ErrorCode::Forbidden:
            return ExitCode::Auth;
        case ErrorCode::Corrupt:
        case ErrorCode::DiskFull:
        case ErrorCode::Io:
        case ErrorCode::Busy:
            return ExitCode::Storage;
        case ErrorCode::Conflict:
            return ExitCode::Conflict;
        case ErrorCode::Ok:  // an Error that says nothing failed is a bug of its maker
        case ErrorCode::Internal:
            return ExitCode::Internal;
    }
    return ExitCode::Internal;
}

}  // namespace outpost::cli
