// Sync against the real outpost-hq process over TLS on 127.0.0.1, on both HQ stores, with every
// failure of shared/lessons.md provoked on purpose. Each test ends with the exactly-once check.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "core/uuid.hpp"
#include "e2e/e2e_support.hpp"
#include "support/skip_policy.hpp"
#include "sync/http_client.hpp"
#include "sync/protocol.hpp"
#include "testbed/link_emulator.hpp"

using namespace outpost;
using namespace outpost::test;
using namespace std::chrono_literals;

namespace {

const char* kUnit = "MINUSCA-RWABATT-1";

std::string backendUnderTest() {
    return GENERATE(as<std::string>{}, "sqlite", "postgres");
}

// A link emulator in front of the HQ, shaped as asked, running until the object goes.
struct Link {
    std::unique_ptr<LinkEmulator> emu;
    Link(const Hq& hq, LinkShape up, LinkShape down) {
        LinkOptions o;
        o.targetPort = hq.proc->port();
        o.up = up;
        o.down = down;
        o.maxSeconds = 300;
        emu = std::make_unique<LinkEmulator>(o);
        emu->start();
    }
    std::string url() const { return "https://127.0.0.1:" + std::to_string(emu->port()); }
};

// A small tmpfs mounted for one test, holding a PostgreSQL tablespace that a test database's new tables
// go to: a disk that really fills. Mounting needs root (CI runs as root); mount() says why when it is
// refused. The destructor drops the database and the tablespace and unmounts, whatever the test did.
class TmpfsTablespace {
public:
    static std::unique_ptr<TmpfsTablespace> mount(std::uint64_t bytes, std::string& why) {
        auto& pg = PgCluster::shared();
        std::unique_ptr<TmpfsTablespace> t(new TmpfsTablespace);
        std::string tmpl = (std::filesystem::temp_directory_path() / "outpost-full-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) {
            why = std::string("mkdtemp: ") + std::strerror(errno);
            return nullptr;
        }
        t->m_dir = tmpl;
        const std::string opts = "size=" + std::to_string(bytes) +
                                 ",mode=0700,uid=" + std::to_string(pg.ownerUid()) +
                                 ",gid=" + std::to_string(pg.ownerGid());
        if (::mount("outpost-test-full", t->m_dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    opts.c_str()) != 0) {
            why = "mount -t tmpfs -o " + opts + " " + t->m_dir + ": " + std::strerror(errno);
            return nullptr;  // the destructor removes the folder
        }
        t->m_mounted = true;
        static std::atomic<int> counter{0};
        t->m_name = "outpost_full_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
        pg.execute("CREATE TABLESPACE " + t->m_name + " LOCATION '" + t->m_dir + "'");
        t->m_created = true;
        return t;
    }
    ~TmpfsTablespace() {
        auto& pg = PgCluster::shared();
        freeUp();
        try {
            if (!m_database.empty()) pg.execute("DROP DATABASE IF EXISTS " + m_database + " WITH (FORCE)");
            if (m_created) pg.execute("DROP TABLESPACE IF EXISTS " + m_name);
        } catch (const std::exception& e) {
            WARN("cleaning up the full-disk tablespace: " << e.what());
        }
        if (m_mounted) ::umount2(m_dir.c_str(), MNT_DETACH);
        ::rmdir(m_dir.c_str());
    }
    TmpfsTablespace(const TmpfsTablespace&) = delete;
    TmpfsTablespace& operator=(const TmpfsTablespace&) = delete;

    // Every table the database's next sessions create goes to the tmpfs; the database is dropped with it.
    void holdDatabase(const std::string& uri) {
        m_database = uri.substr(uri.rfind('/') + 1);
        PgCluster::shared().execute("ALTER DATABASE " + m_database + " SET default_tablespace = " + m_name);
    }
    std::uint64_t freeBytes() const {
        struct statvfs v {};
        if (::statvfs(m_dir.c_str(), &v) != 0) return 0;
        return static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
    }
    // A filler file takes every free byte (the database can no longer grow its files).
    void fill() {
        int fd = ::open(filler().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        std::string chunk(1 << 20, 'x');
        for (std::size_t size : {std::size_t{1} << 20, std::size_t{4096}, std::size_t{1}})
            while (::write(fd, chunk.data(), size) > 0) {
            }
        ::close(fd);
    }
    void freeUp() { ::unlink(filler().c_str()); }

private:
    TmpfsTablespace() = default;
    std::string filler() const { return m_dir + "/filler"; }
    std::string m_dir, m_name, m_database;
    bool m_mounted = false, m_created = false;
};

sync::ClientOptions quickOptions() {
    sync::ClientOptions o;
    o.connectTimeoutMs = 3000;
    o.lowSpeedBytes = 1;
    o.lowSpeedSeconds = 3;
    return o;
}

}  // namespace

TEST_CASE("a laptop's reports reach HQ exactly once and the queue drains") {
    auto backend = backendUnderTest();
    Hq hq(backend);
    Laptop lap(kUnit);
    lap.enroll(hq);
    lap.addReports(240);
    auto r = lap.sync();
    CHECK(r.ok);
    CHECK(r.progress.stored == 240);
    checkExactlyOnce(hq, {&lap});
    // A second pass finds nothing to send.
    auto again = lap.sync();
    CHECK(again.ok);
    CHECK(again.progress.itemsSent == 0);
    // Every revision holds a receipt signed by HQ.
    auto rc = lap.store->receiptCount();
    REQUIRE(rc.ok());
    CHECK(rc.value() == 240);
}

TEST_CASE("a connection cut mid-request in either direction loses and duplicates nothing") {
    auto backend = backendUnderTest();
    Hq hq(backend);
    Laptop lap(kUnit);
    lap.enroll(hq);
    std::mt19937 rng(7);
    int rounds = faultRounds(12);
    for (int i = 0; i < rounds; ++i) {
        lap.addReports(60);
        LinkShape up, down;
        std::uint64_t n = std::uniform_int_distribution<std::uint64_t>(100, 60000)(rng);
        bool cutReply = i % 2 == 1;  // odd rounds: HQ commits, the answer never arrives
        (cutReply ? down : up).cutAfterBytes = n;
        INFO("round " << i << (cutReply ? " cut down after " : " cut up after ") << n << " bytes");
        Link link(hq, up, down);
        lap.pointAt(link.url());
        (void)lap.sync(quickOptions());  // may fail: that is the point
    }
    lap.pointAt(hq.proc->url());
    CHECK(lap.sync().ok);
    checkExactlyOnce(hq, {&lap});
}

TEST_CASE("a stalled link is abandoned, and the queue drains when the link returns") {
    Hq hq(backendUnderTest());
    Laptop lap(kUnit);
    lap.enroll(hq);
    lap.addReports(400);
    LinkShape up;
    up.stallAfterBytes = 20000;
    up.stallMs = 120000;
    Link link(hq, up, {});
    lap.pointAt(link.url());
    auto t0 = std::chrono::steady_clock::now();
    auto r = lap.sync(quickOptions());
    CHECK_FALSE(r.ok);
    CHECK(std::chrono::steady_clock::now() - t0 <
          60s);  // aborted by the stall detector, not by the stall's end
    lap.pointAt(hq.proc->url());
    CHECK(lap.sync().ok);
    checkExactlyOnce(hq, {&lap});
}

TEST_CASE("HQ killed with SIGKILL at random points during ingest loses and duplicates nothing") {
    auto backend = backendUnderTest();
    Hq hq(backend);
    Laptop lap(kUnit);
    lap.enroll(hq);
    std::mt19937 rng(11);
    int rounds = faultRounds(backend == "sqlite" ? 100 : 40);
    for (int i = 0; i < rounds; ++i) {
        lap.addReports(40);
        std::atomic<bool> done{false};
        std::thread client([&] {
            (void)sync::syncOnce(*lap.store, quickOptions());
            done = true;
        });
        std::this_thread::sleep_for(
            std::chrono::microseconds(std::uniform_int_distribution<int>(0, 60000)(rng)));
        hq.proc->stop(SIGKILL);
        client.join();
        hq.proc->start();
    }
    CHECK(lap.sync().ok);
    checkExactlyOnce(hq, {&lap});
}

TEST_CASE("the laptop killed with SIGKILL at random points during sync loses and duplicates nothing") {
    auto backend = backendUnderTest();
    Hq hq(backend);
    TempDir home;
    const std::string passphrase = "correct horse battery";
    std::string storeDir = home.sub("store");
    {
        storage::InitOptions io;
        io.unitId = kUnit;
        io.user = "field.tester";
        io.kdf = storage::KdfParams{1, 8192};
        REQUIRE(Store::create(storeDir, passphrase, io).ok());
    }
    auto key = Store::unlock(storeDir, passphrase);
    REQUIRE(key.ok());
    auto openStore = [&] {
        auto s = Store::open(storeDir, key.value());
        REQUIRE(s.ok());
        return std::move(s.value());
    };
    {
        auto s = openStore();
        REQUIRE(sync::enroll(*s, hq.proc->url(), hq.proc->enroll(kUnit), "killed").ok());
    }
    std::mt19937 rng(5);
    // 100 kills against the SQLite HQ, 40 against PostgreSQL (its ingest is slower; the laptop's side,
    // where the kills land, is the same). OUTPOST_FAULT_ROUNDS sets both.
    int rounds = faultRounds(backend == "sqlite" ? 100 : 40);
    int killed = 0;
    for (int i = 0; i < rounds; ++i) {
        {
            auto s = openStore();
            outpost::demo::DemoData demo(s->reference(), 1000 + i);
            std::vector<nlohmann::json> p;
            for (int k = 0; k < 30; ++k) p.push_back(demo.next("training", kUnit));
            REQUIRE(s->importFinal("training", p).ok());
        }
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::setenv("OUTPOST_PASSPHRASE", passphrase.c_str(), 1);
            execl(OUTPOSTCTL, OUTPOSTCTL, "--store", storeDir.c_str(), "sync", static_cast<char*>(nullptr));
            _exit(127);
        }
        std::this_thread::sleep_for(
            std::chrono::microseconds(std::uniform_int_distribution<int>(0, 150000)(rng)));
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            ++killed;
        }
        auto s = openStore();
        auto v = s->verify();
        REQUIRE(v.ok());
        INFO("round " << i);
        REQUIRE(v.value().empty());  // every final revision is queued or has a receipt, whatever the moment
    }
    CHECK(killed > 0);
    // Recovery: one clean pass drains what the killed passes left.
    auto s = openStore();
    auto r = sync::syncOnce(*s);
    REQUIRE(r.ok());
    CHECK(r.value().ok);
    auto reps = hq.store()->reportCount();
    REQUIRE(reps.ok());
    CHECK(reps.value() == 30 * rounds);
    CHECK(s->outboxCounts().value().queued == 0);
    auto rc = s->receiptCount();
    REQUIRE(rc.ok());
    CHECK(rc.value() == 30 * rounds);
    auto hv = hq.store()->verify();
    REQUIRE(hv.ok());
    CHECK(hv.value().empty());
}

TEST_CASE(
    "a cloned laptop: both copies' reports arrive once, and a diverging revision is a visible conflict") {
    auto backend = backendUnderTest();
    Hq hq(backend);
    Laptop a(kUnit);
    a.enroll(hq);
    auto ids = a.addReports(30);
    CHECK(a.sync().ok);
    Laptop b(a, "clone");
    a.addReports(20);
    b.addReports(25);
    // The same record amended on both copies, differently.
    std::string shared;
    for (auto& id : ids) {
        auto rec = a.store->get(id);
        REQUIRE(rec.ok());
        if (rec.value().meta.formId == "training") {
            shared = id;
            break;
        }
    }
    REQUIRE(!shared.empty());
    for (auto* l : {&a, &b}) {
        auto d = l->store->amend(shared);
        REQUIRE(d.ok());
        auto rec = l->store->get(shared);
        REQUIRE(rec.ok());
        auto p = rec.value().payload;
        p["remarks"] = l == &a ? "Amended on the first laptop." : "Amended on the cloned laptop.";
        auto saved = l->store->saveDraft(shared, p);
        INFO((saved ? "" : saved.error().message));
        REQUIRE(saved.ok());
        REQUIRE(l->store->finalize(shared).ok());
    }
    CHECK(a.sync().ok);
    CHECK(b.sync().ok);
    CHECK(a.queued() == 0);
    CHECK(b.queued() == 0);
    auto conflicts = hq.store()->conflicts();
    REQUIRE(conflicts.ok());
    REQUIRE(conflicts.value().size() == 1);
    CHECK(conflicts.value()[0].recordId == shared);
    // HQ holds each revision once: the union of both laptops, with the amended revision from the first to
    // arrive.
    auto reps = hq.store()->reportCount();
    REQUIRE(reps.ok());
    auto fa = a.finals(), fb = b.finals();
    std::set<std::pair<std::string, int>> all(fa.begin(), fa.end());
    all.insert(fb.begin(), fb.end());
    CHECK(reps.value() == static_cast<std::int64_t>(all.size()));
    auto rb = b.store->receipt(shared, 2);
    REQUIRE(rb.ok());
    REQUIRE(rb.value().has_value());
    CHECK(rb.value()->status == core::ItemStatus::Conflict);
}

TEST_CASE("HQ restored from an older backup gets back what it lost") {
    // SQLite: `outpost-hq backup` and `restore` (a new epoch), or the files copied back by hand (the same
    // epoch). PostgreSQL, as docs/operations.md tells the operator: pg_dump -Fc, then dropdb, createdb,
    // pg_restore, and `outpost-hq rotate-epoch`; or without rotate-epoch (the same epoch). Where the epoch
    // is unchanged the laptop's last-receipt check finds out.
    auto [backend, how] = GENERATE(table<std::string, std::string>({{"sqlite", "restore-command"},
                                                                    {"sqlite", "files-copied-back"},
                                                                    {"postgres", "pg_restore+rotate-epoch"},
                                                                    {"postgres", "pg_restore-only"}}));
    INFO(backend << ", " << how);
    Hq hq(backend);
    Laptop lap(kUnit);
    lap.enroll(hq);
    lap.addReports(50);
    CHECK(lap.sync().ok);
    // A second laptop that sends nothing: HQ loses none of its receipts, only the feed it had pulled.
    Laptop quiet(kUnit, 2);
    quiet.enroll(hq, "quiet");
    CHECK(quiet.sync().ok);
    TempDir backup;
    // A form version pushed by HQ staff; its feed entry takes the next feed sequence number.
    auto pushForm = [&](const char* form) {
        auto def = nlohmann::json::parse(readFile(sourcePath(std::string("core/forms/") + form + ".json")));
        def["version"] = def["version"].get<int>() + 1;
        std::ofstream(backup.sub(std::string(form) + ".json")) << def.dump();
        auto push = hq.proc->admin({"forms", "push", backup.sub(std::string(form) + ".json")});
        INFO(push.out << push.err);
        REQUIRE(push.exitCode == 0);
        return def["version"].get<int>();
    };
    auto pgTool = [&](std::vector<std::string> argv) {
        auto& pg = PgCluster::shared();
        argv[0] = pg.binDir() + "/" + argv[0];
        auto r = runProgram(argv);
        INFO(argv[0] << ": " << r.out << r.err);
        REQUIRE(r.exitCode == 0);
    };
    const std::string dump = backup.sub("hq.dump");
    const std::string dbName = hq.dbUri.substr(hq.dbUri.rfind('/') + 1);
    const std::string pgPort = std::to_string(PgCluster::shared().port());
    if (backend == "sqlite") {
        auto b = hq.proc->admin({"backup", "--out", backup.sub("b")});
        INFO(b.out << b.err);
        REQUIRE(b.exitCode == 0);
    } else {
        pgTool({"pg_dump", "-Fc", "-f", dump, "-d", hq.dbUri});  // while HQ runs
    }
    auto epochBefore = hq.store()->epoch().value();
    lap.addReports(70);
    CHECK(lap.sync().ok);
    const int trainingVersion = pushForm("training");  // lost by the restore
    CHECK(quiet.sync().ok);
    CHECK(quiet.store->forms().latest("training")->version == trainingVersion);
    CHECK(lap.store->lastReceipt().value()->hqSeq == 120);
    hq.proc->stop();
    if (how == "restore-command") {
        auto r = hq.proc->admin({"restore", "--from", backup.sub("b")});
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
    } else if (how == "files-copied-back") {
        // An operator copying the files back by hand: the epoch is unchanged, the last-receipt check finds
        // out.
        namespace fs = std::filesystem;
        for (auto& e : fs::directory_iterator(backup.sub("b")))
            fs::copy(e.path(), fs::path(hq.proc->options().dataDir) / e.path().filename(),
                     fs::copy_options::overwrite_existing | fs::copy_options::recursive);
        for (const char* extra : {"hq.db-wal", "hq.db-shm"})
            fs::remove(fs::path(hq.proc->options().dataDir) / extra);
    } else {
        const std::vector<std::string> conn = {"-h", "127.0.0.1", "-p", pgPort, "-U", "outpost"};
        auto with = [&](std::vector<std::string> argv, std::vector<std::string> tail) {
            argv.insert(argv.end(), conn.begin(), conn.end());
            argv.insert(argv.end(), tail.begin(), tail.end());
            return argv;
        };
        pgTool(with({"dropdb"}, {dbName}));
        pgTool(with({"createdb"}, {dbName}));
        pgTool(with({"pg_restore", "--exit-on-error", "--no-owner", "-d", dbName}, {dump}));
        if (how == "pg_restore+rotate-epoch") {
            auto r = hq.proc->admin({"rotate-epoch"});
            INFO(r.out << r.err);
            REQUIRE(r.exitCode == 0);
            CHECK_THAT(r.out, Catch::Contains(epochBefore));
        }
        auto v = hq.proc->admin({"verify"});
        INFO(v.out << v.err);
        CHECK(v.exitCode == 0);
    }
    const bool newEpoch = how == "restore-command" || how == "pg_restore+rotate-epoch";
    CHECK((hq.store()->epoch().value() != epochBefore) == newEpoch);
    // After the restore, staff push another form: its feed entry reuses the lost entry's number.
    const int readinessVersion = pushForm("readiness");
    hq.proc->start();
    CHECK(hq.store()->reportCount().value() == 50);
    auto r = lap.sync();
    CHECK(r.ok);
    CHECK(r.resynced);
    CHECK(r.progress.stored == 70);
    CHECK(r.progress.duplicates == 50);
    checkExactlyOnce(hq, {&lap});
    // The next pass finds nothing more to do: no second resync.
    auto again = lap.sync();
    CHECK(again.ok);
    CHECK_FALSE(again.resynced);
    CHECK(again.progress.itemsSent == 0);
    // The quiet laptop lost no receipt, and its cursor points at a feed number the restored HQ may hold
    // again for another entry (the form pushed after the restore): HQ tells them apart by the entry's
    // identity the laptop sends with its cursor, so the laptop starts its feed again either way.
    auto q = quiet.sync();
    CHECK(q.ok);
    CHECK(q.resynced);
    CHECK(quiet.store->forms().latest("readiness")->version == readinessVersion);
    auto q2 = quiet.sync();
    CHECK(q2.ok);
    CHECK_FALSE(q2.resynced);
    checkExactlyOnce(hq, {&lap, &quiet});
}

TEST_CASE("a revoked device is refused and nothing more of it is stored") {
    auto backend = backendUnderTest();
    Hq hq(backend);
    Laptop lap(kUnit);
    lap.enroll(hq);
    lap.addReports(10);
    CHECK(lap.sync().ok);
    auto dev = lap.store->syncConfig().value()->deviceId;
    auto rv = hq.proc->admin({"revoke", "--device", dev});
    INFO(rv.out << rv.err);
    REQUIRE(rv.exitCode == 0);
    lap.addReports(10);
    auto r = lap.sync();
    CHECK_FALSE(r.ok);
    CHECK(r.revoked);
    CHECK(lap.store->syncConfig().value()->revoked);
    CHECK(hq.store()->reportCount().value() == 10);
    CHECK(lap.queued() == 10);  // kept on the laptop: nothing is lost, and nothing is sent
}

TEST_CASE("a poison record is quarantined with its reason and never blocks the queue") {
    Hq hq(backendUnderTest());
    Laptop lap(kUnit);
    lap.enroll(hq);
    lap.addReports(30);
    // A form version that only this laptop knows: HQ cannot validate it, so it rejects it.
    auto def = nlohmann::json::parse(readFile(sourcePath("core/forms/training.json")));
    def["version"] = def["version"].get<int>() + 40;
    REQUIRE(lap.store->installForm(def, "local").ok());
    auto poison = lap.demo->next("training", kUnit);
    auto d = lap.store->createDraft("training", poison);
    REQUIRE(d.ok());
    auto rec = lap.store->get(d.value().meta.id);
    REQUIRE(rec.ok());
    REQUIRE(rec.value().meta.formVersion == def["version"].get<int>());
    REQUIRE(lap.store->finalize(d.value().meta.id).ok());
    auto r = lap.sync();
    CHECK(r.progress.rejected == 1);
    CHECK(r.progress.stored == 30);
    auto counts = lap.store->outboxCounts().value();
    CHECK(counts.queued == 0);
    CHECK(counts.quarantined == 1);
    auto ob = lap.store->outbox().value();
    REQUIRE(ob.size() == 1);
    CHECK_THAT(ob[0].lastError, Catch::Contains("form"));
    // HQ learns the form; the user puts the item back in the queue; it goes through.
    TempDir t;
    std::ofstream(t.sub("training.json")) << def.dump();
    auto push = hq.proc->admin({"forms", "push", t.sub("training.json")});
    INFO(push.out << push.err);
    REQUIRE(push.exitCode == 0);
    REQUIRE(lap.store->requeue(ob[0].seq).ok());
    CHECK(lap.sync().ok);
    checkExactlyOnce(hq, {&lap});
}

TEST_CASE("a captive portal's 200 and an impostor HQ are failures, and the queue is kept") {
    auto backend = backendUnderTest();
    Hq hq(backend);
    Laptop lap(kUnit);
    lap.enroll(hq);
    lap.addReports(20);

    SECTION("a plain-HTTP portal answering 200 with a login page") {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        ::listen(fd, 8);
        std::atomic<bool> stop{false};
        std::thread portal([&] {
            while (!stop) {
                int c = ::accept(fd, nullptr, nullptr);
                if (c < 0) break;
                char buf[65536];
                (void)::read(c, buf, sizeof buf);
                std::string page = "<html><body>Please log in to the hotel Wi-Fi</body></html>";
                std::string resp =
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(page.size()) + "\r\n\r\n" + page;
                (void)::write(c, resp.data(), resp.size());
                ::close(c);
            }
        });
        lap.pointAt("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
        auto o = quickOptions();
        o.allowInsecureHttp = true;
        auto r = lap.sync(o);
        CHECK_FALSE(r.ok);
        CHECK(lap.queued() == 20);
        stop = true;
        ::shutdown(fd, SHUT_RDWR);
        ::close(fd);
        portal.join();
    }
    SECTION("another HTTPS server whose key is not the pinned one") {
        Hq impostor(backend);
        lap.pointAt(impostor.proc->url());
        auto r = lap.sync(quickOptions());
        CHECK_FALSE(r.ok);
        CHECK(lap.queued() == 20);
        CHECK(impostor.store()->reportCount().value() == 0);
    }
    SECTION("plain HTTP is refused without the development flag") {
        lap.pointAt("http://127.0.0.1:" + std::to_string(hq.proc->port()));
        auto r = sync::syncOnce(*lap.store, quickOptions());
        CHECK((!r.ok() || !r.value().ok));
        CHECK(lap.queued() == 20);
    }
    lap.pointAt(hq.proc->url());
    CHECK(lap.sync().ok);
    checkExactlyOnce(hq, {&lap});
}

TEST_CASE(
    "a full disk at HQ: answers 503, stores nothing half-way, and the queue drains once space returns") {
    // SQLite: the server runs with RLIMIT_FSIZE just above its store's size. PostgreSQL: the test
    // database's tables live in a tablespace on a 32 MiB tmpfs that a filler file fills; deleting the filler
    // gives the space back. Mounting needs root (CI runs as root): refused, the PostgreSQL run fails, unless
    // OUTPOST_ALLOW_SKIP=fulldisk, outside CI, lets it say SKIPPED (support/skip_policy.hpp).
    auto backend = backendUnderTest();
    std::unique_ptr<TmpfsTablespace> space;
    std::string db;
    if (backend == "postgres") {
        std::string why;
        space = TmpfsTablespace::mount(32ull << 20, why);
        if (!space) {
            cannotRunHere("fulldisk",
                          "cannot mount a small tmpfs for HQ's PostgreSQL database (needs root): " + why);
            return;
        }
        db = PgCluster::shared().createDatabase();
        space->holdDatabase(db);
    }
    Hq hq(backend, 0, db);
    Laptop lap(kUnit);
    lap.enroll(hq);
    lap.addReports(20);
    CHECK(lap.sync().ok);
    if (space) {
        space->fill();
        REQUIRE(space->freeBytes() == 0);
    } else {
        hq.proc->stop();
        // Room for a little more than the store holds now, not for 1,500 more reports.
        std::uint64_t size = 0;
        for (auto& e : std::filesystem::directory_iterator(hq.proc->options().dataDir))
            if (e.is_regular_file()) size = std::max<std::uint64_t>(size, e.file_size());
        hq.proc->options().fileSizeLimit = size + 256 * 1024;
        hq.proc->start();
    }
    lap.addReports(1500);
    auto r = lap.sync();
    CHECK_FALSE(r.ok);
    // HQ's answer was a 503 whose JSON error the laptop read (the code comes from the body).
    CHECK_THAT(r.progress.message, Catch::Contains("HQ answered 503 unavailable"));
    if (space) CHECK_THAT(r.progress.message, Catch::Contains("disk is full"));
    CHECK(lap.queued() > 0);
    // Nothing half-way: HQ holds exactly the reports it acknowledged, and its store is sound.
    {
        auto s = hq.store();
        CHECK(s->reportCount().value() == lap.store->receiptCount().value());
        auto v = s->verify();
        REQUIRE(v.ok());
        CHECK(v.value().empty());
    }
    CHECK(lap.store->receiptCount().value() + lap.queued() == 1520);
    if (space) {
        space->freeUp();
    } else {
        hq.proc->stop();
        hq.proc->options().fileSizeLimit = 0;
        hq.proc->start();
    }
    CHECK(lap.sync().ok);
    checkExactlyOnce(hq, {&lap});
}

TEST_CASE("a partition that heals: the background worker drains the queue by itself") {
    Hq hq(backendUnderTest());
    Laptop lap(kUnit);
    lap.enroll(hq);
    hq.proc->stop();  // HQ unreachable
    lap.addReports(50);
    lap.close();
    sync::SyncWorker worker(lap.dir.path(), lap.key, quickOptions());
    worker.start();
    std::this_thread::sleep_for(1500ms);
    CHECK(worker.lastOutcome() != "ok");
    hq.proc->start();  // the partition heals; no one pokes the worker
    auto deadline = std::chrono::steady_clock::now() + 90s;
    bool drained = false;
    while (std::chrono::steady_clock::now() < deadline && !drained) {
        std::this_thread::sleep_for(250ms);
        drained = hq.store()->reportCount().value() == 50 && worker.lastOutcome() == "ok";
    }
    worker.stop();
    CHECK(drained);
    lap.reopen();
    checkExactlyOnce(hq, {&lap});
}

TEST_CASE("device clocks days off change nothing at HQ, and another protocol version is refused with 426") {
    Hq hq(backendUnderTest());
    Laptop lap(kUnit);
    lap.enroll(hq);
    lap.addReports(5);
    CHECK(lap.sync().ok);

    // What a laptop whose clock is days or years off sends: HQ stores it, in HQ's own order.
    auto cfg = *lap.store->syncConfig().value();
    auto sk = lap.store->deviceSecretKey().value();
    const int fv = lap.store->forms().latest("training")->version;
    std::vector<sync::Envelope> skewed;
    for (const char* when :
         {"2031-01-01T00:00:00.000Z", "2019-06-01T00:00:00.000Z", "2026-12-09T23:59:59.000Z"}) {
        sync::Envelope e;
        e.id = core::newUuidV7();
        e.revision = 1;
        e.formId = "training";
        e.formVersion = fv;
        e.unitId = kUnit;
        e.author = "clock.skewed";
        e.createdUtc = when;
        e.finalizedUtc = when;
        e.payload = lap.demo->next("training", kUnit);
        skewed.push_back(std::move(e));
    }
    sync::http::Options ho;
    ho.baseUrl = hq.proc->url();
    ho.pin = cfg.pin;
    sync::http::Client client(ho, 1);
    auto signedPost = [&](const std::string& body) {
        sync::http::Request rq;
        rq.method = "POST";
        rq.target = "/v1/push";
        rq.body = body;
        std::string nonce = sync::newNonce();
        auto sig = sync::sign(sk, sync::signingString("POST", rq.target, cfg.deviceId, nonce, rq.body));
        rq.headers = {"Outpost-Protocol: 2",     "Outpost-Device: " + cfg.deviceId,
                      "Outpost-Nonce: " + nonce, "Outpost-Signature: " + sync::base64Encode(sig),
                      "Content-Encoding: zstd",  "Content-Type: application/vnd.outpost+json"};
        return client.perform(rq);
    };
    for (auto& e : skewed) e.signature = sync::signRevision(sk, e.canonical());
    sync::PushRequest pr{core::newUuidV7(), skewed};
    {
        // A revision whose payload was changed after the device signed it is refused, item by item.
        sync::Envelope altered = skewed.front();
        altered.id = core::newUuidV7();
        altered.signature = sync::signRevision(sk, altered.canonical());
        altered.payload["notes"] = "changed on the way";
        sync::PushRequest bad{core::newUuidV7(), {altered}};
        auto refused = signedPost(sync::zstdCompress(bad.toJson().dump()));
        INFO(refused.status << " " << refused.body);
        CHECK(refused.status == 422);
        CHECK_THAT(refused.body, Catch::Contains("signature does not verify"));
    }
    auto resp = signedPost(sync::zstdCompress(pr.toJson().dump()));
    INFO(resp.status << " " << resp.body << " " << resp.error);
    REQUIRE(resp.status == 200);
    auto answer = sync::PushResponse::fromJson(nlohmann::json::parse(resp.body));
    REQUIRE(answer.results.size() == 3);
    std::int64_t last = 5;
    for (const auto& r : answer.results) {
        CHECK(r.status == sync::ItemStatus::Stored);
        CHECK(r.hqSeq == last + 1);  // HQ's sequence, whatever the device's clock said
        last = r.hqSeq;
    }
    // The laptop's own reports keep coming after them, and nothing is lost or doubled.
    lap.addReports(4);
    CHECK(lap.sync().ok);
    auto reps = hq.store()->reports({});
    REQUIRE(reps.ok());
    REQUIRE(reps.value().size() == 12);
    for (std::size_t i = 0; i < reps.value().size(); ++i)
        CHECK(reps.value()[i].hqSeq == static_cast<std::int64_t>(i) + 1);
    CHECK(reps.value()[5].createdUtc == "2031-01-01T00:00:00.000Z");
    CHECK(reps.value()[6].createdUtc == "2019-06-01T00:00:00.000Z");

    // A client of another protocol version learns it plainly, and changes nothing.
    for (const char* version : {"1", "3", ""}) {
        sync::http::Request rq;
        rq.target = "/v1/hello";
        if (*version) rq.headers = {std::string("Outpost-Protocol: ") + version};
        auto r = client.perform(rq);
        CHECK(r.status == 426);
        auto body = nlohmann::json::parse(r.body, nullptr, false);
        REQUIRE(body.is_object());
        CHECK(body["error"]["code"] == "protocol_mismatch");
    }
    CHECK(hq.store()->reportCount().value() == 12);
}
