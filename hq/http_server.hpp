// HQ's HTTPS server (cpp-httplib): hands every request to HqService and writes its answer back.
//
// TLS with HQ's self-signed certificate (hq/tls.hpp); plain HTTP only when the operator asks for
// it explicitly (--insecure-http-for-development). Requests are handled on a pool of threads; each
// borrows a store from the service's pool for its length (hq/store_pool.hpp).
#pragma once

#include <ctime>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "hq/service.hpp"

namespace outpost::hq {

struct HqHttpOptions {
    std::string host = "127.0.0.1";
    int port = 0;  // 0: the system picks a free port (see HqHttpServer::port())
    int threads = 128;
    bool insecureHttp = false;  // development only: no TLS at all
    std::string certFile;       // PEM, required unless insecureHttp
    std::string keyFile;        // PEM, required unless insecureHttp
    // How long a connection may wait for its next request. A laptop with several batches in flight on
    // a slow link reuses a connection only once the other batches' bytes have crossed: at 64 kbit/s,
    // each 60 KB batch ahead is 7.5 s of silence on this one. Closing it sooner makes the client start
    // the request again on a new connection (a handshake, and the body sent twice). An idle connection
    // holds a pool thread, so it must not linger much longer than that either; a laptop closes its
    // connections when its pass ends.
    std::time_t keepAliveTimeoutSeconds = 30;
    std::size_t keepAliveMaxCount = 10000;
    // Per read or write on a socket (not for a whole body): a slow link still moves bytes in that time.
    std::time_t readTimeoutSeconds = 60;
    std::time_t writeTimeoutSeconds = 60;
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
