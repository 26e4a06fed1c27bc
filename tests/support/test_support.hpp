// Test helpers shared by the suites: temporary folders, fixture files, a fixed test key.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace outpost::test {

// A fresh folder under /tmp, removed with everything in it when the object goes.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "outpost-test-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        m_path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(m_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return m_path; }
    std::string sub(const std::string& name) const { return (std::filesystem::path(m_path) / name).string(); }

private:
    std::string m_path;
};

inline std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline std::string sourcePath(const std::string& rel) {
    return std::string(OUTPOST_SOURCE_DIR) + "/" + rel;
}

inline nlohmann::json fixture(const std::string& name) {
    return nlohmann::json::parse(readFile(sourcePath("tests/data/" + name)));
}

// True when needle occurs anywhere in the bytes of any file below dir.
inline bool anyFileContains(const std::string& dir, const std::string& needle, std::string* where = nullptr) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        std::string bytes = readFile(e.path().string());
        if (bytes.find(needle) != std::string::npos) {
            if (where) *where = e.path().string();
            return true;
        }
    }
    return false;
}

}  // namespace outpost::test
