// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "event/event_loop.hpp"
#include "event/timer.hpp"
#include "wire/address.hpp"
#include "wire/resolver.hpp"
#include "wire/tls_context.hpp"
#include "wire/transport.hpp"

namespace wspush::wire {

// Where TCP goes and what runs on it before the WebSocket upgrade.
struct Route
{
    std::string host; // the server's, or the proxy's: resolved here
    std::uint16_t port = 0;
    std::string tunnelTo;           // "host:port" to CONNECT to through the proxy; "" = direct
    std::string proxyAuthorization; // "Basic ..." for the proxy, or ""
    std::string tlsHost;            // the server's name or address for TLS; "" = plain TCP
};

// Opens the stream to the server without blocking the loop: resolves the name, then races
// its addresses as RFC 8305 says (the next attempt starts 250 ms after the last one, or as
// soon as one fails); the first to finish TCP, the proxy tunnel and the TLS handshake wins
// and the others are closed.
class Connector
{
public:
    // The stream and the address it runs to, or nullptr and why no address worked.
    using Callback = std::function<void(std::unique_ptr<Transport> transport,
                                        const Address& address, const std::string& error)>;

    Connector(event::EventLoop& loop, Resolver& resolver);
    ~Connector();
    Connector(const Connector&) = delete;
    Connector& operator=(const Connector&) = delete;

    // Calls back once, from the loop, unless cancel() or another connect() came first.
    // `tls` must outlive the attempt; nullptr for plain TCP.
    void connect(const Route& route, const TlsContext* tls, Callback callback);
    void cancel() noexcept;

private:
    struct Attempt;

    void onResolved(std::vector<Address> addresses, const std::string& error) noexcept;
    void startNext() noexcept;
    void step(Attempt& attempt) noexcept;
    void onConnected(Attempt& attempt) noexcept;
    void onTunnelReadable(Attempt& attempt) noexcept;
    void startTls(Attempt& attempt) noexcept;
    void continueTls(Attempt& attempt) noexcept;
    void fail(Attempt& attempt, std::string error, int progress) noexcept;
    void win(Attempt& attempt) noexcept;
    void retire(std::unique_ptr<Attempt> attempt) noexcept;
    void finishIfLost() noexcept;

    event::EventLoop& loop_;
    Resolver& resolver_;
    Route route_;
    const TlsContext* tls_ = nullptr;
    Callback callback_;
    std::vector<Address> untried_;
    std::vector<std::unique_ptr<Attempt>> running_;
    // Attempts whose fd watch may still be in a callback: freed from the next timer.
    std::vector<std::unique_ptr<Attempt>> retired_;
    // The reason from the attempt that got furthest, for when all fail.
    std::string bestError_;
    int bestProgress_ = -1;
    bool resolving_ = false;
    event::Timer nextAttemptTimer_;
    event::Timer reapTimer_;
};

} // namespace wspush::wire
