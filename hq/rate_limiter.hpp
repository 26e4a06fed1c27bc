// Token buckets per key: per device (push and pull: Limits::deviceRequestsPerSecond, Limits::deviceBurst)
// and per network address (enrollment attempts: hq/tuning.hpp, "enrollment throttle"). Kept in this
// process: several HQ processes behind one load balancer each allow the rate (docs/operations.md).
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace outpost::hq {

class DeviceRateLimiter {
public:
    // perSecond <= 0: no limit. burst: the bucket's size (at least 1). maxKeys bounds the table: when it
    // is full, the buckets that have refilled (and so say nothing a fresh one would not) are dropped; if
    // none has, a key not in the table waits until the oldest one has refilled.
    DeviceRateLimiter(double perSecond, double burst, std::size_t maxKeys = 100000);

    // Takes one token from the key's bucket (a device id, an address). nullopt when the request may
    // go; otherwise the seconds until the bucket holds a token again.
    std::optional<double> take(const std::string& key);
    // Puts back the token take() took for a request that turned out to be one the bucket is not meant
    // to count (an enrollment that succeeded: only guesses are throttled). Never beyond the burst.
    void giveBack(const std::string& key);

    double perSecond() const { return m_perSecond; }
    double burst() const { return m_burst; }
    std::size_t keys();  // buckets held now

private:
    struct Bucket {
        double tokens = 0;
        std::chrono::steady_clock::time_point at;
    };
    const double m_perSecond;
    const double m_burst;
    const std::size_t m_maxKeys;
    std::mutex m_mutex;
    std::unordered_map<std::string, Bucket> m_buckets;
};

}  // namespace outpost::hq
