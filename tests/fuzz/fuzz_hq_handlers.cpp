// libFuzzer target: HQ's request handlers (hq/service.hpp) over an SQLite HQ store, with requests
// signed by an enrolled device so the fuzzed bytes reach the parsing and the checks behind the signature.
// Input: one byte choosing the request, then its bytes.
//   0: POST /v1/push, the rest compressed by the target (reaches the push request's JSON and validation)
//   1: POST /v1/push, the rest as the zstd body (reaches the decompressor)
//   2: GET /v1/pull?<rest>
//   3: POST /v1/enroll, the rest as the body (unsigned, as a new laptop sends it)
//   4: a whole request: "<METHOD> <target>\n<name>: <value>\n...\n\n<body>", signed, then its own
//      headers on top (so the fuzzer can replace the signature, protocol, epoch, last receipt ...)
//   5: the same push as 0 through handleBundle (a bundle's push)
//   6: GET /v1/pull?<rest> through handleBundle
#include <cctype>
#include <cstdlib>
#include <map>

#include "fuzz_support.hpp"

using namespace outpost;
using namespace outpost::sync;

namespace {

sync::Request wholeRequest(const fuzz::FuzzHq& h, std::string_view text) {
    auto lineEnd = text.find('\n');
    std::string_view first = text.substr(0, lineEnd);
    auto space = first.find(' ');
    std::string method(first.substr(0, space));
    std::string target(space == std::string_view::npos ? std::string_view("/") : first.substr(space + 1));
    std::map<std::string, std::string> headers;
    std::string body;
    std::string_view rest = lineEnd == std::string_view::npos ? std::string_view() : text.substr(lineEnd + 1);
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        if (line.empty()) {
            body = std::string(rest);
            break;
        }
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string name(line.substr(0, colon));
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        headers[name] = std::string(value);
    }
    sync::Request r = h.base(std::move(method), std::move(target), std::move(body));
    h.sign(r, fuzz::nextNonce());
    for (auto& [k, v] : headers) r.headers[k] = v;
    return r;
}

}  // namespace

// Each item the envelope parser accepts gets the device's signature over its canonical bytes, as a laptop
// signs it, so HQ's validation and storage are reached; anything else is sent as the fuzzer made it.
static std::string signItems(const fuzz::FuzzHq& h, const std::string& rest) {
    nlohmann::json j = nlohmann::json::parse(rest, nullptr, false);
    if (!j.is_object()) return rest;
    auto items = j.find("items");
    if (items == j.end() || !items->is_array()) return rest;
    for (auto& item : *items) {
        try {
            auto e = sync::Envelope::fromJson(item);
            item["sig"] = sync::signRevision(h.deviceKeys.secretKey, e.canonical());
        } catch (...) {
        }
    }
    return j.dump();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    fuzz::FuzzHq& h = fuzz::hq();
    const std::string rest(fuzz::asText(data + 1, size - 1));
    sync::Request r;
    bool bundle = false;
    switch (data[0] % 7) {
        case 0:
        case 5:
            r = h.base("POST", "/v1/push", zstdCompress(signItems(h, rest), 1));
            r.headers["content-encoding"] = "zstd";
            h.sign(r, fuzz::nextNonce());
            bundle = data[0] % 7 == 5;
            break;
        case 1:
            r = h.base("POST", "/v1/push", rest);
            r.headers["content-encoding"] = "zstd";
            h.sign(r, fuzz::nextNonce());
            break;
        case 2:
        case 6:
            r = h.base("GET", "/v1/pull?" + rest);
            h.sign(r, fuzz::nextNonce());
            bundle = data[0] % 7 == 6;
            break;
        case 3:
            r = h.base("POST", "/v1/enroll", rest);
            break;
        default:
            r = wholeRequest(h, rest);
            break;
    }
    // A bad request gets its 4xx; a 500 is a handler that threw on it (fuzz_support.hpp, answerProblem).
    const sync::Response answer = bundle ? h.service->handleBundle(r) : h.service->handle(r);
    if (auto problem = fuzz::answerProblem(h, answer); !problem.empty()) fuzz::finding(problem);
    return 0;
}
