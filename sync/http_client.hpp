// The field client's HTTP transport (libcurl), private to sync/: several transfers at once over
// keep-alive connections, each pinned to HQ's TLS key. Knows nothing of the protocol's messages.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace outpost::sync::http {

struct Options {
    std::string baseUrl;  // "https://host:port", no trailing slash
    std::string pin;      // HQ's TLS public-key pin (base64url SHA-256 of the SPKI); required for https
    bool allowInsecureHttp = false;
    std::string caFile;  // an extra CA bundle: the chain is checked too (the pin always is)
    long connectTimeoutMs = 20000;
    long lowSpeedBytes = 64;
    long lowSpeedSeconds = 30;
    std::size_t maxResponseBytes = 80u << 20;   // a longer answer is cut and fails
    const std::atomic<bool>* cancel = nullptr;  // set: every transfer stops at once
};

struct Request {
    std::string method = "GET";        // "GET" or "POST"
    std::string target;                // path and query, e.g. "/v1/pull?after=12&limit=500"
    std::vector<std::string> headers;  // "Name: value"
    std::string body;                  // POST only, sent as is
    // A new connection rather than one kept open from before: a retry after a failure goes where a
    // balancer sends a new connection (another HQ process), not back over the connection that failed.
    bool freshConnection = false;
};

struct Response {
    int status = 0;                              // the HTTP status; 0 when no answer arrived (see error)
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;                            // as received (still compressed)
    std::string error;         // what went wrong below HTTP, in words a person can act on (never libcurl's)
    std::string detail;        // libcurl's own text for it (code, message, OS error), for logs and --verbose
    bool timedOut = false;     // the link stalled (low-speed limit) or the connection timed out
    bool cancelled = false;    // the cancel flag stopped it
    bool pinMismatch = false;  // the server's TLS key is not HQ's
    bool tooLarge = false;     // the answer was longer than maxResponseBytes
    // HQ's side failed, not the link: HQ (or what answers for it) reset or closed the connection, or its
    // machine acknowledged every byte sent and no answer came. A retry on a fresh connection may succeed
    // (another HQ process behind a balancer, or the same one once it is free again).
    bool retryable = false;
    std::int64_t bytesSent = 0, bytesReceived = 0;
    // Where the time went: moving bytes (connecting, sending, receiving), or waiting between the last
    // byte sent and the first byte of the answer (the round trip and HQ's work).
    double transferSeconds = 0, waitSeconds = 0;

    bool transportFailed() const { return status == 0; }
    std::string header(const std::string& lowerName) const;
};

// A fixed number of slots, each a reusable libcurl handle; all share one connection cache, so a slot's
// next request goes over the connection its last one left open. Used from one thread.
class Client {
public:
    Client(Options o, int slots);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    int slots() const;
    // A slot with no transfer in progress, or -1.
    int freeSlot() const;
    // Starts a request on an idle slot. Throws Failure(Input) when the request cannot be set up.
    void start(int slot, Request req);
    // Runs transfers for up to timeoutMs and returns those that finished (slot and answer). When the
    // cancel flag is set, every transfer in progress is stopped and returned as cancelled.
    std::vector<std::pair<int, Response>> poll(int timeoutMs);
    // Moves the transfers in progress along without waiting (connecting, sending what the socket takes),
    // so requests started before long work on this thread travel meanwhile. Finished transfers are left
    // for poll() to return.
    void pump();
    // One request on slot 0, waiting for its answer.
    Response perform(Request req);
    // Bytes moved so far by transfers still in progress.
    std::int64_t liveBytesSent() const;
    std::int64_t liveBytesReceived() const;
    bool idle() const;

    struct Slot;

private:
    Options m_opts;
    void* m_multi = nullptr;
    std::vector<std::unique_ptr<Slot>> m_slots;
    std::vector<int> m_sockets;  // every socket libcurl opened for this client and has not closed
    Response finish(Slot& s, int curlCode);
};

}  // namespace outpost::sync::http
