// The memory HQ lets requests use at once for their bodies: decompressed text and parsed JSON, across
// every request of the process together (hq/tuning.hpp, "request memory budget", says how much and why).
//
// A request takes a Reservation and grows it before it allocates: each zstd output chunk before it is
// written, the parsed document before it is parsed. A Reservation that does not fit waits, up to the
// budget's wait in total over its whole life, for other requests to give bytes back, and then fails;
// one that could never fit (more than the whole budget) fails at once. The bytes go back when the
// Reservation goes, at the end of the request.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::hq {

class MemoryBudget {
public:
    MemoryBudget(std::size_t capacityBytes, std::chrono::milliseconds maxWait);
    MemoryBudget(const MemoryBudget&) = delete;
    MemoryBudget& operator=(const MemoryBudget&) = delete;

    // Bytes held by one request; gives them back when destroyed. Movable, not copyable.
    class Reservation {
    public:
        Reservation() = default;
        explicit Reservation(MemoryBudget& budget) : m_budget(&budget) {}
        ~Reservation() { release(); }
        Reservation(Reservation&& o) noexcept;
        Reservation& operator=(Reservation&& o) noexcept;
        Reservation(const Reservation&) = delete;
        Reservation& operator=(const Reservation&) = delete;

        // Adds n bytes. False when they do not fit within the wait that is left (nothing is added
        // then, and what is held stays held); false at once when held + n exceeds the whole budget.
        bool grow(std::size_t n);
        // Adds n bytes only if they fit now, without waiting (for a thread that must not block: HQ's
        // I/O threads count a request body's bytes as they arrive).
        bool tryGrow(std::size_t n);
        // Gives n of the held bytes back (at most what is held).
        void shrink(std::size_t n);
        // Gives everything back.
        void release();
        std::size_t bytes() const { return m_bytes; }
        // The budget it draws on (a reservation made empty, without one, is a programming error).
        MemoryBudget& budget() const { return *m_budget; }

    private:
        // grow() and tryGrow(): adds n bytes, waiting at most until deadline (set at the first wait when
        // empty).
        bool add(std::size_t n, std::optional<std::chrono::steady_clock::time_point>& deadline);
        MemoryBudget* m_budget = nullptr;
        std::size_t m_bytes = 0;
        // Set at the first wait: every later wait of this reservation ends by then too.
        std::optional<std::chrono::steady_clock::time_point> m_deadline;
    };

    // A reservation of n bytes, or nullopt when they do not fit in time (see Reservation::grow).
    std::optional<Reservation> reserve(std::size_t n);

    std::size_t capacity() const { return m_capacity; }
    std::chrono::milliseconds maxWait() const { return m_maxWait; }
    std::size_t inUse() const;
    // The most ever held at once since the start (or the last resetPeak()).
    std::size_t peak() const;
    void resetPeak();
    // Reservations that failed (waited in vain, or could never fit).
    std::size_t refusals() const;

private:
    bool take(std::size_t n, std::optional<std::chrono::steady_clock::time_point>& deadline);
    void give(std::size_t n);

    const std::size_t m_capacity;
    const std::chrono::milliseconds m_maxWait;
    mutable std::mutex m_mutex;
    std::condition_variable m_released;
    std::size_t m_inUse = 0;
    std::size_t m_peak = 0;
    std::size_t m_refusals = 0;
};

// For a process that serves requests: glibc's malloc raises its mmap threshold as large blocks are freed
// (up to 32 MiB), after which large buffers come from the threads' arenas, which keep them once freed and
// serve only their own threads: with many request threads, resident memory grows far past what the
// budget counts (fifty bodies decompressed to 64 MiB took HQ to 620 MiB resident with a 256 MiB budget).
// A fixed threshold maps every block of 128 KiB or more on its own and gives it back when freed.
void returnLargeBlocksWhenFreed();

// One zstd frame decompressed within a reservation: the output grows in chunks, and each growth of its
// buffer is added to `into` before it is made (a buffer that doubles holds the old and the new one for
// a moment: both are counted then, the old one given back after). The decoder's own window buffer is
// counted too, as far as it can have been written. A frame that declares more than maxOut is refused
// before anything is decompressed; one that does not declare its size, or lies, stops at maxOut.
// `into` keeps the output's bytes (the caller holds them while it uses the text); the decoder's are
// given back on return.
struct Inflated {
    enum class Problem {
        None,
        NotZstd,           // not a zstd frame (or empty)
        DeclaredTooLarge,  // the frame declares more than maxOut (declared says how much)
        TooLarge,          // more than maxOut came out
        Damaged,           // the decoder failed (detail says why)
        Truncated,         // the input ended inside the frame
        OverBudget,        // the budget had no room in time
        NeverFits,         // the request would need more than the whole budget
    };
    Problem problem = Problem::None;
    std::string text;
    unsigned long long declared = 0;
    std::string detail;
};
Inflated inflateWithin(std::string_view frame, std::size_t maxOut, MemoryBudget::Reservation& into);

// The bytes parsing `text` into nlohmann::json (sync::json) may take: tuning::kJsonBytesPerTextByte
// times its size (what a push as Outpost's laptops write it takes), or more for text made of many small
// values - each value, member, array and object costs a fixed amount whatever its size in the text -
// counted by one scan of the text.
std::size_t jsonParseCost(std::string_view text);

}  // namespace outpost::hq
