// Helpers shared by the three halves of the store-and-forward bundles (sync/bundle_format.cpp,
// sync/bundle.cpp and hq/bundle_import.cpp): reading the documents' JSON members with errors that name
// what is wrong, and describing a handler's answer. Not a public interface.
#pragma once

#include <sodium.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "core/error.hpp"
#include "sync/protocol.hpp"

namespace outpost::sync::bundle_detail {

[[noreturn]] inline void bad(const std::string& message) {
    throw Failure(ErrorDomain::Input, ErrorCode::BadInput, message);
}

template <typename T>
T need(Result<T> r) {
    if (!r) throw Failure(r.error());
    return std::move(r).value();
}
inline void need(Result<void> r) {
    if (!r) throw Failure(r.error());
}

inline Bytes toBytes(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

inline std::string toText(const Bytes& b) {
    return std::string(b.begin(), b.end());
}

// Key bytes that are wiped when they go.
using storage::SecretBytes;

inline const json& member(const json& j, const char* name, const char* where) {
    if (!j.is_object()) bad(std::string(where) + " is not a JSON object");
    auto it = j.find(name);
    if (it == j.end()) bad(std::string(where) + " has no \"" + name + "\"");
    return *it;
}

inline std::string text(const json& j, const char* name, const char* where, bool allowEmpty = false) {
    const json& v = member(j, name, where);
    if (!v.is_string()) bad(std::string(where) + ": \"" + name + "\" must be a string");
    std::string s = v.get<std::string>();
    if (!allowEmpty && s.empty()) bad(std::string(where) + ": \"" + name + "\" is empty");
    return s;
}

inline std::int64_t integer(const json& j, const char* name, const char* where, std::int64_t lo,
                            std::int64_t hi) {
    const json& v = member(j, name, where);
    if (!v.is_number_integer()) bad(std::string(where) + ": \"" + name + "\" must be an integer");
    auto n = v.get<std::int64_t>();
    if (n < lo || n > hi) bad(std::string(where) + ": \"" + name + "\" is out of range");
    return n;
}

inline const json& array(const json& j, const char* name, const char* where) {
    const json& v = member(j, name, where);
    if (!v.is_array()) bad(std::string(where) + ": \"" + name + "\" must be an array");
    return v;
}

// The error code and message of a handler's error body (empty when it is not one).
inline std::pair<std::string, std::string> errorOf(const json& body) {
    std::pair<std::string, std::string> out;
    if (!body.is_object()) return out;
    auto e = body.find("error");
    if (e == body.end() || !e->is_object()) return out;
    if (auto c = e->find("code"); c != e->end() && c->is_string()) out.first = c->get<std::string>();
    if (auto m = e->find("message"); m != e->end() && m->is_string()) out.second = m->get<std::string>();
    return out;
}

inline std::string describeAnswer(int status, const json& body) {
    auto [code, message] = errorOf(body);
    std::string s = "HQ answered " + std::to_string(status);
    if (!code.empty()) s += " " + code;
    if (!message.empty()) s += ": " + message;
    return s;
}

inline bool isHexId(std::string_view s) {
    return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace outpost::sync::bundle_detail
