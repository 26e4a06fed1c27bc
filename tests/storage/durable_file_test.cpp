// The durable write: a new file whole with its mode, or the old file untouched when the write fails.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "storage/durable_file.hpp"
#include "support/test_support.hpp"

using namespace outpost;
using outpost::test::readFile;
using outpost::test::TempDir;
namespace fs = std::filesystem;

namespace {

unsigned modeOf(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

// The names in a folder, to show no temporary file is left behind.
std::size_t entriesIn(const std::string& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

// Lowers the largest file this process may write, so a write fails part way as on a full disk
// (EFBIG instead of ENOSPC); restored when it goes.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &m_old) == 0);
        m_oldHandler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit lower = m_old;
        lower.rlim_cur = bytes;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &lower) == 0);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &m_old);
        std::signal(SIGXFSZ, m_oldHandler);
    }

private:
    rlimit m_old{};
    void (*m_oldHandler)(int) = nullptr;
};

}  // namespace

TEST_CASE("durable file: a new file holds all the bytes, with exactly the mode asked for", "[storage]") {
    TempDir dir;
    const std::string path = dir.sub("key.txt");
    const mode_t oldMask = ::umask(0077);  // the mode is set exactly, whatever the umask
    REQUIRE(storage::writeFileDurably(path, "secret\n", 0644).ok());
    ::umask(oldMask);
    CHECK(readFile(path) == "secret\n");
    CHECK(modeOf(path) == 0644);
    REQUIRE(storage::writeFileDurably(path, std::string(100000, 'x'), 0600).ok());
    CHECK(readFile(path) == std::string(100000, 'x'));
    CHECK(modeOf(path) == 0600);
    CHECK(entriesIn(dir.path()) == 1);
    REQUIRE(storage::writeFileDurably(dir.sub("empty"), "", 0600).ok());
    CHECK(fs::file_size(dir.sub("empty")) == 0);
}

TEST_CASE("durable file: a write that fails part way leaves the old file whole", "[storage]") {
    TempDir dir;
    const std::string path = dir.sub("settings.json");
    REQUIRE(storage::writeFileDurably(path, "old contents\n", 0640).ok());
    {
        FileSizeLimit limit(4096);
        const auto r = storage::writeFileDurably(path, std::string(1 << 20, 'n'), 0600);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().domain == ErrorDomain::Storage);
        CHECK_THAT(r.error().message, Catch::Contains("cannot write " + path));
    }
    CHECK(readFile(path) == "old contents\n");
    CHECK(modeOf(path) == 0640);
    CHECK(entriesIn(dir.path()) == 1);  // the temporary file is gone
}

TEST_CASE("durable file: a failed rename leaves what was there and no temporary file", "[storage]") {
    TempDir dir;
    // The target is a folder that is not empty: the rename over it fails after the data is written.
    const std::string path = dir.sub("occupied");
    fs::create_directory(path);
    REQUIRE(storage::writeFileDurably(path + "/inside", "kept", 0600).ok());
    const auto r = storage::writeFileDurably(path, "new", 0600);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Io);
    CHECK_THAT(r.error().message, Catch::Contains(path));
    CHECK(fs::is_directory(path));
    CHECK(readFile(path + "/inside") == "kept");
    CHECK(entriesIn(dir.path()) == 1);
}

TEST_CASE("durable file: a missing folder is an error naming the file", "[storage]") {
    TempDir dir;
    const std::string path = dir.sub("no-such-folder/file");
    const auto r = storage::writeFileDurably(path, "x", 0600);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Io);
    CHECK_THAT(r.error().message, Catch::Contains(path));
    CHECK_FALSE(fs::exists(path));
}
