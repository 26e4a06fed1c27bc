// libFuzzer target: record validation (core/validate.hpp) against the built-in forms.
// Input: one byte choosing the form and the mode, then the payload's JSON text.
#include <cstdlib>

#include "core/validate.hpp"
#include "fuzz_support.hpp"

using namespace outpost;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto forms = fuzz::builtinRegistry().latestAll();
    if (size < 1 || forms.empty()) return 0;
    const core::FormDef& form = *forms[data[0] % forms.size()];
    const auto mode = (data[0] & 0x80) ? core::ValidationMode::Final : core::ValidationMode::Draft;
    core::json payload = core::json::parse(fuzz::asText(data + 1, size - 1), nullptr, false);
    if (payload.is_discarded()) return 0;
    // Any JSON value at all: the validator never throws for bad input.
    auto res = core::validateRecord(form, payload, mode, fuzz::reference(), "2025-06-01");
    (void)res.text();
    (void)res.errorCount();
    if (!res.normalized.is_object()) std::abort();
    // HQ validates a stored payload again after stripping its computed values: same verdict.
    auto again = core::validateRecord(form, core::stripComputed(form, res.normalized), mode,
                                      fuzz::reference(), "2025-06-01");
    if (payload.is_object() && res.ok() && !again.ok()) std::abort();
    return 0;
}
