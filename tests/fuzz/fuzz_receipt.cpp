// libFuzzer target: the laptop's receipt importer (sync/bundle.hpp importReceipt), the path by which a
// USB stick from HQ reaches an enrolled laptop's store. The input is the receipt's document (JSON text);
// the target signs it with HQ's key and seals it to the device, as HQ's importBundle does, so the fuzzed
// bytes reach the document's decoding, the push answers' checks against the laptop's own copies, the
// outcomes and the feed page.
//
// Every input starts from the same laptop: a store made once (three queued training-gap reports), copied
// afresh after each receipt that was applied. The oracle is the importer's promise: a receipt it refuses
// changes nothing (outbox, receipts, cursor, epoch, feedback), and a store it changed still verifies.
//
// Placeholders the target fills in (the seed corpus uses them):
//   "@device", "@epoch"          the laptop's device id and HQ epoch
//   "@r0", "@r1", "@r2"          the ids of the laptop's three reports
//   "sig": "@sig" in an answer    HQ's signature over the answer, from the laptop's copies of the items
// Input that is not JSON is signed and sealed as it is. With OUTPOST_FUZZ_VERBOSE set, each input's
// outcome is printed (how to check that the seeds reach the store).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "fuzz_support.hpp"
#include "storage/store.hpp"
#include "sync/bundle.hpp"
#include "sync/outgoing.hpp"

using namespace outpost;
using namespace outpost::sync;
using namespace outpost::hq;
namespace fs = std::filesystem;

namespace {

const std::string kDevice = "dev-fuzz-laptop";
const std::string kEpoch = "epoch-fuzz-laptop";

storage::DataKey dataKey() {
    unsigned char b[storage::DataKey::kSize];
    std::fill(std::begin(b), std::end(b), static_cast<unsigned char>(0x5a));
    return storage::DataKey::fromBytes(b, storage::DataKey::kSize);
}

struct Laptop {
    std::string root;      // removed at exit
    std::string pristine;  // the store as made once
    std::string work;      // the copy each input gets
    SigningKeyPair hqKeys = fuzz::fixedKeys(0x11);
    SigningKeyPair deviceKeys = fuzz::fixedKeys(0x33);
    std::vector<std::string> ids;

    ~Laptop() {
        std::error_code ec;
        if (!root.empty()) fs::remove_all(root, ec);
    }
};

Laptop& laptop() {
    static Laptop l = [] {
        Laptop out;
        std::string base = fs::exists("/dev/shm") ? "/dev/shm" : fs::temp_directory_path().string();
        std::string tmpl = base + "/outpost-fuzz-laptop-XXXXXX";
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        out.root = tmpl;
        out.pristine = out.root + "/pristine";
        out.work = out.root + "/work";
        fs::create_directories(out.pristine);
        storage::InitOptions io;
        io.unitId = "MINUSCA-RWABATT-1";
        io.user = "capt.fuzz";
        storage::Store::createWithKey(out.pristine, dataKey(), io).value();
        auto store = storage::Store::open(out.pristine, dataKey()).value();
        storage::SyncConfig cfg;
        cfg.hqUrl = "https://127.0.0.1:9";
        cfg.pin = "pin";
        cfg.deviceId = kDevice;
        cfg.hqId = "hq-fuzz";
        cfg.epoch = kEpoch;
        cfg.hqSignKey = base64Encode(out.hqKeys.publicKey);
        store->saveEnrollment(cfg, out.deviceKeys.secretKey).value();
        std::vector<json> payloads;
        for (int i = 0; i < 3; ++i)
            payloads.push_back(json{{"unit", "MINUSCA-RWABATT-1"},
                                    {"description", "Night navigation gap " + std::to_string(i)},
                                    {"source", "evaluation"},
                                    {"identified_date", "2026-10-10"},
                                    {"severity", "minor"},
                                    {"personnel_affected", 12 + i},
                                    {"remedy", "in_mission_course"},
                                    {"target_date", "2026-12-01"},
                                    {"status", "open"}});
        out.ids = store->importFinal("training-gap", payloads).value();
        return out;
    }();
    return l;
}

void replacePlaceholders(json& j, const Laptop& l) {
    if (j.is_string()) {
        const auto& s = j.get_ref<const std::string&>();
        if (s == "@device")
            j = kDevice;
        else if (s == "@epoch")
            j = kEpoch;
        else if (s.size() == 3 && s[0] == '@' && s[1] == 'r' && s[2] >= '0' && s[2] <= '2')
            j = l.ids[static_cast<std::size_t>(s[2] - '0')];
    } else if (j.is_structured()) {
        for (auto& v : j) replacePlaceholders(v, l);
    }
}

// HQ's signature over each push answer whose "sig" is "@sig", made from the laptop's copies of the items
// (what HQ would have received), so the fuzzer's answers get past the signature check.
void signAnswers(json& doc, storage::Store& store, const Laptop& l) {
    auto pushes = doc.find("pushes");
    if (pushes == doc.end() || !pushes->is_array()) return;
    for (auto& p : *pushes) {
        if (!p.is_object()) continue;
        auto answer = p.find("answer");
        auto items = p.find("items");
        // json::value would throw for a "sig" of another type; the fuzzer writes any type anywhere.
        if (answer == p.end() || !answer->is_object() || !answer->contains("sig") ||
            (*answer)["sig"] != "@sig" || items == p.end() || !items->is_array())
            continue;
        PushResponse pr;
        try {
            (*answer)["sig"] = "unsigned";
            pr = PushResponse::fromJson(*answer);
        } catch (const Failure&) {
            continue;
        }
        std::vector<ReceiptItem> sent;
        for (const auto& it : *items) {
            if (!it.is_array() || it.size() < 2 || !it[0].is_string() || !it[1].is_number_integer()) continue;
            auto rec = store.sentRevision(it[0].get<std::string>(), it[1].get<int>());
            if (rec) sent.push_back(receiptItemOf(std::move(rec).value()));
        }
        try {
            (*answer)["sig"] = base64Encode(
                sign(l.hqKeys.secretKey, receiptString(pr.batchId, pr.epoch, kDevice, sent, pr.results)));
        } catch (const Failure&) {
            // Results and items that do not pair up: HQ never signs such an answer; it stays unsigned.
        }
    }
}

struct Snapshot {
    storage::Store::OutboxCounts counts;
    std::int64_t receipts = 0;
    std::int64_t cursor = 0;
    std::string epoch;
    std::size_t feedback = 0;
    bool operator==(const Snapshot& o) const {
        return counts.queued == o.counts.queued && counts.quarantined == o.counts.quarantined &&
               receipts == o.receipts && cursor == o.cursor && epoch == o.epoch && feedback == o.feedback;
    }
};

Snapshot snapshot(storage::Store& s) {
    Snapshot out;
    out.counts = s.outboxCounts().value();
    out.receipts = s.receiptCount().value();
    auto cfg = s.syncConfig().value();
    out.cursor = cfg->pullCursor;
    out.epoch = cfg->epoch;
    out.feedback = s.feedback().value().size();
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Laptop& l = laptop();
    // A refused receipt leaves the store as it was (checked below), so the same copy serves the next
    // input; one that was applied sends the next input to a fresh copy.
    static std::unique_ptr<storage::Store> store;
    if (!store) {
        std::error_code ec;
        fs::remove_all(l.work, ec);
        fs::copy(l.pristine, l.work, fs::copy_options::recursive);
        store = storage::Store::open(l.work, dataKey()).value();
    }

    std::string text(fuzz::asText(data, size));
    json doc = json::parse(text, nullptr, false);
    if (!doc.is_discarded() && doc.is_object()) {
        replacePlaceholders(doc, l);
        signAnswers(doc, *store, l);
        text = doc.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    // Signed and sealed exactly as HQ's importBundle makes a receipt.
    std::string frame = zstdCompress(text, 1);
    std::string message(kReceiptSigningContext);
    message += frame;
    Bytes sig = sign(l.hqKeys.secretKey, message);
    std::string plaintext(sig.begin(), sig.end());
    plaintext += frame;
    const std::string file = sealBundleFile(kReceiptMagic, l.deviceKeys.publicKey, plaintext);

    const Snapshot before = snapshot(*store);
    auto r = importReceipt(*store, file);
    if (std::getenv("OUTPOST_FUZZ_VERBOSE")) {
        if (r.ok())
            std::fprintf(
                stderr,
                "applied: stored %lld, duplicates %lld, conflicts %lld, rejected %lld, pulled %lld%s\n",
                static_cast<long long>(r->stored), static_cast<long long>(r->duplicates),
                static_cast<long long>(r->conflicts), static_cast<long long>(r->rejected),
                static_cast<long long>(r->pulled), r->resynced ? ", resynced" : "");
        else
            std::fprintf(stderr, "refused: %s\n", r.error().message.c_str());
    }
    if (!r.ok()) {
        if (r.error().message.empty()) std::abort();      // a refusal names what is wrong
        if (!(snapshot(*store) == before)) std::abort();  // and changes nothing
    } else {
        auto problems = store->verify();
        if (!problems.ok() || !problems.value().empty()) std::abort();
        store.reset();
    }
    return 0;
}
