// HQ's audit log, the part both backends share: the canonical form of an entry, its chain hash and
// HQ's signatures over entries and head, and the walk that verifies the whole log.
#include <sodium.h>

#include <map>
#include <string>
#include <vector>

#include "storage/crypto.hpp"
#include "storage/hq/store.hpp"
#include "storage/hq/store_detail.hpp"

namespace outpost::storage::hq {

namespace detail {

namespace {

constexpr const char* kEntryContext = "outpost hq audit entry\n";
constexpr const char* kHeadContext = "outpost hq audit head\n";
constexpr int kVerifyPage = 2000;

std::string signText(const std::vector<unsigned char>& secretKey, const std::string& message) {
    if (secretKey.size() != crypto_sign_SECRETKEYBYTES) return {};
    return toBase64(sign(secretKey, message));
}

bool verifyText(const std::vector<unsigned char>& publicKey, const std::string& message,
                const std::string& signature) {
    auto sig = fromBase64(signature);
    return sig && verify(publicKey, message, *sig);
}

std::string headMessage(std::int64_t count, const std::string& hash) {
    return std::string(kHeadContext) + std::to_string(count) + "\n" + hash;
}

}  // namespace

std::string auditCanonical(const AuditEntry& e) {
    json j = json::array({e.seq, e.atUtc, e.actor, e.action, e.subject, e.detail});
    return j.dump(-1, ' ', false, json::error_handler_t::strict);
}

std::string auditHash(const std::string& prevHash, const AuditEntry& e) {
    return blake2b256Hex(prevHash + auditCanonical(e));
}

AuditEntry makeAuditEntry(const AuditHead& head, const std::string& actor, const std::string& action,
                          const std::string& subject, const json& detail, const std::string& nowUtc,
                          const std::vector<unsigned char>& secretKey) {
    ensureSodium();
    checkText(actor, "the audit actor");
    checkText(action, "the audit action");
    checkText(subject, "the audit subject");
    checkText(nowUtc, "the time");
    AuditEntry e;
    e.seq = head.count + 1;
    e.atUtc = nowUtc;
    e.actor = actor;
    e.action = action;
    e.subject = subject;
    e.detail = jsonText(detail.is_null() ? json::object() : detail, "the audit detail");
    e.prevHash = head.hash;
    e.hash = auditHash(e.prevHash, e);
    e.signature = signText(secretKey, kEntryContext + e.hash);
    return e;
}

AuditHead headAfter(const AuditEntry& e, const std::vector<unsigned char>& secretKey) {
    return AuditHead{e.seq, e.hash, signText(secretKey, headMessage(e.seq, e.hash))};
}

std::string auditHeadText(const AuditHead& h) {
    return json{{"count", h.count}, {"hash", h.hash}, {"sig", h.signature}}.dump();
}

AuditHead auditHeadFrom(const std::optional<std::string>& text) {
    AuditHead h;
    if (!text) return h;
    json j = json::parse(*text, nullptr, false);
    if (!j.is_object() || !j.contains("count") || !j["count"].is_number_integer() || !j.contains("hash") ||
        !j["hash"].is_string() || !j.contains("sig") || !j["sig"].is_string())
        throw Failure(ErrorDomain::Storage, ErrorCode::Corrupt, "the audit log's head is damaged");
    h.count = j["count"].get<std::int64_t>();
    h.hash = j["hash"].get<std::string>();
    h.signature = j["sig"].get<std::string>();
    return h;
}

}  // namespace detail

json ingestAuditDetail(const std::vector<IncomingItem>& items, const std::vector<ItemOutcome>& results) {
    std::map<std::string, std::int64_t> counts{
        {"stored", 0}, {"duplicate", 0}, {"conflict", 0}, {"rejected", 0}};
    json list = json::array();
    for (std::size_t i = 0; i < items.size() && i < results.size(); ++i) {
        const std::string status(core::toText(results[i].status));
        ++counts[status];
        list.push_back(json::array({items[i].recordId, items[i].revision, status}));
    }
    json d = json::object();
    for (const auto& [k, v] : counts) d[k] = v;
    d["items"] = std::move(list);
    return d;
}

Result<AuditCheck> verifyAudit(HqStore& store, const std::vector<unsigned char>& publicKey) {
    return tryCatch([&]() -> AuditCheck {
        ensureSodium();
        using namespace detail;
        AuditCheck c;
        auto bad = [&](std::int64_t seq, std::string why) {
            if (c.firstBad == 0 && seq > 0) c.firstBad = seq;
            c.problems.push_back(std::move(why));
        };
        auto head = store.auditHead();
        if (!head) throw Failure(head.error());
        std::string prev;
        std::int64_t expected = 1;
        std::int64_t after = 0;
        for (;;) {
            auto page = store.audit(after, kVerifyPage);
            if (!page) throw Failure(page.error());
            for (const auto& e : *page) {
                const std::string name = "audit entry " + std::to_string(e.seq);
                if (c.problems.empty()) {
                    if (e.seq != expected)
                        bad(expected, "audit entry " + std::to_string(expected) +
                                          " is missing (the next entry is " + std::to_string(e.seq) +
                                          "): entries were deleted");
                    else if (e.prevHash != prev)
                        bad(e.seq,
                            name + " does not follow entry " + std::to_string(e.seq - 1) +
                                " (its previous hash differs): entries were deleted, swapped or edited");
                    else if (auditHash(e.prevHash, e) != e.hash)
                        bad(e.seq, name + " was edited (its hash does not match its content)");
                    else if (e.signature.empty())
                        bad(e.seq, name + " is not signed by HQ");
                    else if (!verifyText(publicKey, kEntryContext + e.hash, e.signature))
                        bad(e.seq, name + "'s signature does not verify with HQ's key (forged or edited)");
                }
                prev = e.hash;
                expected = e.seq + 1;
                after = e.seq;
                ++c.entries;
            }
            if (page->size() < static_cast<std::size_t>(kVerifyPage)) break;
        }
        if (c.problems.empty() && c.entries == 0 && head->count == 0) {
            // Nothing to chain, but the store holds what audited writes made: the log was removed.
            auto heads = store.heads();
            if (!heads) throw Failure(heads.error());
            auto devices = store.devices();
            if (!devices) throw Failure(devices.error());
            if (heads->reports > 0 || heads->feed > 0 || !devices->empty())
                bad(1,
                    "the audit log is empty but the store holds devices, reports or feed entries: the log "
                    "was removed (or the store predates it)");
        }
        if (c.problems.empty()) {
            if (head->count != c.entries)
                bad(std::min(head->count, c.entries) + 1,
                    "the audit log has " + std::to_string(c.entries) + " entries but its signed head says " +
                        std::to_string(head->count) +
                        ": the newest entries were deleted or added outside HQ");
            else if (head->hash != prev)
                bad(c.entries, "the audit log's newest entry is not the one its signed head names");
            else if (c.entries > 0 &&
                     !verifyText(publicKey, headMessage(head->count, head->hash), head->signature))
                bad(c.entries, "the audit log's head signature does not verify with HQ's key");
        }
        return c;
    });
}

}  // namespace outpost::storage::hq
