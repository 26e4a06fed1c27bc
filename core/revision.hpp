// A final revision's canonical bytes and what its device signs: shared by the laptop's store (which
// signs a revision when it is finalized) and the sync protocol (which carries and checks it).
// docs/protocol.md, "Canonical bytes" and "Signatures".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace outpost::core {

// The envelope members of one revision, apart from its payload.
struct RevisionHead {
    std::string_view id;
    int revision = 0;
    std::optional<int> parent;
    std::string_view formId;
    int formVersion = 0;
    std::string_view unitId;
    std::string_view author;
    std::string_view createdUtc;
    int createdOffset = 0;
    std::string_view finalizedUtc;
    std::string_view sealedHash;  // empty when the revision has no sealed section
};

// The canonical bytes: members sorted by name, no whitespace, strings escaped the way nlohmann::json
// dumps them, the payload given as its own canonical JSON text.
std::string canonicalRevision(const RevisionHead& head, std::string_view payloadText);

// What the device signs (Ed25519): a context line, then the canonical bytes.
std::string revisionSigningString(std::string_view canonical);

}  // namespace outpost::core
