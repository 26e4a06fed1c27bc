// libFuzzer target: HQ's bundle importer (sync/bundle.hpp importBundle) on the raw file: magic line,
// header, recipient key id, sealed box, signed document.
#include <cstdlib>

#include "fuzz_support.hpp"
#include "sync/bundle.hpp"

using namespace outpost;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::FuzzHq& h = fuzz::hq();
    auto r = sync::importBundle(*h.service, fuzz::asText(data, size));
    if (!r.ok() && r.error().message.empty()) std::abort();  // a refusal names what is wrong
    return 0;
}
