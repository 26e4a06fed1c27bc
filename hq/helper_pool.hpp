// Threads that help a request with work it splits into independent pieces (a push's per-item checks:
// the device's signature, the canonical bytes, validation). The request's own thread always works too,
// so a request never waits for a helper to become free: with every helper busy with other requests it
// simply does all of its pieces itself.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace outpost::hq {

class HelperPool {
public:
    explicit HelperPool(unsigned threads) : m_threads(threads) {}
    ~HelperPool() {
        {
            std::lock_guard lock(m_mutex);
            m_stopping = true;
        }
        m_wake.notify_all();
        for (auto& t : m_workers) t.join();
    }
    HelperPool(const HelperPool&) = delete;
    HelperPool& operator=(const HelperPool&) = delete;

    // Runs piece(i) for every i in [0, n) and returns once all have run. The first exception a piece
    // throws stops the pieces not yet started and is rethrown here.
    void forEach(std::size_t n, const std::function<void(std::size_t)>& piece) {
        auto job = std::make_shared<Job>();
        job->n = n;
        job->piece = &piece;
        const bool shared = n > 1 && m_threads > 0;
        if (shared) {
            std::lock_guard lock(m_mutex);
            startWorkers();
            m_jobs.push_back(job);
        }
        if (shared) m_wake.notify_all();
        job->run();
        if (shared) {
            std::unique_lock lock(m_mutex);
            // No helper joins the job once it has left the queue; wait for those that joined.
            m_jobs.erase(std::remove(m_jobs.begin(), m_jobs.end(), job), m_jobs.end());
            m_idle.wait(lock, [&] { return job->helping == 0; });
        }
        if (job->error) std::rethrow_exception(job->error);
    }

private:
    struct Job {
        std::size_t n = 0;
        const std::function<void(std::size_t)>* piece = nullptr;
        std::atomic<std::size_t> next{0};
        int helping = 0;  // helpers working on it (guarded by the pool's mutex)
        std::mutex errorMutex;
        std::exception_ptr error;

        void run() {
            for (std::size_t i; (i = next.fetch_add(1)) < n;) {
                try {
                    (*piece)(i);
                } catch (...) {
                    std::lock_guard lock(errorMutex);
                    if (!error) error = std::current_exception();
                    next = n;
                }
            }
        }
        bool exhausted() const { return next.load() >= n; }
    };

    // Started on first use, so an HQ that never receives a push (a bundle import of pulls, a fuzz run)
    // starts no thread. Called with m_mutex held.
    void startWorkers() {
        if (!m_workers.empty()) return;
        for (unsigned i = 0; i < m_threads; ++i) m_workers.emplace_back([this] { work(); });
    }

    void work() {
        std::unique_lock lock(m_mutex);
        for (;;) {
            m_wake.wait(lock, [&] {
                return m_stopping || std::any_of(m_jobs.begin(), m_jobs.end(),
                                                 [](const auto& j) { return !j->exhausted(); });
            });
            if (m_stopping) return;
            // Pieces are taken without the lock: the job seen unfinished a moment ago may be done now.
            auto it =
                std::find_if(m_jobs.begin(), m_jobs.end(), [](const auto& j) { return !j->exhausted(); });
            if (it == m_jobs.end()) continue;
            std::shared_ptr<Job> job = *it;
            ++job->helping;
            lock.unlock();
            job->run();
            lock.lock();
            if (--job->helping == 0) m_idle.notify_all();
        }
    }

    const unsigned m_threads;
    std::mutex m_mutex;
    std::condition_variable m_wake, m_idle;
    std::vector<std::shared_ptr<Job>> m_jobs;
    std::vector<std::thread> m_workers;
    bool m_stopping = false;
};

// Helpers for a request's pieces: one fewer than the machine's cores, since the request's thread works
// too (at most 15).
unsigned defaultHelperThreads();

}  // namespace outpost::hq
