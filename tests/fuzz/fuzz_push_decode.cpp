// libFuzzer target: the push message decoders (sync/protocol.hpp): bounded zstd, depth-limited JSON,
// PushRequest and PushResponse. Input: one mode byte, then the bytes.
//   mode 0: a zstd frame of a push request (what POST /v1/push carries)
//   mode 1: the JSON text of a push request
//   mode 2: the JSON text of a push response (what the laptop reads back)
// Modes 0 and 1 also hold HQ's item-by-item parse (splitPushBody) to the whole-body parse: when the text
// is cut into items, it is valid JSON exactly when every item is, with the same batch and items.
#include <cstdlib>

#include "fuzz_support.hpp"

using namespace outpost;
using namespace outpost::sync;

namespace {

// Small limits, so the zstd bound is reached often and a run stays fast.
Limits limits() {
    Limits l;
    l.maxUncompressedBytes = 1u << 20;
    return l;
}

void checkRequest(const json& j) {
    PushRequest copy = PushRequest::fromJson(j);
    json moved = j;
    PushRequest p = PushRequest::fromJson(std::move(moved));
    if (p.items.size() != copy.items.size() || p.batchId != copy.batchId) std::abort();
    // What was decoded encodes to the same canonical bytes after a round trip.
    PushRequest again = PushRequest::fromJson(p.toJson());
    if (again.items.size() != p.items.size()) std::abort();
    for (std::size_t i = 0; i < p.items.size(); ++i) {
        if (again.items[i].canonical() != p.items[i].canonical()) std::abort();
        std::string payloadText = p.items[i].payload.dump();
        if (p.items[i].canonicalWithPayloadText(payloadText) != p.items[i].canonical()) std::abort();
    }
}

// The split parse against the whole one, on any text.
void checkSplit(std::string_view text) {
    auto parts = splitPushBody(text);
    if (!parts) return;
    std::vector<json> items;
    bool allValid = true;
    for (auto item : parts->items) {
        auto doc = parseItemText(item);
        if (!doc || !doc->is_object()) {
            allValid = false;
            break;
        }
        items.push_back(std::move(*doc));
    }
    json whole = json::parse(text.begin(), text.end(), nullptr, false);
    if (whole.is_discarded() == allValid) std::abort();  // valid exactly when every item is
    if (!allValid) return;
    if (!whole.is_object() || whole.size() != 2 || whole["batch"] != parts->batchId) std::abort();
    if (whole["items"].size() != items.size()) std::abort();
    for (std::size_t i = 0; i < items.size(); ++i)
        if (whole["items"][i] != items[i]) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const Limits l = limits();
    const std::string_view bytes = fuzz::asText(data + 1, size - 1);
    try {
        switch (data[0] % 3) {
            case 0: {
                const std::string text = zstdDecompress(bytes, l.maxUncompressedBytes);
                checkSplit(text);
                checkRequest(parseObject(text, l.maxJsonDepth));
                break;
            }
            case 1:
                checkSplit(bytes);
                checkRequest(parseObject(bytes, l.maxJsonDepth));
                break;
            default: {
                PushResponse r = PushResponse::fromJson(parseObject(bytes, l.maxJsonDepth));
                PushResponse again = PushResponse::fromJson(r.toJson());
                if (again.results.size() != r.results.size() || again.signature != r.signature) std::abort();
                break;
            }
        }
    } catch (const Failure&) {
        // The documented refusal: Failure naming what is wrong.
    }
    return 0;
}
