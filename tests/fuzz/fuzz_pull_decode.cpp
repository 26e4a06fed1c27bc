// libFuzzer target: the pull message decoders (sync/protocol.hpp): bounded zstd, depth-limited JSON and
// PullResponse. Input: one mode byte, then the bytes.
//   mode 0: a zstd frame of a pull answer (what GET /v1/pull returns compressed)
//   mode 1: the JSON text of a pull answer
//   mode 2: an enrollment code's text
#include <cstdlib>

#include "fuzz_support.hpp"

using namespace outpost;
using namespace outpost::sync;

namespace {

void checkPull(const json& j) {
    PullResponse p = PullResponse::fromJson(j);
    PullResponse again = PullResponse::fromJson(p.toJson());
    if (again.items.size() != p.items.size() || again.next != p.next || again.more != p.more ||
        again.epoch != p.epoch)
        std::abort();
    for (std::size_t i = 0; i < p.items.size(); ++i)
        if (again.items[i].seq != p.items[i].seq || again.items[i].kind != p.items[i].kind) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t maxOut = 1u << 20;
    const std::string_view bytes = fuzz::asText(data + 1, size - 1);
    try {
        switch (data[0] % 3) {
            case 0:
                checkPull(parseObject(zstdDecompress(bytes, maxOut), Limits{}.maxJsonDepth));
                break;
            case 1:
                checkPull(parseObject(bytes, Limits{}.maxJsonDepth));
                break;
            default: {
                EnrollmentCode c = EnrollmentCode::parse(bytes);
                if (EnrollmentCode::parse(c.text()).secret != c.secret) std::abort();
                (void)curlPin(c.pin);
                break;
            }
        }
    } catch (const Failure&) {
        // The documented refusal.
    }
    return 0;
}
