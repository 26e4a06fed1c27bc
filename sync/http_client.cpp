// The field client's HTTP transport over libcurl: one easy handle per slot, one multi handle for all.
//
// Trust: HQ's certificate is self-signed, so there is no CA chain to check. The trust anchor is the
// pin that came with the enrollment code (SHA-256 of HQ's public key): peer verification against CAs
// is turned off and CURLOPT_PINNEDPUBLICKEY makes libcurl drop the connection, before any request
// byte is sent, when the server's key is not HQ's. A man in the middle with any other key, even one
// signed by a public CA, gets nothing.
#include "sync/http_client.hpp"

#include <curl/curl.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <mutex>

#include "core/error.hpp"
#include "sync/protocol.hpp"

namespace outpost::sync::http {

namespace {

void globalInit() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string trim(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

// "host:port" of a base URL ("https://host:port").
std::string hostOf(const std::string& baseUrl) {
    auto p = baseUrl.find("://");
    std::string rest = p == std::string::npos ? baseUrl : baseUrl.substr(p + 3);
    return rest.substr(0, rest.find('/'));
}

std::string seconds(long ms) {
    const long s = std::max(1L, (ms + 999) / 1000);
    return std::to_string(s) + " s";
}

// What a transfer got to before it failed.
struct Reached {
    long osErrno = 0;          // the last OS error libcurl saw (ECONNREFUSED ...), 0 when none
    bool connected = false;    // the TCP connection was made (or an open one was reused)
    bool tlsDone = false;      // the TLS handshake finished (or there is none: plain HTTP)
    bool requestSent = false;  // the whole request went out
    bool received = false;     // some of the answer arrived
    // When last looked at (sockets' TCP state): the connection was up and the peer's machine had
    // acknowledged every byte sent, so the link carried everything and the silence is HQ's ...
    bool peerHasAll = false;
    // ... or bytes were waiting, but the peer's machine had acknowledged something recently (its window
    // probes): it is reachable and takes no more bytes, so HQ stopped reading, not the link.
    bool peerTakesNoMore = false;
    bool hqSide() const { return peerHasAll || peerTakesNoMore; }
};

// What a connection's TCP state says about the peer (Reached::peerHasAll, peerTakesNoMore). recentMs: an
// acknowledgement at most this old counts as recent.
struct PeerState {
    bool hasAll = false;
    bool takesNoMore = false;
    std::string tcp;  // the figures it was judged from, for Response::detail
};
PeerState peerState(int fd, std::uint32_t recentMs) {
    constexpr std::uint8_t kEstablished = 1;  // TCP_ESTABLISHED
    PeerState p;
    if (fd < 0) return p;
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return p;
    if (info.tcpi_state != kEstablished) {
        p.tcp = "tcp: state " + std::to_string(info.tcpi_state);
        return p;
    }
    int queued = 0;
    if (::ioctl(fd, SIOCOUTQ, &queued) != 0) return p;
    p.hasAll = queued == 0;
    // Bytes wait. A link that drops packets leaves retransmissions or window probes unanswered (the
    // kernel counts them until an acknowledgement comes). A peer that stopped reading answers its window
    // probes and advertises a closed window (kernels since 6.2 report it) or acknowledged recently.
    const bool unanswered = info.tcpi_retransmits > 0 || info.tcpi_probes > 0;
    const bool windowKnown = len >= offsetof(tcp_info, tcpi_snd_wnd) + sizeof info.tcpi_snd_wnd;
    p.takesNoMore = queued > 0 && !unanswered &&
                    ((windowKnown && info.tcpi_snd_wnd == 0) || info.tcpi_last_ack_recv <= recentMs);
    p.tcp = "tcp: " + std::to_string(queued) + " bytes unacknowledged, " +
            std::to_string(info.tcpi_retransmits) + " retransmissions and " +
            std::to_string(info.tcpi_probes) + " window probes unanswered, last acknowledgement " +
            std::to_string(info.tcpi_last_ack_recv) + " ms ago" +
            (windowKnown ? ", peer's window " + std::to_string(info.tcpi_snd_wnd) + " bytes" : "");
    return p;
}

bool closedByPeer(long osErrno, const std::string& libText) {
    // OpenSSL reports a peer that closed during the handshake as SSL_ERROR_SYSCALL (no errno) or as an
    // unexpected EOF; a reset carries ECONNRESET.
    return osErrno == ECONNRESET || osErrno == EPIPE ||
           libText.find("SSL_ERROR_SYSCALL") != std::string::npos ||
           libText.find("unexpected eof") != std::string::npos ||
           libText.find("reset by peer") != std::string::npos;
}

// A failure below HTTP in words a person can act on. libText (libcurl's own words) is never part of it:
// it goes in Response::detail.
std::string describeFailure(CURLcode cc, const Reached& at, const Options& o, const std::string& libText) {
    const std::string where = hostOf(o.baseUrl);
    switch (cc) {
        case CURLE_COULDNT_RESOLVE_HOST:
            return "HQ's host name was not found (" + where +
                   "): check HQ's address, and that this laptop's network is up and can look names up (DNS)";
        case CURLE_COULDNT_RESOLVE_PROXY:
            return "the proxy's host name was not found: check the proxy setting (http_proxy, https_proxy)";
        case CURLE_COULDNT_CONNECT:
            switch (at.osErrno) {
                case ECONNREFUSED:
                    return "HQ refused the connection: nothing answers at " + where +
                           " (is outpost-hq running there, on that port?)";
                case ENETUNREACH:
                case EHOSTUNREACH:
                case ENETDOWN:
                    return "no route to HQ at " + where +
                           ": this laptop's network does not reach it (is the link up?)";
                case ETIMEDOUT:
                    return "HQ did not answer in time: no answer to the connection to " + where +
                           " (the link may be down, or the address wrong)";
                default:
                    return "could not connect to HQ at " + where +
                           " (the link may be down, or the address wrong)";
            }
        case CURLE_OPERATION_TIMEDOUT:
            if (!at.connected)
                return "HQ did not answer in time: no answer to the connection to " + where + " within " +
                       seconds(o.connectTimeoutMs) + " (the link may be down, or the address wrong)";
            if (!at.tlsDone)
                return at.hqSide()
                           ? "HQ did not answer: its machine at " + where +
                                 " took the connection, but the TLS handshake got no answer within " +
                                 seconds(o.connectTimeoutMs) + " (HQ is busy or stalled)"
                           : "the link to HQ stalled during the TLS handshake: what this laptop sent was not "
                             "acknowledged within " +
                                 seconds(o.connectTimeoutMs) + " (the link is too slow, or it dropped)";
            if (at.received)
                return "HQ's answer stopped: fewer than " + std::to_string(o.lowSpeedBytes) +
                       " bytes a second arrived for " + std::to_string(o.lowSpeedSeconds) +
                       " s (the link stalled, or HQ stopped sending)";
            if (at.peerHasAll)
                return "HQ did not answer: it received the whole request, and nothing came back for " +
                       std::to_string(o.lowSpeedSeconds) + " s (HQ is busy or stalled)";
            if (at.peerTakesNoMore)
                return "HQ stopped taking the request: its machine acknowledges, but took no more of it "
                       "for " +
                       std::to_string(o.lowSpeedSeconds) + " s (HQ is busy or stalled)";
            return "the link to HQ stalled: what this laptop sent was not acknowledged for " +
                   std::to_string(o.lowSpeedSeconds) + " s (the link is too slow, or it dropped)";
        case CURLE_GOT_NOTHING:
            return "HQ closed the connection without answering (HQ may be restarting, or another program "
                   "answers at " +
                   where + ")";
        case CURLE_SSL_CONNECT_ERROR:
            if (closedByPeer(at.osErrno, libText))
                return "HQ closed the connection during the TLS handshake, before answering (HQ may be "
                       "restarting, or another program answers at " +
                       where + ")";
            return "the TLS handshake with HQ failed: the server at " + where +
                   " does not speak TLS as HQ does (a wrong port, or a proxy or portal in the way?)";
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
            return "the TLS handshake with HQ failed: HQ's certificate was not accepted (it does not verify "
                   "against the CA file given)";
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return "the server's TLS key is not HQ's (it does not match the pin from enrollment): someone "
                   "else "
                   "may be answering for HQ; nothing was sent";
        case CURLE_SEND_ERROR:
            if (at.osErrno == ECONNRESET || at.osErrno == EPIPE)
                return "HQ closed the connection while the request was being sent (it was cut by HQ or by "
                       "something on the way)";
            return "the link to HQ dropped while the request was being sent";
        case CURLE_RECV_ERROR:
            if (at.osErrno == ECONNRESET || at.osErrno == EPIPE)
                return std::string(at.received ? "HQ closed the connection before its answer was complete"
                                               : "HQ closed the connection without answering") +
                       " (it was cut by HQ or by something on the way)";
            return "the link to HQ dropped while waiting for its answer";
        case CURLE_PARTIAL_FILE:
            return "HQ's answer was cut short: the link dropped or HQ closed the connection during the "
                   "answer";
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            return "the server at " + where +
                   " does not answer in HTTP as HQ does (another program may be "
                   "listening there)";
        case CURLE_URL_MALFORMAT:
            return "HQ's address is not a valid address (" + o.baseUrl + ")";
        case CURLE_OUT_OF_MEMORY:
            return "this laptop ran out of memory during the transfer";
        default:
            return "the connection to HQ failed (transfer error " + std::to_string(static_cast<int>(cc)) +
                   ")";
    }
}

// HQ's side failed, not the link (Response::retryable).
bool retryableFailure(CURLcode cc, const Reached& at, const std::string& libText) {
    switch (cc) {
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
            return true;
        case CURLE_COULDNT_CONNECT:
            return at.osErrno == ECONNREFUSED;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
            return at.osErrno == ECONNRESET || at.osErrno == EPIPE;
        case CURLE_SSL_CONNECT_ERROR:
            return closedByPeer(at.osErrno, libText);
        case CURLE_OPERATION_TIMEDOUT:
            return at.connected && at.hqSide() && !at.received;
        default:
            return false;
    }
}

}  // namespace

std::string Response::header(const std::string& lowerName) const {
    auto it = headers.find(lowerName);
    return it == headers.end() ? std::string() : it->second;
}

struct Client::Slot {
    Client* owner = nullptr;
    CURL* easy = nullptr;
    curl_slist* headerList = nullptr;
    bool busy = false;
    Request req;
    Response resp;
    curl_off_t sent = 0, received = 0;
    std::chrono::steady_clock::time_point started{}, uploaded{}, lookedAtSocket{};
    bool uploadDone = false;
    int newSocket = -1;  // the socket libcurl opened for this transfer (-1: none, or one kept open)
    bool peerHasAll = false, peerTakesNoMore = false;  // see Reached
    std::string tcp;                                   // PeerState::tcp
    char errbuf[CURL_ERROR_SIZE] = {};

    ~Slot() {
        if (headerList) curl_slist_free_all(headerList);
        if (easy) curl_easy_cleanup(easy);
    }

    static std::size_t onBody(char* p, std::size_t size, std::size_t n, void* ud) {
        auto* s = static_cast<Slot*>(ud);
        std::size_t len = size * n;
        if (s->resp.body.size() + len > s->owner->m_opts.maxResponseBytes) {
            s->resp.tooLarge = true;
            return 0;  // libcurl stops with CURLE_WRITE_ERROR
        }
        s->resp.body.append(p, len);
        return len;
    }

    static std::size_t onHeader(char* p, std::size_t size, std::size_t n, void* ud) {
        auto* s = static_cast<Slot*>(ud);
        std::size_t len = size * n;
        std::string line(p, len);
        if (line.rfind("HTTP/", 0) == 0) {
            s->resp.headers.clear();  // a new response (after an interim 1xx)
        } else if (auto colon = line.find(':'); colon != std::string::npos) {
            s->resp.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
        }
        return len;
    }

    static int onProgress(void* ud, curl_off_t, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        auto* s = static_cast<Slot*>(ud);
        s->sent = ulnow;
        s->received = dlnow;
        if (!s->uploadDone && ultotal > 0 && ulnow >= ultotal) {
            s->uploadDone = true;
            s->uploaded = std::chrono::steady_clock::now();
        }
        // Whether the link carried everything sent so far, for the words of a timeout (HQ's silence or the
        // link's). Before the connection is made libcurl has no active socket; the one it opened is used.
        // Looked at ten times a second at most (two system calls each).
        if (auto now = std::chrono::steady_clock::now();
            now - s->lookedAtSocket >= std::chrono::milliseconds(100)) {
            s->lookedAtSocket = now;
            const int fd = s->currentSocket();
            const auto recent = static_cast<std::uint32_t>(s->owner->m_opts.lowSpeedSeconds * 1000);
            const PeerState p = peerState(static_cast<int>(fd), recent);
            s->peerHasAll = p.hasAll;
            s->peerTakesNoMore = p.takesNoMore;
            s->tcp = std::move(p.tcp);
        }
        const auto* cancel = s->owner->m_opts.cancel;
        return cancel && cancel->load() ? 1 : 0;  // non-zero aborts the transfer
    }

    // The socket of this transfer's connection, new or kept open from before: among the sockets this
    // client opened, the one bound to the local port libcurl reports; -1 before there is one.
    int currentSocket() const {
        long port = 0;
        if (curl_easy_getinfo(easy, CURLINFO_LOCAL_PORT, &port) == CURLE_OK && port > 0)
            for (int fd : owner->m_sockets) {
                sockaddr_storage a{};
                socklen_t len = sizeof a;
                if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) continue;
                const auto local = a.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&a)->sin6_port
                                                           : reinterpret_cast<sockaddr_in*>(&a)->sin_port;
                if (ntohs(local) == port) return fd;
            }
        return newSocket;
    }

    static int onSocket(void* ud, curl_socket_t fd, curlsocktype) {
        auto* s = static_cast<Slot*>(ud);
        s->newSocket = static_cast<int>(fd);
        s->owner->m_sockets.push_back(static_cast<int>(fd));
        return CURL_SOCKOPT_OK;
    }
    // Every connection's socket is closed here, whichever handle closes it: it leaves the client's list.
    static int onClose(void* ud, curl_socket_t fd) {
        auto* client = static_cast<Client*>(ud);
        auto& list = client->m_sockets;
        list.erase(std::remove(list.begin(), list.end(), static_cast<int>(fd)), list.end());
        for (auto& slot : client->m_slots)
            if (slot->newSocket == static_cast<int>(fd)) slot->newSocket = -1;
        return ::close(fd);
    }
};

Client::Client(Options o, int slots) : m_opts(std::move(o)) {
    globalInit();
    m_multi = curl_multi_init();
    if (!m_multi) throw Failure(ErrorDomain::Internal, ErrorCode::Internal, "libcurl cannot start");
    int n = std::max(1, slots);
    // Enough cached connections that every slot finds its own again.
    curl_multi_setopt(m_multi, CURLMOPT_MAXCONNECTS, static_cast<long>(n + 1));
    for (int i = 0; i < n; ++i) {
        auto s = std::make_unique<Slot>();
        s->owner = this;
        s->easy = curl_easy_init();
        if (!s->easy) throw Failure(ErrorDomain::Internal, ErrorCode::Internal, "libcurl cannot start");
        m_slots.push_back(std::move(s));
    }
}

Client::~Client() {
    for (auto& s : m_slots)
        if (s->busy) curl_multi_remove_handle(static_cast<CURLM*>(m_multi), s->easy);
    m_slots.clear();
    curl_multi_cleanup(static_cast<CURLM*>(m_multi));
}

int Client::slots() const {
    return static_cast<int>(m_slots.size());
}

int Client::freeSlot() const {
    for (std::size_t i = 0; i < m_slots.size(); ++i)
        if (!m_slots[i]->busy) return static_cast<int>(i);
    return -1;
}

bool Client::idle() const {
    return std::none_of(m_slots.begin(), m_slots.end(), [](const auto& s) { return s->busy; });
}

void Client::start(int slot, Request req) {
    Slot& s = *m_slots.at(static_cast<std::size_t>(slot));
    if (s.busy) throw Failure(ErrorDomain::Internal, ErrorCode::Internal, "the connection is busy");
    const bool https = m_opts.baseUrl.rfind("https://", 0) == 0;
    const bool http = m_opts.baseUrl.rfind("http://", 0) == 0;
    if (!https && !(http && m_opts.allowInsecureHttp))
        throw Failure(ErrorDomain::Input, ErrorCode::BadInput,
                      "HQ's address must start with https:// (got '" + m_opts.baseUrl + "')");
    if (https && m_opts.pin.empty())
        throw Failure(ErrorDomain::Input, ErrorCode::BadInput, "no TLS pin for HQ: enroll again");

    s.req = std::move(req);
    s.resp = Response{};
    s.sent = s.received = 0;
    s.uploadDone = false;
    s.newSocket = -1;
    s.peerHasAll = false;
    s.peerTakesNoMore = false;
    s.tcp.clear();
    s.lookedAtSocket = {};
    s.started = std::chrono::steady_clock::now();
    s.errbuf[0] = 0;
    if (s.headerList) {
        curl_slist_free_all(s.headerList);
        s.headerList = nullptr;
    }
    // Reset clears the options, not the connection and TLS session caches.
    CURL* e = s.easy;
    curl_easy_reset(e);
    std::string url = m_opts.baseUrl + s.req.target;
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, https ? "https" : "http");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, https ? CURLPROTO_HTTPS : CURLPROTO_HTTP);
#endif
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect is never HQ's answer
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, m_opts.connectTimeoutMs);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, m_opts.lowSpeedBytes);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, m_opts.lowSpeedSeconds);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    // Answers are decoded by the caller (zstd, with a size limit), never by libcurl.
    curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, kProtocolName);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s.errbuf);
    if (https) {
        std::string pin = curlPin(m_opts.pin);
        curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, pin.c_str());
        curl_easy_setopt(e, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
        // The pin is the trust anchor (see the top of this file). A CA bundle, when given, is checked too;
        // host names are not (HQ is often reached by an address its self-signed certificate does not name).
        if (m_opts.caFile.empty()) {
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        } else {
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
            curl_easy_setopt(e, CURLOPT_CAINFO, m_opts.caFile.c_str());
        }
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    for (const auto& h : s.req.headers) s.headerList = curl_slist_append(s.headerList, h.c_str());
    // No "Expect: 100-continue": it costs a round trip (or a second's wait) before every large push.
    s.headerList = curl_slist_append(s.headerList, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s.headerList);
    if (s.req.method == "POST") {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, s.req.body.data());
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(s.req.body.size()));
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Slot::onBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Slot::onHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, &Slot::onProgress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, &s);
    curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, &Slot::onSocket);
    curl_easy_setopt(e, CURLOPT_SOCKOPTDATA, &s);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &Slot::onClose);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
    if (s.req.freshConnection) curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &s);
    CURLMcode mc = curl_multi_add_handle(static_cast<CURLM*>(m_multi), e);
    if (mc != CURLM_OK)
        throw Failure(ErrorDomain::Internal, ErrorCode::Internal,
                      std::string("libcurl refused the transfer: ") + curl_multi_strerror(mc));
    s.busy = true;
}

Response Client::finish(Slot& s, int code) {
    CURL* e = s.easy;
    curl_multi_remove_handle(static_cast<CURLM*>(m_multi), e);
    s.busy = false;
    Response r = std::move(s.resp);
    s.resp = Response{};
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t up = 0, down = 0;
    curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &down);
    r.bytesSent = static_cast<std::int64_t>(up);
    r.bytesReceived = static_cast<std::int64_t>(down);
    curl_off_t firstByteUs = 0, totalUs = 0;
    curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &firstByteUs);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &totalUs);
    const double total = static_cast<double>(totalUs) / 1e6;
    if (s.uploadDone && firstByteUs > 0) {
        double sending = std::chrono::duration<double>(s.uploaded - s.started).count();
        double firstByte = static_cast<double>(firstByteUs) / 1e6;
        r.waitSeconds = std::max(0.0, firstByte - sending);
        r.transferSeconds = std::max(0.0, total - r.waitSeconds);
    } else {
        r.transferSeconds = total;
    }
    auto cc = static_cast<CURLcode>(code);
    if (cc == CURLE_OK) {
        r.status = static_cast<int>(status);
        return r;
    }
    r.status = 0;
    const bool received = !r.body.empty() || !r.headers.empty() || down > 0;
    r.body.clear();
    const std::string libText =
        trim(s.errbuf[0] ? std::string(s.errbuf) : std::string(curl_easy_strerror(cc)));
    Reached at;
    curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &at.osErrno);
    // A local port: the TCP connection was made (libcurl's connect time waits for the TLS handshake
    // too). A transfer on a connection kept open from before made no new one and needed no handshake.
    long localPort = 0, newConnections = 0;
    curl_off_t tlsUs = 0;
    curl_easy_getinfo(e, CURLINFO_LOCAL_PORT, &localPort);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &newConnections);
    curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &tlsUs);
    const bool https = m_opts.baseUrl.rfind("https://", 0) == 0;
    at.connected = localPort != 0;
    at.tlsDone = !https || tlsUs > 0 || (at.connected && newConnections == 0);
    at.received = received;
    at.requestSent = s.req.method != "POST" || s.uploadDone || s.req.body.empty();
    at.peerHasAll = s.peerHasAll;
    at.peerTakesNoMore = s.peerTakesNoMore;
    r.detail = "libcurl error " + std::to_string(static_cast<int>(cc)) + " (" + curl_easy_strerror(cc) +
               "): " + libText;
    if (at.osErrno != 0)
        r.detail += " [errno " + std::to_string(at.osErrno) + ": " +
                    std::strerror(static_cast<int>(at.osErrno)) + "]";
    if (!s.tcp.empty()) r.detail += " [" + s.tcp + "]";
    switch (cc) {
        case CURLE_OPERATION_TIMEDOUT:
            r.timedOut = true;
            break;
        case CURLE_ABORTED_BY_CALLBACK:
            r.cancelled = true;
            r.error = "cancelled";
            return r;
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            r.pinMismatch = true;
            break;
        case CURLE_WRITE_ERROR:
            r.error = r.tooLarge ? "HQ's answer was larger than " + std::to_string(m_opts.maxResponseBytes) +
                                       " bytes"
                                 : "HQ's answer could not be kept (this laptop ran out of memory?)";
            return r;
        default:
            break;
    }
    r.error = describeFailure(cc, at, m_opts, libText);
    r.retryable = retryableFailure(cc, at, libText);
    return r;
}

std::vector<std::pair<int, Response>> Client::poll(int timeoutMs) {
    std::vector<std::pair<int, Response>> done;
    auto* multi = static_cast<CURLM*>(m_multi);
    auto collect = [&] {
        int running = 0;
        curl_multi_perform(multi, &running);
        int left = 0;
        while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
            if (m->msg != CURLMSG_DONE) continue;
            Slot* s = nullptr;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&s));
            if (!s) continue;
            int code = static_cast<int>(m->data.result);
            int index = 0;
            for (std::size_t i = 0; i < m_slots.size(); ++i)
                if (m_slots[i].get() == s) index = static_cast<int>(i);
            done.emplace_back(index, finish(*s, code));
        }
    };
    collect();
    if (done.empty() && !idle()) {
        // Short waits, so a cancel is seen within a tenth of a second even on a silent link.
        int waited = 0;
        do {
            int step = std::min(100, std::max(1, timeoutMs - waited));
            curl_multi_poll(multi, nullptr, 0, step, nullptr);
            waited += step;
            collect();
        } while (done.empty() && waited < timeoutMs && !(m_opts.cancel && m_opts.cancel->load()));
    }
    if (m_opts.cancel && m_opts.cancel->load())
        for (std::size_t i = 0; i < m_slots.size(); ++i)
            if (m_slots[i]->busy)
                done.emplace_back(static_cast<int>(i), finish(*m_slots[i], CURLE_ABORTED_BY_CALLBACK));
    return done;
}

void Client::pump() {
    if (idle()) return;
    int running = 0;
    curl_multi_perform(static_cast<CURLM*>(m_multi), &running);
}

Response Client::perform(Request req) {
    start(0, std::move(req));
    for (;;) {
        for (auto& [slot, r] : poll(1000))
            if (slot == 0) return std::move(r);
    }
}

std::int64_t Client::liveBytesSent() const {
    std::int64_t n = 0;
    for (const auto& s : m_slots)
        if (s->busy) n += static_cast<std::int64_t>(s->sent);
    return n;
}

std::int64_t Client::liveBytesReceived() const {
    std::int64_t n = 0;
    for (const auto& s : m_slots)
        if (s->busy) n += static_cast<std::int64_t>(s->received);
    return n;
}

}  // namespace outpost::sync::http
