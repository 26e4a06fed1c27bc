// The helper threads of HQ's requests (hq/helper_pool.hpp).
#include "hq/helper_pool.hpp"

#include <algorithm>

namespace outpost::hq {

unsigned defaultHelperThreads() {
    const unsigned cores = std::thread::hardware_concurrency();
    return cores > 1 ? std::min(cores - 1, 15u) : 0u;
}

}  // namespace outpost::hq
