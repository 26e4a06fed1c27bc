// outpost-bench shared pieces: timing, percentiles, one-JSON-object-per-line output, scratch folders.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace outpost::test {
class PgCluster;
}

namespace outpost::bench {

// Insertion-ordered, so each line reads "bench", "metric", then the figures.
using Line = nlohmann::ordered_json;

using Clock = std::chrono::steady_clock;

inline double msSince(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Stats {
    std::size_t n = 0;
    double p50 = 0, p99 = 0, mean = 0, min = 0, max = 0;
};

// Nearest-rank percentiles of the samples (milliseconds or any unit).
Stats summarize(std::vector<double> samples);

// A figure rounded for printing (3 decimals keeps microseconds of a millisecond figure).
double round3(double x);

// Writes one measurement as one line of JSON on stdout and flushes it, so a long run can be
// followed line by line and a crash still leaves the lines already measured.
void emit(const Line& line);

// Progress and notes for the person watching: stderr, never mixed into the JSON lines.
void note(const std::string& text);

// A fresh folder made under base (created if missing) and removed with its contents on destruction
// unless keep() was called. Throws std::runtime_error when it cannot be made.
class ScratchDir {
public:
    explicit ScratchDir(const std::string& base);
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::string& path() const { return m_path; }
    void keep() { m_keep = true; }

private:
    std::string m_path;
    bool m_keep = false;
};

// The folder benchmarks run under when --dir is not given: $TMPDIR, else /tmp.
std::string defaultBaseDir();

// The file system path is on ("ext4", "tmpfs" ...; "unknown" when statfs fails).
std::string filesystemType(const std::string& path);

// What the numbers depend on: file system type of dir, CPUs, kernel, SQLite version.
Line environment(const std::string& bench, const std::string& dir);

// Subcommands: each parses its own options from argv (argv[0] is the subcommand's name) and
// returns the process exit status.
int runStore(int argc, char** argv);
int runGui(int argc, char** argv);
int runSync(int argc, char** argv);
int runHq(int argc, char** argv);

// The ingest lane (lane_bench.cpp), part of `hq`: HQ's PostgreSQL ingest alone on pg (a durable
// cluster), in a database of its own; prints its JSON lines and throws std::runtime_error on failure.
struct LaneOptions {
    bool quick = false;  // a few batches of each kind, for a smoke run
};
void runIngestLane(test::PgCluster& pg, const LaneOptions& o);

}  // namespace outpost::bench
