#include "core/revision.hpp"

#include <nlohmann/json.hpp>

namespace outpost::core {

namespace {

void appendString(std::string& out, std::string_view s) {
    // A JSON string exactly as nlohmann::json dumps it (the canonical escaping); throws on invalid UTF-8.
    out += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
}

}  // namespace

std::string canonicalRevision(const RevisionHead& h, std::string_view payloadText) {
    // Members in the order of their names' bytes, no whitespace: what dumping the envelope as a JSON
    // object gives, written directly so the payload is neither parsed nor dumped again.
    std::string out;
    out.reserve(payloadText.size() + 256);
    out += "{\"author\":";
    appendString(out, h.author);
    out += ",\"created\":";
    appendString(out, h.createdUtc);
    out += ",\"final\":";
    appendString(out, h.finalizedUtc);
    out += ",\"form\":";
    appendString(out, h.formId);
    out += ",\"fv\":" + std::to_string(h.formVersion) + ",\"id\":";
    appendString(out, h.id);
    out += ",\"offset\":" + std::to_string(h.createdOffset);
    if (h.parent) out += ",\"parent\":" + std::to_string(*h.parent);
    out += ",\"payload\":";
    out.append(payloadText);
    out += ",\"rev\":" + std::to_string(h.revision);
    if (!h.sealedHash.empty()) {
        out += ",\"sealed\":";
        appendString(out, h.sealedHash);
    }
    out += ",\"unit\":";
    appendString(out, h.unitId);
    out += '}';
    return out;
}

std::string revisionSigningString(std::string_view canonical) {
    std::string s = "outpost/2 revision\n";
    s.append(canonical);
    return s;
}

}  // namespace outpost::core
