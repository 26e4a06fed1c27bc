// Token buckets per key (hq/rate_limiter.hpp).
#include "hq/rate_limiter.hpp"

#include <algorithm>

namespace outpost::hq {

DeviceRateLimiter::DeviceRateLimiter(double perSecond, double burst, std::size_t maxKeys)
    : m_perSecond(perSecond), m_burst(std::max(1.0, burst)), m_maxKeys(std::max<std::size_t>(1, maxKeys)) {}

std::size_t DeviceRateLimiter::keys() {
    std::lock_guard lock(m_mutex);
    return m_buckets.size();
}

std::optional<double> DeviceRateLimiter::take(const std::string& key) {
    if (m_perSecond <= 0) return std::nullopt;
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(m_mutex);
    auto refilled = [&](const Bucket& b) {
        return b.tokens + std::chrono::duration<double>(now - b.at).count() * m_perSecond >= m_burst;
    };
    if (m_buckets.size() >= m_maxKeys && m_buckets.find(key) == m_buckets.end()) {
        // A key not seen for a while starts with a full bucket, so full buckets can go.
        std::erase_if(m_buckets, [&](const auto& kv) { return refilled(kv.second); });
        if (m_buckets.size() >= m_maxKeys) {
            // Every bucket is in use: a new key waits until the first of them has refilled, rather than
            // the table growing (or being emptied, which would give every busy key a full bucket again).
            double soonest = m_burst / m_perSecond;
            for (const auto& [k, b] : m_buckets) {
                const double left =
                    (m_burst - b.tokens) / m_perSecond - std::chrono::duration<double>(now - b.at).count();
                soonest = std::min(soonest, std::max(0.0, left));
            }
            return std::max(soonest, 1.0 / m_perSecond);
        }
    }
    auto [it, fresh] = m_buckets.try_emplace(key, Bucket{m_burst, now});
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

void DeviceRateLimiter::giveBack(const std::string& key) {
    if (m_perSecond <= 0) return;
    std::lock_guard lock(m_mutex);
    if (auto it = m_buckets.find(key); it != m_buckets.end())
        it->second.tokens = std::min(m_burst, it->second.tokens + 1);
}

}  // namespace outpost::hq
