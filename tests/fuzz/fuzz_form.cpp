// libFuzzer target: the form-definition parser (core/form.hpp), then validation against what it accepted.
#include <cstdlib>

#include "core/validate.hpp"
#include "fuzz_support.hpp"

using namespace outpost;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto& ref = fuzz::reference();
    auto parsed = core::parseFormDefText(fuzz::asText(data, size), ref);
    if (!parsed.ok()) {
        // Every refusal names what is wrong.
        if (parsed.error().message.empty()) std::abort();
        return 0;
    }
    const core::FormDef& form = parsed.value();
    (void)form.allFields();
    (void)form.hasSensitiveFields();
    // A form that parsed must validate an empty record, and the record it normalized, without throwing.
    for (auto mode : {core::ValidationMode::Draft, core::ValidationMode::Final}) {
        auto res = core::validateRecord(form, core::json::object(), mode, ref, "2025-06-01");
        (void)res.text();
        auto again =
            core::validateRecord(form, core::stripComputed(form, res.normalized), mode, ref, "2025-06-01");
        (void)again.ok();
    }
    return 0;
}
