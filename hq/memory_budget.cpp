// HQ's request memory budget (hq/memory_budget.hpp).
#include "hq/memory_budget.hpp"
#include "hq/tuning.hpp"

#include <malloc.h>
#include <zstd.h>

#include <algorithm>
#include <memory>
#include <utility>

namespace outpost::hq {

MemoryBudget::MemoryBudget(std::size_t capacityBytes, std::chrono::milliseconds maxWait)
    : m_capacity(capacityBytes), m_maxWait(maxWait) {}

bool MemoryBudget::take(std::size_t n, std::optional<std::chrono::steady_clock::time_point>& deadline) {
    std::unique_lock lock(m_mutex);
    if (n > m_capacity) {
        ++m_refusals;
        return false;
    }
    auto fits = [&] { return m_inUse + n <= m_capacity; };
    if (!fits()) {
        if (!deadline) deadline = std::chrono::steady_clock::now() + m_maxWait;
        if (!m_released.wait_until(lock, *deadline, fits)) {
            ++m_refusals;
            return false;
        }
    }
    m_inUse += n;
    m_peak = std::max(m_peak, m_inUse);
    return true;
}

void MemoryBudget::give(std::size_t n) {
    if (n == 0) return;
    {
        std::lock_guard lock(m_mutex);
        m_inUse -= std::min(n, m_inUse);
    }
    m_released.notify_all();
}

std::optional<MemoryBudget::Reservation> MemoryBudget::reserve(std::size_t n) {
    Reservation r(*this);
    if (!r.grow(n)) return std::nullopt;
    return r;
}

std::size_t MemoryBudget::inUse() const {
    std::lock_guard lock(m_mutex);
    return m_inUse;
}

std::size_t MemoryBudget::peak() const {
    std::lock_guard lock(m_mutex);
    return m_peak;
}

void MemoryBudget::resetPeak() {
    std::lock_guard lock(m_mutex);
    m_peak = m_inUse;
}

std::size_t MemoryBudget::refusals() const {
    std::lock_guard lock(m_mutex);
    return m_refusals;
}

MemoryBudget::Reservation::Reservation(Reservation&& o) noexcept
    : m_budget(std::exchange(o.m_budget, nullptr)),
      m_bytes(std::exchange(o.m_bytes, 0)),
      m_deadline(std::exchange(o.m_deadline, std::nullopt)) {}

MemoryBudget::Reservation& MemoryBudget::Reservation::operator=(Reservation&& o) noexcept {
    if (this != &o) {
        release();
        m_budget = std::exchange(o.m_budget, nullptr);
        m_bytes = std::exchange(o.m_bytes, 0);
        m_deadline = std::exchange(o.m_deadline, std::nullopt);
    }
    return *this;
}

bool MemoryBudget::Reservation::tryGrow(std::size_t n) {
    // A deadline already reached: take() looks once and does not wait.
    std::optional<std::chrono::steady_clock::time_point> now = std::chrono::steady_clock::now();
    return add(n, now);
}

bool MemoryBudget::Reservation::grow(std::size_t n) {
    return add(n, m_deadline);
}

bool MemoryBudget::Reservation::add(std::size_t n,
                                    std::optional<std::chrono::steady_clock::time_point>& deadline) {
    if (!m_budget) return false;
    if (n == 0) return true;
    // More than the whole budget with what is held already: no wait can make it fit.
    if (n > m_budget->m_capacity || m_bytes > m_budget->m_capacity - n) {
        std::lock_guard lock(m_budget->m_mutex);
        ++m_budget->m_refusals;
        return false;
    }
    if (!m_budget->take(n, deadline)) return false;
    m_bytes += n;
    return true;
}

void MemoryBudget::Reservation::shrink(std::size_t n) {
    if (!m_budget) return;
    n = std::min(n, m_bytes);
    m_bytes -= n;
    m_budget->give(n);
}

void MemoryBudget::Reservation::release() {
    if (!m_budget) return;
    m_budget->give(std::exchange(m_bytes, 0));
}

void returnLargeBlocksWhenFreed() {
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

namespace {

// The decoder's tables, input buffer and the blocks it may have in flight, besides its window.
constexpr std::size_t kDecoderSlack = 1u << 20;
// The output buffer's first size; it doubles from there.
constexpr std::size_t kFirstOutputBytes = 256u << 10;

}  // namespace

Inflated inflateWithin(std::string_view frame, std::size_t maxOut, MemoryBudget::Reservation& into) {
    using P = Inflated::Problem;
    Inflated r;
    std::size_t textCharged = 0;  // the output buffer's bytes held in `into`
    MemoryBudget::Reservation decoder(into.budget());
    auto fail = [&](P p, std::string detail = {}) {
        r.problem = p;
        r.detail = std::move(detail);
        // The text is dropped: its bytes go back now.
        r.text = std::string();
        into.shrink(textCharged);
        return std::move(r);
    };
    // Adds n bytes to `to` (the text's or the decoder's), or says why not: the budget stayed full, or it
    // could never hold what this request holds and n more (then without waiting for anything).
    auto take = [&](MemoryBudget::Reservation& to, std::size_t n) -> std::optional<P> {
        if (into.bytes() + decoder.bytes() + n > into.budget().capacity()) return P::NeverFits;
        if (!to.grow(n)) return P::OverBudget;
        return std::nullopt;
    };
    if (frame.empty()) return fail(P::NotZstd);
    const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
    if (declared == ZSTD_CONTENTSIZE_ERROR) return fail(P::NotZstd);
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > maxOut) {
        r.declared = declared;
        return fail(P::DeclaredTooLarge);
    }

    const std::size_t chunkBytes = ZSTD_DStreamOutSize();
    if (auto why = take(decoder, chunkBytes)) return fail(*why);
    std::string chunk(chunkBytes, '\0');
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
    if (!ctx) throw std::bad_alloc();
    // The decoder allocates its window at its first call, and writes into it only what comes out: it is
    // charged for what it may have written by the end of the next call (at most its whole size), so a
    // frame that claims a huge window and produces little costs little.
    std::size_t decoderCharged = 0;
    bool started = false;
    ZSTD_inBuffer in{frame.data(), frame.size(), 0};
    std::size_t pending = 1;
    while (in.pos < in.size || pending != 0) {
        std::size_t want = r.text.size() + chunkBytes + kDecoderSlack;
        if (started) want = std::min(want, ZSTD_sizeof_DCtx(ctx.get()));
        if (want > decoderCharged) {
            if (auto why = take(decoder, want - decoderCharged)) return fail(*why);
            decoderCharged = want;
        }
        ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
        pending = ZSTD_decompressStream(ctx.get(), &ob, &in);
        started = true;
        if (ZSTD_isError(pending)) return fail(P::Damaged, ZSTD_getErrorName(pending));
        if (r.text.size() + ob.pos > maxOut) return fail(P::TooLarge);
        if (r.text.size() + ob.pos > r.text.capacity()) {
            // Doubled (at least), counted before it is allocated; the old buffer goes back after.
            const std::size_t newCapacity =
                std::max({r.text.capacity() * 2, r.text.size() + ob.pos, kFirstOutputBytes});
            if (auto why = take(into, newCapacity + 1)) return fail(*why);
            const std::size_t oldCharged = textCharged;
            textCharged += newCapacity + 1;
            r.text.reserve(newCapacity);
            // The library may round up: what it holds is what is counted.
            if (r.text.capacity() > newCapacity) {
                const std::size_t extra = r.text.capacity() - newCapacity;
                if (auto why = take(into, extra)) return fail(*why);
                textCharged += extra;
            }
            into.shrink(oldCharged);
            textCharged -= oldCharged;
        }
        r.text.append(chunk.data(), ob.pos);
        // All input used, the decoder still expects more and produced nothing: the frame was cut short.
        if (in.pos == in.size && pending != 0 && ob.pos < ob.size) return fail(P::Truncated);
    }
    return r;
}

namespace {

// What each piece of parsed JSON takes on the heap with libstdc++ on 64 bits and glibc's malloc (16
// bytes of bookkeeping per block, blocks of at least 32): the largest of these is what is counted.
constexpr std::size_t kValueBytes = 32;   // a json value (16) in an array whose buffer may be twice as big
constexpr std::size_t kObjectBytes = 64;  // the std::map an object points to (48)
constexpr std::size_t kMemberBytes = 96;  // a map node: tree links (32), key std::string (32), value (16)
constexpr std::size_t kArrayBytes = 32;   // the std::vector an array points to (24)
constexpr std::size_t kStringBytes = 48;  // the std::string a string value points to (32)
constexpr std::size_t kLongStringExtra = 33;  // a string over 15 bytes: its own block (len + 1, rounded)

}  // namespace

std::size_t jsonParseCost(std::string_view text) {
    std::size_t cost = 0;
    bool inString = false, escaped = false, inScalar = false;
    std::size_t stringStart = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (inString) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                inString = false;
                // A key's std::string is part of its member; a value's is a block of its own.
                const std::size_t length = i - stringStart;
                if (length > 15) cost += length + kLongStringExtra;
            }
            continue;
        }
        const bool scalarChar = (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' ||
                                (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (scalarChar) {
            if (!inScalar) cost += kValueBytes;  // a number, true, false or null
            inScalar = true;
            continue;
        }
        inScalar = false;
        switch (c) {
            case '"':
                inString = true;
                stringStart = i + 1;
                // Counted as a value (it may be a key: then the member below counts more than enough).
                cost += kValueBytes + kStringBytes;
                break;
            case '{':
                cost += kValueBytes + kObjectBytes;
                break;
            case '[':
                cost += kValueBytes + kArrayBytes;
                break;
            case ':':
                cost += kMemberBytes;
                break;
            default:
                break;
        }
    }
    return std::max(
        cost, static_cast<std::size_t>(static_cast<double>(text.size()) * tuning::kJsonBytesPerTextByte));
}

}  // namespace outpost::hq
