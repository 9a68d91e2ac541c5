// SPDX-License-Identifier: MIT
#include "metrics/http_listener.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

#include "system/errno_error.hpp"
#include "system/log.hpp"
#include "system/unique_fd.hpp"

namespace wspush::metrics {

namespace {

constexpr const char* connectionProtocol = "wspush-metrics";
constexpr const char* listenerProtocol = "wspush-metrics-listener";
constexpr int backlog = 64;
// Accepted per wake-up, so that a flood of connects cannot keep the loop on this socket.
constexpr int acceptsPerWake = 64;
// What one send() is given: the loop goes on to other work between pieces of a large answer.
constexpr std::size_t writePiece = std::size_t{16} * 1024;
constexpr auto acceptPause = std::chrono::milliseconds(200);

std::string addressText(const sockaddr_storage& storage)
{
    char host[INET6_ADDRSTRLEN] = {};
    if (storage.ss_family == AF_INET6) {
        const auto& v6 = reinterpret_cast<const sockaddr_in6&>(storage);
        inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
        // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict) about "[" + std::string.
        std::string text = "[";
        text += host;
        text += "]:";
        text += std::to_string(ntohs(v6.sin6_port));
        return text;
    }
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(storage);
    inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(v4.sin_port));
}

} // namespace

HttpListener::HttpListener(event::EventLoop& loop, const config::ListenAddress& address,
                           HttpFigures& figures, Render render)
    : address_(address), figures_(figures), render_(std::move(render)),
      resumeTimer_(loop.context(), [this] {
          acceptPaused_ = false;
          if (listenerWsi_ != nullptr)
              lws_rx_flow_control(listenerWsi_, 1);
          acceptPending();
      })
{
    const int fd = address_.kind == config::ListenAddress::Kind::Unix ? bindUnix() : bindTcp();
    adoptListener(loop, fd);
    log::notice("metrics: serving GET /metrics on " + boundAddress_);
}

HttpListener::~HttpListener()
{
    // lws would close them only later, when this listener is gone: close them now.
    std::vector<lws*> open;
    for (const auto& [id, connection] : connections_)
        open.push_back(connection->wsi);
    for (lws* wsi : open)
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    if (listenerWsi_ != nullptr)
        lws_set_timeout(listenerWsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    lws_vhost_destroy(vhost_);
    struct stat file
    {
    };
    if (!socketPath_.empty() && stat(socketPath_.c_str(), &file) == 0 &&
        file.st_dev == socketDevice_ && file.st_ino == socketInode_)
        unlink(socketPath_.c_str());
}

// lws keeps a pointer to the protocol list until a destroyed vhost is freed, which may be
// after this listener is gone: the list is static.
const lws_protocols* HttpListener::protocols()
{
    // Each connection's user data is one pointer: to its Connection.
    constexpr std::size_t perConnection = sizeof(void*);
    static const lws_protocols list[] = {
        {connectionProtocol, callback, perConnection, 0, 0, nullptr, 0},
        {listenerProtocol, callback, 0, 0, 0, nullptr, 0},
        {nullptr, nullptr, 0, 0, 0, nullptr, 0},
    };
    return list;
}

int HttpListener::bindTcp()
{
    const std::string wanted = config::formatListenAddress(address_);
    const bool any = address_.host.empty();
    sockaddr_storage storage{};
    socklen_t length = 0;
    const auto useIpv4 = [&] {
        storage = {};
        auto& v4 = reinterpret_cast<sockaddr_in&>(storage);
        v4.sin_family = AF_INET;
        v4.sin_port = htons(address_.port);
        v4.sin_addr.s_addr = htonl(INADDR_ANY);
        if (!any)
            inet_pton(AF_INET, address_.host.c_str(), &v4.sin_addr);
        length = sizeof v4;
    };
    // ":PORT" is every address: IPv6 and, through mapped addresses, IPv4.
    if (any || address_.host.find(':') != std::string::npos) {
        auto& v6 = reinterpret_cast<sockaddr_in6&>(storage);
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(address_.port);
        v6.sin6_addr = in6addr_any;
        if (!any)
            inet_pton(AF_INET6, address_.host.c_str(), &v6.sin6_addr);
        length = sizeof v6;
    } else {
        useIpv4();
    }

    system::UniqueFd fd(socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.isValid() && any && errno == EAFNOSUPPORT) {
        useIpv4(); // a host without IPv6: every IPv4 address, then
        fd.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    }
    if (!fd.isValid())
        throw system::errnoError(errno, "metrics: cannot make a socket for " + wanted);
    const int on = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (storage.ss_family == AF_INET6) {
        const int v6only = any ? 0 : 1;
        setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
        const int error = errno;
        throw system::errnoError(error, "metrics: cannot listen on " + wanted +
                                            (error == EACCES && address_.port < 1024
                                                 ? " (a port below 1024 takes CAP_NET_BIND_SERVICE)"
                                                 : ""));
    }
    if (listen(fd.get(), backlog) != 0)
        throw system::errnoError(errno, "metrics: cannot listen on " + wanted);
    sockaddr_storage bound{};
    socklen_t boundLength = sizeof bound;
    getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &boundLength);
    boundAddress_ = addressText(bound);
    return fd.release();
}

int HttpListener::bindUnix()
{
    const std::string& path = address_.path;
    const bool abstract = path.starts_with('@');
    sockaddr_un socketAddress{};
    socketAddress.sun_family = AF_UNIX;
    std::memcpy(socketAddress.sun_path, path.data(), path.size()); // checked by the config
    if (abstract)
        socketAddress.sun_path[0] = '\0';
    const auto length =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
    const auto* generic = reinterpret_cast<const sockaddr*>(&socketAddress);

    system::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.isValid())
        throw system::errnoError(errno, "metrics: cannot make a socket for " + path);
    struct stat existing
    {
    };
    if (!abstract && lstat(path.c_str(), &existing) == 0) {
        if (!S_ISSOCK(existing.st_mode))
            throw std::runtime_error("metrics: " + path + " exists and is not a socket");
        // One that answers is someone's; one that refuses was left behind by a crash.
        const system::UniqueFd probe(
            socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (probe.isValid() && (connect(probe.get(), generic, length) == 0 || errno == EAGAIN))
            throw std::runtime_error("metrics: " + path + " is in use by another process");
        unlink(path.c_str());
    }
    if (bind(fd.get(), generic, length) != 0)
        throw system::errnoError(errno, "metrics: cannot listen on " + path);
    if (listen(fd.get(), backlog) != 0)
        throw system::errnoError(errno, "metrics: cannot listen on " + path);
    struct stat made
    {
    };
    if (!abstract && stat(path.c_str(), &made) == 0) {
        socketPath_ = path;
        socketDevice_ = made.st_dev;
        socketInode_ = made.st_ino;
    }
    boundAddress_ = "unix:" + path;
    return fd.release();
}

// lws 4.1.6 cannot adopt a listening socket: it is watched as a raw file, and each
// connection accepted from it is adopted as a raw socket.
void HttpListener::adoptListener(event::EventLoop& loop, int fd)
{
    system::UniqueFd owned(fd);
    lws_context_creation_info info{};
    info.vhost_name = "metrics";
    info.protocols = protocols();
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = this;
    vhost_ = lws_create_vhost(loop.context(), &info);
    if (vhost_ == nullptr)
        throw std::runtime_error("metrics: cannot create the libwebsockets vhost");
    lws_sock_file_fd_type descriptor{};
    descriptor.filefd = owned.get();
    listenerWsi_ = lws_adopt_descriptor_vhost(vhost_, LWS_ADOPT_RAW_FILE_DESC, descriptor,
                                              listenerProtocol, nullptr);
    if (listenerWsi_ == nullptr) {
        lws_vhost_destroy(vhost_);
        throw std::runtime_error("metrics: cannot watch the socket for " + boundAddress_);
    }
    owned.release(); // lws closes it with its wsi
}

int HttpListener::callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                           std::size_t length)
{
    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT:
    case LWS_CALLBACK_RAW_RX:
    case LWS_CALLBACK_RAW_WRITEABLE:
    case LWS_CALLBACK_RAW_CLOSE:
    case LWS_CALLBACK_RAW_RX_FILE:
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        break;
    default:
        return 0; // vhost-level calls may come after this listener is gone
    }
    auto* listener = static_cast<HttpListener*>(lws_vhost_user(lws_get_vhost(wsi)));
    if (listener == nullptr)
        return 0;
    if (reason == LWS_CALLBACK_RAW_RX_FILE) {
        listener->acceptPending();
        return 0;
    }
    if (reason == LWS_CALLBACK_RAW_CLOSE_FILE) {
        if (wsi == listener->listenerWsi_)
            listener->listenerWsi_ = nullptr;
        return 0;
    }
    return listener->onConnectionEvent(wsi, reason, static_cast<Connection**>(user), in, length);
}

void HttpListener::acceptPending() noexcept
{
    if (listenerWsi_ == nullptr || acceptPaused_)
        return;
    const int listenFd = lws_get_socket_fd(listenerWsi_);
    for (int accepted = 0; accepted < acceptsPerWake; ++accepted) {
        const int fd = accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            // Out of descriptors or memory: the socket stays readable, and accepting again
            // at once would spin the loop. Pause a moment.
            log::warning(std::string("metrics: accept: ") + std::strerror(errno) +
                         "; not accepting for " + std::to_string(acceptPause.count()) + " ms");
            acceptPaused_ = true;
            lws_rx_flow_control(listenerWsi_, 0);
            resumeTimer_.schedule(acceptPause);
            return;
        }
        makeRoom();
        lws_sock_file_fd_type descriptor{};
        descriptor.sockfd = fd;
        if (lws_adopt_descriptor_vhost(vhost_, LWS_ADOPT_SOCKET, descriptor, connectionProtocol,
                                       nullptr) == nullptr)
            ::close(fd);
    }
}

// At the limit, the oldest connection goes: a scraper's request is answered within
// milliseconds, so the oldest is the one most likely stuck or hostile.
void HttpListener::makeRoom() noexcept
{
    for (auto& [id, connection] : connections_) {
        if (connections_.size() - evicting_ < maxConnections)
            return;
        if (connection->evicted)
            continue;
        connection->evicted = true;
        ++evicting_;
        ++figures_.dropped;
        lws_set_timeout(connection->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
}

int HttpListener::onConnectionEvent(lws* wsi, lws_callback_reasons reason, Connection** slot,
                                    void* in, std::size_t length) noexcept
{
    if (reason == LWS_CALLBACK_RAW_ADOPT) {
        onAccepted(wsi, slot);
        return slot == nullptr || *slot == nullptr ? -1 : 0;
    }
    if (slot == nullptr || *slot == nullptr)
        return reason == LWS_CALLBACK_RAW_CLOSE ? 0 : -1;
    Connection& connection = **slot;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX:
        onReceive(connection, static_cast<const char*>(in), length);
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE:
        return onWriteable(connection);
    case LWS_CALLBACK_RAW_CLOSE:
        onClosed(*slot);
        *slot = nullptr;
        return 0;
    default:
        return 0;
    }
}

void HttpListener::onAccepted(lws* wsi, Connection** slot) noexcept
{
    if (slot == nullptr)
        return;
    try {
        auto connection = std::make_unique<Connection>();
        connection->wsi = wsi;
        connection->id = nextId_++;
        *slot = connection.get();
        connections_.emplace(connection->id, std::move(connection));
        // The whole exchange, request and answer, within this time; then lws closes it.
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, requestTimeoutSeconds);
    } catch (const std::bad_alloc&) {
        *slot = nullptr;
    }
}

void HttpListener::onReceive(Connection& connection, const char* data, std::size_t length) noexcept
{
    if (connection.answering)
        return;
    const auto verdict = connection.reader.feed(std::string_view(data, length));
    if (verdict == RequestReader::Verdict::NeedMore)
        return;
    try {
        switch (verdict) {
        case RequestReader::Verdict::Metrics:
            ++figures_.answered200;
            connection.response = httpResponse(verdict, render_());
            break;
        case RequestReader::Verdict::NotFound:
            ++figures_.answered404;
            connection.response = httpResponse(verdict, {});
            break;
        default:
            ++figures_.answered400;
            connection.response = httpResponse(verdict, {});
            break;
        }
    } catch (const std::exception& error) {
        log::warning(std::string("metrics: cannot answer a request: ") + error.what());
        lws_set_timeout(connection.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    connection.answering = true;
    // Nothing more is read: what a client sends after its request waits in the kernel.
    lws_rx_flow_control(connection.wsi, 0);
    lws_callback_on_writable(connection.wsi);
}

// Written with send() directly, not lws_write(), which would copy what the kernel does not
// take into a buffer without bound.
int HttpListener::onWriteable(Connection& connection) noexcept
{
    if (!connection.answering)
        return 0;
    const int fd = lws_get_socket_fd(connection.wsi);
    while (connection.sent < connection.response.size()) {
        const std::size_t piece =
            std::min(writePiece, connection.response.size() - connection.sent);
        const ssize_t written =
            send(fd, connection.response.data() + connection.sent, piece, MSG_NOSIGNAL);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                lws_callback_on_writable(connection.wsi);
                return 0;
            }
            return -1;
        }
        connection.sent += static_cast<std::size_t>(written);
        if (static_cast<std::size_t>(written) < piece) {
            lws_callback_on_writable(connection.wsi);
            return 0;
        }
    }
    return -1; // all of it in the kernel's hands: close, which sends it and then FIN
}

void HttpListener::onClosed(Connection* connection) noexcept
{
    if (connection->evicted)
        --evicting_;
    else if (connection->sent < connection->response.size() || !connection->answering)
        ++figures_.dropped;
    connections_.erase(connection->id);
}

} // namespace wspush::metrics
