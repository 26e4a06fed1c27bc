// Core test fixtures: the small reference data and the kitchen-sink form shared by the core suites.
#pragma once

#include "core/form.hpp"
#include "core/refdata.hpp"
#include "support/test_support.hpp"

namespace outpost::test {

// tests/data/reference_small.json: two units, three courses, the unit4 scale, targets, a threshold.
inline const core::ReferenceData& smallRef() {
    static const core::ReferenceData rd =
        core::ReferenceData::fromJson(fixture("reference_small.json")).value();
    return rd;
}

}  // namespace outpost::test
