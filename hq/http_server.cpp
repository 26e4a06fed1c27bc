// HQ's HTTPS server on Boost.Beast/Asio: transport only; every decision is HqService's.
//
// A few I/O threads run every socket event by event (accept, TLS, reads, writes, deadlines); a
// connection waiting for bytes holds no thread. A complete request goes to a fixed pool of worker
// threads (HqService::handle works on the store and blocks); its answer is posted back to the
// connection's strand and written there. The limits and deadlines are in hq/tuning.hpp.
#include "hq/http_server.hpp"
#include "hq/memory_budget.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace outpost::hq {

using namespace outpost::sync;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

// Bytes from the network made printable for a log line: control characters and non-ASCII as \xNN.
std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

// The JSON error body for answers the transport makes by itself (body too large, unreadable request ...).
std::string transportErrorBody(int status) {
    switch (status) {
        case 413:
            return errorBody("too_large", "the request body is larger than HQ accepts").dump();
        case 404:
            return errorBody("not_found", "unknown path").dump();
        case 415:
            return errorBody("unsupported_encoding", "the request's Content-Encoding is not supported")
                .dump();
        case 414:
        case 431:
            return errorBody("too_large", "the request line or headers are too long").dump();
        default:
            if (status >= 500) return errorBody("unavailable", "HQ could not handle the request").dump();
            return errorBody("malformed", "HQ could not read the request").dump();
    }
}

std::string peerAddress(const tcp::socket& s) {
    boost::system::error_code ec;
    auto ep = s.remote_endpoint(ec);
    if (ec) return {};
    auto a = ep.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped()) a = net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
    return a.to_string();
}

// [TLS over a non-blocking socket]
// OpenSSL reads and writes the socket itself (through a BIO that never raises SIGPIPE); when it must
// wait, the operation waits for the socket to become readable or writable. With
// SSL_MODE_RELEASE_BUFFERS an idle connection then holds no record buffer at all (Asio's ssl::stream
// keeps four 17 kB buffers per connection, idle or not: 3,000 idle connections cost HQ 300 MB).

int socketBioWrite(BIO* bio, const char* data, int length) {
    const int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
    BIO_clear_retry_flags(bio);
    const ssize_t n = ::send(fd, data, static_cast<std::size_t>(length), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_write(bio);
    return static_cast<int>(n);
}

int socketBioRead(BIO* bio, char* data, int length) {
    const int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
    BIO_clear_retry_flags(bio);
    const ssize_t n = ::recv(fd, data, static_cast<std::size_t>(length), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(bio);
    return static_cast<int>(n);
}

long socketBioCtrl(BIO*, int command, long, void*) {
    return command == BIO_CTRL_FLUSH ? 1 : 0;
}

int socketBioCreate(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
}

BIO_METHOD* socketBioMethod() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "outpost-hq socket");
        BIO_meth_set_write(m, socketBioWrite);
        BIO_meth_set_read(m, socketBioRead);
        BIO_meth_set_ctrl(m, socketBioCtrl);
        BIO_meth_set_create(m, socketBioCreate);
        return m;
    }();
    return method;
}

// A TLS server connection as an Asio stream (what Beast reads and writes).
class TlsSocket {
public:
    using executor_type = tcp::socket::executor_type;

    TlsSocket(tcp::socket&& socket, SSL_CTX* ctx) : m_socket(std::move(socket)), m_ssl(SSL_new(ctx)) {
        boost::system::error_code ignored;
        m_socket.non_blocking(true, ignored);
        if (!m_ssl) return;  // every operation then fails
        BIO* bio = BIO_new(socketBioMethod());
        BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(m_socket.native_handle())));
        SSL_set_bio(m_ssl, bio, bio);
        SSL_set_accept_state(m_ssl);
    }
    ~TlsSocket() {
        if (m_ssl) SSL_free(m_ssl);
    }
    TlsSocket(const TlsSocket&) = delete;
    TlsSocket& operator=(const TlsSocket&) = delete;

    executor_type get_executor() { return m_socket.get_executor(); }
    tcp::socket& next_layer() { return m_socket; }
    // Closes the socket and makes the BIO forget its descriptor, which the system may hand out again.
    void close() {
        if (m_ssl)
            if (BIO* bio = SSL_get_rbio(m_ssl)) BIO_set_data(bio, reinterpret_cast<void*>(std::intptr_t{-1}));
        boost::system::error_code ignored;
        m_socket.shutdown(tcp::socket::shutdown_both, ignored);
        m_socket.close(ignored);
    }

    template <class Token>
    auto async_handshake(Token&& token) {
        return net::async_compose<Token, void(boost::system::error_code)>(
            Op<net::mutable_buffer, Kind::Handshake>{this, net::mutable_buffer()}, token, m_socket);
    }
    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return net::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            Op<MutableBuffers, Kind::Read>{this, buffers}, token, m_socket);
    }
    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return net::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            Op<ConstBuffers, Kind::Write>{this, buffers}, token, m_socket);
    }

private:
    enum class Kind { Handshake, Read, Write };

    template <class Buffers, Kind K>
    struct Op {
        TlsSocket* tls;
        Buffers buffers;
        int phase = 0;  // 0: not yet waited, 1: waited on the socket, 2: completing after a post
        boost::system::error_code result;
        std::size_t done = 0;

        template <class Self>
        void operator()(Self& self, boost::system::error_code ec = {}) {
            if (phase == 2) return complete(self);
            if (ec) {
                result = ec;
                return complete(self);
            }
            if (!tls->m_ssl) {
                result = net::error::no_memory;
                return finish(self);
            }
            // Closed since the operation began (a deadline, a stop): the descriptor number may already
            // belong to another connection, so no SSL call may touch it.
            if (!tls->m_socket.is_open()) {
                result = net::error::bad_descriptor;
                return finish(self);
            }
            ERR_clear_error();
            int r = 0;
            if constexpr (K == Kind::Handshake) {
                r = SSL_do_handshake(tls->m_ssl);
            } else {
                auto first = net::buffer_sequence_begin(buffers);
                auto last = net::buffer_sequence_end(buffers);
                while (first != last && net::buffer_size(*first) == 0) ++first;
                if (first == last) return finish(self);  // nothing to move
                const int length = static_cast<int>(std::min<std::size_t>((*first).size(), 1 << 30));
                if constexpr (K == Kind::Read)
                    r = SSL_read(tls->m_ssl, (*first).data(), length);
                else
                    r = SSL_write(tls->m_ssl, (*first).data(), length);
            }
            if (r > 0) {
                done = K == Kind::Handshake ? 0 : static_cast<std::size_t>(r);
                return finish(self);
            }
            switch (SSL_get_error(tls->m_ssl, r)) {
                case SSL_ERROR_WANT_READ:
                    phase = 1;
                    return tls->m_socket.async_wait(tcp::socket::wait_read, std::move(self));
                case SSL_ERROR_WANT_WRITE:
                    phase = 1;
                    return tls->m_socket.async_wait(tcp::socket::wait_write, std::move(self));
                case SSL_ERROR_ZERO_RETURN:
                    result = net::error::eof;  // the peer's close_notify
                    break;
                default:
                    // A protocol error or the connection's end without close_notify.
                    result = net::error::connection_reset;
                    break;
            }
            ERR_clear_error();
            finish(self);
        }
        // Never completes inside the call that started the operation (Asio's rule for composed ones).
        template <class Self>
        void finish(Self& self) {
            if (phase == 1) return complete(self);
            phase = 2;
            net::post(tls->m_socket.get_executor(), std::move(self));
        }
        template <class Self>
        void complete(Self& self) {
            if constexpr (K == Kind::Handshake)
                self.complete(result);
            else
                self.complete(result, result ? 0 : done);
        }
    };

    tcp::socket m_socket;
    SSL* m_ssl;
};

struct SessionBase {
    virtual ~SessionBase() = default;
    // On stop: closes the connection now when it waits for a request, after its answer otherwise.
    virtual void closeForStop() = 0;
    virtual void closeNowFromAnyThread() = 0;
};

}  // namespace

struct HqHttpServer::Impl {
    HqService& service;
    HqHttpOptions options;
    std::size_t maxConnections = tuning::kMaxConnections;
    std::optional<net::ssl::context> tls;
    int boundPort = 0;

    std::mutex connMutex;  // the three below
    std::size_t connections = 0;
    std::unordered_map<std::string, std::size_t> perAddress;
    std::list<std::weak_ptr<SessionBase>> sessions;

    std::atomic<bool> stopRequested{false};
    std::atomic<bool> stopIssued{false};
    std::mutex runMutex;
    std::condition_variable runChanged;
    bool running = false;
    std::mutex logMutex;

    // Destroyed in reverse order: the workers first, then the I/O objects, then the context, whose
    // pending handlers release their sessions into the counters above.
    net::io_context ioc{tuning::kIoThreads};
    net::strand<net::io_context::executor_type> acceptStrand = net::make_strand(ioc);
    std::optional<tcp::acceptor> acceptor;
    net::steady_timer acceptRetry{acceptStrand};
    net::steady_timer stopTimer{acceptStrand};
    Clock::time_point stopStarted;
    std::unique_ptr<net::thread_pool> workers;

    Impl(HqService& s, HqHttpOptions o) : service(s), options(std::move(o)) {}

    // The key an address's connections count under: an IPv6 address by its /64 (one host usually holds
    // a whole /64, so counting each address would let it open every connection HQ allows).
    static std::string limitKey(const std::string& address) {
        boost::system::error_code ec;
        auto a = net::ip::make_address(address, ec);
        if (ec || !a.is_v6()) return address;
        auto bytes = a.to_v6().to_bytes();
        std::fill(bytes.begin() + 8, bytes.end(), 0);
        return net::ip::address_v6(bytes).to_string() + "/64";
    }

    bool admit(const std::string& address) {
        std::lock_guard lock(connMutex);
        if (connections >= maxConnections) return false;
        auto& n = perAddress[limitKey(address)];
        if (n >= std::max<std::size_t>(1, options.maxConnectionsPerAddress)) return false;
        ++n;
        ++connections;
        return true;
    }
    std::list<std::weak_ptr<SessionBase>>::iterator enlist(std::weak_ptr<SessionBase> s) {
        std::lock_guard lock(connMutex);
        return sessions.insert(sessions.end(), std::move(s));
    }
    void release(const std::string& address,
                 std::optional<std::list<std::weak_ptr<SessionBase>>::iterator> it) {
        std::lock_guard lock(connMutex);
        if (it) sessions.erase(*it);
        --connections;
        if (auto p = perAddress.find(limitKey(address)); p != perAddress.end() && --p->second == 0)
            perAddress.erase(p);
    }
    std::vector<std::shared_ptr<SessionBase>> liveSessions() {
        std::lock_guard lock(connMutex);
        std::vector<std::shared_ptr<SessionBase>> out;
        for (auto& w : sessions)
            if (auto s = w.lock()) out.push_back(std::move(s));
        return out;
    }

    void doAccept();
    void onAccept(boost::system::error_code ec, tcp::socket socket);
    void beginStop();
    void checkStopped();
    void log(const std::string& address, std::string_view method, std::string_view target, int status,
             const std::string& body, bool encoded);
};

namespace {

template <bool Tls>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Tls>> {
public:
    using Stream = std::conditional_t<Tls, TlsSocket, tcp::socket>;

    Session(HqHttpServer::Impl& impl, tcp::socket&& socket, std::string address)
        : m_impl(impl),
          m_stream(makeStream(impl, std::move(socket))),
          m_executor(lowest().get_executor()),
          m_timer(m_executor),
          m_address(std::move(address)) {}

    ~Session() override { m_impl.release(m_address, m_listed); }

    void start() {
        m_listed = m_impl.enlist(this->weak_from_this());
        setDeadline(Clock::now() + tuning::kHeaderDeadline);
        if constexpr (Tls) {
            m_state = State::Handshake;
            m_stream.async_handshake([self = this->shared_from_this()](boost::system::error_code ec) {
                if (ec) return self->closeNow();
                self->readHeader();
            });
        } else {
            readHeader();
        }
    }

    void closeForStop() override {
        net::post(m_executor, [self = this->shared_from_this()] {
            self->m_stopping = true;
            if (self->m_state == State::Handshake || self->m_state == State::Idle ||
                self->m_state == State::Header)
                self->closeNow();
        });
    }
    void closeNowFromAnyThread() override {
        net::post(m_executor, [self = this->shared_from_this()] { self->closeNow(); });
    }

private:
    enum class State { Handshake, Idle, Header, Body, Handling, Writing, Closing };

    static Stream makeStream(HqHttpServer::Impl& impl, tcp::socket&& s) {
        if constexpr (Tls)
            return Stream(std::move(s), impl.tls->native_handle());
        else
            return std::move(s);
    }
    tcp::socket& lowest() {
        if constexpr (Tls)
            return m_stream.next_layer();
        else
            return m_stream;
    }

    // One deadline per connection at a time; when it passes, the connection is closed (its pending
    // read or write then fails).
    void setDeadline(Clock::time_point at) {
        m_timer.expires_at(at);
        m_timer.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
            if (ec || self->m_timer.expiry() > Clock::now()) return;  // moved or cancelled
            self->closeNow();
        });
    }
    void clearDeadline() { m_timer.expires_at(Clock::time_point::max()); }

    void readHeader() {
        m_state = State::Header;
        m_parser.emplace();
        m_parser->header_limit(static_cast<std::uint32_t>(tuning::kHeaderLimitBytes));
        m_parser->body_limit(m_impl.service.limits().maxBodyBytes);
        http::async_read_header(m_stream, m_buffer, *m_parser,
                                [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                                    self->onHeader(ec);
                                });
    }

    void onHeader(boost::system::error_code ec) {
        if (ec) return onReadError(ec);
        auto& req = m_parser->get();
        m_method = std::string(req.method_string());
        m_target = std::string(req.target());
        // A body announced larger than HQ accepts is refused before any of it is read.
        if (auto length = m_parser->content_length();
            length && *length > m_impl.service.limits().maxBodyBytes)
            return answerError(413);
        if (m_parser->is_done()) return dispatch();
        m_bodyStart = Clock::now();
        m_bodyReceived = 0;
        m_bodyBytes.emplace(m_impl.service.memoryBudget());
        setDeadline(m_bodyStart + tuning::kBodyGrace);
        if (beast::iequals(req[http::field::expect], "100-continue")) {
            static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            net::async_write(m_stream, net::buffer(kContinue),
                             [self = this->shared_from_this()](boost::system::error_code e, std::size_t) {
                                 if (e) return self->closeNow();
                                 self->readBody();
                             });
            return;
        }
        readBody();
    }

    void readBody() {
        m_state = State::Body;
        http::async_read_some(m_stream, m_buffer, *m_parser,
                              [self = this->shared_from_this()](boost::system::error_code ec, std::size_t n) {
                                  self->onBody(ec, n);
                              });
    }

    void onBody(boost::system::error_code ec, std::size_t n) {
        if (ec) return onReadError(ec);
        m_bodyReceived += n;
        // Counted as they arrive, without waiting (this is an I/O thread): when the budget is in use by
        // other requests, this one is answered 503 with Retry-After and the connection closed.
        if (m_bodyBytes && !m_bodyBytes->tryGrow(n)) return answerBusy();
        // Below the minimum average rate the deadline passes and the connection is closed.
        setDeadline(std::min(m_bodyStart + tuning::kBodyGrace +
                                 std::chrono::seconds(m_bodyReceived / tuning::kMinBodyBytesPerSecond),
                             Clock::now() + tuning::kBodySilence));
        if (m_parser->is_done()) return dispatch();
        readBody();
    }

    void onReadError(boost::system::error_code ec) {
        if (m_closed || ec == http::error::end_of_stream || ec == http::error::partial_message ||
            ec.category() !=
                http::make_error_code(http::error::end_of_stream).category())  // network, TLS or deadline
            return closeNow();
        if (ec == http::error::header_limit) return answerError(431);
        if (ec == http::error::body_limit) return answerError(413);
        answerError(400);
    }

    void dispatch() {
        m_state = State::Handling;
        clearDeadline();
        auto& hreq = m_parser->get();
        Request req;
        req.method = m_method;
        req.target = m_target;  // as sent: the device signed exactly these bytes
        for (const auto& field : hreq) {
            auto name = lower(field.name_string());
            // A protocol header or the body's encoding given twice: which one a check reads and which one
            // another part acts on must never differ, so the request is refused.
            const bool once = name.rfind("outpost-", 0) == 0 || name == "content-encoding";
            if (!req.headers.emplace(name, std::string(field.value())).second && once)
                return answerError(400);
        }
        req.body = beast::buffers_to_string(hreq.body().data());
        req.remoteAddress = m_address;
        m_keepAlive = hreq.keep_alive() && ++m_requests < tuning::kMaxRequestsPerConnection;
        m_version = hreq.version();
        m_parser.reset();
        // The body's reservation goes with it, and is given back when the answer is made.
        auto bodyBytes = std::move(m_bodyBytes);
        m_bodyBytes.reset();
        net::post(*m_impl.workers, [self = this->shared_from_this(), req = std::move(req),
                                    bodyBytes = std::move(bodyBytes)]() mutable {
            Response res;
            try {
                res = self->m_impl.service.handle(req);
            } catch (...) {
                res = Response{};
                res.status = 500;
                res.body = errorBody("internal", "HQ failed while answering").dump();
            }
            req = Request{};
            bodyBytes.reset();
            net::post(self->m_executor,
                      [self, res = std::move(res)]() mutable { self->writeAnswer(std::move(res)); });
        });
    }

    // The request memory budget had no room for this body's next bytes.
    void answerBusy() {
        Response res;
        res.status = 503;
        res.body =
            errorBody("unavailable", "HQ's request memory budget is in use by other requests; retry later")
                .dump();
        res.headers["Retry-After"] = std::to_string(tuning::kRequestMemoryRetryAfterSeconds);
        answerWith(std::move(res));
    }

    void answerError(int status) {
        Response res;
        res.status = status;
        res.body = transportErrorBody(status);
        answerWith(std::move(res));
    }

    void answerWith(Response res) {
        m_bodyBytes.reset();
        m_keepAlive = false;  // the rest of the stream cannot be trusted to start a request
        if (m_method.empty()) m_method = "-";
        if (m_target.empty()) m_target = "-";
        m_parser.reset();
        writeAnswer(std::move(res));
    }

    void writeAnswer(Response res) {
        if (m_closed) return;
        bool encoded = res.headers.count("Content-Encoding") > 0;
        m_impl.log(m_address, m_method, m_target, res.status, res.body, encoded);
        // A HEAD answer has no body: sent as is, it would be read as the start of the next answer.
        if (m_method == "HEAD") {
            res.body.clear();
            m_keepAlive = false;
        }
        const bool keepAlive = m_keepAlive && !m_stopping;
        m_answer = {};
        m_answer.version(m_version);
        m_answer.result(static_cast<unsigned>(res.status));
        for (const auto& [name, value] : res.headers) m_answer.set(name, value);
        m_answer.set(http::field::content_type, res.contentType);
        m_answer.body() = std::move(res.body);
        m_answer.keep_alive(keepAlive);
        m_answer.prepare_payload();
        m_state = State::Writing;
        setDeadline(Clock::now() + tuning::kWriteGrace +
                    std::chrono::seconds(m_answer.body().size() / tuning::kMinWriteBytesPerSecond));
        http::async_write(
            m_stream, m_answer,
            [self = this->shared_from_this(), keepAlive](boost::system::error_code ec, std::size_t) {
                self->m_answer = {};
                if (ec) return self->closeNow();
                if (!keepAlive || self->m_stopping) return self->lingerClose();
                self->waitNext();
            });
    }

    // Between requests: up to the keep-alive bound for the next request's first byte, then the header
    // deadline for the rest of its headers.
    void waitNext() {
        m_method.clear();
        m_target.clear();
        if (m_buffer.size() > 0) {
            setDeadline(Clock::now() + tuning::kHeaderDeadline);
            return readHeader();
        }
        m_buffer.shrink_to_fit();  // an idle connection keeps no read buffer
        m_state = State::Idle;
        setDeadline(Clock::now() + m_impl.options.keepAliveTimeout);
        m_stream.async_read_some(m_buffer.prepare(512), [self = this->shared_from_this()](
                                                            boost::system::error_code ec, std::size_t n) {
            if (ec || self->m_closed) return self->closeNow();
            self->m_buffer.commit(n);
            self->setDeadline(Clock::now() + tuning::kHeaderDeadline);
            self->readHeader();
        });
    }

    // The answer is out: stop sending, read and drop what the peer still sends for a short while (so it
    // gets the answer rather than a reset), then close.
    void lingerClose() {
        m_state = State::Closing;
        boost::system::error_code ignored;
        lowest().shutdown(tcp::socket::shutdown_send, ignored);
        setDeadline(Clock::now() + tuning::kLingerOnClose);
        drain();
    }
    void drain() {
        m_buffer.clear();
        lowest().async_read_some(m_buffer.prepare(4096), [self = this->shared_from_this()](
                                                             boost::system::error_code ec, std::size_t) {
            if (ec || self->m_closed) return self->closeNow();
            self->drain();
        });
    }

    void closeNow() {
        if (m_closed) return;
        m_closed = true;
        m_timer.cancel();
        if constexpr (Tls) {
            m_stream.close();
        } else {
            boost::system::error_code ignored;
            m_stream.shutdown(tcp::socket::shutdown_both, ignored);
            m_stream.close(ignored);
        }
    }

    HqHttpServer::Impl& m_impl;
    Stream m_stream;
    net::any_io_executor m_executor;  // the connection's strand
    net::steady_timer m_timer;
    std::string m_address;
    std::optional<std::list<std::weak_ptr<SessionBase>>::iterator> m_listed;
    // Bounded: what the parser has not consumed yet (a header block, a chunk-size line) never grows it
    // past this; a peer that sends an endless chunk line is answered 400 and closed.
    beast::flat_buffer m_buffer{tuning::kHeaderLimitBytes + 64 * 1024};
    // A dynamic body grows as bytes arrive: a string body would allocate the whole announced length
    // before the first byte, so that a connection announcing 8 MiB and sending nothing would hold 8 MiB.
    std::optional<http::request_parser<http::dynamic_body>> m_parser;
    // The body's bytes so far, counted in HQ's request memory budget (hq/memory_budget.hpp).
    std::optional<MemoryBudget::Reservation> m_bodyBytes;
    http::response<http::string_body> m_answer;
    State m_state = State::Handshake;
    std::string m_method, m_target;  // of the request being answered, for the log
    Clock::time_point m_bodyStart;
    std::size_t m_bodyReceived = 0;
    std::size_t m_requests = 0;
    unsigned m_version = 11;
    bool m_keepAlive = false;
    bool m_stopping = false;
    bool m_closed = false;
};

}  // namespace

void HqHttpServer::Impl::doAccept() {
    acceptor->async_accept(net::make_strand(ioc), [this](boost::system::error_code ec, tcp::socket socket) {
        onAccept(ec, std::move(socket));
    });
}

void HqHttpServer::Impl::onAccept(boost::system::error_code ec, tcp::socket socket) {
    if (!acceptor->is_open() || ec == net::error::operation_aborted) return;
    if (ec) {
        // Out of descriptors (or a similar passing failure): try again shortly instead of spinning.
        acceptRetry.expires_after(tuning::kAcceptRetryDelay);
        acceptRetry.async_wait([this](boost::system::error_code e) {
            if (!e && acceptor->is_open()) doAccept();
        });
        return;
    }
    std::string address = peerAddress(socket);
    if (!admit(address)) {
        // Over a limit: closed at once, so the backlog keeps moving and the peer learns quickly.
        boost::system::error_code ignored;
        socket.close(ignored);
    } else {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        auto open = [&](auto withTls) {
            using S = Session<decltype(withTls)::value>;
            std::shared_ptr<S> session;
            try {
                session = std::make_shared<S>(*this, std::move(socket), address);
            } catch (...) {
                // No session was made (out of memory): its admission is given back here, and the socket
                // closes with the failed construction. Once made, the session gives it back itself.
                release(address, std::nullopt);
                return;
            }
            session->start();
        };
        if (options.insecureHttp)
            open(std::false_type{});
        else
            open(std::true_type{});
    }
    doAccept();
}

void HqHttpServer::Impl::beginStop() {
    boost::system::error_code ignored;
    if (acceptor) acceptor->close(ignored);
    acceptRetry.cancel();
    for (auto& s : liveSessions()) s->closeForStop();
    stopStarted = Clock::now();
    checkStopped();
}

void HqHttpServer::Impl::checkStopped() {
    {
        std::lock_guard lock(connMutex);
        if (sessions.empty()) return;  // nothing left: the context runs out of work and run() returns
    }
    if (Clock::now() - stopStarted >= tuning::kStopGrace) {
        for (auto& s : liveSessions()) s->closeNowFromAnyThread();
        ioc.stop();
        return;
    }
    stopTimer.expires_after(std::chrono::milliseconds(50));
    stopTimer.async_wait([this](boost::system::error_code ec) {
        if (!ec) checkStopped();
    });
}

void HqHttpServer::Impl::log(const std::string& address, std::string_view method, std::string_view target,
                             int status, const std::string& body, bool encoded) {
    if (!options.logRequests && status < 500) return;
    std::string message;
    if (status >= 400 && !encoded) {
        auto j = json::parse(body, nullptr, false);
        if (j.is_object() && j.contains("error") && j["error"].is_object())
            message = j["error"].value("message", std::string());
    }
    std::string_view path = target.substr(0, target.find('?'));
    std::lock_guard lock(logMutex);
    std::cerr << "outpost-hq: " << address << " " << printable(method) << " " << printable(path) << " -> "
              << status << (message.empty() ? "" : ": " + message) << "\n";
}

HqHttpServer::HqHttpServer(HqService& service, HqHttpOptions options)
    : m_impl(std::make_unique<Impl>(service, std::move(options))) {}

HqHttpServer::~HqHttpServer() {
    stop();
    std::unique_lock lock(m_impl->runMutex);
    m_impl->runChanged.wait(lock, [&] { return !m_impl->running; });
}

Result<int> HqHttpServer::bind() {
    return tryCatch([&]() -> int {
        auto& impl = *m_impl;
        auto& o = impl.options;
        if (impl.acceptor)
            throw Failure(ErrorDomain::State, ErrorCode::Conflict, "the server is already bound");

        // Every connection is a descriptor: take all the system allows, and keep a reserve for the store.
        rlimit nofile{};
        if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
            if (nofile.rlim_cur < nofile.rlim_max) {
                nofile.rlim_cur = nofile.rlim_max;
                ::setrlimit(RLIMIT_NOFILE, &nofile);
                ::getrlimit(RLIMIT_NOFILE, &nofile);
            }
            const std::size_t fds = nofile.rlim_cur == RLIM_INFINITY
                                        ? tuning::kMaxConnections * 2
                                        : static_cast<std::size_t>(nofile.rlim_cur);
            const std::size_t usable =
                fds > tuning::kReservedDescriptors * 2 ? fds - tuning::kReservedDescriptors : fds / 2;
            impl.maxConnections = std::min(tuning::kMaxConnections, usable);
        }

        if (!o.insecureHttp) {
            if (o.certFile.empty() || o.keyFile.empty())
                throw Failure(ErrorDomain::Input, ErrorCode::BadInput,
                              "HTTPS needs a certificate and a key file");
            impl.tls.emplace(net::ssl::context::tls_server);
            auto& ctx = *impl.tls;
            boost::system::error_code ec;
            ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                                net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                                net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use,
                            ec);
            // The protocol speaks TLS 1.2 or 1.3 only.
            SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
            // An idle TLS connection gives its read and write buffers back.
            SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                                      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
            ctx.use_certificate_chain_file(o.certFile, ec);
            if (!ec) ctx.use_private_key_file(o.keyFile, net::ssl::context::pem, ec);
            if (ec || SSL_CTX_check_private_key(ctx.native_handle()) != 1)
                throw Failure(ErrorDomain::Input, ErrorCode::BadInput,
                              "cannot load the TLS certificate " + o.certFile + " with its key " + o.keyFile);
        }

        const std::string where =
            o.host + ":" + (o.port == 0 ? std::string("any port") : std::to_string(o.port));
        boost::system::error_code ec;
        tcp::resolver resolver(impl.ioc);
        auto endpoints = resolver.resolve(o.host, std::to_string(o.port), tcp::resolver::passive, ec);
        if (ec || endpoints.empty())
            throw Failure(ErrorDomain::Network, ErrorCode::Io,
                          "cannot listen on " + where + ": unknown address");
        tcp::acceptor acceptor(impl.acceptStrand);
        const tcp::endpoint endpoint = endpoints.begin()->endpoint();
        acceptor.open(endpoint.protocol(), ec);
        if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor.bind(endpoint, ec);
        if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
        if (ec)
            throw Failure(ErrorDomain::Network, ErrorCode::Io,
                          "cannot listen on " + where + " (in use, or not allowed)");
        impl.boundPort = acceptor.local_endpoint().port();
        impl.acceptor.emplace(std::move(acceptor));
        return impl.boundPort;
    });
}

Result<void> HqHttpServer::run() {
    auto& impl = *m_impl;
    if (!impl.acceptor)
        return Error{ErrorDomain::State, ErrorCode::Conflict, "the server must be bound before it runs"};
    {
        std::lock_guard lock(impl.runMutex);
        if (impl.running)
            return Error{ErrorDomain::State, ErrorCode::Conflict, "the server is already running"};
        if (impl.stopRequested) return {};
        impl.running = true;
    }
    impl.workers = std::make_unique<net::thread_pool>(
        static_cast<std::size_t>(std::clamp(impl.options.threads, 1, tuning::kMaxWorkerThreads)));
    net::post(impl.acceptStrand, [&impl] { impl.doAccept(); });
    // A handler that throws (out of memory, say) is logged and the loop goes on: one connection's failure
    // must not end the process or leave this thread's share of the connections unserved.
    auto serve = [&impl] {
        for (;;) {
            try {
                impl.ioc.run();
                return;
            } catch (const std::exception& e) {
                std::lock_guard lock(impl.logMutex);
                std::cerr << "outpost-hq: a connection's handler failed: " << e.what() << "\n";
            } catch (...) {
                std::lock_guard lock(impl.logMutex);
                std::cerr << "outpost-hq: a connection's handler failed\n";
            }
        }
    };
    std::vector<std::thread> io;
    for (int i = 1; i < tuning::kIoThreads; ++i) io.emplace_back(serve);
    serve();
    for (auto& t : io) t.join();
    // Requests still being handled after the grace finish; their answers have nowhere to go.
    impl.workers->stop();
    impl.workers->join();
    {
        // Notified under the lock: the destructor may free this object as soon as it sees running false.
        std::lock_guard lock(impl.runMutex);
        impl.running = false;
        impl.runChanged.notify_all();
    }
    return {};
}

void HqHttpServer::stop() {
    if (!m_impl) return;
    {
        std::lock_guard lock(m_impl->runMutex);
        m_impl->stopRequested = true;
    }
    if (m_impl->stopIssued.exchange(true)) return;
    Impl* impl = m_impl.get();
    net::post(impl->acceptStrand, [impl] { impl->beginStop(); });
}

int HqHttpServer::port() const {
    return m_impl->boundPort;
}

std::string HqHttpServer::url() const {
    return std::string(m_impl->options.insecureHttp ? "http://" : "https://") + m_impl->options.host + ":" +
           std::to_string(m_impl->boundPort);
}

}  // namespace outpost::hq
