// The form expression language: parsed into a tree, evaluated safely (never eval'd).
// See docs/forms.md "The expression language" for the grammar and the functions.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace outpost::core {

using json = nlohmann::json;

// A parse error: 1-based column in the source and a message ("expected ')'").
struct ExprError {
    int column = 0;
    std::string message;
    std::string text() const;  // "column 14: expected ')'"
};

// What an expression can see while it runs. Implemented by the validator.
class EvalContext {
public:
    virtual ~EvalContext() = default;
    // A field's value: a plain name ("women") or a repeat column ("equipment.serviceable",
    // which gives an array over the rows). null when empty or unknown.
    virtual json field(std::string_view name) const = 0;
    // The value of the field under check ('.').
    virtual json self() const = 0;
    // ref(table, id, column): null when absent.
    virtual json ref(std::string_view table, std::string_view id, std::string_view column) const = 0;
    // parity_target(category, date): the target percent, or null.
    virtual json parityTarget(std::string_view category, std::string_view isoDate) const = 0;
    // threshold(name): a number, or null.
    virtual json threshold(std::string_view name) const = 0;
    // today(): "YYYY-MM-DD" in UTC.
    virtual std::string today() const = 0;
};

struct ExprNode;  // the tree; defined in expr.cpp

// A compiled expression. Cheap to copy (shares its immutable tree).
class Expr {
public:
    // Parses src. On failure returns false and fills err. Checks function names and arities.
    static bool parse(std::string_view src, Expr& out, ExprError& err);

    // Every field name the expression reads, as written ("women", "equipment.serviceable").
    const std::vector<std::string>& references() const { return m_refs; }
    bool usesSelf() const { return m_usesSelf; }
    const std::string& source() const { return m_source; }
    bool empty() const { return !m_root; }

    // Evaluates. Type errors at run time (e.g. 'a' * 2) throw EvalError; null spreads quietly.
    json eval(const EvalContext& ctx) const;

    // How a result counts as a condition: true only for boolean true (null/false -> false).
    static bool truthy(const json& v);

private:
    std::shared_ptr<const ExprNode> m_root;
    std::vector<std::string> m_refs;
    bool m_usesSelf = false;
    std::string m_source;
};

// Thrown by Expr::eval for a run-time type error ("cannot multiply text by a number").
class EvalError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace outpost::core
