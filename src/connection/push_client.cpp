// SPDX-License-Identifier: MIT
#include "connection/push_client.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <ctime>
#include <ifaddrs.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <optional>
#include <stdexcept>
#include <sys/socket.h>

#include "config/units.hpp"
#include "connection/proxy_environment.hpp"
#include "connection/server_url.hpp"
#include "connection/token.hpp"
#include "record/base64.hpp"
#include "record/timestamp.hpp"
#include "system/log.hpp"

namespace wspush::connection {

namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;

constexpr std::size_t rxBufferSize = std::size_t{64} * 1024;
constexpr auto closeGrace = std::chrono::seconds(2);
// Used to give up on a connect attempt when heartbeat.timeout is off.
constexpr auto defaultConnectTimeout = std::chrono::seconds(30);
// A Retry-After beyond this is taken as this: a broken server must not park the daemon.
constexpr config::Duration longestServerWait = std::chrono::hours(1);

// getaddrinfo blocks the loop (no async DNS in Debian's lws), as lws's own lookup would;
// doing it here gives the admin the resolver's reason instead of a bare failure.
std::string resolve(const std::string& host, std::string& error)
{
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int status = getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (status != 0) {
        error = "cannot resolve " + host + ": " + gai_strerror(status);
        return {};
    }
    char address[NI_MAXHOST];
    const int named = getnameinfo(found->ai_addr, found->ai_addrlen, address, sizeof address,
                                  nullptr, 0, NI_NUMERICHOST);
    freeaddrinfo(found);
    if (named != 0) {
        error = "cannot resolve " + host + ": " + gai_strerror(named);
        return {};
    }
    return address;
}

// "user:pa%40ss" as written in a URL, sent as RFC 7617 Basic credentials.
std::string basicCredentials(std::string_view userInfo)
{
    std::string decoded;
    for (std::size_t i = 0; i < userInfo.size(); ++i) {
        unsigned byte = 0;
        const char* hex = userInfo.data() + i + 1;
        if (userInfo[i] == '%' && i + 2 < userInfo.size() && std::isxdigit(hex[0]) &&
            std::isxdigit(hex[1]) && std::from_chars(hex, hex + 2, byte, 16).ec == std::errc()) {
            decoded.push_back(static_cast<char>(byte));
            i += 2;
        } else {
            decoded.push_back(userInfo[i]);
        }
    }
    std::string value = "Basic ";
    record::appendBase64(decoded, value);
    return value;
}

// The Host header's form of the authority: IPv6 in brackets, the port when not the
// scheme's default. lws also takes its TLS name from it, up to the first ':'.
std::string hostHeader(const ServerUrl& url)
{
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    if (url.port != (url.secure ? 443 : 80))
        host += ":" + std::to_string(url.port);
    return host;
}

// lws cannot check a certificate against an IPv6 address (it cuts its name at the first
// ':'), so the daemon checks it itself, before it sends any header.
bool certificateMatchesAddress(lws* wsi, const std::string& address)
{
    SSL* ssl = lws_get_ssl(wsi);
    if (ssl == nullptr)
        return false;
    X509* certificate = SSL_get1_peer_certificate(ssl);
    if (certificate == nullptr)
        return false;
    const bool matches = X509_check_ip_asc(certificate, address.c_str(), 0) == 1;
    X509_free(certificate);
    return matches;
}

std::string responseHeader(lws* wsi, lws_token_indexes token)
{
    const int length = lws_hdr_total_length(wsi, token);
    if (length <= 0)
        return {};
    std::string value(static_cast<std::size_t>(length) + 1, '\0');
    if (lws_hdr_copy(wsi, value.data(), length + 1, token) < 0)
        return {};
    value.resize(static_cast<std::size_t>(length));
    return value;
}

// RFC 9110 10.2.3: delay-seconds or an HTTP-date.
std::optional<config::Duration> parseRetryAfter(const std::string& value)
{
    unsigned long seconds = 0;
    const char* end = value.data() + value.size();
    if (const auto [stop, error] = std::from_chars(value.data(), end, seconds);
        error == std::errc() && stop == end)
        return std::min<config::Duration>(std::chrono::seconds(std::min(seconds, 86400UL)),
                                          longestServerWait);
    std::tm date{};
    const char* parsed = strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &date);
    if (parsed == nullptr || *parsed != '\0')
        return std::nullopt;
    const auto until = std::chrono::system_clock::from_time_t(timegm(&date));
    const auto wait = std::chrono::ceil<config::Duration>(until - std::chrono::system_clock::now());
    return std::clamp(wait, config::Duration{0}, longestServerWait);
}

// The narrowest configured range wins, so a single code can override its block.
std::optional<config::Duration> configuredWait(const std::vector<config::CloseCodeWait>& waits,
                                               unsigned code)
{
    const config::CloseCodeWait* match = nullptr;
    for (const auto& wait : waits) {
        if (code >= wait.first && code <= wait.last &&
            (match == nullptr || wait.last - wait.first < match->last - match->first))
            match = &wait;
    }
    return match != nullptr ? std::optional(match->wait) : std::nullopt;
}

// lws 4.1 predates the codes 1012-1015 and overwrites them with 1002 in the close frame
// before we see it (the reason text is left as it was). So a 1002 may be any of them, and
// takes the shortest wait among them: 1012 (service restart) means "come back soon", and a
// code without a configured wait has none.
std::optional<config::Duration> closeCodeWait(const std::vector<config::CloseCodeWait>& waits,
                                              unsigned code)
{
    if (code != LWS_CLOSE_STATUS_PROTOCOL_ERR)
        return configuredWait(waits, code);
    std::optional<config::Duration> shortest;
    for (const unsigned candidate : {1002U, 1012U, 1013U, 1014U, 1015U}) {
        const auto wait = configuredWait(waits, candidate);
        if (!wait)
            return std::nullopt;
        if (!shortest || *wait < *shortest)
            shortest = wait;
    }
    return shortest;
}

// RFC 3986: every byte but the unreserved characters as %XX, so that an id is one query
// value or path segment whatever it holds.
std::string percentEncoded(std::string_view text)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string encoded;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (std::isalnum(byte) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
            encoded.push_back(c);
        } else {
            encoded.push_back('%');
            encoded.push_back(hex[byte >> 4]);
            encoded.push_back(hex[byte & 0xf]);
        }
    }
    return encoded;
}

std::string substituteLastId(std::string_view text, std::string_view lastId)
{
    return substitute(text, "${LAST_ID}", lastId);
}

bool usesTls(const config::ServerConfig& server)
{
    const auto url = parseServerUrl(server.url);
    return url && url->secure;
}

// server.proxy, else https_proxy/http_proxy/no_proxy as read at start.
std::string proxyOf(const config::ServerConfig& server)
{
    if (!server.proxy.empty())
        return server.proxy;
    const auto url = parseServerUrl(server.url);
    if (!url)
        return {};
    const ProxyChoice choice = proxyFor(ProxyEnvironment::process(), *url);
    if (!choice.rejected.empty())
        log::warning("ignoring $" + choice.source + ": " + choice.rejected);
    else if (!choice.url.empty())
        log::notice("connecting through the proxy " + maskUrl(choice.url) + " from $" +
                    choice.source);
    return choice.url;
}

// The fatal TLS alert the server sent during the current attempt. A refused client
// certificate shows only as an alert, which lws logs at INFO level, if at all.
std::string receivedTlsAlert;

void noteTlsAlert(const SSL* /*ssl*/, int where, int value)
{
    if ((where & SSL_CB_ALERT) == 0 || (where & SSL_CB_READ) == 0 ||
        std::string_view(SSL_alert_type_string(value)) != "F")
        return;
    // OpenSSL 3.0 has no text for this TLS 1.3 alert.
    constexpr int certificateRequired = 116;
    const std::string_view text = SSL_alert_desc_string_long(value);
    receivedTlsAlert = (value & 0xff) == certificateRequired ? "certificate required"
                       : text == "unknown" ? "alert " + std::to_string(value & 0xff)
                                           : std::string(text);
}

bool hasHeader(const std::vector<std::pair<std::string, std::string>>& headers,
               std::string_view name)
{
    for (const auto& [key, value] : headers) {
        if (key.size() == name.size() && strncasecmp(key.c_str(), name.data(), name.size()) == 0)
            return true;
    }
    return false;
}

} // namespace

PushClient::PushClient(event::EventLoop& loop, Listener& listener, const config::Config& config)
    : loop_(loop), listener_(listener), server_(config.server), heartbeat_(config.heartbeat),
      reconnect_(config.reconnect), resumeMessage_(config.resume.message),
      lastId_(config.resume.initial), displayUrl_(maskUrl(config.server.url)),
      proxy_(proxyOf(config.server)), backoff_(config.reconnect),
      retryTimer_(loop.context(), [this] { connect(); }),
      heartbeatTimer_(loop.context(), [this] { sendHeartbeat(); }),
      pingTimer_(loop.context(), [this] { sendPing(); }),
      livenessTimer_(loop.context(), [this] { checkLiveness(); }),
      stableTimer_(loop.context(), [this] { onStable(); }),
      probeTimer_(loop.context(), [this] { onProbeTimeout(); })
{
    createVhost();
}

PushClient::~PushClient()
{
    // lws may still call back while it tears the vhosts down: let it find no wsi of ours.
    wsi_ = nullptr;
    if (retiredVhost_ != nullptr)
        lws_vhost_destroy(retiredVhost_);
    lws_vhost_destroy(vhost_);
}

// lws keeps a pointer to the protocol list until a destroyed vhost is freed, later than
// the client that made it: the list is static.
const lws_protocols* PushClient::protocols()
{
    static const lws_protocols list[] = {
        {"wspush-client", callback, 0, rxBufferSize, 0, nullptr, 0},
        {nullptr, nullptr, 0, 0, 0, nullptr, 0},
    };
    return list;
}

// lws inflates into its receive buffer piece by piece, so max_message_size applies to the
// inflated size and a small compressed frame cannot make a large allocation.
const lws_extension* PushClient::extensions()
{
    static const lws_extension list[] = {
        {"permessage-deflate", lws_extension_callback_pm_deflate,
         "permessage-deflate; client_max_window_bits"},
        {nullptr, nullptr, nullptr},
    };
    return list;
}

void PushClient::createVhost()
{
    lws_context_creation_info info{};
    info.vhost_name = "push-client";
    info.port = CONTEXT_PORT_NO_LISTEN;
    // Only then does lws make the client's TLS context (and load the CA store).
    if (usesTls(server_))
        info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.protocols = protocols();
    info.user = this;
    if (server_.compression)
        info.extensions = extensions();
    const config::TlsConfig& tls = server_.tls;
    if (!tls.caFile.empty())
        info.client_ssl_ca_filepath = tls.caFile.c_str();
    if (!tls.certFile.empty())
        info.client_ssl_cert_filepath = tls.certFile.c_str();
    if (!tls.keyFile.empty())
        info.client_ssl_private_key_filepath = tls.keyFile.c_str();

    lws_vhost* vhost = lws_create_vhost(loop_.context(), &info);
    if (vhost == nullptr)
        throw std::runtime_error("cannot set up the client (check server.tls files)");
    if (!proxy_.empty()) {
        std::string proxy = proxy_;
        if (proxy.starts_with("http://"))
            proxy.erase(0, 7);
        if (lws_set_proxy(vhost, proxy.c_str()) != 0)
            throw std::runtime_error("cannot use the proxy " + maskUrl(proxy_));
    }
    retiredVhost_ = vhost_;
    vhost_ = vhost;
}

void PushClient::start() noexcept
{
    connect();
}

void PushClient::connect() noexcept
{
    state_ = State::Connecting;
    if (retiredVhost_ != nullptr && wsi_ == nullptr) {
        lws_vhost_destroy(retiredVhost_);
        retiredVhost_ = nullptr;
    }

    const auto url = parseServerUrl(server_.url);
    if (!url) {
        scheduleRetry("invalid server URL " + displayUrl_);
        return;
    }

    std::string token;
    try {
        token = readToken(server_);
    } catch (const std::exception& error) {
        scheduleRetry(error.what());
        return;
    }

    // Through a proxy the name is the proxy's to resolve: this host may not know it.
    std::string error;
    connectAddress_ = proxy_.empty() ? resolve(url->host, error) : url->host;
    if (connectAddress_.empty()) {
        scheduleRetry(error);
        return;
    }
    connectHost_ = hostHeader(*url);
    connectPath_ = substituteLastId(substituteToken(url->path, token), percentEncoded(lastId_));

    std::vector<std::string> secrets{token};
    connectHeaders_.clear();
    for (const auto& [name, value] : server_.headers) {
        connectHeaders_.emplace_back(name,
                                     substituteLastId(substituteToken(value, token), lastId_));
        secrets.push_back(connectHeaders_.back().second);
    }
    const bool tokenPlaced = usesToken(server_.url) || [&] {
        for (const auto& header : server_.headers) {
            if (usesToken(header.second))
                return true;
        }
        return false;
    }();
    if (!token.empty() && !tokenPlaced && !hasHeader(connectHeaders_, "authorization"))
        connectHeaders_.emplace_back("Authorization", "Bearer " + token);
    if (!url->userInfo.empty() && !hasHeader(connectHeaders_, "authorization")) {
        connectHeaders_.emplace_back("Authorization", basicCredentials(url->userInfo));
        secrets.push_back(url->userInfo);
        secrets.push_back(connectHeaders_.back().second);
    }
    if (const auto at = proxy_.rfind('@'); at != std::string::npos)
        secrets.push_back(proxy_.substr(7, at - 7)); // after "http://"
    log::setSecrets(std::move(secrets));

    int tlsFlags = 0;
    checkAddressOf_.clear();
    if (url->secure) {
        tlsFlags = LCCSCF_USE_SSL;
        if (server_.tls.verify && url->host.find(':') != std::string::npos) {
            tlsFlags |= LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
            checkAddressOf_ = url->host;
        }
        if (!server_.tls.verify) {
            tlsFlags |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                        LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
            log::warning("server.tls.verify is false: the server's certificate is NOT checked; "
                         "anyone on the path can read and forge this link");
        }
    }

    lws_client_connect_info info{};
    info.context = loop_.context();
    info.vhost = vhost_;
    info.address = connectAddress_.c_str();
    info.port = url->port;
    info.ssl_connection = tlsFlags;
    info.path = connectPath_.c_str();
    info.host = connectHost_.c_str();
    info.origin = connectHost_.c_str();
    info.protocol = server_.subprotocol.empty() ? nullptr : server_.subprotocol.c_str();
    info.local_protocol_name = protocols()[0].name;
    info.ietf_version_or_minus_one = -1;
    info.retry_and_idle_policy = &idlePolicy_;
    info.pwsi = &wsi_;

    log::debug("connecting to " + displayUrl_ + " (" + connectAddress_ + ")");
    established_ = false;
    lossReason_.clear();
    serverWait_ = config::Duration{0};
    authFailed_ = false;
    receivedTlsAlert.clear();
    log::takeLwsError();
    livenessTimer_.schedule(heartbeat_.timeout.count() > 0
                                ? duration_cast<microseconds>(heartbeat_.timeout)
                                : duration_cast<microseconds>(defaultConnectTimeout));
    if (lws_client_connect_via_info(&info) == nullptr) {
        wsi_ = nullptr;
        livenessTimer_.cancel();
        scheduleRetry(lossReason_.empty() ? "cannot connect to " + connectAddress_ : lossReason_);
    }
}

void PushClient::scheduleRetry(const std::string& reason) noexcept
{
    if (state_ == State::WaitingToRetry || state_ == State::Stopped)
        return;
    if (reconnect_.maxAttempts != 0 && backoff_.attempts() >= reconnect_.maxAttempts) {
        log::error("giving up after " + std::to_string(backoff_.attempts() + 1) +
                   " attempts: " + reason);
        state_ = State::Stopped;
        listener_.onStopped(true);
        return;
    }
    const config::Duration delay =
        authFailed_ ? backoff_.longest() : backoff_.next(serverWait_, recovering_);
    authFailed_ = false;
    serverWait_ = config::Duration{0};
    state_ = State::WaitingToRetry;
    retryTimer_.schedule(duration_cast<microseconds>(delay));
    log::notice("reconnecting in " + config::formatSeconds(delay) + ": " + reason);
    listener_.onRetryScheduled(delay, reason);
}

void PushClient::kill(const std::string& reason) noexcept
{
    if (wsi_ == nullptr)
        return;
    if (lossReason_.empty())
        lossReason_ = reason;
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void PushClient::stop() noexcept
{
    retryTimer_.cancel();
    reconnectAfterClose_ = false;
    if (wsi_ == nullptr) {
        state_ = State::Stopped;
        listener_.onStopped(false);
        return;
    }
    closeLink("shutting down");
}

void PushClient::closeLink(const std::string& reason) noexcept
{
    const bool connected = state_ == State::Connected;
    state_ = State::Closing;
    lossReason_ = reason;
    livenessTimer_.schedule(closeGrace);
    if (connected)
        lws_callback_on_writable(wsi_);
    else
        kill(reason);
}

void PushClient::reconfigure(const config::Config& config)
{
    const bool serverChanged = config.server != server_;
    std::string proxy = proxyOf(config.server);
    const bool vhostChanged = config.server.tls != server_.tls || proxy != proxy_ ||
                              usesTls(config.server) != usesTls(server_) ||
                              config.server.compression != server_.compression;
    const bool heartbeatChanged = config.heartbeat != heartbeat_;

    const config::ServerConfig previous = server_;
    server_ = config.server;
    if (vhostChanged) {
        proxy_.swap(proxy);
        try {
            createVhost();
        } catch (...) {
            server_ = previous;
            proxy_.swap(proxy);
            throw;
        }
    }
    heartbeat_ = config.heartbeat;
    reconnect_ = config.reconnect;
    resumeMessage_ = config.resume.message;
    backoff_.reconfigure(reconnect_);
    displayUrl_ = maskUrl(server_.url);

    if (serverChanged) {
        log::notice("server settings changed: reconnecting to " + displayUrl_);
        backoff_.reset();
        if (wsi_ != nullptr) {
            reconnectAfterClose_ = true;
            closeLink("configuration reloaded");
        } else if (state_ == State::WaitingToRetry) {
            retryTimer_.cancel();
            state_ = State::Idle;
            connect();
        }
    } else if (heartbeatChanged && state_ == State::Connected) {
        startLinkTimers();
    }
}

void PushClient::reconnectNow(const std::string& reason) noexcept
{
    probeTimer_.cancel();
    backoff_.reset();
    if (wsi_ != nullptr && state_ != State::Closing) {
        log::notice(reason + ": reconnecting at once");
        reconnectAfterClose_ = true;
        closeLink(reason);
    } else if (state_ == State::WaitingToRetry) {
        retryTimer_.cancel();
        state_ = State::Idle;
        connect();
    }
}

void PushClient::startLinkTimers() noexcept
{
    heartbeatTimer_.cancel();
    pingTimer_.cancel();
    if (!heartbeat_.message.empty() && heartbeat_.interval.count() > 0)
        heartbeatTimer_.schedule(duration_cast<microseconds>(heartbeat_.interval));
    if (heartbeat_.pingInterval.count() > 0)
        pingTimer_.schedule(duration_cast<microseconds>(heartbeat_.pingInterval));
    if (heartbeat_.timeout.count() > 0)
        livenessTimer_.schedule(duration_cast<microseconds>(heartbeat_.timeout));
    else
        livenessTimer_.cancel();
}

int PushClient::callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                         std::size_t length)
{
    // Comes once per TLS context, with a stand-in wsi.
    if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) {
        SSL_CTX_set_info_callback(static_cast<SSL_CTX*>(user), noteTlsAlert);
        return 0;
    }
    auto* client = static_cast<PushClient*>(lws_vhost_user(lws_get_vhost(wsi)));
    if (client == nullptr || wsi != client->wsi_)
        return 0;
    return client->dispatch(reason, in, length);
}

int PushClient::dispatch(lws_callback_reasons reason, void* in, std::size_t length) noexcept
{
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return appendHandshakeHeaders(static_cast<unsigned char**>(in), length);
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        onEstablished();
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        onReceive(static_cast<const char*>(in), length);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        lastInboundUs_ = lws_now_usecs();
        lastPongUs_ = lastInboundUs_;
        // Only the answer to our own ping (its payload) is a round trip.
        if (pingSentUs_ != 0 && length == 7 && std::memcmp(in, "wspushd", 7) == 0) {
            listener_.onRoundTrip(microseconds(lws_now_usecs() - pingSentUs_));
            pingSentUs_ = 0;
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return onWriteable();
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        readPendingTlsAlert();
        onConnectionError(static_cast<const char*>(in), length);
        break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        onPeerClose(static_cast<const unsigned char*>(in), length);
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        noteLoss("connection closed");
        break;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        readPendingTlsAlert();
        noteLoss("no answer to the upgrade request");
        break;
    case LWS_CALLBACK_WSI_DESTROY:
        onDestroyed();
        break;
    default:
        break;
    }
    return 0;
}

// A server that refuses our certificate sends its alert and hangs up at once; lws may act
// on the hang-up without reading the alert. Peeking makes OpenSSL read it, if it came.
void PushClient::readPendingTlsAlert() noexcept
{
    SSL* ssl = lws_get_ssl(wsi_);
    if (ssl == nullptr || !receivedTlsAlert.empty())
        return;
    char byte = 0;
    ERR_set_mark();
    SSL_peek(ssl, &byte, 1);
    ERR_pop_to_mark();
}

void PushClient::noteLoss(const std::string& reason) noexcept
{
    if (lossReason_.empty())
        lossReason_ = reason;
}

int PushClient::appendHandshakeHeaders(unsigned char** position, std::size_t length) noexcept
{
    if (!checkAddressOf_.empty() && !certificateMatchesAddress(wsi_, checkAddressOf_)) {
        noteLoss("IP address mismatch: the server's certificate is not valid for " +
                 checkAddressOf_);
        return -1;
    }
    unsigned char* end = *position + length;
    for (const auto& [name, value] : connectHeaders_) {
        const std::string field = name + ":";
        if (lws_add_http_header_by_name(wsi_, reinterpret_cast<const unsigned char*>(field.c_str()),
                                        reinterpret_cast<const unsigned char*>(value.data()),
                                        static_cast<int>(value.size()), position, end) != 0) {
            noteLoss("the handshake headers do not fit");
            return -1;
        }
    }
    return 0;
}

void PushClient::onConnectionError(const char* text, std::size_t length) noexcept
{
    const unsigned status = lws_http_client_http_response(wsi_);
    std::string reason = log::takeLwsError();
    if (status != 0 && status != 101)
        reason = onRefused(status);
    else if (reason.empty() && text != nullptr)
        reason = std::string(text, strnlen(text, length));
    if (reason.empty())
        reason = "connection failed";
    noteLoss(reason);
}

// 401 and 403 say the credentials are wrong: retrying soon only adds load. 429 and 503 may
// say when to come back.
std::string PushClient::onRefused(unsigned status) noexcept
{
    std::string answer = "HTTP " + std::to_string(status);
    if (const std::string statusLine = responseHeader(wsi_, WSI_TOKEN_HTTP);
        statusLine.size() > 4 && statusLine.find_first_not_of("0123456789") == 3)
        answer += " (" + statusLine.substr(4) + ")";
    if (status == 401 || status == 403) {
        authFailed_ = true;
        if (const std::string challenge = responseHeader(wsi_, WSI_TOKEN_HTTP_WWW_AUTHENTICATE);
            !challenge.empty())
            answer += ", WWW-Authenticate: " + challenge;
        std::string reason = "authentication failed: the server answered " + answer;
        log::error(reason + "; check the token and headers");
        return reason;
    }
    std::string reason = "server answered " + answer + " instead of upgrading";
    if (status == 429 || status == 503) {
        const std::string retryAfter = responseHeader(wsi_, WSI_TOKEN_HTTP_RETRY_AFTER);
        if (const auto wait = parseRetryAfter(retryAfter)) {
            serverWait_ = *wait;
            reason += " and asked to wait " + config::formatSeconds(*wait);
        } else if (!retryAfter.empty()) {
            reason += " (unreadable Retry-After ignored)";
        }
    }
    return reason;
}

void PushClient::onEstablished() noexcept
{
    if (state_ == State::Closing) {
        // Asked to close while the upgrade was under way: say goodbye properly.
        lws_callback_on_writable(wsi_);
        return;
    }
    established_ = true;
    recovering_ = false;
    if (everConnected_)
        ++counters_.reconnects;
    everConnected_ = true;
    state_ = State::Connected;
    connectedSinceUs_ = record::nowUs();
    lastInboundUs_ = lws_now_usecs();
    lossReason_.clear();
    inMessage_ = false;
    pingDue_ = false;
    log::notice("connected to " + displayUrl_);
    if (!resumeMessage_.empty())
        queueText(substituteLastId(resumeMessage_, lastId_), nullptr);
    sendHeartbeat();
    startLinkTimers();
    stableTimer_.schedule(duration_cast<microseconds>(reconnect_.stableAfter));
    listener_.onConnected();
}

void PushClient::onStable() noexcept
{
    backoff_.reset();
    log::debug("link stable for " + config::formatSeconds(reconnect_.stableAfter) +
               ": the reconnect delay starts again from initial_delay");
}

void PushClient::onReceive(const char* data, std::size_t length) noexcept
{
    // Per frame, so the coarse clock: a fifth of the precise one's cost, and at most a tick
    // (a few ms) behind it, which the liveness check can spare.
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    lastInboundUs_ = static_cast<std::int64_t>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
    if (!inMessage_) {
        inMessage_ = true;
        messageBinary_ = lws_frame_is_binary(wsi_) != 0;
        messageOversized_ = false;
        messageBytes_ = 0;
        message_.clear();
    }
    messageBytes_ += length;
    if (!messageOversized_) {
        if (messageBytes_ > server_.maxMessageSize) {
            messageOversized_ = true;
            std::string().swap(message_);
        } else {
            message_.append(data, length);
        }
    }
    if (!lws_is_final_fragment(wsi_))
        return;

    inMessage_ = false;
    if (messageOversized_) {
        ++counters_.oversized;
        log::warning("dropped a message of " + std::to_string(messageBytes_) +
                     " bytes: larger than server.max_message_size (" +
                     std::to_string(server_.maxMessageSize) + ")");
        return;
    }
    ++counters_.received;
    listener_.onMessage(std::move(message_), messageBinary_);
    // The listener may leave a spare buffer in message_: the next message fills it. A large
    // one goes, so a rare big message does not keep its memory.
    if (message_.capacity() > rxBufferSize)
        std::string().swap(message_);
}

int PushClient::onWriteable() noexcept
{
    if (state_ == State::Closing) {
        if (!closeSent_) {
            closeSent_ = true;
            lws_close_reason(wsi_, LWS_CLOSE_STATUS_NORMAL,
                             reinterpret_cast<unsigned char*>(lossReason_.data()),
                             lossReason_.size());
        }
        return -1;
    }

    if (pingDue_) {
        pingDue_ = false;
        unsigned char frame[LWS_PRE + 8];
        std::memcpy(frame + LWS_PRE, "wspushd", 7);
        if (lws_write(wsi_, frame + LWS_PRE, 7, LWS_WRITE_PING) < 0)
            return -1;
        if (pingSentUs_ == 0) // an earlier one unanswered: its pong comes first
            pingSentUs_ = lws_now_usecs();
    } else if (!outbound_.empty()) {
        Outgoing& next = outbound_.front();
        const std::size_t length = next.framed.size() - LWS_PRE;
        if (lws_write(wsi_, reinterpret_cast<unsigned char*>(next.framed.data()) + LWS_PRE, length,
                      LWS_WRITE_TEXT) < static_cast<int>(length))
            return -1;
        const auto written = std::move(next.written);
        outbound_.pop_front();
        if (written)
            written(true);
    }
    if (pingDue_ || !outbound_.empty())
        lws_callback_on_writable(wsi_);
    return 0;
}

void PushClient::onPeerClose(const unsigned char* in, std::size_t length) noexcept
{
    if (length < 2) {
        noteLoss("server closed the connection without a status code");
        return;
    }
    const unsigned code = (static_cast<unsigned>(in[0]) << 8) | in[1];
    std::string reason = "server closed the connection with code " + std::to_string(code);
    if (code == LWS_CLOSE_STATUS_PROTOCOL_ERR)
        reason += " (or 1012-1015, which libwebsockets 4.1 reports as 1002)";
    if (length > 2)
        reason += " (" + std::string(reinterpret_cast<const char*>(in) + 2, length - 2) + ")";
    if (const auto wait = closeCodeWait(reconnect_.closeCodes, code)) {
        serverWait_ = *wait;
        reason += ", which asks for a wait of at least " + config::formatSeconds(*wait);
    }
    noteLoss(reason);
}

void PushClient::onDestroyed() noexcept
{
    wsi_ = nullptr;
    closeSent_ = false;
    pingSentUs_ = 0;
    heartbeatTimer_.cancel();
    pingTimer_.cancel();
    livenessTimer_.cancel();
    stableTimer_.cancel();
    probeTimer_.cancel();
    failOutbound();
    // The server's own word beats whatever lws made of the hang-up that followed it.
    if (!established_ && !receivedTlsAlert.empty())
        lossReason_ = "the server refused the TLS handshake: " + receivedTlsAlert;
    const std::string reason = lossReason_.empty() ? "connection lost" : lossReason_;

    if (established_) {
        established_ = false;
        recovering_ = true;
        log::write(state_ == State::Closing ? log::Level::Notice : log::Level::Warning,
                   "disconnected from " + displayUrl_ + ": " + reason);
        listener_.onDisconnected(reason);
    }

    if (state_ == State::Closing && !reconnectAfterClose_) {
        state_ = State::Stopped;
        listener_.onStopped(false);
        return;
    }
    if (reconnectAfterClose_) {
        reconnectAfterClose_ = false;
        state_ = State::Idle;
        retryTimer_.schedule(microseconds(1));
        return;
    }
    if (state_ != State::WaitingToRetry)
        state_ = State::Idle;
    scheduleRetry(reason);
}

void PushClient::queueText(std::string_view text, std::function<void(bool)> written) noexcept
{
    try {
        std::string framed(LWS_PRE, '\0');
        framed += text;
        outbound_.push_back({std::move(framed), std::move(written)});
        lws_callback_on_writable(wsi_);
    } catch (const std::bad_alloc&) {
        log::error("out of memory: a message for the server was not sent");
    }
}

void PushClient::failOutbound() noexcept
{
    auto pending = std::move(outbound_);
    outbound_.clear();
    for (auto& item : pending) {
        if (item.written)
            item.written(false);
    }
}

std::string PushClient::send(std::string_view text, std::function<void(bool)> written)
{
    if (wsi_ == nullptr || state_ != State::Connected)
        return "not connected to the server";
    if (text.size() > server_.maxMessageSize)
        return "message larger than server.max_message_size (" +
               std::to_string(server_.maxMessageSize) + " bytes)";
    queueText(text, std::move(written));
    return {};
}

void PushClient::sendHeartbeat() noexcept
{
    if (heartbeat_.message.empty() || wsi_ == nullptr || state_ != State::Connected)
        return;
    queueText(heartbeat_.message, nullptr);
    ++counters_.heartbeatsSent;
    if (heartbeat_.interval.count() > 0)
        heartbeatTimer_.schedule(duration_cast<microseconds>(heartbeat_.interval));
}

void PushClient::sendPing() noexcept
{
    if (wsi_ == nullptr || state_ != State::Connected)
        return;
    pingDue_ = true;
    lws_callback_on_writable(wsi_);
    pingTimer_.schedule(duration_cast<microseconds>(heartbeat_.pingInterval));
}

namespace {

// The local address of a connected socket, as getnameinfo() writes it; "" when unknown.
std::string localAddressOf(int fd)
{
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    char text[NI_MAXHOST] = "";
    if (fd < 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        getnameinfo(reinterpret_cast<sockaddr*>(&address), length, text, sizeof text, nullptr, 0,
                    NI_NUMERICHOST) != 0)
        return {};
    return text;
}

// Whether an interface still has `address`.
bool addressStillAssigned(const std::string& address)
{
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0)
        return true; // cannot tell: probe instead
    bool found = false;
    for (const ifaddrs* entry = list; entry != nullptr && !found; entry = entry->ifa_next) {
        if (entry->ifa_addr == nullptr || (entry->ifa_addr->sa_family != AF_INET &&
                                           entry->ifa_addr->sa_family != AF_INET6))
            continue;
        char text[NI_MAXHOST] = "";
        const socklen_t length = entry->ifa_addr->sa_family == AF_INET ? sizeof(sockaddr_in)
                                                                       : sizeof(sockaddr_in6);
        found = getnameinfo(entry->ifa_addr, length, text, sizeof text, nullptr, 0,
                            NI_NUMERICHOST) == 0 &&
                address == text;
    }
    freeifaddrs(list);
    return found;
}

} // namespace

void PushClient::probe(const std::string& why) noexcept
{
    if (state_ == State::WaitingToRetry) {
        log::notice(why + ": trying to connect now");
        lastProbe_ = why + ": connecting now";
        reconnectNow(why);
        return;
    }
    if (state_ != State::Connected || wsi_ == nullptr || probeTimer_.isPending() ||
        heartbeat_.probeTimeout.count() == 0)
        return;
    ++counters_.probes;
    probeWhy_ = why;
    probeStartUs_ = lws_now_usecs();
    pingDue_ = true;
    lws_callback_on_writable(wsi_);
    probeTimer_.schedule(duration_cast<microseconds>(heartbeat_.probeTimeout));
}

void PushClient::onProbeTimeout() noexcept
{
    if (state_ != State::Connected)
        return;
    // Only a pong answers: data may be what was already on its way before the link broke.
    if (lastPongUs_ >= probeStartUs_) {
        lastProbe_ = probeWhy_ + ": the link answered";
        log::notice("probed the link (" + probeWhy_ + "): it answered");
        listener_.onProbed();
        return;
    }
    ++counters_.probeReconnects;
    lastProbe_ = probeWhy_ + ": no answer within " +
                 config::formatSeconds(heartbeat_.probeTimeout) + ", reconnected";
    log::warning("probed the link (" + probeWhy_ + "): no answer within " +
                 config::formatSeconds(heartbeat_.probeTimeout));
    reconnectNow("the link did not answer a probe");
    listener_.onProbed();
}

void PushClient::onNetworkChange() noexcept
{
    if (state_ == State::Connected && wsi_ != nullptr) {
        const std::string local = localAddressOf(lws_get_socket_fd(wsi_));
        if (!local.empty() && !addressStillAssigned(local)) {
            lastProbe_ = "the local address " + local + " went away: reconnected";
            reconnectNow("the local address " + local + " went away");
            return;
        }
    }
    probe("the network changed");
}

void PushClient::checkLiveness() noexcept
{
    if (wsi_ == nullptr)
        return;
    if (state_ == State::Connecting) {
        kill("no answer from the server in time");
        return;
    }
    if (state_ == State::Closing) {
        kill(lossReason_);
        return;
    }
    const auto timeoutUs = duration_cast<microseconds>(heartbeat_.timeout).count();
    const lws_usec_t idleUs = lws_now_usecs() - lastInboundUs_;
    if (idleUs >= timeoutUs) {
        kill("nothing received for " + config::formatSeconds(heartbeat_.timeout) +
             ": the link is dead");
        return;
    }
    livenessTimer_.schedule(microseconds(timeoutUs - idleUs));
}

} // namespace wspush::connection
