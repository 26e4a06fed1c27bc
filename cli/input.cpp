// Reading the input files of both command lines.
#include "cli/input.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command.hpp"
#include "core/utf8.hpp"

namespace outpost::cli {

namespace fs = std::filesystem;

namespace {

std::string nameOf(const std::string& path) {
    return path == "-" ? "standard input" : path;
}

}  // namespace

std::string sizeText(std::uintmax_t bytes) {
    constexpr std::uintmax_t kKiB = 1024, kMiB = 1024 * 1024;
    if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
    if (bytes >= kKiB && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + " KiB";
    return std::to_string(bytes) + " bytes";
}

std::string readInputFile(const std::string& path, std::uintmax_t maxBytes, const std::string& whenTooLarge) {
    const std::string tooLarge = nameOf(path) + ": larger than " + sizeText(maxBytes) + "; " + whenTooLarge;
    std::stringstream ss;
    if (path == "-") {
        ss << std::cin.rdbuf();
    } else {
        std::error_code ec;
        auto size = fs::file_size(path, ec);
        if (ec) fail(ExitCode::Input, "cannot read " + path + ": " + ec.message());
        if (size > maxBytes) fail(ExitCode::Input, tooLarge);
        std::ifstream in(path, std::ios::binary);
        if (!in) fail(ExitCode::Input, "cannot read " + path);
        ss << in.rdbuf();
        if (in.bad()) fail(ExitCode::Input, "cannot read " + path);
    }
    std::string text = ss.str();
    if (text.size() > maxBytes) fail(ExitCode::Input, tooLarge);  // standard input, or a file that grew
    return text;
}

std::string readTextInput(const std::string& path, std::uintmax_t maxBytes) {
    std::string text = readInputFile(path, maxBytes);
    if (!core::isValidUtf8(text)) fail(ExitCode::Input, nameOf(path) + ": not valid UTF-8 text");
    return text;
}

nlohmann::json readJsonInput(const std::string& path, std::uintmax_t maxBytes) {
    std::string text = readTextInput(path, maxBytes);
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        std::string what = e.what();
        auto colon = what.find(": ");
        fail(ExitCode::Input, "malformed JSON in " + nameOf(path) + " at byte " + std::to_string(e.byte) +
                                  ": " + (colon == std::string::npos ? what : what.substr(colon + 2)));
    }
}

}  // namespace outpost::cli
