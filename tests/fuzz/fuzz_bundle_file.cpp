// libFuzzer target: HQ's bundle importer (sync/bundle.hpp importBundle) on the raw file: magic line,
// header, recipient key id, sealed box, signed document.
#include <cstdlib>

#include "fuzz_support.hpp"
#include "sync/bundle.hpp"

using namespace outpost;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::FuzzHq& h = fuzz::hq();
    auto r = hq::importBundle(*h.service, fuzz::asText(data, size));
    // A refusal names what is wrong, as a bad file, device or request: never a 500 (fuzz_support.hpp).
    if (!r.ok()) {
        if (auto problem = fuzz::bundleRefusalProblem(h, r.error()); !problem.empty()) fuzz::finding(problem);
    }
    return 0;
}
