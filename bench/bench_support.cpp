// outpost-bench support: percentiles, JSON-line output, scratch folders and the environment line.
#include "bench.hpp"

#include <sqlite3.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <thread>

namespace outpost::bench {

namespace fs = std::filesystem;

Stats summarize(std::vector<double> samples) {
    Stats s;
    s.n = samples.size();
    if (samples.empty()) return s;
    std::sort(samples.begin(), samples.end());
    auto rank = [&](double p) {
        auto k = static_cast<std::size_t>(std::ceil(p * static_cast<double>(samples.size())));
        return samples[std::clamp<std::size_t>(k, 1, samples.size()) - 1];
    };
    s.p50 = rank(0.50);
    s.p99 = rank(0.99);
    s.min = samples.front();
    s.max = samples.back();
    double sum = 0;
    for (double x : samples) sum += x;
    s.mean = sum / static_cast<double>(samples.size());
    return s;
}

double round3(double x) {
    return std::round(x * 1000.0) / 1000.0;
}

void emit(const Line& line) {
    std::cout << line.dump() << std::endl;
}

void note(const std::string& text) {
    std::cerr << "outpost-bench: " << text << std::endl;
}

ScratchDir::ScratchDir(const std::string& base) {
    std::error_code ec;
    fs::create_directories(base, ec);
    std::string tmpl = (fs::path(base) / "outpost-bench-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot make a scratch folder under " + base);
    m_path = tmpl;
}

ScratchDir::~ScratchDir() {
    if (m_keep) return;
    std::error_code ec;
    fs::remove_all(m_path, ec);
}

std::string defaultBaseDir() {
    if (const char* t = std::getenv("TMPDIR"); t && *t) return t;
    return "/tmp";
}

namespace {
// The common Linux file-system magic numbers (statfs(2)); others are printed in hex.
std::string fsTypeName(long type) {
    switch (static_cast<unsigned long>(type)) {
        case 0xEF53:
            return "ext4";
        case 0x58465342:
            return "xfs";
        case 0x9123683E:
            return "btrfs";
        case 0x01021994:
            return "tmpfs";
        case 0x794C7630:
            return "overlayfs";
        case 0x2FC12FC1:
            return "zfs";
        case 0xF2F52010:
            return "f2fs";
        default: {
            char buf[32];
            std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(type));
            return buf;
        }
    }
}
}  // namespace

std::string filesystemType(const std::string& path) {
    struct statfs sf {};
    return ::statfs(path.c_str(), &sf) == 0 ? fsTypeName(static_cast<long>(sf.f_type)) : "unknown";
}

Line environment(const std::string& bench, const std::string& dir) {
    Line l;
    l["bench"] = bench;
    l["metric"] = "environment";
    l["filesystem"] = filesystemType(dir);
    l["dir"] = dir;
    l["cpus"] = std::thread::hardware_concurrency();
    struct utsname u {};
    if (::uname(&u) == 0) l["kernel"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
    l["sqlite"] = sqlite3_libversion();
#ifdef NDEBUG
    l["build"] = "optimised";
#else
    l["build"] = "debug (figures are not representative)";
#endif
    return l;
}

}  // namespace outpost::bench
