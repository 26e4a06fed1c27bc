// Destroying a field store: every copy of its wrapped data key first, then every file it left.
#pragma once

#include <string>

#include "core/error.hpp"

namespace outpost::storage {

struct WipeReport {
    int keyCopiesDestroyed = 0;  // wrapped copies of the data key erased (the store's and each backup's)
    int filesRemoved = 0;
};

// Wipes the store in dir (a revoked laptop, or a panic wipe):
//  1. in the database and in every backup, each wrapped copy of the data key (every key slot, the HQ
//     recovery copy included) is deleted with SQLite's secure_delete and the WAL is checkpointed, so the
//     key's bytes are overwritten in place and fsynced: from here on the data cannot be decrypted by anyone,
//     even if the rest is interrupted;
//  2. every file in the folder is overwritten with zeros, synced and removed, then the folder itself.
// Works without the passphrase. Other connections to the store (the GUI's, the sync worker's) should be
// closed first; if one holds a lock, step 1 falls through to step 2, which erases the bytes anyway.
// Fails with NotFound when dir holds no store; an I/O failure is reported after everything else was tried.
Result<WipeReport> wipeStore(const std::string& dir);

// Step 1 alone: erases every wrapped copy of the data key in the database and its backups, in place.
// Returns how many were erased. After it, no passphrase opens the store or any of its backups.
Result<int> destroyStoreKeys(const std::string& dir);

// The unit a store reports for, read without its key (the unit id is not sealed; a panic wipe asks the user
// to type it, so that the wrong folder is never wiped). NotFound when dir holds no store.
Result<std::string> storeUnitId(const std::string& dir);

}  // namespace outpost::storage
