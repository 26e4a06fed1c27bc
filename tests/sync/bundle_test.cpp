// Store-and-forward bundles in-process: a real laptop store, HQ's handlers over an SQLite HqStore in a
// temporary folder, and the files between them. Round trips drain the outbox and store each revision at
// HQ once; a second import of either file changes nothing; damaged, foreign, forged and replayed files
// are refused with a message naming what is wrong, and change nothing on either side.
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "core/uuid.hpp"
#include "hq/bundle_import.hpp"
#include "hq/service.hpp"
#include "storage/hq/store.hpp"
#include "storage/store.hpp"
#include "support/enroll.hpp"
#include "support/test_support.hpp"
#include "sync/bundle.hpp"
#include "sync/protocol.hpp"

using namespace outpost;
using namespace outpost::sync;
using namespace outpost::hq;
using storage::Store;
using test::TempDir;
namespace hqs = outpost::storage::hq;

namespace {

const std::string kUnit = "MINUSCA-RWABATT-1";
const std::string kMarker = "Zebra-crossing drill 4417";

json gapPayload(const std::string& description) {
    return json{{"unit", kUnit},
                {"description", description},
                {"source", "evaluation"},
                {"identified_date", "2025-01-10"},
                {"severity", "minor"},
                {"personnel_affected", 12},
                {"remedy", "in_mission_course"},
                {"target_date", "2025-03-01"},
                {"status", "open"}};
}

struct Hq {
    TempDir dir;
    HqIdentity identity;
    std::unique_ptr<HqService> service;
    std::unique_ptr<hqs::HqStore> store;

    explicit Hq(const HqIdentity* sameIdentity = nullptr) {
        if (sameIdentity) {
            identity = *sameIdentity;
        } else {
            identity.hqId = "hq-bundle-test";
            identity.signing = SigningKeyPair::generate();
            identity.tlsPin = "pin";
        }
        std::string location = dir.path();
        service = std::make_unique<HqService>([location] { return hqs::openHqStore(location); }, identity);
        store = hqs::openHqStore(location).value();
    }

    // Everything an import could change.
    struct Snapshot {
        std::int64_t reports = 0;
        hqs::Heads heads;
        std::size_t conflicts = 0;
        friend std::ostream& operator<<(std::ostream& os, const Snapshot& s) {
            return os << "reports " << s.reports << ", heads " << s.heads.reports << "/" << s.heads.feed
                      << ", conflicts " << s.conflicts;
        }
        bool operator==(const Snapshot& o) const {
            return reports == o.reports && heads.reports == o.heads.reports && heads.feed == o.heads.feed &&
                   conflicts == o.conflicts;
        }
    };
    Snapshot snapshot() {
        return {store->reportCount().value(), store->heads().value(), store->conflicts().value().size()};
    }

    HqBundleImport import(const std::string& file) {
        auto r = importBundle(*service, file);
        INFO((r ? "" : r.error().message));
        REQUIRE(r.ok());
        return r.value();
    }
    Error refusal(const std::string& file) {
        auto before = snapshot();
        auto r = importBundle(*service, file);
        REQUIRE_FALSE(r.ok());
        CHECK(snapshot() == before);
        return r.error();
    }
    std::set<std::string> reports() {
        hqs::ReportFilter f;
        f.limit = 100000;
        std::set<std::string> out;
        auto all = store->reports(f).value();
        for (const auto& r : all) CHECK(out.insert(r.recordId + " r" + std::to_string(r.revision)).second);
        return out;
    }
};

storage::DataKey laptopKey() {
    unsigned char b[storage::DataKey::kSize];
    std::fill(std::begin(b), std::end(b), static_cast<unsigned char>(0x42));
    return storage::DataKey::fromBytes(b, storage::DataKey::kSize);
}

struct Laptop {
    TempDir dir;
    std::unique_ptr<Store> store;

    Laptop() {
        storage::InitOptions io;
        io.unitId = kUnit;
        io.user = "capt.bundle";
        REQUIRE(Store::createWithKey(dir.path(), laptopKey(), io).ok());
        store = Store::open(dir.path(), laptopKey()).value();
    }

    // Enrolls through HQ's handler (a bundle site is enrolled once, wherever there is a link).
    void enroll(Hq& hq) { test::enrollThroughHandler(*hq.service, *hq.store, *store, kUnit); }
    std::string deviceId() { return store->syncConfig().value()->deviceId; }

    std::vector<std::string> addReports(int n, const std::string& tag = "gap") {
        std::vector<json> p;
        for (int i = 0; i < n; ++i) p.push_back(gapPayload(tag + " " + std::to_string(i)));
        auto r = store->importFinal("training-gap", p);
        INFO((r ? "" : r.error().message));
        REQUIRE(r.ok());
        return r.value();
    }
    std::int64_t queued() { return store->outboxCounts().value().queued; }
    std::int64_t quarantined() { return store->outboxCounts().value().quarantined; }

    ExportedBundle exportBundle() {
        auto b = sync::exportBundle(*store);
        INFO((b ? "" : b.error().message));
        REQUIRE(b.ok());
        return b.value();
    }
    ReceiptApplied import(const std::string& file) {
        auto r = importReceipt(*store, file);
        INFO((r ? "" : r.error().message));
        REQUIRE(r.ok());
        return r.value();
    }

    // Everything a receipt import could change.
    struct Snapshot {
        std::int64_t queued = 0, quarantined = 0, receipts = 0, cursor = 0;
        std::string epoch;
        std::size_t feedback = 0;
        std::vector<std::string> outboxErrors;
        friend std::ostream& operator<<(std::ostream& os, const Snapshot& s) {
            os << "queued " << s.queued << ", quarantined " << s.quarantined << ", receipts " << s.receipts
               << ", cursor " << s.cursor << ", epoch " << s.epoch << ", feedback " << s.feedback
               << ", outbox";
            for (const auto& e : s.outboxErrors) os << " [" << e << "]";
            return os;
        }
        bool operator==(const Snapshot& o) const {
            return queued == o.queued && quarantined == o.quarantined && receipts == o.receipts &&
                   cursor == o.cursor && epoch == o.epoch && feedback == o.feedback &&
                   outboxErrors == o.outboxErrors;
        }
    };
    Snapshot snapshot() {
        Snapshot s;
        auto c = store->outboxCounts().value();
        s.queued = c.queued;
        s.quarantined = c.quarantined;
        s.receipts = store->receiptCount().value();
        auto cfg = store->syncConfig().value();
        s.cursor = cfg->pullCursor;
        s.epoch = cfg->epoch;
        s.feedback = store->feedback().value().size();
        auto outbox = store->outbox().value();
        for (const auto& o : outbox)
            s.outboxErrors.push_back(std::string(core::toText(o.state)) + ":" + o.lastError);
        return s;
    }
    Error refusal(const std::string& file) {
        auto before = snapshot();
        auto r = importReceipt(*store, file);
        REQUIRE_FALSE(r.ok());
        CHECK(snapshot() == before);
        return r.error();
    }
    void requireSound() {
        auto v = store->verify();
        REQUIRE(v.ok());
        std::string text;
        for (const auto& p : v.value()) text += "\n  " + p;
        INFO("verify:" << text);
        CHECK(v.value().empty());
    }
    std::set<std::string> finals() {
        storage::ListFilter f;
        f.status = core::RecordStatus::Final;
        f.latestOnly = false;
        f.limit = 100000;
        std::set<std::string> out;
        auto all = store->list(f).value();
        for (const auto& m : all) out.insert(m.id + " r" + std::to_string(m.revision));
        return out;
    }
};

// The signed document inside a bundle, opened with HQ's key (what a forger would start from).
json bundleDocument(const Hq& hq, const std::string& file) {
    auto sd = splitSignedDocument(openBundleFile(kBundleMagic, hq.identity.signing.secretKey, file));
    return documentJson(sd, "the bundle");
}

std::string withByteFlipped(std::string s, std::size_t pos) {
    s[pos] = static_cast<char>(s[pos] ^ 0x20);
    return s;
}

// Another hex digit in place of the one at pos (the header stays well formed).
std::string withDigitChanged(std::string s, std::size_t pos) {
    s[pos] = s[pos] == '0' ? '1' : '0';
    return s;
}

// The file with its header's sealed length replaced by `size` (the header stays well formed).
std::string withDeclaredSize(const std::string& file, std::string_view magic, std::size_t size) {
    const std::size_t space = file.find(' ', magic.size());
    const std::size_t nl = file.find('\n', magic.size());
    return file.substr(0, space + 1) + std::to_string(size) + file.substr(nl);
}

std::size_t declaredSize(const std::string& file, std::string_view magic) {
    const std::size_t space = file.find(' ', magic.size());
    return std::stoul(file.substr(space + 1, file.find('\n', magic.size()) - space - 1));
}

// The file with a new header line that is well formed and whose check matches what it says (version 2):
// what a file sealed for keyId, with that length, would carry.
std::string withHeader(const std::string& file, std::string_view magic, const std::string& keyId,
                       std::size_t size) {
    const std::string fields = keyId + " " + std::to_string(size);
    Bytes h = blake2b256(std::string(magic) + fields);
    h.resize(8);
    return std::string(magic) + fields + " " + hex(h) + file.substr(file.find('\n', magic.size()));
}

std::string withBitFlipped(std::string s, std::size_t pos, int bit) {
    s[pos] = static_cast<char>(s[pos] ^ (1 << bit));
    return s;
}

}  // namespace

TEST_CASE("a bundle round trip drains the outbox and stores each revision at HQ once", "[sync][bundle]") {
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    auto ids = lap.addReports(4, kMarker);
    // A form version only this laptop knows: HQ rejects that report and the laptop quarantines it.
    auto def = json::parse(test::readFile(test::sourcePath("core/forms/training-gap.json")));
    def["version"] = def["version"].get<int>() + 40;
    REQUIRE(lap.store->installForm(def, "local").ok());
    auto poison = lap.addReports(1, "unknown version");

    auto b = lap.exportBundle();
    CHECK(b.reports == 5);
    CHECK(b.batches == 1);
    CHECK(b.left == 0);
    CHECK(b.cursor == 0);
    CHECK(b.file.rfind("OUTPOST-BUNDLE/2\n", 0) == 0);
    // Sealed: no report text, no record id, no device id in the clear.
    CHECK(b.file.find(kMarker) == std::string::npos);
    CHECK(b.file.find("Zebra") == std::string::npos);
    CHECK(b.file.find(ids[0]) == std::string::npos);
    CHECK(b.file.find(lap.deviceId()) == std::string::npos);
    // Exporting changes nothing: the reports stay queued until a receipt arrives.
    CHECK(lap.queued() == 5);
    CHECK(lap.store->receiptCount().value() == 0);

    // On disk: written whole, owner-only, and read back as written.
    TempDir stick;
    const std::string path = stick.sub("outpost.bundle");
    REQUIRE(writeBundleFile(path, b.file).ok());
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(readBundleFile(path).value() == b.file);
    CHECK_FALSE(test::anyFileContains(stick.path(), kMarker));
    CHECK(std::distance(std::filesystem::directory_iterator(stick.path()), {}) == 1);  // no temporary left

    auto in = hq.import(readBundleFile(path).value());
    CHECK(in.deviceId == lap.deviceId());
    CHECK(in.unitId == kUnit);
    CHECK(in.pushes == 1);
    CHECK(in.stored == 4);
    CHECK(in.rejected == 1);
    CHECK(in.receiptFile.rfind("OUTPOST-RECEIPT/2\n", 0) == 0);
    CHECK(in.receiptFile.find(kMarker) == std::string::npos);
    CHECK(hq.store->reportCount().value() == 4);

    auto applied = lap.import(in.receiptFile);
    CHECK(applied.bundleId == b.bundleId);
    CHECK(applied.stored == 4);
    CHECK(applied.rejected == 1);
    CHECK_FALSE(applied.resynced);
    CHECK_FALSE(applied.stale);
    CHECK(lap.queued() == 0);
    CHECK(lap.quarantined() == 1);
    CHECK(lap.store->receiptCount().value() == 4);
    for (const auto& id : ids) {
        auto rc = lap.store->receipt(id, 1).value();
        REQUIRE(rc);
        CHECK(rc->status == core::ItemStatus::Stored);
        CHECK(rc->hqSeq == hq.store->report(id, 1).value()->hqSeq);
        CHECK(rc->hash == hq.store->report(id, 1).value()->hash);
    }
    auto ob = lap.store->outbox().value();
    REQUIRE(ob.size() == 1);
    CHECK(ob[0].recordId == poison[0]);
    CHECK_THAT(ob[0].lastError, Catch::Contains("not a form HQ knows"));
    CHECK(lap.store->syncConfig().value()->lastSyncUtc != "");
    lap.requireSound();

    SECTION("HQ's feedback and forms come back with the next bundle's receipt") {
        REQUIRE(hq.store
                    ->review(ids[1], 1, core::ReviewStatus::Returned, "add the course dates", "maj.hq",
                             "2025-02-01T10:00:00.000Z")
                    .ok());
        auto newer = json::parse(test::readFile(test::sourcePath("core/forms/training-gap.json")));
        newer["version"] = newer["version"].get<int>() + 1;
        REQUIRE(
            hq.store->putForm("training-gap", newer["version"].get<int>(), newer, "2025-02-01T10:00:00.000Z")
                .ok());
        auto b2 = lap.exportBundle();
        CHECK(b2.reports == 0);
        CHECK(b2.batches == 0);
        auto in2 = hq.import(b2.file);
        CHECK(in2.pulled == 2);
        auto a2 = lap.import(in2.receiptFile);
        CHECK(a2.pulled == 2);
        auto fb = lap.store->feedback(ids[1]).value();
        REQUIRE(fb.size() == 1);
        CHECK(fb[0].status == core::ReviewStatus::Returned);
        CHECK(fb[0].comment == "add the course dates");
        CHECK(lap.store->forms().find("training-gap", newer["version"].get<int>()));
        CHECK(lap.store->syncConfig().value()->pullCursor == hq.store->heads().value().feed);
        // The same receipt again: the page is behind the cursor now and is skipped.
        auto before = lap.snapshot();
        auto again = lap.import(in2.receiptFile);
        CHECK(again.pullSkipped);
        CHECK(again.pulled == 0);
        CHECK(lap.snapshot() == before);
    }
    SECTION("importing the same bundle twice at HQ and the receipt twice on the laptop changes nothing") {
        auto hqBefore = hq.snapshot();
        auto in2 = hq.import(b.file);  // the recorded results, through the batch id
        CHECK(in.replayed == 0);
        // What this import did: nothing stored, the four were already there.
        CHECK(in2.stored == 0);
        CHECK(in2.duplicates == 4);
        CHECK(in2.replayed == 1);
        CHECK(in2.rejected == 1);
        REQUIRE(in2.notes.size() == 1);
        CHECK_THAT(in2.notes[0], Catch::Contains("1 of the 1 push(es) had been imported before"));
        CHECK(hq.snapshot() == hqBefore);
        // Audited as it happened, each import once.
        std::vector<json> audited;
        const auto entries = hq.store->audit(0, 1000).value();
        for (const auto& e : entries)
            if (e.action == "bundle import") audited.push_back(json::parse(e.detail));
        REQUIRE(audited.size() == 2);
        for (auto& a : audited) a.erase("pulled");
        CHECK(audited[0] == json{{"pushes", 1},
                                 {"replayed", 0},
                                 {"stored", 4},
                                 {"duplicate", 0},
                                 {"conflict", 0},
                                 {"rejected", 1}});
        CHECK(audited[1] == json{{"pushes", 1},
                                 {"replayed", 1},
                                 {"stored", 0},
                                 {"duplicate", 4},
                                 {"conflict", 0},
                                 {"rejected", 1}});
        auto lapBefore = lap.snapshot();
        for (const auto* receipt : {&in.receiptFile, &in2.receiptFile}) {
            auto again = lap.import(*receipt);
            CHECK(again.stored == 0);
            CHECK(again.alreadyDone == 5);  // four receipted, one quarantined already
            CHECK(lap.snapshot() == lapBefore);
        }
        CHECK(hq.reports().size() == 4);
        lap.requireSound();
    }
    SECTION("the quarantined report, requeued once HQ knows its form, goes with the next bundle") {
        // The poison report, requeued after HQ learnt its form version, goes with the next bundle.
        REQUIRE(hq.store->putForm("training-gap", def["version"].get<int>(), def, "2025-02-01T10:00:00.000Z")
                    .ok());
        REQUIRE(lap.store->requeue(ob[0].seq).ok());
        auto b2 = lap.exportBundle();
        CHECK(b2.reports == 1);
        auto in2 = hq.import(b2.file);
        CHECK(in2.stored == 1);
        lap.import(in2.receiptFile);
        CHECK(lap.queued() == 0);
        CHECK(lap.quarantined() == 0);
        CHECK(hq.reports() == lap.finals());
        lap.requireSound();
    }
}

TEST_CASE("two bundles exported before any receipt: the second only finds duplicates", "[sync][bundle]") {
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    lap.addReports(3);
    auto b1 = lap.exportBundle();
    auto b2 = lap.exportBundle();
    CHECK(b1.bundleId != b2.bundleId);
    auto r1 = hq.import(b1.file);
    auto r2 = hq.import(b2.file);
    CHECK(r1.stored == 3);
    CHECK(r2.duplicates == 3);
    CHECK(hq.store->reportCount().value() == 3);
    // Receipts in either order: the outbox drains once, and every receipt is HQ's.
    auto a2 = lap.import(r2.receiptFile);
    CHECK(a2.duplicates == 3);
    auto a1 = lap.import(r1.receiptFile);
    CHECK(a1.alreadyDone == 3);
    CHECK(lap.queued() == 0);
    CHECK(lap.store->receiptCount().value() == 3);
    CHECK(hq.reports() == lap.finals());
    lap.requireSound();
}

TEST_CASE("many reports travel in several pushes of one bundle", "[sync][bundle]") {
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    lap.addReports(25);
    BundleOptions o;
    o.batchItems = 10;
    auto b = sync::exportBundle(*lap.store, o).value();
    CHECK(b.batches == 3);
    CHECK(b.reports == 25);
    auto in = hq.import(b.file);
    CHECK(in.pushes == 3);
    CHECK(in.stored == 25);
    auto a = lap.import(in.receiptFile);
    CHECK(a.stored == 25);
    CHECK(lap.queued() == 0);
    CHECK(hq.reports() == lap.finals());

    SECTION("a bundle holds no more than its size allows; the rest stays queued for the next one") {
        lap.addReports(12, "later");
        BundleOptions small;
        small.batchItems = 5;
        small.maxPushBytes = 1;  // one push at least, and no more
        auto part = sync::exportBundle(*lap.store, small).value();
        CHECK(part.batches == 1);
        CHECK(part.reports == 5);
        CHECK(part.left == 7);
        lap.import(hq.import(part.file).receiptFile);
        CHECK(lap.queued() == 7);
        lap.import(hq.import(lap.exportBundle().file).receiptFile);
        CHECK(lap.queued() == 0);
        CHECK(hq.reports() == lap.finals());
    }
}

TEST_CASE("HQ restored from a backup: the receipt says so and the laptop resyncs", "[sync][bundle]") {
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    lap.addReports(3);
    lap.import(hq.import(lap.exportBundle().file).receiptFile);
    REQUIRE(lap.store->receiptCount().value() == 3);
    const std::string oldEpoch = lap.store->syncConfig().value()->epoch;

    auto newEpoch = hq.store->rotateEpoch().value();
    auto b = lap.exportBundle();
    auto in = hq.import(b.file);
    REQUIRE_FALSE(in.notes.empty());
    CHECK_THAT(in.notes[0], Catch::Contains("epoch_changed"));
    auto a = lap.import(in.receiptFile);
    CHECK(a.resynced);
    CHECK(lap.store->syncConfig().value()->epoch == newEpoch);
    CHECK(lap.store->syncConfig().value()->pullCursor == 0);
    CHECK(lap.queued() == 3);  // what HQ acknowledged goes again
    CHECK(lap.store->receiptCount().value() == 0);

    // The old receipt again: it answers a bundle of the old epoch, so nothing of it applies.
    auto before = lap.snapshot();
    auto stale = lap.import(in.receiptFile);
    CHECK(stale.stale);
    CHECK(lap.snapshot() == before);

    auto in2 = hq.import(lap.exportBundle().file);
    CHECK(in2.duplicates == 3);
    auto a2 = lap.import(in2.receiptFile);
    CHECK(a2.duplicates == 3);
    CHECK(lap.queued() == 0);
    CHECK(lap.store->receiptCount().value() == 3);
    CHECK(oldEpoch != newEpoch);
    lap.requireSound();
}

TEST_CASE("damaged, foreign and forged bundles are refused at HQ and change nothing", "[sync][bundle]") {
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    lap.addReports(3, kMarker);
    const std::string good = lap.exportBundle().file;
    const std::size_t header = good.find('\n', std::string(kBundleMagic).size()) + 1;

    struct Case {
        const char* what;
        std::string file;
        std::string says;
    };
    std::vector<Case> cases = {
        {"empty", "", "empty"},
        {"not a bundle", "hello, world\n", "not an Outpost bundle"},
        {"a receipt given to HQ", std::string(kReceiptMagic) + good.substr(std::string(kBundleMagic).size()),
         "receipt for a laptop (OUTPOST-RECEIPT/2), not a bundle for HQ: import it on the laptop with "
         "'outpostctl bundle import'"},
        {"a version 1 receipt given to HQ",
         "OUTPOST-RECEIPT/1\n" + good.substr(std::string(kBundleMagic).size()),
         "receipt for a laptop (OUTPOST-RECEIPT/1)"},
        {"wrong magic", withByteFlipped(good, 3), "not an Outpost bundle"},
        {"a version this build does not read",
         "OUTPOST-BUNDLE/3\n" + good.substr(std::string(kBundleMagic).size()),
         "(OUTPOST-BUNDLE/3) is not one this Outpost reads"},
        {"truncated", good.substr(0, good.size() - 100), "truncated"},
        {"truncated in the header", good.substr(0, std::string(kBundleMagic).size() + 5),
         "header line is damaged"},
        {"bytes after the end", good + "x", "after its end"},
        {"altered sealed bytes", withByteFlipped(good, header + 60), "altered or damaged"},
        {"altered last byte", withByteFlipped(good, good.size() - 1), "altered or damaged"},
        {"altered key id", withDigitChanged(good, std::string(kBundleMagic).size() + 2),
         "header line is damaged: its check does not match"},
        {"altered length", withDeclaredSize(good, kBundleMagic, declaredSize(good, kBundleMagic) + 1),
         "header line is damaged"},
        {"altered check", withDigitChanged(good, header - 2),
         "header line is damaged: its check does not match"},
        {"a larger size declared, the header's check made to match",
         withHeader(good, kBundleMagic, recipientKeyId(hq.identity.signing.publicKey),
                    declaredSize(good, kBundleMagic) + 1),
         "truncated"},
    };
    // Sealed for another HQ: the same content, sealed to another key.
    auto other = SigningKeyPair::generate();
    const std::string plain = openBundleFile(kBundleMagic, hq.identity.signing.secretKey, good);
    cases.push_back({"sealed for another HQ", sealBundleFile(kBundleMagic, other.publicKey, plain),
                     "was sealed for another HQ (key " + recipientKeyId(other.publicKey)});
    // A version 1 file (no header check): another HQ's key id and a damaged one look the same.
    const std::string v1 = sealBundleFile(kBundleMagicV1, hq.identity.signing.publicKey, plain);
    cases.push_back({"version 1, sealed for another HQ",
                     sealBundleFile(kBundleMagicV1, other.publicKey, plain),
                     "sealed for another HQ, or its header was damaged"});
    cases.push_back({"version 1, altered key id",
                     withDigitChanged(v1, std::string(kBundleMagicV1).size() + 2),
                     "has no header check to tell which"});
    cases.push_back({"version 1, a larger size declared",
                     withDeclaredSize(v1, kBundleMagicV1, declaredSize(v1, kBundleMagicV1) + 1),
                     "truncated"});
    // Every single bit of the key id flipped: damaged, never "for another HQ".
    for (std::size_t i = 0; i < 16; ++i)
        for (int bit = 0; bit < 8; ++bit)
            cases.push_back({"a bit of the key id flipped",
                             withBitFlipped(good, std::string(kBundleMagic).size() + i, bit),
                             "header line is damaged"});
    for (const auto& c : cases) {
        INFO(c.what);
        auto e = hq.refusal(c.file);
        INFO(e.message);
        CHECK_THAT(e.message, Catch::Contains(c.says));
        if (c.says.rfind("header line is damaged", 0) == 0)
            CHECK_THAT(e.message, !Catch::Contains("another HQ"));
        CHECK(e.code == ErrorCode::BadInput);
    }

    SECTION("a bundle signed by another key than the device's") {
        json doc = bundleDocument(hq, good);
        auto forger = SigningKeyPair::generate();
        auto forged = sealBundleFile(kBundleMagic, hq.identity.signing.publicKey,
                                     signDocument(kBundleSigningContext, doc, forger.secretKey));
        auto e = hq.refusal(forged);
        CHECK_THAT(e.message, Catch::Contains("signature does not verify"));
    }
    SECTION("a bundle naming a device HQ does not know") {
        json doc = bundleDocument(hq, good);
        doc["device"] = core::newUuidV7();
        auto sk = lap.store->deviceSecretKey().value();
        auto e = hq.refusal(sealBundleFile(kBundleMagic, hq.identity.signing.publicKey,
                                           signDocument(kBundleSigningContext, doc, sk)));
        CHECK(e.code == ErrorCode::NotFound);
        CHECK_THAT(e.message, Catch::Contains("does not know"));
    }
    SECTION("the same batch id replayed with other content") {
        REQUIRE(hq.import(good).stored == 3);
        // The device's own key, the bundle's batch id, one report fewer: HQ's idempotency key is reused.
        json doc = bundleDocument(hq, good);
        auto sk = lap.store->deviceSecretKey().value();
        auto body = base64Decode(doc["pushes"][0]["body"].get<std::string>()).value();
        auto push = PushRequest::fromJson(
            json::parse(zstdDecompress(std::string(body.begin(), body.end()), 1 << 24)));
        push.items.pop_back();
        std::string newBody = zstdCompress(push.toJson().dump());
        std::string nonce = newNonce();
        doc["pushes"][0]["nonce"] = nonce;
        doc["pushes"][0]["sig"] =
            base64Encode(sign(sk, signingString("POST", "/v1/push", lap.deviceId(), nonce, newBody)));
        doc["pushes"][0]["body"] = base64Encode(Bytes(newBody.begin(), newBody.end()));
        auto e = hq.refusal(sealBundleFile(kBundleMagic, hq.identity.signing.publicKey,
                                           signDocument(kBundleSigningContext, doc, sk)));
        CHECK(e.code == ErrorCode::Conflict);
        CHECK_THAT(e.message, Catch::Contains("batch_reused"));
        CHECK_THAT(e.message, Catch::Contains("no receipt"));
    }
    SECTION("a push whose request signature does not match its body") {
        json doc = bundleDocument(hq, good);
        auto sk = lap.store->deviceSecretKey().value();
        doc["pushes"][0]["nonce"] = newNonce();  // the request signature covered the old nonce
        auto e = hq.refusal(sealBundleFile(kBundleMagic, hq.identity.signing.publicKey,
                                           signDocument(kBundleSigningContext, doc, sk)));
        CHECK_THAT(e.message, Catch::Contains("bad_signature"));
        CHECK(hq.store->reportCount().value() == 0);
    }
}

TEST_CASE("a bundle from a revoked device is refused", "[sync][bundle]") {
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    lap.addReports(2);
    auto b = lap.exportBundle();
    REQUIRE(hq.store->revoke(lap.deviceId()).ok());
    auto e = hq.refusal(b.file);
    CHECK(e.code == ErrorCode::Conflict);
    CHECK_THAT(e.message, Catch::Contains("revoked"));
    CHECK(hq.store->reportCount().value() == 0);

    // A laptop that knows it is revoked exports nothing.
    REQUIRE(lap.store->markRevoked().ok());
    auto refused = sync::exportBundle(*lap.store);
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(refused.error().message, Catch::Contains("revoked"));
}

TEST_CASE("an HQ with the same key but another store does not know the device", "[sync][bundle]") {
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    lap.addReports(1);
    Hq twin(&hq.identity);
    auto e = twin.refusal(lap.exportBundle().file);
    CHECK(e.code == ErrorCode::NotFound);
}

TEST_CASE("damaged, foreign and forged receipts are refused by the laptop and change nothing",
          "[sync][bundle]") {
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    lap.addReports(3);
    const std::string bundle = lap.exportBundle().file;
    const std::string good = hq.import(bundle).receiptFile;
    const std::size_t magic = std::string(kReceiptMagic).size();
    const std::size_t header = good.find('\n', magic) + 1;
    auto deviceKey = lap.store->deviceSecretKey().value();
    auto devicePublic = Bytes(deviceKey.begin() + 32, deviceKey.end());
    const std::string plain = openBundleFile(kReceiptMagic, deviceKey, good);
    json doc = documentJson(splitSignedDocument(plain), "the receipt");

    struct Case {
        const char* what;
        std::string file;
        const char* says;
    };
    auto otherDevice = SigningKeyPair::generate();
    auto otherHq = SigningKeyPair::generate();
    // HQ's real key over a result it never gave: the receipt signature no longer matches.
    json altered = doc;
    altered["pushes"][0]["answer"]["results"][0]["s"] = "duplicate";
    // HQ's real key over a receipt naming a report this laptop never made.
    json unknown = doc;
    unknown["pushes"][0]["items"][0][0] = core::newUuidV7();
    // HQ's real key over a receipt for other bytes than the laptop's under the same id and revision: HQ's
    // signature holds, the hash of one report differs from this laptop's copy.
    json otherBytes = doc;
    {
        json& push = otherBytes["pushes"][0];
        const std::string theirs(64, 'e');
        push["items"][1][2] = theirs;
        std::vector<ReceiptItem> items;
        for (const auto& it : push["items"]) items.push_back({it[0], it[1].get<int>(), it[2]});
        PushResponse answer = PushResponse::fromJson(push["answer"]);
        push["answer"]["sig"] = base64Encode(
            sign(hq.identity.signing.secretKey,
                 receiptString(answer.batchId, answer.epoch, lap.deviceId(), items, answer.results)));
    }
    // An HQ that wrote no hashes (a receipt from before they were written) is still read; its altered
    // result is then a receipt that does not verify against the laptop's copies.
    json noHashes = altered;
    for (auto& it : noHashes["pushes"][0]["items"]) it.erase(2);
    // A hash that is not one.
    json badHash = doc;
    badHash["pushes"][0]["items"][0][2] = "not-a-hash";
    std::vector<Case> cases = {
        {"empty", "", "empty"},
        {"a bundle given to the laptop", std::string(kBundleMagic) + good.substr(magic),
         "bundle for HQ (OUTPOST-BUNDLE/2), not a receipt: HQ imports it with 'outpost-hq import-bundle'"},
        {"wrong magic", withByteFlipped(good, 0), "not an Outpost receipt"},
        {"truncated", good.substr(0, good.size() - 1), "truncated"},
        {"bytes after the end", good + "\n", "after its end"},
        {"altered sealed bytes", withByteFlipped(good, header + 40), "altered or damaged"},
        {"sealed for another laptop", sealBundleFile(kReceiptMagic, otherDevice.publicKey, plain),
         "was sealed for another laptop"},
        {"a bit of the key id flipped", withBitFlipped(good, magic + 5, 0), "header line is damaged"},
        {"a bit of the length flipped", withBitFlipped(good, magic + 17, 0), "header line is damaged"},
        {"signed by another HQ",
         sealBundleFile(kReceiptMagic, devicePublic,
                        signDocument(kReceiptSigningContext, doc, otherHq.secretKey)),
         "not made by this laptop's HQ"},
        {"a result HQ did not sign",
         sealBundleFile(kReceiptMagic, devicePublic,
                        signDocument(kReceiptSigningContext, altered, hq.identity.signing.secretKey)),
         "does not verify: the receipt is damaged or was not signed by this laptop's HQ"},
        {"a result HQ did not sign, in a receipt without hashes",
         sealBundleFile(kReceiptMagic, devicePublic,
                        signDocument(kReceiptSigningContext, noHashes, hq.identity.signing.secretKey)),
         "does not verify against this laptop's copies"},
        {"HQ's signature over other bytes than the laptop's",
         sealBundleFile(kReceiptMagic, devicePublic,
                        signDocument(kReceiptSigningContext, otherBytes, hq.identity.signing.secretKey)),
         "with other bytes than this laptop holds (HQ's hash eeeeeeeeeeee"},
        {"a malformed hash",
         sealBundleFile(kReceiptMagic, devicePublic,
                        signDocument(kReceiptSigningContext, badHash, hq.identity.signing.secretKey)),
         "[record id, revision, hash]"},
        {"a report this laptop does not hold",
         sealBundleFile(kReceiptMagic, devicePublic,
                        signDocument(kReceiptSigningContext, unknown, hq.identity.signing.secretKey)),
         "does not hold"},
        {"HQ's signed device bundle, not a receipt",
         sealBundleFile(kReceiptMagic, devicePublic,
                        signDocument(kBundleSigningContext, doc, hq.identity.signing.secretKey)),
         "not made by this laptop's HQ"},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        auto e = lap.refusal(c.file);
        INFO(e.message);
        CHECK_THAT(e.message, Catch::Contains(c.says));
        CHECK(e.code == ErrorCode::BadInput);
    }
    CHECK(lap.queued() == 3);
    // The genuine receipt still applies afterwards.
    CHECK(lap.import(good).stored == 3);
    CHECK(lap.queued() == 0);
}

TEST_CASE("every bit of a receipt's key id flipped is a damaged header, not another laptop's file",
          "[sync][bundle]") {
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    lap.addReports(1);
    const std::string good = hq.import(lap.exportBundle().file).receiptFile;
    const std::size_t magic = std::string(kReceiptMagic).size();
    for (std::size_t i = 0; i < 16; ++i)
        for (int bit = 0; bit < 8; ++bit) {
            INFO("character " << i << ", bit " << bit);
            auto e = lap.refusal(withBitFlipped(good, magic + i, bit));
            CHECK_THAT(e.message,
                       Catch::Contains("header line is damaged") && !Catch::Contains("another laptop"));
        }
    CHECK(lap.import(good).stored == 1);
}

TEST_CASE("a version 1 bundle, made before the header check, is imported and answered in version 1",
          "[sync][bundle]") {
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    lap.addReports(2);
    const std::string v2 = lap.exportBundle().file;
    // The same sealed content with the version 1 envelope, as a laptop of the earlier format wrote it.
    const std::string v1 = sealBundleFile(kBundleMagicV1, hq.identity.signing.publicKey,
                                          openBundleFile(kBundleMagic, hq.identity.signing.secretKey, v2));
    CHECK(v1.rfind("OUTPOST-BUNDLE/1\n", 0) == 0);
    CHECK(bundleFileVersion(kBundleMagic, v1) == 1);
    CHECK(bundleFileVersion(kBundleMagic, v2) == 2);
    auto in = hq.import(v1);
    CHECK(in.stored == 2);
    // That laptop reads version 1 receipts only.
    CHECK(in.receiptFile.rfind("OUTPOST-RECEIPT/1\n", 0) == 0);
    const std::string header = in.receiptFile.substr(0, in.receiptFile.find('\n', kReceiptMagicV1.size()));
    CHECK(std::count(header.begin(), header.end(), ' ') == 1);  // "<key id> <length>", no check
    auto applied = lap.import(in.receiptFile);
    CHECK(applied.stored == 2);
    CHECK(lap.queued() == 0);
    lap.requireSound();
}

TEST_CASE(
    "a receipt whose feed page the laptop refuses still applies its outcomes, and tells the page was not",
    "[sync][bundle]") {
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    auto ids = lap.addReports(2);
    const std::string good = hq.import(lap.exportBundle().file).receiptFile;
    auto deviceKey = lap.store->deviceSecretKey().value();
    auto devicePublic = Bytes(deviceKey.begin() + 32, deviceKey.end());
    json doc =
        documentJson(splitSignedDocument(openBundleFile(kReceiptMagic, deviceKey, good)), "the receipt");
    // HQ's own signature over a page with a feedback entry this laptop cannot take (no review status).
    json& page = doc["pull"]["answer"];
    const std::int64_t q = page["next"].get<std::int64_t>() + 1;
    page["items"].push_back({{"q", q}, {"kind", "feedback"}, {"body", {{"record", ids[0]}, {"rev", 1}}}});
    page["next"] = q;
    page.erase("at");
    const std::int64_t cursorBefore = lap.snapshot().cursor;

    auto a =
        lap.import(sealBundleFile(kReceiptMagic, devicePublic,
                                  signDocument(kReceiptSigningContext, doc, hq.identity.signing.secretKey)));
    CHECK(a.stored == 2);
    CHECK(a.pullRefused);
    CHECK(a.pulled == 0);
    std::string notes;
    for (const auto& n : a.notes) notes += n + "\n";
    CHECK_THAT(notes, Catch::Contains("feed page could not be applied") && Catch::Contains("status"));
    CHECK(lap.queued() == 0);
    CHECK(lap.snapshot().cursor == cursorBefore);
    CHECK(lap.store->feedback().value().empty());
    lap.requireSound();
    // HQ's genuine receipt afterwards: the outcomes were applied before, its page applies now.
    auto again = lap.import(good);
    CHECK(again.alreadyDone == 2);
    CHECK_FALSE(again.pullRefused);
}

TEST_CASE("handleBundle: a nonce used before is no replay, and only push and pull travel", "[sync][bundle]") {
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    lap.addReports(2);
    auto b = lap.exportBundle();
    json doc = bundleDocument(hq, b.file);
    auto device = DeviceBundle::fromJson(doc);
    auto req = device.pushRequest(0);
    auto first = hq.service->handle(req);
    REQUIRE(first.status == 200);
    // Over the network a request replayed as is is refused; in a bundle it gets the recorded results.
    auto replay = hq.service->handle(req);
    CHECK(replay.status == 409);
    CHECK_THAT(replay.body, Catch::Contains("replayed"));
    auto bundled = hq.service->handleBundle(req);
    CHECK(bundled.status == 200);
    CHECK(json::parse(bundled.body)["results"] == json::parse(first.body)["results"]);
    CHECK(hq.store->reportCount().value() == 2);
    // The other checks are the network's: a bad signature is still refused.
    auto bad = req;
    bad.headers["outpost-nonce"] = newNonce();
    CHECK(hq.service->handleBundle(bad).status == 401);

    Request hello;
    hello.method = "GET";
    hello.target = "/v1/hello";
    hello.headers["outpost-protocol"] = "2";
    CHECK(hq.service->handle(hello).status == 200);
    CHECK(hq.service->handleBundle(hello).status == 404);
}

TEST_CASE("a bundled revision whose signature does not verify is rejected at HQ and the others are stored",
          "[sync][bundle][signature]") {
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    lap.addReports(3, kMarker);
    const std::string good = lap.exportBundle().file;
    // A forger with the laptop's request key but changing a report after the device signed it: the
    // bundle and the push are signed again, the revision's own signature is the original one.
    json doc = bundleDocument(hq, good);
    auto sk = lap.store->deviceSecretKey().value();
    auto body = base64Decode(doc["pushes"][0]["body"].get<std::string>()).value();
    auto push =
        PushRequest::fromJson(json::parse(zstdDecompress(std::string(body.begin(), body.end()), 1 << 24)));
    REQUIRE(push.items.size() == 3);
    REQUIRE_FALSE(push.items[1].signature.empty());
    push.items[1].payload["notes"] = "changed after signing";
    push.items[2].signature = {};  // and one sent unsigned
    std::string newBody = zstdCompress(push.toJson().dump());
    std::string nonce = newNonce();
    doc["pushes"][0]["nonce"] = nonce;
    doc["pushes"][0]["sig"] =
        base64Encode(sign(sk, signingString("POST", "/v1/push", lap.deviceId(), nonce, newBody)));
    doc["pushes"][0]["body"] = base64Encode(Bytes(newBody.begin(), newBody.end()));
    auto imported = hq.import(sealBundleFile(kBundleMagic, hq.identity.signing.publicKey,
                                             signDocument(kBundleSigningContext, doc, sk)));
    CHECK(imported.stored == 1);
    CHECK(imported.rejected == 2);
    auto stored = hq.reports();
    CHECK(stored == std::set<std::string>{push.items[0].id + " r1"});
    // HQ's audit log has the push (with its counts) and the bundle import.
    auto entries = hq.store->audit(0, 100).value();
    REQUIRE(entries.size() >= 2);
    CHECK(entries.back().action == "bundle import");
    CHECK(json::parse(entries.back().detail)["rejected"] == 2);
    CHECK(entries[entries.size() - 2].action == "push");
}

TEST_CASE(
    "a bundle whose device or bundle id HQ cannot keep is refused as a bad file, and nothing is imported",
    "[sync][bundle]") {
    // Found by the bundle_content fuzz target: a NUL character in either id reached HQ's store, which
    // refuses it, and the import failed as an internal HQ failure; for the bundle id, only after its
    // reports were stored (the id goes into HQ's audit log last).
    Hq hq;
    Laptop lap;
    lap.enroll(hq);
    lap.addReports(3, kMarker);
    const std::string good = lap.exportBundle().file;
    auto sk = lap.store->deviceSecretKey().value();
    for (const char* member : {"device", "bundle"}) {
        INFO(member);
        json doc = bundleDocument(hq, good);
        doc[member] = std::string("0192a0b0\0-81a8", 14);
        auto e = hq.refusal(sealBundleFile(kBundleMagic, hq.identity.signing.publicKey,
                                           signDocument(kBundleSigningContext, doc, sk)));
        INFO(e.message);
        CHECK(e.domain == ErrorDomain::Input);
        CHECK(e.code == ErrorCode::BadInput);
        CHECK_THAT(e.message, Catch::Contains("NUL character"));
        CHECK(hq.store->reportCount().value() == 0);
    }
    // The bundle as the laptop made it is still imported whole.
    CHECK(hq.import(good).stored == 3);
}
