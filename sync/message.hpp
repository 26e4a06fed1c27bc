// A request and its answer as HQ's handlers see them, whatever carried them: HQ's HTTPS server, or a
// store-and-forward bundle (sync/bundle_format.hpp), which carries the laptop's requests byte for byte.
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

namespace outpost::sync {

// A request as the transport saw it. Header names are matched case-insensitively.
struct Request {
    std::string method;  // "GET", "POST"
    std::string target;  // path and query, exactly as signed: "/v1/pull?after=12&limit=500"
    std::map<std::string, std::string> headers;  // keys lower-cased by the transport
    std::string body;                            // as received (compressed for push)
    // The peer's IP address as the transport saw it ("127.0.0.1", "::1"); empty when no network carried
    // the request (a bundle). HQ throttles enrollment attempts per address.
    std::string remoteAddress;
    std::string header(const std::string& lowerName) const;  // empty when absent
};

struct Response {
    int status = 200;
    std::map<std::string, std::string> headers;  // e.g. Content-Encoding: zstd, Retry-After
    std::string body;
    std::string contentType = "application/json";
};

inline std::string Request::header(const std::string& lowerName) const {
    if (auto it = headers.find(lowerName); it != headers.end()) return it->second;
    // Transports lower-case names; an in-process caller may not have.
    for (const auto& [k, v] : headers)
        if (k.size() == lowerName.size() &&
            std::equal(k.begin(), k.end(), lowerName.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) ==
                       std::tolower(static_cast<unsigned char>(b));
            }))
            return v;
    return {};
}

}  // namespace outpost::sync
