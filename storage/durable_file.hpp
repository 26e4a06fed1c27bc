// The one durable file write: a temporary file beside the target, flushed, renamed over it, and the
// folder flushed, so a crash or a pulled USB stick leaves either the old file or the whole new one.
#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace outpost::storage {

// Writes bytes to path with exactly the given permission bits (not masked by the umask). The
// temporary file ("<path>.partial-XXXXXX", in the same folder so the rename is atomic) is created
// mode 0600, set to mode, written, fsync'ed and renamed over path; then the folder is fsync'ed (best
// effort: some file systems cannot). On any failure the temporary file is removed and path is left as
// it was. Errors: Storage/DiskFull when the disk or quota is full (the message says "the disk is
// full"), Storage/Io otherwise; the message names path. Any thread; concurrent writers of one path
// each leave a whole file, the last rename wins.
Result<void> writeFileDurably(const std::string& path, std::string_view bytes, unsigned mode = 0600);

// Flushes a folder's entries to disk after a rename or a removal in it. Best effort: errors are
// ignored, as some file systems cannot flush a folder.
void syncFolder(const std::string& dir) noexcept;

}  // namespace outpost::storage
