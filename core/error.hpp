// Error and Result: how every layer reports failure across its public boundary.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace outpost {

// Where an error comes from. Lets callers classify without parsing messages.
enum class ErrorDomain {
    Input,
    Validation,
    Storage,
    Crypto,
    Auth,
    NotFound,
    State,
    Network,
    Protocol,
    Internal
};

// Stable codes for the CLI exit status and for logs.
enum class ErrorCode {
    Ok = 0,
    BadInput,   // malformed argument, JSON, UTF-8, ...
    Invalid,    // a record breaks its form's rules
    NotFound,   // unknown form, record, unit ...
    WrongKey,   // wrong passphrase or key: nothing could be decrypted
    Corrupt,    // the store failed an integrity or authenticity check
    DiskFull,   // the disk is full: nothing was written
    Io,         // an I/O error: nothing was written
    Busy,       // the store is locked by another process
    Conflict,   // the operation does not fit the record's state (edit of a final revision ...)
    Forbidden,  // the signed-in account's role may not do this (the message names role and action)
    Internal,
};

struct Error {
    ErrorDomain domain = ErrorDomain::Internal;
    ErrorCode code = ErrorCode::Internal;
    std::string message;
};

// Thrown inside a layer; turned into Result at its boundary by tryCatch().
class Failure : public std::runtime_error {
public:
    explicit Failure(Error e) : std::runtime_error(e.message), m_error(std::move(e)) {}
    Failure(ErrorDomain d, ErrorCode c, std::string msg) : Failure(Error{d, c, std::move(msg)}) {}
    const Error& error() const noexcept { return m_error; }

private:
    Error m_error;
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : m_v(std::move(value)) {}
    Result(Error e) : m_v(std::move(e)) {}
    bool ok() const noexcept { return m_v.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() & {
        if (!ok()) throw Failure(error());
        return std::get<0>(m_v);
    }
    const T& value() const& {
        if (!ok()) throw Failure(error());
        return std::get<0>(m_v);
    }
    T&& value() && {
        if (!ok()) throw Failure(error());
        return std::get<0>(std::move(m_v));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() { return value(); }
    const Error& error() const { return std::get<1>(m_v); }

private:
    std::variant<T, Error> m_v;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error e) : m_e(std::move(e)) {}
    bool ok() const noexcept { return !m_e.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    const Error& error() const { return *m_e; }
    void value() const {
        if (m_e) throw Failure(*m_e);
    }

private:
    std::optional<Error> m_e;
};

// Runs f and turns a Failure (or any std::exception) into an Error result.
template <typename F>
auto tryCatch(F&& f) -> Result<decltype(f())> {
    try {
        if constexpr (std::is_void_v<decltype(f())>) {
            f();
            return {};
        } else {
            return f();
        }
    } catch (const Failure& e) {
        return e.error();
    } catch (const std::bad_alloc&) {
        return Error{ErrorDomain::Internal, ErrorCode::Internal, "out of memory"};
    } catch (const std::exception& e) {
        return Error{ErrorDomain::Internal, ErrorCode::Internal, e.what()};
    }
}

}  // namespace outpost
