// Input files of outpostctl and outpost-hq: read whole, size-checked, refused in words (ExitCode::Input).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace outpost::cli {

// The bytes of path ("-": standard input), at most maxBytes. fail(ExitCode::Input) when it cannot be read
// (missing included) or is larger: "<path>: larger than 64 MiB; <whenTooLarge>".
std::string readInputFile(const std::string& path, std::uintmax_t maxBytes,
                          const std::string& whenTooLarge = "refused");

// readInputFile, and fail(ExitCode::Input) unless the bytes are valid UTF-8.
std::string readTextInput(const std::string& path, std::uintmax_t maxBytes);

// readTextInput, parsed as JSON: fail(ExitCode::Input) naming the byte where it is malformed.
nlohmann::json readJsonInput(const std::string& path, std::uintmax_t maxBytes);

// "64 MiB", "64 KiB", "100 bytes": a size limit as the messages say it.
std::string sizeText(std::uintmax_t bytes);

}  // namespace outpost::cli
