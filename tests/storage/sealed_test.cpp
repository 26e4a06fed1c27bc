// Sealed sensitive sections: sealing to several conduct keys, opening, tampering, HQ's signed key list,
// the officers' key files; and the field store's side (sealed at finalize, held back without keys, purged
// after HQ's receipt).
//
// [SECTION] the field store
#include <catch2/catch.hpp>

#include <sodium.h>
#include <sqlite3.h>

#include "core/builtin.hpp"
#include "core/form.hpp"
#include "core/sensitive.hpp"
#include "storage/recovery.hpp"
#include "storage/sealed.hpp"
#include "storage/store.hpp"
#include "support/test_support.hpp"

using namespace outpost;
using namespace outpost::storage;
using outpost::test::TempDir;
using json = nlohmann::json;

namespace {

const KdfParams kFast{1, 8192};

json example(const std::string& name) {
    return json::parse(test::readFile(test::sourcePath("examples/" + name + ".json")));
}

struct Officer {
    ConductSecret secret;
    ConductKey key() const { return secret.key; }
};

Officer officer(const std::string& name) {
    auto made = makeConductKey(name, "officer passphrase", "2026-11-28T04:00:00Z", kFast);
    return Officer{openConductKeyFile(made.fileText, "officer passphrase")};
}

// HQ's Ed25519 signing pair, as HQ's identity holds it.
struct HqSigner {
    Bytes pk = Bytes(crypto_sign_PUBLICKEYBYTES);
    Bytes sk = Bytes(crypto_sign_SECRETKEYBYTES);
    HqSigner() { crypto_sign_keypair(pk.data(), sk.data()); }
    json list(std::int64_t version, const std::vector<ConductKey>& keys) const {
        return signConductKeyDocument(conductKeyDocument(version, keys), sk);
    }
};

const core::FormDef& incidentForm() {
    static core::FormRegistry reg = core::builtinForms(core::ReferenceData::demo());
    return *reg.latest("incident");
}

}  // namespace

TEST_CASE("sealed: the sensitive section comes out of a payload whole, and goes back", "[core][sealed]") {
    const auto& form = incidentForm();
    json p = example("incident-sea");
    const json original = p;
    auto paths = core::sensitivePathsWithValues(form, p);
    REQUIRE_FALSE(paths.empty());
    CHECK(std::find(paths.begin(), paths.end(), "victim_reference") != paths.end());
    json part = core::takeSensitive(form, p);
    CHECK(part["victim_reference"] == original["victim_reference"]);
    CHECK(core::sensitivePathsWithValues(form, p).empty());
    CHECK(p["description"] == original["description"]);
    core::putSensitive(form, p, part);
    CHECK(p == original);
    // A form without a sensitive section gives nothing.
    json plain = example("incident");
    CHECK(core::takeSensitive(form, plain).empty() ==
          core::sensitivePathsWithValues(form, example("incident")).empty());
    // HQ's rules for a sealed section: its fields are no longer required; nothing else changes.
    auto relaxed = core::withSealedSection(form);
    for (const auto& f : relaxed.fields)
        if (f.sensitive) {
            CHECK_FALSE(f.required);
            CHECK(f.requiredIf.empty());
        }
    CHECK(relaxed.field("description")->required == form.field("description")->required);
}

TEST_CASE("sealed: a part opens with each recipient's key and with no other", "[storage][sealed]") {
    auto a = officer("Officer A");
    auto b = officer("Officer B");
    auto outsider = officer("Not a recipient");
    json part = {{"victim_reference", "CDT-26-0042"}, {"sea_notes", "marker-sealed-notes"}};
    const std::string ctx = sealedContext("rec-1", 2, "incident", 1);
    Bytes blob = sealPart(part, {a.key(), b.key()}, ctx);
    std::string asText(blob.begin(), blob.end());
    CHECK(asText.find("marker-sealed-notes") == std::string::npos);
    CHECK(asText.find("CDT-26-0042") == std::string::npos);
    CHECK(blob.size() % 256 > 0);  // header + padded body: the size is in steps of 256
    CHECK(sealedRecipients(blob) == std::vector<std::string>{a.key().id, b.key().id});
    CHECK(openPart(blob, a.key().publicKey, a.secret.secretKey, ctx) == part);
    CHECK(openPart(blob, b.key().publicKey, b.secret.secretKey, ctx) == part);

    SECTION("a key it was not sealed to") {
        try {
            openPart(blob, outsider.key().publicKey, outsider.secret.secretKey, ctx);
            FAIL("opened with a key it was not sealed to");
        } catch (const Failure& f) {
            CHECK(f.error().code == ErrorCode::WrongKey);
            CHECK_THAT(f.error().message, Catch::Contains(outsider.key().id));
        }
    }
    SECTION("moved to another revision or record") {
        for (const auto& other :
             {sealedContext("rec-1", 3, "incident", 1), sealedContext("rec-2", 2, "incident", 1)}) {
            try {
                openPart(blob, a.key().publicKey, a.secret.secretKey, other);
                FAIL("opened in another context");
            } catch (const Failure& f) {
                CHECK(f.error().code == ErrorCode::Corrupt);
            }
        }
    }
    SECTION("any byte changed") {
        for (std::size_t at : {std::size_t{4}, std::size_t{10}, blob.size() / 2, blob.size() - 1}) {
            Bytes bad = blob;
            bad[at] ^= 0x01;
            CHECK_THROWS_AS(openPart(bad, a.key().publicKey, a.secret.secretKey, ctx), Failure);
        }
        Bytes cut(blob.begin(), blob.begin() + 40);
        CHECK_THROWS_WITH(sealedRecipients(cut), Catch::Contains("truncated"));
        CHECK_THROWS_WITH(sealedRecipients(Bytes{'x', 'y'}), Catch::Contains("not a sealed section"));
    }
    SECTION("no recipient") {
        CHECK_THROWS_WITH(sealPart(part, {}, ctx), Catch::Contains("at least one HQ conduct key"));
    }
}

TEST_CASE("sealed: HQ's key list is taken only with HQ's signature", "[storage][sealed]") {
    HqSigner hq, other;
    auto a = officer("Officer A");
    auto b = officer("Officer B");
    ConductKey retired = b.key();
    retired.retiredUtc = "2026-11-28T05:00:00Z";
    json doc = hq.list(2, {a.key(), retired});
    auto list = readConductKeyDocument(doc, hq.pk);
    CHECK(list.version == 2);
    REQUIRE(list.keys.size() == 2);
    REQUIRE(list.active().size() == 1);
    CHECK(list.active()[0].id == a.key().id);
    CHECK_THROWS_WITH(readConductKeyDocument(doc, other.pk),
                      Catch::Contains("not signed by this laptop's HQ"));
    json swapped = doc;
    swapped["keys"][0]["pk"] = toBase64(b.key().publicKey);  // an attacker's key in place of the officer's
    CHECK_THROWS_AS(readConductKeyDocument(swapped, hq.pk), Failure);
    json unsignedDoc = doc;
    unsignedDoc.erase("sig");
    CHECK_THROWS_WITH(readConductKeyDocument(unsignedDoc, hq.pk), Catch::Contains("\"sig\""));
}

TEST_CASE("sealed: an officer's key file opens only with the officer's passphrase", "[storage][sealed]") {
    auto made = makeConductKey("Officer A", "officer passphrase", "2026-11-28T04:00:00Z", kFast);
    CHECK(made.fileText.find("officer passphrase") == std::string::npos);
    try {
        openConductKeyFile(made.fileText, "wrong passphrase");
        FAIL("opened with a wrong passphrase");
    } catch (const Failure& f) {
        CHECK(f.error().code == ErrorCode::WrongKey);
        CHECK_THAT(f.error().message, Catch::Contains(made.key.id));
    }
    CHECK_THROWS_WITH(openConductKeyFile("{\"type\":\"something else\"}", "x"),
                      Catch::Contains("not an Outpost conduct key file"));
    CHECK_THROWS_WITH(openConductKeyFile("not json", "x"),
                      Catch::Contains("not an Outpost conduct key file"));
    json f = json::parse(made.fileText);
    auto other = makeConductKey("Officer B", "officer passphrase", "2026-11-28T04:00:00Z", kFast);
    f["pk"] = json::parse(other.fileText)["pk"];
    CHECK_THROWS_WITH(openConductKeyFile(f.dump(), "officer passphrase"), Catch::Contains("does not match"));
    CHECK_THROWS_WITH(makeConductKey("Officer C", "short", "2026-11-28T04:00:00Z", kFast),
                      Catch::Contains("at least 8 characters"));
}

// [SECTION] the field store
namespace {

std::string firstUnit() {
    return core::ReferenceData::demo().table("units")[0]["id"];
}

struct Laptop {
    TempDir t;
    std::string dir = t.sub("store");
    HqSigner hq;
    std::unique_ptr<Store> s;
    Laptop() {
        InitOptions io;
        io.unitId = firstUnit();
        io.user = "cfp.one";
        io.role = core::Role::ConductFocalPoint;
        io.kdf = kFast;
        REQUIRE(Store::create(dir, "focal point pass", io).ok());
        auto who = Store::signIn(dir, "cfp.one", "focal point pass");
        REQUIRE(who.ok());
        StoreOptions o;
        o.account = who->account;
        auto opened = Store::open(dir, who->key, o);
        REQUIRE(opened.ok());
        s = std::move(opened).value();
        SyncConfig c;
        c.hqUrl = "https://127.0.0.1:1";
        c.pin = "pinpinpinpinpinpinpinpinpinpinpinpinpinpinp";
        c.deviceId = "dev-sealed";
        c.hqId = "hq";
        c.hqSignKey = toBase64(hq.pk);
        c.epoch = "e1";
        REQUIRE(s->saveEnrollment(c, Bytes(64, 7)).ok());
    }
    std::string finalSea() {
        json p = example("incident-sea");
        p["sea_notes"] = "marker-store-sealed-notes";
        auto d = s->createDraft("incident", p);
        INFO((d ? "" : d.error().message));
        REQUIRE(d.ok());
        auto f = s->finalize(d->meta.id);
        INFO((f ? "" : f.error().message));
        REQUIRE(f.ok());
        return d->meta.id;
    }
    void pullKeys(std::int64_t seq, const json& doc) {
        auto r = s->applyPull({{seq, "conduct-keys", doc}}, seq);
        INFO((r ? "" : r.error().message));
        REQUIRE(r.ok());
    }
};

}  // namespace

TEST_CASE("sealed: a finalized SEA section waits for HQ's keys, goes sealed, and is purged after the receipt",
          "[storage][sealed]") {
    Laptop l;
    auto a = officer("Officer A");
    std::string id = l.finalSea();
    // No key yet: the section left the record, and the revision is held back.
    auto rec = l.s->get(id);
    REQUIRE(rec.ok());
    CHECK_FALSE(rec->payload.contains("victim_reference"));
    CHECK_FALSE(rec->payload.contains("sea_notes"));
    CHECK(rec->payload.contains("description"));
    CHECK(l.s->sealedSection(id, 1)->state == "waiting");
    CHECK(*l.s->waitingSealedCount() == 1);
    CHECK(l.s->nextOutgoing(10)->empty());

    // A key list not signed by this laptop's HQ changes nothing, and the page is refused whole.
    HqSigner impostor;
    auto bad = l.s->applyPull({{1, "conduct-keys", impostor.list(1, {a.key()})}}, 1);
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error().message, Catch::Contains("not signed by this laptop's HQ"));
    CHECK(l.s->syncConfig()->value().pullCursor == 0);
    CHECK(l.s->conductKeys()->empty());

    l.pullKeys(1, l.hq.list(1, {a.key()}));
    CHECK(l.s->conductKeys()->size() == 1);
    auto sec = l.s->sealedSection(id, 1);
    CHECK(sec->state == "sealed");
    CHECK(sec->recipients == std::vector<std::string>{a.key().id});
    auto out = l.s->nextOutgoing(10);
    REQUIRE(out->size() == 1);
    const auto& item = out->at(0);
    CHECK(item.payloadText.find("marker-store-sealed-notes") == std::string::npos);
    CHECK(item.payloadText.find("victim_reference") == std::string::npos);
    REQUIRE_FALSE(item.sealedPart.empty());
    CHECK(item.sealedHash.size() == 64);
    json opened = openPart(item.sealedPart, a.key().publicKey, a.secret.secretKey,
                           sealedContext(id, 1, "incident", item.formVersion));
    CHECK(opened["sea_notes"] == "marker-store-sealed-notes");
    CHECK(opened["victim_reference"] == example("incident-sea")["victim_reference"]);

    // A new revision sealed right at finalize, now that the key is known.
    std::string second = l.finalSea();
    CHECK(l.s->sealedSection(second, 1)->state == "sealed");

    // HQ's receipt: the sealed copy goes, the hash stays, and the envelope is the same without it.
    PushOutcome o;
    o.outboxSeq = item.outboxSeq;
    o.status = core::ItemStatus::Stored;
    o.hqSeq = 1;
    o.hash = std::string(64, 'a');
    REQUIRE(l.s->applyPushOutcomes("b1", {o}, "{}").ok());
    sec = l.s->sealedSection(id, 1);
    CHECK(sec->state == "purged");
    CHECK(sec->hash == item.sealedHash);
    REQUIRE(l.s->beginResync("e2").ok());  // a restored HQ: everything goes again
    auto again = l.s->nextOutgoing(10);
    bool found = false;
    for (const auto& i : *again)
        if (i.recordId == id) {
            found = true;
            CHECK(i.sealedHash == item.sealedHash);
            CHECK(i.sealedPart.empty());
        }
    CHECK(found);
    CHECK(l.s->verify()->empty());
    // Nowhere in the file: the values were sealed under HQ's key and then the store key.
    std::string file = test::readFile(l.dir + "/outpost.db");
    CHECK(file.find("marker-store-sealed-notes") == std::string::npos);
}

TEST_CASE("sealed: an amendment need not repeat a sealed section, and a retired key is no longer sealed to",
          "[storage][sealed]") {
    Laptop l;
    auto a = officer("Officer A");
    auto b = officer("Officer B");
    l.pullKeys(1, l.hq.list(1, {a.key()}));
    std::string id = l.finalSea();
    REQUIRE(l.s->amend(id).ok());
    json draft = l.s->get(id)->payload;
    CHECK_FALSE(draft.contains("victim_reference"));
    draft["description"] = draft["description"].get<std::string>() + " Update: the inquiry has started.";
    REQUIRE(l.s->saveDraft(id, draft).ok());
    auto f = l.s->finalize(id);
    INFO((f ? "" : f.error().message));
    REQUIRE(f.ok());
    CHECK(l.s->sealedSection(id, 2)->state.empty());  // HQ keeps r1's sealed section

    // Rotation: B added, A retired. New sections go to B only.
    ConductKey retiredA = a.key();
    retiredA.retiredUtc = "2026-11-28T06:00:00Z";
    l.pullKeys(2, l.hq.list(2, {retiredA, b.key()}));
    std::string later = l.finalSea();
    CHECK(l.s->sealedSection(later, 1)->recipients == std::vector<std::string>{b.key().id});
    // An older list arriving late does not bring A back.
    l.pullKeys(3, l.hq.list(1, {a.key()}));
    REQUIRE(l.s->conductKeys()->size() == 1);
    CHECK(l.s->conductKeys()->at(0).id == b.key().id);
}
