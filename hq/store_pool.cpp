// The bounded pool of HQ stores (hq/store_pool.hpp).
#include "hq/store_pool.hpp"

namespace outpost::hq {

thread_local StorePool::Lease* StorePool::t_lease = nullptr;

StorePool::StorePool(Opener open, std::vector<unsigned char> auditKey, int maxStores)
    : m_open(std::move(open)), m_auditKey(std::move(auditKey)), m_maxStores(maxStores) {}

StorePool::Lease::Lease(StorePool& pool) : m_pool(pool), m_previous(t_lease) {
    t_lease = this;
}

StorePool::Lease::~Lease() {
    t_lease = m_previous;
    m_pool.giveBack(*this);
}

StorePool::Lease* StorePool::leaseHere() const {
    Lease* l = t_lease;
    return l && &l->m_pool == this ? l : nullptr;
}

Result<storage::hq::HqStore*> StorePool::current() {
    Lease* l = leaseHere();
    if (!l) throw Failure(ErrorDomain::Internal, ErrorCode::Internal, "a store was used outside a request");
    if (l->m_store) return l->m_store.get();
    std::unique_lock lock(m_mutex);
    m_free.wait(lock, [&] { return !m_idle.empty() || m_openStores < m_maxStores; });
    if (!m_idle.empty()) {
        l->m_store = std::move(m_idle.back());
        m_idle.pop_back();
        return l->m_store.get();
    }
    ++m_openStores;
    lock.unlock();
    // Opened outside the lock: connecting to PostgreSQL may take a while.
    auto opened = m_open();
    if (!opened) {
        lock.lock();
        --m_openStores;
        m_free.notify_one();
        return opened.error();
    }
    l->m_store = std::move(opened).value();
    l->m_store->setAuditKey(m_auditKey);
    return l->m_store.get();
}

void StorePool::giveBack(Lease& l) {
    if (!l.m_store) return;
    std::lock_guard lock(m_mutex);
    m_idle.push_back(std::move(l.m_store));
    m_free.notify_one();
}

void StorePool::dropCurrent() {
    Lease* l = leaseHere();
    if (!l || !l->m_store) return;
    l->m_store.reset();
    std::lock_guard lock(m_mutex);
    --m_openStores;
    m_free.notify_one();
}

}  // namespace outpost::hq
