// Per-device token buckets (hq/rate_limiter.hpp).
#include "hq/rate_limiter.hpp"

#include <algorithm>

namespace outpost::hq {

DeviceRateLimiter::DeviceRateLimiter(double perSecond, double burst)
    : m_perSecond(perSecond), m_burst(std::max(1.0, burst)) {}

std::optional<double> DeviceRateLimiter::take(const std::string& deviceId) {
    if (m_perSecond <= 0) return std::nullopt;
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(m_mutex);
    // A device not seen for a while starts with a full bucket; the map is pruned when it grows large.
    if (m_buckets.size() > 100000) m_buckets.clear();
    auto [it, fresh] = m_buckets.try_emplace(deviceId, Bucket{m_burst, now});
    Bucket& b = it->second;
    if (!fresh) {
        const double elapsed = std::chrono::duration<double>(now - b.at).count();
        b.tokens = std::min(m_burst, b.tokens + elapsed * m_perSecond);
        b.at = now;
    }
    if (b.tokens >= 1) {
        b.tokens -= 1;
        return std::nullopt;
    }
    return (1 - b.tokens) / m_perSecond;
}

}  // namespace outpost::hq
