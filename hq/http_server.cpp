// HQ's HTTPS server on cpp-httplib: transport only; every decision is HqService's.
#include "hq/http_server.hpp"

#include <httplib.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>

namespace outpost::hq {

using namespace outpost::sync;

struct HqHttpServer::Impl {
    HqService& service;
    HqHttpOptions options;
    std::unique_ptr<httplib::Server> server;
    int boundPort = 0;
    std::atomic<bool> stopRequested{false};
    std::mutex stopMutex;
    bool stopIssued = false;
    std::mutex logMutex;

    // httplib's stop() must reach a running server exactly once (a second call trips its assertion).
    void stopOnce() {
        std::lock_guard lock(stopMutex);
        if (stopIssued || !server || !server->is_running()) return;
        server->stop();
        stopIssued = true;
    }

    Impl(HqService& s, HqHttpOptions o) : service(s), options(std::move(o)) {}
    void handle(const httplib::Request& hreq, httplib::Response& hres);
    void log(const httplib::Request& hreq, const httplib::Response& hres);
};

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

// The JSON error body for answers httplib makes by itself (body too large, unreadable request ...).
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

}  // namespace

void HqHttpServer::Impl::handle(const httplib::Request& hreq, httplib::Response& hres) {
    Request req;
    req.method = hreq.method;
    req.target = hreq.target;  // as sent: the device signed exactly these bytes
    for (const auto& [name, value] : hreq.headers) req.headers.emplace(lower(name), value);
    req.body = hreq.body;
    // HQ picks the answer's encoding itself (zstd); httplib must not compress the answer again. The
    // request object is httplib's own mutable one, handed to handlers as const.
    const_cast<httplib::Request&>(hreq).headers.erase("Accept-Encoding");

    Response res = service.handle(req);
    hres.status = res.status;
    for (const auto& [name, value] : res.headers) hres.set_header(name, value);
    hres.set_content(std::move(res.body), res.contentType.c_str());
}

void HqHttpServer::Impl::log(const httplib::Request& hreq, const httplib::Response& hres) {
    if (!options.logRequests && hres.status < 500) return;
    std::string message;
    if (hres.status >= 400 && hres.get_header_value("Content-Encoding").empty()) {
        auto j = json::parse(hres.body, nullptr, false);
        if (j.is_object() && j.contains("error") && j["error"].is_object())
            message = j["error"].value("message", std::string());
    }
    std::lock_guard lock(logMutex);
    std::cerr << "outpost-hq: " << hreq.remote_addr << " " << hreq.method << " " << hreq.path << " -> "
              << hres.status << (message.empty() ? "" : ": " + message) << "\n";
}

HqHttpServer::HqHttpServer(HqService& service, HqHttpOptions options)
    : m_impl(std::make_unique<Impl>(service, std::move(options))) {}

HqHttpServer::~HqHttpServer() {
    stop();
}

Result<int> HqHttpServer::bind() {
    return tryCatch([&]() -> int {
        auto& o = m_impl->options;
        if (m_impl->server)
            throw Failure(ErrorDomain::State, ErrorCode::Conflict, "the server is already bound");
        if (o.insecureHttp) {
            m_impl->server = std::make_unique<httplib::Server>();
        } else {
            if (o.certFile.empty() || o.keyFile.empty())
                throw Failure(ErrorDomain::Input, ErrorCode::BadInput,
                              "HTTPS needs a certificate and a key file");
            auto tls = std::make_unique<httplib::SSLServer>(o.certFile.c_str(), o.keyFile.c_str());
            if (!tls->is_valid())
                throw Failure(ErrorDomain::Input, ErrorCode::BadInput,
                              "cannot load the TLS certificate " + o.certFile + " with its key " + o.keyFile);
            // The protocol speaks TLS 1.2 or 1.3 only.
            SSL_CTX_set_min_proto_version(tls->ssl_context(), TLS1_2_VERSION);
            m_impl->server = std::move(tls);
        }
        auto& srv = *m_impl->server;
        const int threads = std::max(1, o.threads);
        srv.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
        srv.set_tcp_nodelay(true);
        srv.set_keep_alive_max_count(o.keepAliveMaxCount);
        srv.set_keep_alive_timeout(o.keepAliveTimeoutSeconds);
        srv.set_read_timeout(o.readTimeoutSeconds, 0);
        srv.set_write_timeout(o.writeTimeoutSeconds, 0);
        srv.set_payload_max_length(m_impl->service.limits().maxBodyBytes);

        Impl* impl = m_impl.get();
        auto handler = [impl](const httplib::Request& rq, httplib::Response& rs) { impl->handle(rq, rs); };
        srv.Get(".*", handler);
        srv.Post(".*", handler);
        srv.Put(".*", handler);
        srv.Delete(".*", handler);
        srv.Patch(".*", handler);
        srv.Options(".*", handler);
        // Answers httplib makes itself (413 for a body over the limit, 400 for an unreadable request)
        // get the protocol's JSON error body; HqService's own answers already have one.
        srv.set_error_handler(
            httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& rs) {
                if (!rs.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
                rs.set_content(transportErrorBody(rs.status), "application/json");
                return httplib::Server::HandlerResponse::Handled;
            }));
        srv.set_exception_handler([](const httplib::Request&, httplib::Response& rs, std::exception_ptr) {
            rs.status = 500;
            rs.set_content(errorBody("internal", "HQ failed while answering").dump(), "application/json");
        });
        srv.set_logger(
            [impl](const httplib::Request& rq, const httplib::Response& rs) { impl->log(rq, rs); });

        int port = o.port;
        if (port == 0) {
            port = srv.bind_to_any_port(o.host);
            if (port <= 0)
                throw Failure(ErrorDomain::Network, ErrorCode::Io,
                              "cannot listen on " + o.host + " (any port)");
        } else if (!srv.bind_to_port(o.host, port)) {
            throw Failure(
                ErrorDomain::Network, ErrorCode::Io,
                "cannot listen on " + o.host + ":" + std::to_string(port) + " (in use, or not allowed)");
        }
        m_impl->boundPort = port;
        return port;
    });
}

Result<void> HqHttpServer::run() {
    auto* srv = m_impl->server.get();
    if (!srv)
        return Error{ErrorDomain::State, ErrorCode::Conflict, "the server must be bound before it runs"};
    // httplib ignores a stop() that comes before it is listening; this watcher repeats the request
    // until the server has taken it, so a signal that arrives during start-up is not lost.
    std::atomic<bool> done{false};
    std::thread watcher([&] {
        while (!done) {
            if (m_impl->stopRequested) m_impl->stopOnce();
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });
    bool ok = m_impl->stopRequested || srv->listen_after_bind();
    done = true;
    watcher.join();
    if (!ok && !m_impl->stopRequested)
        return Error{ErrorDomain::Network, ErrorCode::Io, "the server stopped accepting connections"};
    return {};
}

void HqHttpServer::stop() {
    if (!m_impl) return;
    m_impl->stopRequested = true;
    m_impl->stopOnce();
}

int HqHttpServer::port() const {
    return m_impl->boundPort;
}

std::string HqHttpServer::url() const {
    return std::string(m_impl->options.insecureHttp ? "http://" : "https://") + m_impl->options.host + ":" +
           std::to_string(m_impl->boundPort);
}

}  // namespace outpost::hq
