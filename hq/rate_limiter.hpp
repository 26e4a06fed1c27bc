// Per-device token buckets: how many requests a device may send in a burst, and how fast the bucket
// refills (Limits::deviceRequestsPerSecond, Limits::deviceBurst). Kept in this process: several HQ
// processes behind one load balancer each allow the rate (docs/operations.md). Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace outpost::hq {

class DeviceRateLimiter {
public:
    // perSecond <= 0: no limit. burst: the bucket's size (at least 1).
    DeviceRateLimiter(double perSecond, double burst);

    // Takes one token from the device's bucket. nullopt when the request may go; otherwise the seconds
    // until the bucket holds a token again.
    std::optional<double> take(const std::string& deviceId);

    double perSecond() const { return m_perSecond; }
    double burst() const { return m_burst; }

private:
    struct Bucket {
        double tokens = 0;
        std::chrono::steady_clock::time_point at;
    };
    const double m_perSecond;
    const double m_burst;
    std::mutex m_mutex;
    std::unordered_map<std::string, Bucket> m_buckets;
};

}  // namespace outpost::hq
