// SPDX-License-Identifier: MIT
#include "connection/push_client.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <ctime>
#include <ifaddrs.h>
#include <netdb.h>
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
#include "wire/retry_after.hpp"

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
// Our pings carry this, so that only their pongs count as round trips.
constexpr std::string_view pingPayload = "wspushd";

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
// scheme's default.
std::string hostHeader(const ServerUrl& url)
{
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    if (url.port != (url.secure ? 443 : 80))
        host += ":" + std::to_string(url.port);
    return host;
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

bool hasHeader(const std::vector<std::pair<std::string, std::string>>& headers,
               std::string_view name)
{
    for (const auto& [key, value] : headers) {
        if (key.size() == name.size() && strncasecmp(key.c_str(), name.data(), name.size()) == 0)
            return true;
    }
    return false;
}

// "http://[user:pass@]host:port" (the config loader and the environment reader checked it) as
// the URL parser reads a ws:// one.
std::optional<ServerUrl> parseProxyUrl(std::string_view proxy)
{
    if (!proxy.starts_with("http://"))
        return std::nullopt;
    proxy.remove_prefix(7);
    if (proxy.ends_with('/'))
        proxy.remove_suffix(1);
    std::string asWs = "ws://";
    asWs += proxy;
    return parseServerUrl(asWs);
}

std::string hostAndPort(const std::string& host, int port)
{
    std::string authority;
    if (host.find(':') != std::string::npos) {
        authority += '[';
        authority += host;
        authority += ']';
    } else {
        authority = host;
    }
    authority += ':';
    authority += std::to_string(port);
    return authority;
}

} // namespace

PushClient::PushClient(event::EventLoop& loop, Listener& listener, const config::Config& config)
    : loop_(loop), listener_(listener), server_(config.server), heartbeat_(config.heartbeat),
      reconnect_(config.reconnect), resumeMessage_(config.resume.message),
      lastId_(config.resume.initial), displayUrl_(maskUrl(config.server.url)),
      proxy_(proxyOf(config.server)), resolver_(loop), connector_(loop, resolver_),
      backoff_(config.reconnect), retryTimer_(loop.context(), [this] { connect(); }),
      heartbeatTimer_(loop.context(), [this] { sendHeartbeat(); }),
      pingTimer_(loop.context(), [this] { sendPing(); }),
      livenessTimer_(loop.context(), [this] { checkLiveness(); }),
      stableTimer_(loop.context(), [this] { onStable(); }),
      probeTimer_(loop.context(), [this] { onProbeTimeout(); }),
      reapTimer_(loop.context(), [this] { endedSockets_.clear(); })
{
    createTls();
}

PushClient::~PushClient() = default;

void PushClient::createTls()
{
    tls_ = usesTls(server_) ? std::make_unique<wire::TlsContext>(server_.tls) : nullptr;
}

void PushClient::start() noexcept
{
    connect();
}

wire::Route PushClient::routeTo(const ServerUrl& url) const
{
    wire::Route route;
    route.tlsHost = url.secure ? url.host : std::string();
    // Through a proxy the name is the proxy's to resolve: this host may not know it.
    if (const auto proxy = parseProxyUrl(proxy_)) {
        route.host = proxy->host;
        route.port = static_cast<std::uint16_t>(proxy->port);
        route.tunnelTo = hostAndPort(url.host, url.port);
        if (!proxy->userInfo.empty())
            route.proxyAuthorization = basicCredentials(proxy->userInfo);
        return route;
    }
    route.host = url.host;
    route.port = static_cast<std::uint16_t>(url.port);
    return route;
}

void PushClient::connect() noexcept
{
    state_ = State::Connecting;
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

    wire::Route route;
    try {
        request_ = {};
        request_.host = hostHeader(*url);
        request_.origin = request_.host;
        request_.target =
            substituteLastId(substituteToken(url->path, token), percentEncoded(lastId_));
        request_.subprotocol = server_.subprotocol;
        request_.offerDeflate = server_.compression;

        std::vector<std::string> secrets{token};
        auto& headers = request_.headers;
        for (const auto& [name, value] : server_.headers) {
            headers.emplace_back(name, substituteLastId(substituteToken(value, token), lastId_));
            secrets.push_back(headers.back().second);
        }
        const bool tokenPlaced = usesToken(server_.url) || [&] {
            for (const auto& header : server_.headers) {
                if (usesToken(header.second))
                    return true;
            }
            return false;
        }();
        if (!token.empty() && !tokenPlaced && !hasHeader(headers, "authorization"))
            headers.emplace_back("Authorization", "Bearer " + token);
        if (!url->userInfo.empty() && !hasHeader(headers, "authorization")) {
            headers.emplace_back("Authorization", basicCredentials(url->userInfo));
            secrets.push_back(url->userInfo);
            secrets.push_back(headers.back().second);
        }
        route = routeTo(*url);
        if (const auto at = proxy_.rfind('@'); at != std::string::npos) {
            secrets.push_back(proxy_.substr(7, at - 7)); // after "http://"
            secrets.push_back(route.proxyAuthorization);
        }
        log::setSecrets(std::move(secrets));
    } catch (const std::bad_alloc&) {
        scheduleRetry("out of memory");
        return;
    }
    if (url->secure && !server_.tls.verify)
        log::warning("server.tls.verify is false: the server's certificate is NOT checked; "
                     "anyone on the path can read and forge this link");

    log::debug("connecting to " + displayUrl_);
    established_ = false;
    lossReason_.clear();
    serverWait_ = config::Duration{0};
    authFailed_ = false;
    livenessTimer_.schedule(heartbeat_.timeout.count() > 0
                                ? duration_cast<microseconds>(heartbeat_.timeout)
                                : duration_cast<microseconds>(defaultConnectTimeout));
    connecting_ = true;
    connector_.connect(route, tls_.get(),
                       [this](std::unique_ptr<wire::Transport> transport,
                              const wire::Address& address, const std::string& error) {
                           onTransport(std::move(transport), address, error);
                       });
}

void PushClient::onTransport(std::unique_ptr<wire::Transport> transport,
                             const wire::Address& address, const std::string& error) noexcept
{
    connecting_ = false;
    if (transport == nullptr) {
        noteLoss(error);
        linkGone();
        return;
    }
    address_ = address.textWithPort();
    log::debug("reached " + address_ +
               (transport->isTls() ? " with " + transport->tlsDescription() : std::string()));
    try {
        wire::WebSocket::Listener& listener = *this;
        socket_ = std::make_unique<wire::WebSocket>(loop_, std::move(transport), listener,
                                                    server_.maxMessageSize);
    } catch (const std::exception& failure) {
        noteLoss(failure.what());
        linkGone();
        return;
    }
    socket_->upgrade(request_);
    if (heldBack_ && socket_ != nullptr)
        socket_->holdBack(true);
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
    noteLoss(reason);
    if (socket_ != nullptr) {
        socket_->abort(reason);
    } else if (connecting_) {
        connector_.cancel();
        connecting_ = false;
        linkGone();
    }
}

void PushClient::stop() noexcept
{
    retryTimer_.cancel();
    reconnectAfterClose_ = false;
    if (socket_ == nullptr && !connecting_) {
        state_ = State::Stopped;
        listener_.onStopped(false);
        return;
    }
    closeLink("shutting down", wire::WebSocket::Wait::ForAnswer);
}

void PushClient::closeLink(const std::string& reason, wire::WebSocket::Wait wait) noexcept
{
    const bool connected = state_ == State::Connected;
    state_ = State::Closing;
    lossReason_ = reason;
    livenessTimer_.schedule(closeGrace);
    if (connected && socket_ != nullptr && socket_->isOpen())
        socket_->close(1000, reason, wait);
    else
        kill(reason);
}

void PushClient::reconfigure(const config::Config& config)
{
    const bool serverChanged = config.server != server_;
    std::string proxy = proxyOf(config.server);
    const bool tlsChanged =
        config.server.tls != server_.tls || usesTls(config.server) != usesTls(server_);
    const bool heartbeatChanged = config.heartbeat != heartbeat_;

    const config::ServerConfig previous = server_;
    server_ = config.server;
    if (tlsChanged) {
        try {
            createTls();
        } catch (...) {
            server_ = previous;
            throw;
        }
    }
    proxy_.swap(proxy);
    heartbeat_ = config.heartbeat;
    reconnect_ = config.reconnect;
    resumeMessage_ = config.resume.message;
    backoff_.reconfigure(reconnect_);
    displayUrl_ = maskUrl(server_.url);

    if (serverChanged) {
        log::notice("server settings changed: reconnecting to " + displayUrl_);
        backoff_.reset();
        if (socket_ != nullptr || connecting_) {
            reconnectAfterClose_ = true;
            closeLink("configuration reloaded", wire::WebSocket::Wait::ForAnswer);
        } else if (state_ == State::WaitingToRetry) {
            retryTimer_.cancel();
            state_ = State::Idle;
            connect();
        }
    } else if (heartbeatChanged && state_ == State::Connected) {
        startLinkTimers();
    }
    if (socket_ != nullptr)
        socket_->setMaxMessageSize(server_.maxMessageSize);
}

void PushClient::reconnectNow(const std::string& reason) noexcept
{
    probeTimer_.cancel();
    backoff_.reset();
    if ((socket_ != nullptr || connecting_) && state_ != State::Closing) {
        log::notice(reason + ": reconnecting at once");
        reconnectAfterClose_ = true;
        closeLink(reason, wire::WebSocket::Wait::No);
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

void PushClient::noteLoss(const std::string& reason) noexcept
{
    if (lossReason_.empty())
        lossReason_ = reason;
}

void PushClient::onRefused(const wire::ResponseHead& head) noexcept
{
    noteLoss(refusalReason(head));
}

// 401 and 403 say the credentials are wrong: retrying soon only adds load. 429 and 503 may
// say when to come back.
std::string PushClient::refusalReason(const wire::ResponseHead& head) noexcept
{
    const unsigned status = head.status();
    std::string answer = "HTTP " + std::to_string(status);
    if (!head.reason().empty())
        answer += " (" + head.reason() + ")";
    if (status == 401 || status == 403) {
        authFailed_ = true;
        if (const auto challenge = head.header("WWW-Authenticate"); challenge && !challenge->empty())
            answer += ", WWW-Authenticate: " + *challenge;
        std::string reason = "authentication failed: the server answered " + answer;
        log::error(reason + "; check the token and headers");
        return reason;
    }
    std::string reason = "server answered " + answer + " instead of upgrading";
    if (status == 429 || status == 503) {
        const std::string retryAfter = head.header("Retry-After").value_or("");
        if (const auto wait = wire::parseRetryAfter(retryAfter, longestServerWait)) {
            serverWait_ = *wait;
            reason += " and asked to wait " + config::formatSeconds(*wait);
        } else if (!retryAfter.empty()) {
            reason += " (unreadable Retry-After ignored)";
        }
    }
    return reason;
}

void PushClient::onOpen(const wire::UpgradeResult& /*result*/) noexcept
{
    if (state_ == State::Closing) {
        // Asked to close while the upgrade was under way: say goodbye properly.
        socket_->close(1000, lossReason_, wire::WebSocket::Wait::ForAnswer);
        return;
    }
    established_ = true;
    recovering_ = false;
    if (everConnected_)
        ++counters_.reconnects;
    everConnected_ = true;
    state_ = State::Connected;
    connectedSinceUs_ = record::nowUs();
    lossReason_.clear();
    log::notice("connected to " + displayUrl_);
    startLinkTimers();
    stableTimer_.schedule(duration_cast<microseconds>(reconnect_.stableAfter));
    listener_.onConnected();
    // Last: a write that fails ends the link at once.
    if (!resumeMessage_.empty() && socket_ != nullptr)
        socket_->sendText(substituteLastId(resumeMessage_, lastId_));
    sendHeartbeat();
}

void PushClient::onStable() noexcept
{
    backoff_.reset();
    log::debug("link stable for " + config::formatSeconds(reconnect_.stableAfter) +
               ": the reconnect delay starts again from initial_delay");
}

void PushClient::onMessage(std::string& payload, bool binary) noexcept
{
    ++counters_.received;
    listener_.onMessage(std::move(payload), binary);
    // The listener may leave a spare buffer in payload: the next message fills it. A large
    // one goes, so a rare big message does not keep its memory.
    if (payload.capacity() > rxBufferSize)
        std::string().swap(payload);
}

void PushClient::onOversized(std::size_t bytes) noexcept
{
    ++counters_.oversized;
    log::warning("dropped a message of " + std::to_string(bytes) +
                 " bytes: larger than server.max_message_size (" +
                 std::to_string(server_.maxMessageSize) + ")");
}

void PushClient::onPong(std::string_view payload) noexcept
{
    lastPongUs_ = lws_now_usecs();
    // Only the answer to our own ping (its payload) is a round trip.
    if (pingSentUs_ != 0 && payload == pingPayload) {
        listener_.onRoundTrip(microseconds(lastPongUs_ - pingSentUs_));
        pingSentUs_ = 0;
    }
}

void PushClient::onPeerClose(std::optional<std::uint16_t> code, std::string_view text) noexcept
{
    if (!code) {
        noteLoss("server closed the connection without a status code");
        return;
    }
    std::string reason = "server closed the connection with code " + std::to_string(*code);
    if (!text.empty()) {
        reason += " (";
        reason += text;
        reason += ')';
    }
    if (const auto wait = configuredWait(reconnect_.closeCodes, *code)) {
        serverWait_ = *wait;
        reason += ", which asks for a wait of at least " + config::formatSeconds(*wait);
    }
    noteLoss(reason);
}

// One at a time, not by moving the deque away: libstdc++'s deque allocates when moved
// from, and this runs after every pong.
void PushClient::onDrained() noexcept
{
    while (!unconfirmed_.empty()) {
        const auto written = std::move(unconfirmed_.front());
        unconfirmed_.pop_front();
        if (written)
            written(true);
    }
}

void PushClient::onEnded(const std::string& reason) noexcept
{
    noteLoss(reason);
    linkGone();
}

void PushClient::linkGone() noexcept
{
    if (socket_ != nullptr) {
        // A refused client certificate shows only as the server's alert, which TLS 1.3
        // brings after the client's side of the handshake is done.
        if (!established_) {
            if (const std::string alert = socket_->transport().tlsAlert(); !alert.empty())
                lossReason_ = "the server refused the TLS handshake: " + alert;
        }
        try {
            endedSockets_.push_back(std::move(socket_));
            reapTimer_.schedule(microseconds(1));
        } catch (const std::bad_alloc&) {
            log::error("out of memory: an ended link is kept until the next one ends");
        }
    }
    connecting_ = false;
    address_.clear();
    pingSentUs_ = 0;
    heartbeatTimer_.cancel();
    pingTimer_.cancel();
    livenessTimer_.cancel();
    stableTimer_.cancel();
    probeTimer_.cancel();
    failOutbound();
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

void PushClient::failOutbound() noexcept
{
    while (!unconfirmed_.empty()) {
        const auto written = std::move(unconfirmed_.front());
        unconfirmed_.pop_front();
        if (written)
            written(false);
    }
}

std::string PushClient::send(std::string_view text, std::function<void(bool)> written)
{
    if (socket_ == nullptr || state_ != State::Connected)
        return "not connected to the server";
    if (text.size() > server_.maxMessageSize)
        return "message larger than server.max_message_size (" +
               std::to_string(server_.maxMessageSize) + " bytes)";
    unconfirmed_.push_back(std::move(written));
    socket_->sendText(text);
    return {};
}

void PushClient::sendHeartbeat() noexcept
{
    if (heartbeat_.message.empty() || socket_ == nullptr || state_ != State::Connected)
        return;
    socket_->sendText(heartbeat_.message);
    ++counters_.heartbeatsSent;
    if (heartbeat_.interval.count() > 0)
        heartbeatTimer_.schedule(duration_cast<microseconds>(heartbeat_.interval));
}

void PushClient::sendPing() noexcept
{
    if (socket_ == nullptr || state_ != State::Connected)
        return;
    socket_->sendPing(pingPayload);
    if (pingSentUs_ == 0) // an earlier one unanswered: its pong comes first
        pingSentUs_ = lws_now_usecs();
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
    if (state_ != State::Connected || socket_ == nullptr || probeTimer_.isPending() ||
        heartbeat_.probeTimeout.count() == 0)
        return;
    ++counters_.probes;
    probeWhy_ = why;
    probeStartUs_ = lws_now_usecs();
    socket_->sendPing(pingPayload);
    if (pingSentUs_ == 0)
        pingSentUs_ = probeStartUs_;
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

void PushClient::holdBack(bool held) noexcept
{
    heldBack_ = held;
    if (socket_ != nullptr)
        socket_->holdBack(held);
}

void PushClient::onNetworkChange() noexcept
{
    if (state_ == State::Connected && socket_ != nullptr) {
        const std::string local = localAddressOf(socket_->transport().fd());
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
    if (socket_ == nullptr && !connecting_)
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
    const std::int64_t idleUs = lws_now_usecs() - socket_->lastInboundUs();
    if (idleUs >= timeoutUs) {
        kill("nothing received for " + config::formatSeconds(heartbeat_.timeout) +
             ": the link is dead");
        return;
    }
    livenessTimer_.schedule(microseconds(timeoutUs - idleUs));
}

} // namespace wspush::connection
