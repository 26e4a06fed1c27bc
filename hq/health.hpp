// Whether this HQ process can reach its database now, for `GET /v1/health`: one probe at a time on a
// store of its own (never one a request needs), its answer awaited for a bounded time and reused
// briefly, so a check never waits longer than the deadline and a flood of checks costs almost nothing.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "storage/hq/store.hpp"

namespace outpost::hq {

class DatabaseProbe {
public:
    using Opener = std::function<Result<std::unique_ptr<storage::hq::HqStore>>()>;

    struct Outcome {
        bool healthy = false;
        std::string problem;  // why not, in words an operator can act on (empty when healthy)
        std::chrono::milliseconds took{
            0};  // how long the database took to answer (the deadline when it did not)
    };

    DatabaseProbe(Opener open, std::chrono::milliseconds deadline, std::chrono::milliseconds reuse);
    ~DatabaseProbe();
    DatabaseProbe(const DatabaseProbe&) = delete;
    DatabaseProbe& operator=(const DatabaseProbe&) = delete;

    // Thread-safe. Returns within the deadline (plus scheduling), whatever the database does: a probe
    // still waiting then goes on in the background and its answer serves the next check.
    Outcome check();

private:
    struct Shared;
    std::shared_ptr<Shared> m_shared;
    std::chrono::milliseconds m_deadline, m_reuse;
};

}  // namespace outpost::hq
