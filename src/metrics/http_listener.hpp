// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <sys/types.h>

#include <libwebsockets.h>

#include "config/listen_address.hpp"
#include "event/event_loop.hpp"
#include "event/timer.hpp"
#include "metrics/http_request.hpp"
#include "metrics/render.hpp"

namespace wspush::metrics {

// Answers GET /metrics on a TCP or Unix socket, on the daemon's loop; every other request
// gets 404 and nothing else is served. The socket is bound here (numeric address, no name
// lookup) and adopted into lws; each connection is a raw socket read into a bounded
// request buffer and written with plain non-blocking send()s, so a client costs at most
// RequestReader::maxHeadBytes plus one answer, for at most requestTimeoutSeconds, and at
// most maxConnections are open: a new one evicts the oldest. A slow or hostile client
// cannot stall the loop or grow the daemon's memory.
class HttpListener
{
public:
    static constexpr std::size_t maxConnections = 64;
    static constexpr int requestTimeoutSeconds = 10;

    using Render = std::function<std::string()>;

    // Throws on error: the address is in use, or may not be bound.
    HttpListener(event::EventLoop& loop, const config::ListenAddress& address, HttpFigures& figures,
                 Render render);
    ~HttpListener();
    HttpListener(const HttpListener&) = delete;
    HttpListener& operator=(const HttpListener&) = delete;

    // What the socket is bound to, the port the kernel picked included.
    const std::string& boundAddress() const noexcept { return boundAddress_; }

private:
    struct Connection
    {
        lws* wsi = nullptr;
        std::uint64_t id = 0;
        RequestReader reader;
        std::string response;
        std::size_t sent = 0;
        bool answering = false;
        bool evicted = false;
    };

    static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                        std::size_t length);
    static const lws_protocols* protocols();

    int bindTcp();
    int bindUnix();
    void adoptListener(event::EventLoop& loop, int fd);
    void acceptPending() noexcept;
    void makeRoom() noexcept;
    int onConnectionEvent(lws* wsi, lws_callback_reasons reason, Connection** slot, void* in,
                          std::size_t length) noexcept;
    void onAccepted(lws* wsi, Connection** slot) noexcept;
    void onReceive(Connection& connection, const char* data, std::size_t length) noexcept;
    int onWriteable(Connection& connection) noexcept;
    void onClosed(Connection* connection) noexcept;

    config::ListenAddress address_;
    std::string boundAddress_;
    HttpFigures& figures_;
    Render render_;
    lws_vhost* vhost_ = nullptr;
    lws* listenerWsi_ = nullptr;
    // The socket file this listener made, removed when it goes (if still the same file).
    std::string socketPath_;
    dev_t socketDevice_ = 0;
    ino_t socketInode_ = 0;
    // By accept order: the first is the oldest.
    std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;
    std::uint64_t nextId_ = 0;
    std::size_t evicting_ = 0; // in connections_, closing at the next loop turn
    bool acceptPaused_ = false;
    event::Timer resumeTimer_; // accepting again after running out of file descriptors
};

} // namespace wspush::metrics
