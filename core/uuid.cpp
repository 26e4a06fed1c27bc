// UUIDv7 generation (monotonic per process, CSPRNG bits) and canonical-form validation.
#include "core/uuid.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "core/error.hpp"

namespace outpost::core {
namespace {

constexpr std::uint64_t kRandBMask = (std::uint64_t{1} << 62) - 1;  // 62 bits after the variant
constexpr std::uint16_t kRandAMask = 0x0fff;                        // 12 bits after the version

void fillRandom(void* buffer, std::size_t size) {
    auto* out = static_cast<unsigned char*>(buffer);
    while (size > 0) {
        const ssize_t got = ::getrandom(out, size, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            throw Failure(ErrorDomain::Internal, ErrorCode::Internal,
                          std::string("getrandom failed: ") + std::strerror(errno));
        }
        out += got;
        size -= static_cast<std::size_t>(got);
    }
}

// The state that makes ids monotonic: the last id's time and its 74 random bits.
struct V7State {
    std::mutex mutex;
    std::uint64_t lastMs = 0;
    std::uint16_t randA = 0;
    std::uint64_t randB = 0;
};

V7State& state() {
    static V7State s;
    return s;
}

std::uint64_t nowMs() {
    const auto since = std::chrono::system_clock::now().time_since_epoch();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since).count();
    return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}

}  // namespace

std::string newUuidV7() {
    // Drawn outside the lock, in one syscall: the kernel need not serialise the threads.
    std::array<unsigned char, 14> entropy{};
    fillRandom(entropy.data(), entropy.size());
    std::uint16_t freshA = 0;
    std::uint64_t freshB = 0;
    std::uint32_t step = 0;
    std::memcpy(&freshA, entropy.data(), sizeof freshA);
    std::memcpy(&freshB, entropy.data() + 2, sizeof freshB);
    std::memcpy(&step, entropy.data() + 10, sizeof step);

    std::uint64_t ms = 0;
    std::uint16_t randA = 0;
    std::uint64_t randB = 0;
    {
        V7State& s = state();
        std::lock_guard lock(s.mutex);
        const std::uint64_t now = nowMs();
        if (now > s.lastMs) {
            s.lastMs = now;
            s.randA = freshA & kRandAMask;
            s.randB = freshB & kRandBMask;
        } else {
            // Same millisecond (or the clock stepped back): count up from the previous id. A random
            // step (RFC 9562 6.2, method 2) keeps the next id hard to guess from the previous one.
            // Overflow of the 74-bit counter carries into the timestamp, which stays monotonic.
            s.randB += std::uint64_t{step} + 1;
            if (s.randB > kRandBMask) {
                s.randB &= kRandBMask;
                if (++s.randA > kRandAMask) {
                    s.randA = 0;
                    ++s.lastMs;
                }
            }
        }
        ms = s.lastMs & 0xffffffffffffULL;
        randA = s.randA;
        randB = s.randB;
    }

    std::array<unsigned char, 16> bytes{};
    for (int i = 0; i < 6; ++i)
        bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(ms >> (40 - 8 * i));
    bytes[6] = static_cast<unsigned char>(0x70 | (randA >> 8));
    bytes[7] = static_cast<unsigned char>(randA & 0xff);
    bytes[8] = static_cast<unsigned char>(0x80 | ((randB >> 56) & 0x3f));
    for (int i = 9; i < 16; ++i)
        bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(randB >> (8 * (15 - i)));

    static constexpr char kHex[] = "0123456789abcdef";
    std::string text;
    text.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) text.push_back('-');
        text.push_back(kHex[bytes[i] >> 4]);
        text.push_back(kHex[bytes[i] & 0x0f]);
    }
    return text;
}

bool isUuid(std::string_view text) {
    if (text.size() != 36) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

}  // namespace outpost::core
