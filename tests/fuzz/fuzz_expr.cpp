// libFuzzer target: the expression language (core/expr.hpp): parsing, then evaluation over a fixed record.
#include <cstdlib>

#include "core/expr.hpp"
#include "fuzz_support.hpp"

using namespace outpost;
using core::json;

namespace {

// A record with a value of every kind, a repeat, and the demo reference data behind ref() and friends.
class Context : public core::EvalContext {
public:
    Context()
        : m_record(json::parse(R"({
            "unit": "MINUSCA-RWABATT-1", "women": 12, "men": 30, "ratio": 0.25, "note": "ok",
            "date": "2025-01-10", "when": "2025-01-10T08:30:00Z", "flag": true, "none": null,
            "tags": ["a", "b"], "severity": "minor",
            "equipment": [{"serviceable": 3, "kind": "truck"}, {"serviceable": null, "kind": "apc"}]
          })")) {}

    json field(std::string_view name) const override {
        auto dot = name.find('.');
        if (dot == std::string_view::npos) {
            auto it = m_record.find(std::string(name));
            return it == m_record.end() ? json() : *it;
        }
        auto rep = m_record.find(std::string(name.substr(0, dot)));
        if (rep == m_record.end() || !rep->is_array()) return json();
        json col = json::array();
        for (const auto& row : *rep)
            col.push_back(row.is_object() ? row.value(std::string(name.substr(dot + 1)), json()) : json());
        return col;
    }
    json self() const override { return m_record["women"]; }
    json ref(std::string_view table, std::string_view id, std::string_view column) const override {
        return fuzz::reference().value(table, id, column);
    }
    json parityTarget(std::string_view category, std::string_view isoDate) const override {
        auto t = fuzz::reference().parityTarget(category, isoDate);
        return t ? json(*t) : json();
    }
    json threshold(std::string_view name) const override {
        auto t = fuzz::reference().threshold(name);
        return t ? json(*t) : json();
    }
    std::string today() const override { return "2025-06-01"; }

private:
    json m_record;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Context ctx;
    core::Expr e;
    core::ExprError err;
    if (!core::Expr::parse(fuzz::asText(data, size), e, err)) {
        if (err.message.empty()) std::abort();  // a refusal says why
        (void)err.text();
        return 0;
    }
    (void)e.references();
    try {
        json v = e.eval(ctx);
        (void)core::Expr::truthy(v);
        (void)v.dump(-1, ' ', false, json::error_handler_t::replace);
    } catch (const core::EvalError&) {
        // A type error at run time is the documented answer.
    }
    return 0;
}
