// A bounded pool of HQ stores (each a database connection, used by one thread at a time). A request
// borrows one for its whole length and gives it back: HQ may run many more request threads than
// PostgreSQL accepts connections, and a request waits for a free store instead.
//
// A Lease marks what runs on this thread as one request: current() opens or borrows the store on first
// use, and the lease gives it back when it goes. Leases nest (an inner lease borrows its own store).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/error.hpp"
#include "storage/hq/store.hpp"

namespace outpost::hq {

class StorePool {
public:
    using Opener = std::function<Result<std::unique_ptr<storage::hq::HqStore>>()>;

    // auditKey: HQ's signing key, given to every store it opens (its audit entries are signed with it).
    StorePool(Opener open, std::vector<unsigned char> auditKey, int maxStores = kDefaultMaxStores);
    StorePool(const StorePool&) = delete;
    StorePool& operator=(const StorePool&) = delete;

    static constexpr int kDefaultMaxStores = 16;

    class Lease {
    public:
        explicit Lease(StorePool& pool);
        ~Lease();
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;

    private:
        friend class StorePool;
        StorePool& m_pool;
        Lease* m_previous;
        std::unique_ptr<storage::hq::HqStore> m_store;
    };

    // The store of the lease on this thread: borrowed from the pool, or opened when none is idle and
    // fewer than maxStores are open; otherwise waits for one to come back. The opener's error when a new
    // store cannot be opened. Throws Failure(Internal) when no lease of this pool is on this thread.
    Result<storage::hq::HqStore*> current();
    // Forgets the current lease's store after an I/O failure (a lost database connection, a damaged
    // handle): the next request opens a fresh one.
    void dropCurrent();

private:
    Lease* leaseHere() const;
    void giveBack(Lease& lease);

    Opener m_open;
    std::vector<unsigned char> m_auditKey;
    const int m_maxStores;
    std::mutex m_mutex;
    std::condition_variable m_free;
    std::vector<std::unique_ptr<storage::hq::HqStore>> m_idle;
    int m_openStores = 0;
    static thread_local Lease* t_lease;
};

}  // namespace outpost::hq
