// The form expression language: a hand-written tokenizer, a recursive-descent parser and a tree walker.
#include "core/expr.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/time.hpp"

namespace outpost::core {

namespace {

// Hostile or broken form definitions must not be able to exhaust the stack or memory.
constexpr std::size_t kMaxSourceBytes = 4096;
constexpr int kMaxDepth = 64;
// Long literals are cut in messages so an error stays one readable line.
constexpr std::size_t kMaxQuotedBytes = 24;

enum class Op { Add, Sub, Mul, Div, Mod, Eq, Ne, Lt, Le, Gt, Ge, And, Or, Not, Neg };

enum class Fn {
    If,
    Coalesce,
    Empty,
    Len,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Round,
    Floor,
    Ceil,
    Abs,
    Number,
    String,
    Concat,
    Contains,
    Selected,
    CountSelected,
    CountIf,
    Today,
    DaysBetween,
    Year,
    Ref,
    ParityTarget,
    Threshold,
};

constexpr int kAnyCount = -1;

struct FnSpec {
    std::string_view name;
    Fn fn;
    int minArgs;
    int maxArgs;  // kAnyCount: no upper bound
};

constexpr FnSpec kFunctions[] = {
    {"if", Fn::If, 3, 3},
    {"coalesce", Fn::Coalesce, 1, kAnyCount},
    {"empty", Fn::Empty, 1, 1},
    {"len", Fn::Len, 1, 1},
    {"count", Fn::Count, 1, 1},
    {"sum", Fn::Sum, 1, 1},
    {"avg", Fn::Avg, 1, 1},
    {"min", Fn::Min, 1, kAnyCount},
    {"max", Fn::Max, 1, kAnyCount},
    {"round", Fn::Round, 1, 2},
    {"floor", Fn::Floor, 1, 1},
    {"ceil", Fn::Ceil, 1, 1},
    {"abs", Fn::Abs, 1, 1},
    {"number", Fn::Number, 1, 1},
    {"string", Fn::String, 1, 1},
    {"concat", Fn::Concat, 1, kAnyCount},
    {"contains", Fn::Contains, 2, 2},
    {"selected", Fn::Selected, 2, 2},
    {"count_selected", Fn::CountSelected, 1, 1},
    {"count_if", Fn::CountIf, 2, 2},
    {"today", Fn::Today, 0, 0},
    {"days_between", Fn::DaysBetween, 2, 2},
    {"year", Fn::Year, 1, 1},
    {"ref", Fn::Ref, 3, 3},
    {"parity_target", Fn::ParityTarget, 2, 2},
    {"threshold", Fn::Threshold, 1, 1},
};

const FnSpec* findFunction(std::string_view name) {
    for (const FnSpec& spec : kFunctions) {
        if (spec.name == name) return &spec;
    }
    return nullptr;
}

enum class NodeKind { Literal, Field, Self, Unary, Arith, Logic, Compare, Call };

struct OpAt {
    Op op;
    int column;
};

}  // namespace

// One node of the immutable tree. Chains of + - and * / % are n-ary so that a long sum of fields does
// not become a deep tree; only real nesting (parentheses, calls, unary operators) adds depth.
struct ExprNode {
    NodeKind kind = NodeKind::Literal;
    int column = 0;
    json value;                  // Literal
    std::string name;            // Field
    Op op = Op::Add;             // Unary, Compare, Logic
    std::vector<OpAt> ops;       // Arith: ops[i] joins kids[i] and kids[i + 1]
    const FnSpec* fn = nullptr;  // Call
    std::vector<ExprNode> kids;
};

namespace {

// ---------------------------------------------------------------------------------------------------
// Text helpers

bool isContinuationByte(unsigned char c) {
    return (c & 0xC0) == 0x80;
}

// Columns count code points, so a message points at what the author sees in an editor.
int columnAt(std::string_view src, std::size_t pos) {
    int column = 1;
    for (std::size_t i = 0; i < pos && i < src.size(); ++i) {
        if (!isContinuationByte(static_cast<unsigned char>(src[i]))) ++column;
    }
    return column;
}

// Returns the byte offset of the first invalid UTF-8 sequence, or npos.
std::size_t findInvalidUtf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (i + len > s.size()) return i;
        for (std::size_t k = 1; k < len; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if (!isContinuationByte(cc)) return i;
            cp = (cp << 6) | (cc & 0x3F);
        }
        const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
        const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
        if (overlong || surrogate || cp > 0x10FFFF) return i;
        i += len;
    }
    return std::string_view::npos;
}

std::int64_t codePointCount(std::string_view s) {
    std::int64_t n = 0;
    for (char c : s) {
        if (!isContinuationByte(static_cast<unsigned char>(c))) ++n;
    }
    return n;
}

// Cuts at a code point boundary so a message never carries half a character.
std::string shorten(std::string_view s) {
    if (s.size() <= kMaxQuotedBytes) return std::string(s);
    std::size_t cut = kMaxQuotedBytes;
    while (cut > 0 && isContinuationByte(static_cast<unsigned char>(s[cut]))) --cut;
    return std::string(s.substr(0, cut)) + "...";
}

bool isNameStart(char c) {
    return (c >= 'a' && c <= 'z') || c == '_';
}
bool isNameChar(char c) {
    return isNameStart(c) || (c >= '0' && c <= '9');
}
bool isDigit(char c) {
    return c >= '0' && c <= '9';
}
bool isUpper(char c) {
    return c >= 'A' && c <= 'Z';
}

// ---------------------------------------------------------------------------------------------------
// Tokenizer

enum class Tok {
    End,
    Number,
    String,
    Name,
    Self,
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Not,
    True,
    False,
    Null,
};

struct Token {
    Tok kind = Tok::End;
    std::size_t pos = 0;
    std::size_t len = 0;
    json value;        // Number, String
    std::string text;  // Name
};

// Parse errors unwind the recursive descent in one step; Expr::parse turns them into ExprError.
struct ParseFailure {
    int column;
    std::string message;
};

class Lexer {
public:
    explicit Lexer(std::string_view src) : m_src(src) {}

    Token next() {
        skipSpace();
        Token tok;
        tok.pos = m_pos;
        if (m_pos >= m_src.size()) return tok;
        const char c = m_src[m_pos];
        if (isDigit(c) || (c == '.' && isDigit(peek(1)))) return number();
        if (isNameStart(c)) return name();
        if (c == '\'' || c == '"') return string();
        if (c == '.') {
            if (isNameStart(peek(1))) {
                fail(m_pos, "'.' alone is the field's own value; a field is 'name' or 'group.field'");
            }
            return single(Tok::Self);
        }
        switch (c) {
            case '(':
                return single(Tok::LParen);
            case ')':
                return single(Tok::RParen);
            case ',':
                return single(Tok::Comma);
            case '+':
                return single(Tok::Plus);
            case '-':
                return single(Tok::Minus);
            case '*':
                return single(Tok::Star);
            case '/':
                return single(Tok::Slash);
            case '%':
                return single(Tok::Percent);
            case '=':
                return peek(1) == '=' ? pair(Tok::Eq) : single(Tok::Eq);
            case '<':
                return peek(1) == '=' ? pair(Tok::Le) : single(Tok::Lt);
            case '>':
                return peek(1) == '=' ? pair(Tok::Ge) : single(Tok::Gt);
            case '!':
                if (peek(1) == '=') return pair(Tok::Ne);
                fail(m_pos, "unexpected character '!' (use 'not' or '!=')");
            case '&':
                fail(m_pos, "unexpected character '&' (use 'and')");
            case '|':
                fail(m_pos, "unexpected character '|' (use 'or')");
            default:
                break;
        }
        if (isUpper(c))
            fail(m_pos, "unexpected character '" + std::string(1, c) + "' (names are lower case)");
        fail(m_pos, "unexpected character " + describeChar(m_pos));
    }

private:
    [[noreturn]] void fail(std::size_t pos, std::string message) const {
        throw ParseFailure{columnAt(m_src, pos), std::move(message)};
    }

    char peek(std::size_t ahead) const { return m_pos + ahead < m_src.size() ? m_src[m_pos + ahead] : '\0'; }

    void skipSpace() {
        while (m_pos < m_src.size()) {
            const char c = m_src[m_pos];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
            ++m_pos;
        }
    }

    Token single(Tok kind) { return make(kind, 1); }
    Token pair(Tok kind) { return make(kind, 2); }
    Token make(Tok kind, std::size_t len) {
        Token tok;
        tok.kind = kind;
        tok.pos = m_pos;
        tok.len = len;
        m_pos += len;
        return tok;
    }

    // The source is valid UTF-8 by now (checked up front), so a lead byte tells the sequence length;
    // messages must never carry half a character.
    std::string charAt(std::size_t pos) const {
        const auto c = static_cast<unsigned char>(m_src[pos]);
        const std::size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        return std::string(m_src.substr(pos, len));
    }

    std::string describeChar(std::size_t pos) const {
        const auto c = static_cast<unsigned char>(m_src[pos]);
        if (c < 0x20 || c == 0x7F) {
            char buf[16];
            std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
            return buf;
        }
        return "'" + charAt(pos) + "'";
    }

    Token number() {
        const std::size_t start = m_pos;
        while (isDigit(peek(0))) ++m_pos;
        bool fraction = false;
        if (peek(0) == '.' && isDigit(peek(1))) {
            fraction = true;
            ++m_pos;
            while (isDigit(peek(0))) ++m_pos;
        }
        // "12abc" or "1.2.3" is one mistyped number, not a number followed by something else.
        if (isNameChar(peek(0)) || isUpper(peek(0)) || (peek(0) == '.' && isDigit(peek(1)))) {
            std::size_t end = m_pos;
            while (end < m_src.size() && (isNameChar(m_src[end]) || isUpper(m_src[end]) || m_src[end] == '.'))
                ++end;
            fail(start, "malformed number '" + shorten(m_src.substr(start, end - start)) + "'");
        }
        Token tok;
        tok.kind = Tok::Number;
        tok.pos = start;
        tok.len = m_pos - start;
        const char* first = m_src.data() + start;
        const char* last = m_src.data() + m_pos;
        if (!fraction) {
            std::int64_t i = 0;
            const auto [ptr, ec] = std::from_chars(first, last, i);
            if (ec == std::errc() && ptr == last) {
                tok.value = i;
                return tok;
            }
            // Too large for an integer: still a number, kept as a float.
        }
        double d = 0;
        const auto [ptr, ec] = std::from_chars(first, last, d);
        if (ec != std::errc() || ptr != last || !std::isfinite(d)) fail(start, "number out of range");
        tok.value = d;
        return tok;
    }

    std::string_view nameRun() {
        const std::size_t start = m_pos;
        while (isNameChar(peek(0))) ++m_pos;
        return m_src.substr(start, m_pos - start);
    }

    Token name() {
        Token tok;
        tok.pos = m_pos;
        const std::string_view first = nameRun();
        static constexpr std::pair<std::string_view, Tok> kKeywords[] = {
            {"and", Tok::And},   {"or", Tok::Or},       {"not", Tok::Not},
            {"true", Tok::True}, {"false", Tok::False}, {"null", Tok::Null},
        };
        for (const auto& [word, kind] : kKeywords) {
            if (first == word) {
                tok.kind = kind;
                tok.len = m_pos - tok.pos;
                return tok;
            }
        }
        if (peek(0) == '.' && isNameStart(peek(1))) {
            ++m_pos;
            nameRun();
            if (peek(0) == '.' && isNameStart(peek(1))) {
                fail(m_pos, "a field name has at most one '.' (group.field)");
            }
        }
        tok.kind = Tok::Name;
        tok.len = m_pos - tok.pos;
        tok.text = std::string(m_src.substr(tok.pos, tok.len));
        return tok;
    }

    Token string() {
        const std::size_t start = m_pos;
        const char quote = m_src[m_pos++];
        std::string out;
        for (;;) {
            if (m_pos >= m_src.size()) fail(start, "unterminated string");
            const char c = m_src[m_pos];
            if (c == quote) {
                ++m_pos;
                break;
            }
            if (c == '\\') {
                if (m_pos + 1 >= m_src.size()) fail(start, "unterminated string");
                switch (m_src[m_pos + 1]) {
                    case '\\':
                        out += '\\';
                        break;
                    case '\'':
                        out += '\'';
                        break;
                    case '"':
                        out += '"';
                        break;
                    case 'n':
                        out += '\n';
                        break;
                    case 't':
                        out += '\t';
                        break;
                    default:
                        fail(m_pos, "unknown escape '\\" + charAt(m_pos + 1) +
                                        "' in text (use \\\\, \\', \\\", \\n or \\t)");
                }
                m_pos += 2;
                continue;
            }
            out += c;
            ++m_pos;
        }
        Token tok;
        tok.kind = Tok::String;
        tok.pos = start;
        tok.len = m_pos - start;
        tok.value = std::move(out);
        return tok;
    }

    std::string_view m_src;
    std::size_t m_pos = 0;
};

// ---------------------------------------------------------------------------------------------------
// Parser

class Parser {
public:
    explicit Parser(std::string_view src) : m_src(src), m_lexer(src) { advance(); }

    ExprNode parseAll() {
        if (m_tok.kind == Tok::End) throw ParseFailure{1, "empty expression"};
        ExprNode root = parseExpression(1);
        if (m_tok.kind == Tok::RParen) fail(m_tok, "unexpected ')' without a matching '('");
        if (m_tok.kind != Tok::End)
            fail(m_tok, "unexpected " + describe(m_tok) + " after a complete expression");
        return root;
    }

    std::vector<std::string> takeRefs() { return std::move(m_refs); }
    bool usesSelf() const { return m_usesSelf; }

private:
    // Counts one level of nesting for as long as it lives.
    class Level {
    public:
        Level(Parser& parser, int col) : m_parser(parser) {
            if (++m_parser.m_depth > kMaxDepth) {
                throw ParseFailure{col, "expression is nested too deeply (the limit is " +
                                            std::to_string(kMaxDepth) + " levels)"};
            }
        }
        ~Level() { --m_parser.m_depth; }
        Level(const Level&) = delete;
        Level& operator=(const Level&) = delete;

    private:
        Parser& m_parser;
    };

    void advance() { m_tok = m_lexer.next(); }

    int column(const Token& tok) const { return columnAt(m_src, tok.pos); }

    [[noreturn]] void fail(const Token& tok, std::string message) const {
        throw ParseFailure{column(tok), std::move(message)};
    }

    std::string describe(const Token& tok) const {
        const std::string_view text = m_src.substr(tok.pos, tok.len);
        switch (tok.kind) {
            case Tok::End:
                return "the end of the expression";
            case Tok::String:
                return shorten(text);  // already quoted
            default:
                return "'" + shorten(text) + "'";
        }
    }

    ExprNode node(NodeKind kind, int col) const {
        ExprNode n;
        n.kind = kind;
        n.column = col;
        return n;
    }

    ExprNode parseExpression(int col) {
        Level level(*this, col);
        return parseLogic(Tok::Or);
    }

    // 'or' over 'and' over 'not': the same loop serves both binary levels.
    ExprNode parseLogic(Tok which) {
        const int col = column(m_tok);
        ExprNode first = which == Tok::Or ? parseLogic(Tok::And) : parseNot();
        if (m_tok.kind != which) return first;
        ExprNode n = node(NodeKind::Logic, col);
        n.op = which == Tok::Or ? Op::Or : Op::And;
        n.kids.push_back(std::move(first));
        while (m_tok.kind == which) {
            advance();
            n.kids.push_back(which == Tok::Or ? parseLogic(Tok::And) : parseNot());
        }
        return n;
    }

    ExprNode parseNot() {
        if (m_tok.kind != Tok::Not) return parseComparison();
        const int col = column(m_tok);
        Level level(*this, col);
        advance();
        ExprNode n = node(NodeKind::Unary, col);
        n.op = Op::Not;
        n.kids.push_back(parseNot());
        return n;
    }

    static std::optional<Op> comparison(Tok kind) {
        switch (kind) {
            case Tok::Eq:
                return Op::Eq;
            case Tok::Ne:
                return Op::Ne;
            case Tok::Lt:
                return Op::Lt;
            case Tok::Le:
                return Op::Le;
            case Tok::Gt:
                return Op::Gt;
            case Tok::Ge:
                return Op::Ge;
            default:
                return std::nullopt;
        }
    }

    ExprNode parseComparison() {
        ExprNode left = parseAdditive();
        const auto op = comparison(m_tok.kind);
        if (!op) return left;
        ExprNode n = node(NodeKind::Compare, column(m_tok));
        n.op = *op;
        advance();
        n.kids.push_back(std::move(left));
        n.kids.push_back(parseAdditive());
        // 'a < b < c' reads like a range test but would compare a boolean with c; refuse it outright.
        if (comparison(m_tok.kind)) fail(m_tok, "comparisons cannot be chained; join them with 'and'");
        return n;
    }

    ExprNode parseAdditive() {
        return parseChain([this] { return parseMultiplicative(); },
                          [](Tok kind) -> std::optional<Op> {
                              if (kind == Tok::Plus) return Op::Add;
                              if (kind == Tok::Minus) return Op::Sub;
                              return std::nullopt;
                          });
    }

    ExprNode parseMultiplicative() {
        return parseChain([this] { return parseUnary(); },
                          [](Tok kind) -> std::optional<Op> {
                              if (kind == Tok::Star) return Op::Mul;
                              if (kind == Tok::Slash) return Op::Div;
                              if (kind == Tok::Percent) return Op::Mod;
                              return std::nullopt;
                          });
    }

    template <typename Operand, typename Classify>
    ExprNode parseChain(Operand operand, Classify classify) {
        const int col = column(m_tok);
        ExprNode first = operand();
        auto op = classify(m_tok.kind);
        if (!op) return first;
        ExprNode n = node(NodeKind::Arith, col);
        n.kids.push_back(std::move(first));
        while (op) {
            n.ops.push_back(OpAt{*op, column(m_tok)});
            advance();
            n.kids.push_back(operand());
            op = classify(m_tok.kind);
        }
        return n;
    }

    ExprNode parseUnary() {
        if (m_tok.kind != Tok::Minus) return parsePrimary();
        const int col = column(m_tok);
        Level level(*this, col);
        advance();
        ExprNode n = node(NodeKind::Unary, col);
        n.op = Op::Neg;
        n.kids.push_back(parseUnary());
        return n;
    }

    ExprNode literal(json value) {
        ExprNode n = node(NodeKind::Literal, column(m_tok));
        n.value = std::move(value);
        advance();
        return n;
    }

    ExprNode parsePrimary() {
        switch (m_tok.kind) {
            case Tok::Number:
            case Tok::String:
                return literal(m_tok.value);
            case Tok::True:
                return literal(true);
            case Tok::False:
                return literal(false);
            case Tok::Null:
                return literal(nullptr);
            case Tok::Self: {
                m_usesSelf = true;
                ExprNode n = node(NodeKind::Self, column(m_tok));
                advance();
                return n;
            }
            case Tok::Name:
                return parseName();
            case Tok::LParen: {
                const int col = column(m_tok);
                advance();
                ExprNode inner = parseExpression(col);
                if (m_tok.kind != Tok::RParen) fail(m_tok, "expected ')'");
                advance();
                return inner;
            }
            default:
                fail(m_tok, "expected a value, got " + describe(m_tok));
        }
    }

    ExprNode parseName() {
        const Token nameTok = m_tok;
        advance();
        if (m_tok.kind != Tok::LParen) {
            addRef(nameTok.text);
            ExprNode n = node(NodeKind::Field, column(nameTok));
            n.name = nameTok.text;
            return n;
        }
        const FnSpec* spec = findFunction(nameTok.text);
        if (!spec) fail(nameTok, "unknown function '" + nameTok.text + "'");
        advance();
        ExprNode n = node(NodeKind::Call, column(nameTok));
        n.fn = spec;
        if (m_tok.kind != Tok::RParen) {
            for (;;) {
                n.kids.push_back(parseExpression(column(m_tok)));
                if (m_tok.kind == Tok::Comma) {
                    advance();
                    continue;
                }
                if (m_tok.kind == Tok::RParen) break;
                fail(m_tok, "expected ')' after the arguments of '" + nameTok.text + "'");
            }
        }
        advance();
        checkArity(nameTok, *spec, static_cast<int>(n.kids.size()));
        return n;
    }

    void checkArity(const Token& nameTok, const FnSpec& spec, int got) const {
        if (got >= spec.minArgs && (spec.maxArgs == kAnyCount || got <= spec.maxArgs)) return;
        const auto plural = [](int k) { return std::to_string(k) + (k == 1 ? " argument" : " arguments"); };
        std::string takes;
        if (spec.maxArgs == 0) {
            takes = "no arguments";
        } else if (spec.maxArgs == kAnyCount) {
            takes = "at least " + plural(spec.minArgs);
        } else if (spec.minArgs == spec.maxArgs) {
            takes = plural(spec.minArgs);
        } else {
            takes = std::to_string(spec.minArgs) + " or " + plural(spec.maxArgs);
        }
        fail(nameTok, "'" + std::string(spec.name) + "' takes " + takes + ", got " + std::to_string(got));
    }

    void addRef(const std::string& name) {
        for (const std::string& r : m_refs) {
            if (r == name) return;
        }
        m_refs.push_back(name);
    }

    std::string_view m_src;
    Lexer m_lexer;
    Token m_tok;
    int m_depth = 0;
    std::vector<std::string> m_refs;
    bool m_usesSelf = false;
};

// ---------------------------------------------------------------------------------------------------
// Values

[[noreturn]] void evalFail(int column, const std::string& message) {
    throw EvalError("column " + std::to_string(column) + ": " + message);
}

std::string typeName(const json& v) {
    switch (v.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::boolean:
            return "true/false";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float:
            return "a number";
        case json::value_t::string:
            return "text";
        case json::value_t::array:
            return "a list";
        default:
            return "an object";
    }
}

// Records parsed from JSON hold positive integers as unsigned; everything is folded into int64 or
// double here so int and float mix predictably.
struct Num {
    bool isInt = true;
    std::int64_t i = 0;
    double d = 0;
    double asDouble() const { return isInt ? static_cast<double>(i) : d; }
};

std::optional<Num> toNum(const json& v) {
    Num n;
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            n.i = static_cast<std::int64_t>(u);
        } else {
            n.isInt = false;
            n.d = static_cast<double>(u);
        }
        return n;
    }
    if (v.is_number_integer()) {
        n.i = v.get<std::int64_t>();
        return n;
    }
    if (v.is_number_float()) {
        n.isInt = false;
        n.d = v.get<double>();
        return n;
    }
    return std::nullopt;
}

// json cannot carry inf or NaN, so an overflow is an error rather than a silent null.
json floatResult(double d, int column) {
    if (!std::isfinite(d)) evalFail(column, "number out of range");
    return d;
}

// floor/ceil/round give whole numbers; keep them integers when they fit so '=' and export behave.
json wholeResult(double d, int column) {
    constexpr double kTwo63 = 9223372036854775808.0;
    if (d >= -kTwo63 && d < kTwo63) return static_cast<std::int64_t>(d);
    return floatResult(d, column);
}

std::string formatDouble(double d) {
    char buf[64];
    const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, d);
    if (ec != std::errc()) return "0";
    return std::string(buf, ptr);
}

// The text form used by string() and concat(): integers without '.0', floats in their shortest form.
std::string textOf(const json& v, std::string_view fn, int column) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
    if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
    if (v.is_number_float()) return formatDouble(v.get<double>());
    evalFail(column, "'" + std::string(fn) + "' cannot turn " + typeName(v) + " into text");
}

// Equality that never throws, for counting and membership: mismatched types are simply unequal.
bool sameValue(const json& a, const json& b) {
    const auto x = toNum(a);
    const auto y = toNum(b);
    if (x && y) {
        if (x->isInt && y->isInt) return x->i == y->i;
        return x->asDouble() == y->asDouble();
    }
    if (x || y) return false;
    return a == b;
}

// Aggregates accept a list, a single value (a list of one) or null (an empty list).
std::vector<const json*> itemsOf(const json& v, std::string_view fn, int column) {
    std::vector<const json*> out;
    if (v.is_null()) return out;
    if (v.is_object()) evalFail(column, "'" + std::string(fn) + "' needs a list, got an object");
    if (v.is_array()) {
        out.reserve(v.size());
        for (const json& item : v) out.push_back(&item);
    } else {
        out.push_back(&v);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Dates

// 'YYYY-MM-DD', or a datetime whose first ten characters are one (core/time.hpp's calendar).
std::optional<CivilDate> parseDate(std::string_view s) {
    if (s.size() < 10 || (s.size() > 10 && s[10] != 'T')) return std::nullopt;
    return parseCivilDate(s.substr(0, 10));
}

// ---------------------------------------------------------------------------------------------------
// Rounding

// Rounds in decimal on the shortest text form of x, so round(2.675, 2) is 2.68 as the author expects,
// not 2.67 as the binary value 2.67499999... would give.
json roundTo(const json& x, std::int64_t places, int column) {
    const Num n = *toNum(x);
    if (n.isInt && places >= 0) return x;
    if (!n.isInt && !std::isfinite(n.d)) evalFail(column, "number out of range");

    bool negative = false;
    std::string digits;        // significant digits, no leading zeros
    std::int64_t pointAt = 0;  // value = 0.digits * 10^pointAt
    if (n.isInt) {
        negative = n.i < 0;
        const std::uint64_t mag =
            negative ? std::uint64_t{0} - static_cast<std::uint64_t>(n.i) : static_cast<std::uint64_t>(n.i);
        digits = std::to_string(mag);
        pointAt = static_cast<std::int64_t>(digits.size());
    } else {
        negative = std::signbit(n.d);
        char buf[64];
        const auto [ptr, ec] =
            std::to_chars(buf, buf + sizeof buf, std::fabs(n.d), std::chars_format::scientific);
        if (ec != std::errc()) evalFail(column, "number out of range");
        const std::string_view sci(buf, static_cast<std::size_t>(ptr - buf));
        const std::size_t e = sci.find('e');
        for (char c : sci.substr(0, e)) {
            if (c != '.') digits += c;
        }
        int exponent = 0;
        std::string_view expText = sci.substr(e + 1);
        if (!expText.empty() && expText.front() == '+') expText.remove_prefix(1);
        std::from_chars(expText.data(), expText.data() + expText.size(), exponent);
        pointAt = exponent + 1;
    }
    if (digits == "0") return places > 0 ? json(0.0) : json(0);

    const std::int64_t keep = pointAt + places;  // how many leading digits survive
    if (keep >= static_cast<std::int64_t>(digits.size())) {
        if (places > 0) return x;
        return n.isInt ? x : wholeResult(n.d, column);
    }
    std::uint64_t kept = 0;
    for (std::int64_t k = 0; k < keep; ++k) {
        kept = kept * 10 + static_cast<std::uint64_t>(digits[static_cast<std::size_t>(k)] - '0');
    }
    if (keep >= 0 && digits[static_cast<std::size_t>(keep)] >= '5') ++kept;  // half away from zero
    if (kept == 0) negative = false;                                         // no "-0"

    // kept * 10^-places, built as text so the conversion to double is correctly rounded.
    const std::string text = (negative ? "-" : "") + std::to_string(kept) + "e" + std::to_string(-places);
    double result = 0;
    std::from_chars(text.data(), text.data() + text.size(), result);
    if (places > 0) return floatResult(result, column);
    return wholeResult(result, column);
}

// ---------------------------------------------------------------------------------------------------
// Evaluator

class Evaluator {
public:
    explicit Evaluator(const EvalContext& ctx) : m_ctx(ctx) {}

    json eval(const ExprNode& n) const {
        switch (n.kind) {
            case NodeKind::Literal:
                return n.value;
            case NodeKind::Field:
                return m_ctx.field(n.name);
            case NodeKind::Self:
                return m_ctx.self();
            case NodeKind::Unary:
                return unary(n);
            case NodeKind::Arith: {
                json acc = eval(n.kids[0]);
                for (std::size_t k = 0; k < n.ops.size(); ++k) {
                    acc = arith(n.ops[k], acc, eval(n.kids[k + 1]));
                }
                return acc;
            }
            case NodeKind::Logic: {
                const bool isAnd = n.op == Op::And;
                for (const ExprNode& kid : n.kids) {
                    if (condition(eval(kid), isAnd ? "and" : "or", kid.column) != isAnd) return !isAnd;
                }
                return isAnd;
            }
            case NodeKind::Compare:
                return compare(n.op, eval(n.kids[0]), eval(n.kids[1]), n.column);
            case NodeKind::Call:
                return call(n);
        }
        return nullptr;
    }

private:
    // null counts as false in logic; any other non-boolean is an authoring mistake worth reporting.
    static bool condition(const json& v, std::string_view what, int column) {
        if (v.is_null()) return false;
        if (v.is_boolean()) return v.get<bool>();
        evalFail(column, "'" + std::string(what) + "' needs true or false, got " + typeName(v));
    }

    json unary(const ExprNode& n) const {
        const json v = eval(n.kids[0]);
        if (n.op == Op::Not) return !condition(v, "not", n.column);
        if (v.is_null()) return nullptr;
        const auto x = toNum(v);
        if (!x) evalFail(n.column, "cannot negate " + typeName(v));
        if (!x->isInt) return -x->d;
        if (x->i == std::numeric_limits<std::int64_t>::min()) return -static_cast<double>(x->i);
        return -x->i;
    }

    static std::string arithMessage(Op op, const json& a, const json& b) {
        const std::string ta = typeName(a);
        const std::string tb = typeName(b);
        switch (op) {
            case Op::Add:
                if (a.is_string() && b.is_string()) return "cannot add text to text (use concat())";
                return "cannot add " + ta + " and " + tb;
            case Op::Sub:
                return "cannot subtract " + tb + " from " + ta;
            case Op::Mul:
                return "cannot multiply " + ta + " by " + tb;
            case Op::Div:
                return "cannot divide " + ta + " by " + tb;
            default:
                return "cannot take the remainder of " + ta + " divided by " + tb;
        }
    }

    static json arith(const OpAt& at, const json& a, const json& b) {
        if (a.is_null() || b.is_null()) return nullptr;
        const auto x = toNum(a);
        const auto y = toNum(b);
        if (!x || !y) evalFail(at.column, arithMessage(at.op, a, b));
        const bool ints = x->isInt && y->isInt;
        std::int64_t r = 0;
        switch (at.op) {
            case Op::Add:
                if (ints && !__builtin_add_overflow(x->i, y->i, &r)) return r;
                return floatResult(x->asDouble() + y->asDouble(), at.column);
            case Op::Sub:
                if (ints && !__builtin_sub_overflow(x->i, y->i, &r)) return r;
                return floatResult(x->asDouble() - y->asDouble(), at.column);
            case Op::Mul:
                if (ints && !__builtin_mul_overflow(x->i, y->i, &r)) return r;
                return floatResult(x->asDouble() * y->asDouble(), at.column);
            case Op::Div:
                if (y->asDouble() == 0.0) return nullptr;
                return floatResult(x->asDouble() / y->asDouble(), at.column);
            default:
                if (y->asDouble() == 0.0) return nullptr;
                if (ints) return y->i == -1 ? std::int64_t{0} : x->i % y->i;  // INT64_MIN % -1 traps
                return floatResult(std::fmod(x->asDouble(), y->asDouble()), at.column);
        }
    }

    static json compare(Op op, const json& a, const json& b, int column) {
        if (a.is_null() || b.is_null()) return nullptr;
        int order = 0;
        const auto x = toNum(a);
        const auto y = toNum(b);
        if (x && y) {
            if (x->isInt && y->isInt) {
                order = x->i < y->i ? -1 : x->i > y->i ? 1 : 0;
            } else {
                const double p = x->asDouble();
                const double q = y->asDouble();
                order = p < q ? -1 : p > q ? 1 : 0;
            }
        } else if (a.is_string() && b.is_string()) {
            // Byte order of UTF-8 is code point order, and ISO dates sort correctly as text.
            const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
            order = c < 0 ? -1 : c > 0 ? 1 : 0;
        } else if (a.is_boolean() && b.is_boolean()) {
            if (op != Op::Eq && op != Op::Ne) evalFail(column, "cannot order true/false values");
            order = a.get<bool>() == b.get<bool>() ? 0 : 1;
        } else {
            evalFail(column, "cannot compare " + typeName(a) + " with " + typeName(b));
        }
        switch (op) {
            case Op::Eq:
                return order == 0;
            case Op::Ne:
                return order != 0;
            case Op::Lt:
                return order < 0;
            case Op::Le:
                return order <= 0;
            case Op::Gt:
                return order > 0;
            default:
                return order >= 0;
        }
    }

    json call(const ExprNode& n) const {
        const FnSpec& spec = *n.fn;
        // The two lazy functions: a branch not taken may rely on a field being present.
        if (spec.fn == Fn::If) {
            const bool c = condition(eval(n.kids[0]), "if", n.kids[0].column);
            return eval(n.kids[c ? 1 : 2]);
        }
        if (spec.fn == Fn::Coalesce) {
            for (const ExprNode& kid : n.kids) {
                json v = eval(kid);
                if (!v.is_null()) return v;
            }
            return nullptr;
        }
        std::vector<json> args;
        args.reserve(n.kids.size());
        for (const ExprNode& kid : n.kids) args.push_back(eval(kid));
        return apply(spec, args, n.column);
    }

    static std::string needs(const FnSpec& spec, std::string_view what, const json& got) {
        return "'" + std::string(spec.name) + "' needs " + std::string(what) + ", got " + typeName(got);
    }

    static const std::string& textArg(const FnSpec& spec, const json& v, int column) {
        if (!v.is_string()) evalFail(column, needs(spec, "text", v));
        return v.get_ref<const std::string&>();
    }

    static std::optional<Num> numberArg(const FnSpec& spec, const json& v, int column) {
        if (v.is_null()) return std::nullopt;
        auto x = toNum(v);
        if (!x) evalFail(column, needs(spec, "a number", v));
        return x;
    }

    static bool anyNull(const std::vector<json>& args) {
        for (const json& a : args) {
            if (a.is_null()) return true;
        }
        return false;
    }

    json apply(const FnSpec& spec, const std::vector<json>& args, int column) const {
        switch (spec.fn) {
            case Fn::Empty: {
                const json& v = args[0];
                return v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty()) ||
                       (v.is_array() && v.empty());
            }
            case Fn::Len: {
                const json& v = args[0];
                if (v.is_null()) return 0;
                if (v.is_string()) return codePointCount(v.get_ref<const std::string&>());
                if (v.is_array()) return static_cast<std::int64_t>(v.size());
                evalFail(column, needs(spec, "text or a list", v));
            }
            case Fn::Count: {
                std::int64_t k = 0;
                for (const json* item : itemsOf(args[0], spec.name, column)) k += item->is_null() ? 0 : 1;
                return k;
            }
            case Fn::Sum:
            case Fn::Avg:
                return sumOrAvg(spec, args[0], column);
            case Fn::Min:
            case Fn::Max:
                return extreme(spec, args, column);
            case Fn::Round: {
                const auto x = numberArg(spec, args[0], column);
                std::int64_t places = 0;
                if (args.size() > 1) {
                    const auto p = numberArg(spec, args[1], column);
                    if (!p) return nullptr;
                    if (!p->isInt && p->d != std::trunc(p->d)) {
                        evalFail(column, "'round' needs a whole number of digits");
                    }
                    // Past ±30 places nothing representable changes; clamping keeps the text short.
                    const double want = p->isInt ? static_cast<double>(p->i) : p->d;
                    places = static_cast<std::int64_t>(std::fmax(-30.0, std::fmin(30.0, want)));
                }
                if (!x) return nullptr;
                return roundTo(args[0], places, column);
            }
            case Fn::Floor:
            case Fn::Ceil: {
                const auto x = numberArg(spec, args[0], column);
                if (!x) return nullptr;
                if (x->isInt) return x->i;
                return wholeResult(spec.fn == Fn::Floor ? std::floor(x->d) : std::ceil(x->d), column);
            }
            case Fn::Abs: {
                const auto x = numberArg(spec, args[0], column);
                if (!x) return nullptr;
                if (!x->isInt) return std::fabs(x->d);
                if (x->i == std::numeric_limits<std::int64_t>::min()) return -static_cast<double>(x->i);
                return x->i < 0 ? -x->i : x->i;
            }
            case Fn::Number:
                return toNumber(spec, args[0], column);
            case Fn::String:
                if (args[0].is_null()) return nullptr;
                return textOf(args[0], spec.name, column);
            case Fn::Concat: {
                std::string out;
                for (const json& a : args) {
                    if (!a.is_null()) out += textOf(a, spec.name, column);
                }
                return out;
            }
            case Fn::Contains: {
                if (anyNull(args)) return false;
                return textArg(spec, args[0], column).find(textArg(spec, args[1], column)) !=
                       std::string::npos;
            }
            case Fn::Selected: {
                if (anyNull(args)) return false;
                const std::string want = textOf(args[1], spec.name, column);
                for (const json* item : itemsOf(args[0], spec.name, column)) {
                    if (!item->is_null() && !item->is_structured() &&
                        textOf(*item, spec.name, column) == want) {
                        return true;
                    }
                }
                return false;
            }
            case Fn::CountSelected: {
                const json& v = args[0];
                if (v.is_null()) return 0;
                if (v.is_array()) return static_cast<std::int64_t>(v.size());
                if (v.is_string()) return v.get_ref<const std::string&>().empty() ? 0 : 1;
                evalFail(column, needs(spec, "a list of choices", v));
            }
            case Fn::CountIf: {
                std::int64_t k = 0;
                for (const json* item : itemsOf(args[0], spec.name, column))
                    k += sameValue(*item, args[1]) ? 1 : 0;
                return k;
            }
            case Fn::Today:
                return m_ctx.today();
            case Fn::DaysBetween: {
                if (anyNull(args)) return nullptr;
                const auto from = parseDate(textArg(spec, args[0], column));
                const auto to = parseDate(textArg(spec, args[1], column));
                if (!from || !to) return nullptr;
                return static_cast<std::int64_t>(daysFromCivil(*to) - daysFromCivil(*from));
            }
            case Fn::Year: {
                if (args[0].is_null()) return nullptr;
                const auto d = parseDate(textArg(spec, args[0], column));
                if (!d) return nullptr;
                return d->year;
            }
            case Fn::Ref: {
                if (anyNull(args)) return nullptr;
                return m_ctx.ref(textArg(spec, args[0], column), textArg(spec, args[1], column),
                                 textArg(spec, args[2], column));
            }
            case Fn::ParityTarget: {
                if (anyNull(args)) return nullptr;
                const std::string& category = textArg(spec, args[0], column);
                const std::string& date = textArg(spec, args[1], column);
                if (!parseDate(date)) return nullptr;
                return m_ctx.parityTarget(category, std::string_view(date).substr(0, 10));
            }
            case Fn::Threshold: {
                if (args[0].is_null()) return nullptr;
                return m_ctx.threshold(textArg(spec, args[0], column));
            }
            case Fn::If:
            case Fn::Coalesce:
                break;  // handled lazily in call()
        }
        return nullptr;
    }

    static json sumOrAvg(const FnSpec& spec, const json& list, int column) {
        bool allInts = true;
        std::int64_t intTotal = 0;
        double total = 0;
        std::int64_t seen = 0;
        for (const json* item : itemsOf(list, spec.name, column)) {
            if (item->is_null()) continue;
            const auto x = toNum(*item);
            if (!x)
                evalFail(column, "'" + std::string(spec.name) + "' needs numbers, got " + typeName(*item));
            ++seen;
            total += x->asDouble();
            if (allInts && x->isInt && !__builtin_add_overflow(intTotal, x->i, &intTotal)) continue;
            allInts = false;
        }
        if (spec.fn == Fn::Avg) {
            if (seen == 0) return nullptr;
            return floatResult(total / static_cast<double>(seen), column);
        }
        if (allInts) return intTotal;
        return floatResult(total, column);
    }

    static json extreme(const FnSpec& spec, const std::vector<json>& args, int column) {
        const bool wantMin = spec.fn == Fn::Min;
        const json* best = nullptr;
        for (const json& arg : args) {
            for (const json* item : itemsOf(arg, spec.name, column)) {
                if (item->is_null()) continue;
                if (!item->is_number() && !item->is_string()) {
                    evalFail(column, needs(spec, "numbers or text", *item));
                }
                if (!best) {
                    best = item;
                    continue;
                }
                if (best->is_number() != item->is_number()) {
                    evalFail(column, "'" + std::string(spec.name) + "' cannot compare a number with text");
                }
                const bool less = compare(Op::Lt, *item, *best, column).get<bool>();
                const bool greater = compare(Op::Gt, *item, *best, column).get<bool>();
                if (wantMin ? less : greater) best = item;
            }
        }
        if (!best) return nullptr;
        return *best;
    }

    static json toNumber(const FnSpec& spec, const json& v, int column) {
        if (v.is_null() || v.is_number()) return v;
        if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
        if (!v.is_string()) evalFail(column, needs(spec, "text or a number", v));
        std::string_view s = v.get_ref<const std::string&>();
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        if (s.size() > 1 && s.front() == '+' && s[1] != '-') s.remove_prefix(1);
        if (s.empty()) return nullptr;
        const char* first = s.data();
        const char* last = s.data() + s.size();
        std::int64_t i = 0;
        if (const auto [ptr, ec] = std::from_chars(first, last, i); ec == std::errc() && ptr == last)
            return i;
        double d = 0;
        const auto [ptr, ec] = std::from_chars(first, last, d);
        // from_chars also reads "inf" and "nan", which are not numbers a form can hold.
        if (ec != std::errc() || ptr != last || !std::isfinite(d)) return nullptr;
        return d;
    }

    const EvalContext& m_ctx;
};

}  // namespace

std::string ExprError::text() const {
    return "column " + std::to_string(column) + ": " + message;
}

bool Expr::parse(std::string_view src, Expr& out, ExprError& err) {
    out = Expr{};
    try {
        if (src.size() > kMaxSourceBytes) {
            throw ParseFailure{columnAt(src, kMaxSourceBytes),
                               "expression is too long (" + std::to_string(src.size()) +
                                   " bytes; the limit is " + std::to_string(kMaxSourceBytes) + ")"};
        }
        if (const std::size_t bad = findInvalidUtf8(src); bad != std::string_view::npos) {
            throw ParseFailure{columnAt(src, bad), "invalid UTF-8"};
        }
        Parser parser(src);
        ExprNode root = parser.parseAll();
        Expr result;
        result.m_root = std::make_shared<const ExprNode>(std::move(root));
        result.m_refs = parser.takeRefs();
        result.m_usesSelf = parser.usesSelf();
        result.m_source = std::string(src);
        out = std::move(result);
        return true;
    } catch (const ParseFailure& f) {
        err.column = f.column;
        err.message = f.message;
        return false;
    }
}

json Expr::eval(const EvalContext& ctx) const {
    if (!m_root) return nullptr;
    return Evaluator(ctx).eval(*m_root);
}

bool Expr::truthy(const json& v) {
    return v.is_boolean() && v.get<bool>();
}

}  // namespace outpost::core
