// The crash test's child: writes kitchen-sink records into a store until it is killed, announcing every
// finalize.
//
// Usage: outpost-crash-child <store-dir> <key-hex> <seed>
// Output (one write(2) per line, so what the parent reads is exactly what happened before the kill):
//   > <op>                about to call a store write (open, create, save, amend, finalize)
//   < <op>                that call returned successfully
//   final <id> <rev>      finalize returned successfully: the parent holds the store to this
//   error <text>          an unexpected failure; the child exits with status 2
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "storage/store.hpp"

using namespace outpost;
using namespace outpost::storage;
using json = nlohmann::json;

namespace {

constexpr const char* kForm = "kitchen-sink";

void say(std::string line) {
    line += '\n';
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(STDOUT_FILENO, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            ::_exit(3);
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

[[noreturn]] void fail(const std::string& what, const Error& e) {
    std::string msg = e.message;
    for (auto& c : msg)
        if (c == '\n') c = ' ';
    say("error " + what + ": " + msg);
    ::_exit(2);
}

template <typename T>
T need(Result<T> r, const std::string& what) {
    if (!r.ok()) fail(what, r.error());
    return std::move(r).value();
}

DataKey keyFromHex(const std::string& hex) {
    if (hex.size() != 2 * DataKey::kSize) {
        say("error the key must be " + std::to_string(2 * DataKey::kSize) + " hex digits");
        ::_exit(2);
    }
    unsigned char b[DataKey::kSize];
    for (std::size_t i = 0; i < DataKey::kSize; ++i)
        b[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    return DataKey::fromBytes(b, DataKey::kSize);
}

class Writer {
public:
    Writer(Store& store, std::uint64_t seed) : m_store(store), m_rng(seed) {
        // A laptop writes its own unit's reports only (finalize refuses another unit's).
        m_units.push_back(store.unitId());
    }

    void run() {
        for (;;) {
            int pick = below(100);
            if (pick < 15 && amendOne()) continue;
            if (pick < 25 && finishLeftoverDraft()) continue;
            writeNew();
        }
    }

private:
    int below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(m_rng); }

    // Payload sizes vary from a few hundred bytes to several pages, so commits touch different page counts.
    json payload(const std::string& title) {
        static const char* kWords[] = {"patrol", "convoy", "checkpoint", "river", "bridge", "fuel",
                                       "water",  "escort", "market",     "road",  "clinic", "school",
                                       "rain",   "mud",    "generator",  "radio"};
        json p;
        p["unit"] = m_units.empty()
                        ? std::string()
                        : m_units[static_cast<std::size_t>(below(static_cast<int>(m_units.size())))];
        p["title"] = title;
        p["count"] = below(101);
        p["day"] = "2026-" + std::string(below(2) ? "10" : "11") + "-" + std::to_string(10 + below(18));
        p["kind"] = below(2) ? "alpha" : "bravo";
        p["tags"] = below(2) ? json::array({"x"}) : json::array({"y", "z"});
        json lines = json::array();
        for (int i = 0, n = 1 + below(5); i < n; ++i) {
            int qty = 1 + below(50);
            lines.push_back({{"qty", qty}, {"ok", below(qty + 1)}});
        }
        p["lines"] = lines;
        std::string notes;
        for (int i = 0, n = below(6) == 0 ? 200 + below(600) : below(40); i < n; ++i)
            notes += std::string(i ? " " : "") + kWords[below(16)];
        if (!notes.empty()) p["notes"] = notes;
        return p;
    }

    std::string title() {
        return "Report " + std::to_string(++m_serial) + " seed " + std::to_string(m_rng() % 100000);
    }

    void finalizeAndAnnounce(const std::string& id) {
        say("> finalize");
        auto f = need(m_store.finalize(id), "finalize " + id);
        say("final " + f.meta.id + " " + std::to_string(f.meta.revision));
    }

    void writeNew() {
        say("> create");
        json first = payload(title());
        first.erase("count");  // a draft may be incomplete
        auto d = need(m_store.createDraft(kForm, first), "createDraft");
        say("< create");
        say("> save");
        need(m_store.saveDraft(d.meta.id, payload(title())), "saveDraft " + d.meta.id);
        say("< save");
        finalizeAndAnnounce(d.meta.id);
    }

    // Amends an earlier final record; when a killed run left its amendment half done, carries that one on.
    bool amendOne() {
        ListFilter f;
        f.formId = kForm;
        f.status = core::RecordStatus::Final;
        f.limit = 300;
        auto finals = need(m_store.list(f), "list finals");
        if (finals.empty()) return false;
        std::string id = finals[static_cast<std::size_t>(below(static_cast<int>(finals.size())))].id;
        say("> amend");
        auto a = m_store.amend(id);
        if (!a.ok() && a.error().code != ErrorCode::Conflict) fail("amend " + id, a.error());
        say("< amend");
        json p = need(m_store.get(id), "get " + id).payload;
        p["title"] = "Amended " + std::to_string(++m_serial);
        p["count"] = below(101);
        say("> save");
        need(m_store.saveDraft(id, p), "saveDraft (amendment) " + id);
        say("< save");
        finalizeAndAnnounce(id);
        return true;
    }

    bool finishLeftoverDraft() {
        ListFilter f;
        f.formId = kForm;
        f.status = core::RecordStatus::Draft;
        f.limit = 50;
        auto drafts = need(m_store.list(f), "list drafts");
        if (drafts.empty()) return false;
        const auto& m = drafts[static_cast<std::size_t>(below(static_cast<int>(drafts.size())))];
        json p = need(m_store.get(m.id), "get " + m.id).payload;
        p["title"] = "Finished " + std::to_string(++m_serial);
        p["count"] = below(101);
        say("> save");
        need(m_store.saveDraft(m.id, p), "saveDraft (leftover) " + m.id);
        say("< save");
        finalizeAndAnnounce(m.id);
        return true;
    }

    Store& m_store;
    std::mt19937_64 m_rng;
    std::vector<std::string> m_units;
    int m_serial = 0;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        say("error usage: outpost-crash-child <store-dir> <key-hex> <seed>");
        return 2;
    }
    DataKey key = keyFromHex(argv[2]);
    say("> open");
    auto store = need(Store::open(argv[1], key), "open");
    say("< open");
    Writer(*store, std::strtoull(argv[3], nullptr, 10)).run();
}
