// Reading a passphrase from the controlling terminal without echo: shared by outpostctl and outpost-hq.
#pragma once

#include <optional>
#include <string>

namespace outpost::cli {

// Shows prompt on /dev/tty and reads one line with echo off. nullopt when the process has no terminal.
std::optional<std::string> readSecretFromTerminal(const std::string& prompt);

}  // namespace outpost::cli
