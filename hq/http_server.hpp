// HQ's HTTPS server (Boost.Beast on Asio): hands every request to HqService and writes its answer back.
//
// TLS with HQ's self-signed certificate (hq/tls.hpp); plain HTTP only when the operator asks for
// it explicitly (--insecure-http-for-development). Sockets are driven by a few I/O threads, event by
// event, so a waiting connection holds no thread; a complete request is handled on a pool of worker
// threads, each borrowing a store from the service's pool for its length (hq/store_pool.hpp). Every
// connection limit and deadline is in hq/tuning.hpp ("connections: counts and deadlines").
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "hq/service.hpp"
#include "hq/tuning.hpp"

namespace outpost::hq {

struct HqHttpOptions {
    std::string host = "127.0.0.1";
    int port = 0;  // 0: the system picks a free port (see HqHttpServer::port())
    int threads = tuning::kDefaultWorkerThreads;  // worker threads running HqService::handle
    std::size_t maxConnectionsPerAddress = tuning::kDefaultMaxConnectionsPerAddress;
    bool insecureHttp = false;  // development only: no TLS at all
    std::string certFile;       // PEM, required unless insecureHttp
    std::string keyFile;        // PEM, required unless insecureHttp
    // How long a kept-open connection may wait for its next request (tuning::kIdleKeepAlive says why).
    std::chrono::seconds keepAliveTimeout = tuning::kIdleKeepAlive;
    bool logRequests = false;  // one line per request on stderr (5xx answers are always logged)
};

class HqHttpServer {
public:
    // The service must outlive the server.
    HqHttpServer(HqService& service, HqHttpOptions options);
    ~HqHttpServer();  // stops and waits for run() to return
    HqHttpServer(const HqHttpServer&) = delete;
    HqHttpServer& operator=(const HqHttpServer&) = delete;

    // Loads the certificate and binds the listening socket. Returns the port actually bound.
    // Fails with Input/BadInput for a bad certificate or address, Network when the port is taken.
    Result<int> bind();
    // Serves until stop() is called (from any thread). bind() must have succeeded.
    Result<void> run();
    // Thread-safe; run() returns soon after. Requests in progress finish first.
    void stop();

    int port() const;
    std::string url() const;  // "https://127.0.0.1:<port>" (http:// in the development mode)

    struct Impl;

private:
    std::unique_ptr<Impl> m_impl;
};

}  // namespace outpost::hq
