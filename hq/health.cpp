#include "hq/health.hpp"

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace outpost::hq {

// What the probe thread and the checks share. The thread keeps it alive: a probe stuck on a database
// that does not answer may outlive the DatabaseProbe (it ends when the connection's own timeouts do).
struct DatabaseProbe::Shared {
    Opener open;
    std::mutex mutex;
    std::condition_variable done;
    bool running = false;
    std::chrono::steady_clock::time_point startedAt{};
    std::optional<Outcome> last;
    std::chrono::steady_clock::time_point lastAt{};
    std::unique_ptr<storage::hq::HqStore> store;  // touched by the probe thread only
};

DatabaseProbe::DatabaseProbe(Opener open, std::chrono::milliseconds deadline, std::chrono::milliseconds reuse)
    : m_shared(std::make_shared<Shared>()), m_deadline(deadline), m_reuse(reuse) {
    m_shared->open = std::move(open);
}

DatabaseProbe::~DatabaseProbe() = default;

namespace {

// Opens the probe's store when it has none, and reads HQ's epoch: a real query, on the database's own
// connection, with the session bounds every HQ session has.
DatabaseProbe::Outcome probeOnce(const DatabaseProbe::Opener& open,
                                 std::unique_ptr<storage::hq::HqStore>& store) {
    const auto start = std::chrono::steady_clock::now();
    DatabaseProbe::Outcome o;
    auto took = [&] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                     start);
    };
    if (!store) {
        auto opened = open();
        if (!opened) {
            // The database's own words (host names, roles, paths) go to HQ's log, not to whoever asks.
            std::fprintf(stderr, "outpost-hq: health check: cannot open the database: %s\n",
                         opened.error().message.c_str());
            o.problem = "HQ cannot open its database";
            o.took = took();
            return o;
        }
        store = std::move(opened.value());
    }
    auto epoch = store->epoch();
    o.took = took();
    if (!epoch) {
        std::fprintf(stderr, "outpost-hq: health check: the database did not answer a query: %s\n",
                     epoch.error().message.c_str());
        o.problem = "HQ's database did not answer a query";
        store.reset();  // a fresh connection next time
        return o;
    }
    o.healthy = true;
    return o;
}

}  // namespace

DatabaseProbe::Outcome DatabaseProbe::check() {
    std::unique_lock lock(m_shared->mutex);
    const auto now = std::chrono::steady_clock::now();
    if (m_shared->last && !m_shared->running && now - m_shared->lastAt < m_reuse) return *m_shared->last;
    Outcome late;
    late.problem = "HQ's database did not answer within " + std::to_string(m_deadline.count()) +
                   " ms (it is unreachable, or overloaded)";
    late.took = m_deadline;
    // A probe already overdue: the answer is known, and a flood of checks does not hold workers for it.
    if (m_shared->running && now - m_shared->startedAt >= m_deadline) return late;
    if (!m_shared->running) {
        m_shared->running = true;
        m_shared->startedAt = now;
        std::thread([shared = m_shared] {
            Outcome o = probeOnce(shared->open, shared->store);
            std::lock_guard guard(shared->mutex);
            shared->last = std::move(o);
            shared->lastAt = std::chrono::steady_clock::now();
            shared->running = false;
            shared->done.notify_all();
        }).detach();
    }
    const auto until = m_shared->startedAt + m_deadline;
    if (m_shared->done.wait_until(lock, until, [&] { return !m_shared->running; })) return *m_shared->last;
    return late;
}

}  // namespace outpost::hq
