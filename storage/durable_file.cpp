// The durable write-then-rename (see durable_file.hpp).
#include "storage/durable_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace outpost::storage {

namespace {

[[noreturn]] void ioFail(int err, const std::string& what) {
    const bool full = err == ENOSPC || err == EDQUOT;
    throw Failure(ErrorDomain::Storage, full ? ErrorCode::DiskFull : ErrorCode::Io,
                  what + ": " + std::strerror(err) + (err == ENOSPC ? " (the disk is full)" : ""));
}

}  // namespace

void syncFolder(const std::string& dir) noexcept {
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
}

Result<void> writeFileDurably(const std::string& path, std::string_view bytes, unsigned mode) {
    return tryCatch([&] {
        const std::filesystem::path target(path);
        const std::string dir = target.has_parent_path() ? target.parent_path().string() : std::string(".");
        std::string tmp = path + ".partial-XXXXXX";
        const int fd = ::mkstemp(tmp.data());  // mode 0600 until fchmod below
        if (fd < 0) ioFail(errno, "cannot write " + path);
        auto bail = [&](int err) {
            ::close(fd);
            ::unlink(tmp.c_str());
            ioFail(err, "cannot write " + path);
        };
        if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) bail(errno);
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
            if (n < 0) {
                if (errno == EINTR) continue;
                bail(errno);
            }
            done += static_cast<std::size_t>(n);
        }
        if (::fsync(fd) != 0) bail(errno);
        if (::close(fd) != 0) {
            const int err = errno;
            ::unlink(tmp.c_str());
            ioFail(err, "cannot write " + path);
        }
        if (::rename(tmp.c_str(), path.c_str()) != 0) {
            const int err = errno;
            ::unlink(tmp.c_str());
            ioFail(err, "cannot put " + path + " in place");
        }
        // The rename itself is durable once the folder is flushed (a USB stick may be pulled next).
        syncFolder(dir);
    });
}

}  // namespace outpost::storage
