// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "connection/backoff.hpp"
#include "connection/server_url.hpp"
#include "event/event_loop.hpp"
#include "event/timer.hpp"
#include "wire/connector.hpp"
#include "wire/resolver.hpp"
#include "wire/tls_context.hpp"
#include "wire/websocket.hpp"

namespace wspush::connection {

// Keeps one WebSocket connection to the push server alive: heartbeat, pings, dead-link
// detection, reconnect with backoff and jitter after every kind of loss. The wire itself
// (names, TCP, proxy, TLS, upgrade, frames) is src/wire's.
class PushClient final : private wire::WebSocket::Listener
{
public:
    enum class State
    {
        Idle,
        Connecting,
        Connected,
        WaitingToRetry,
        Closing,
        Stopped
    };

    class Listener
    {
    public:
        virtual void onConnected() noexcept {}
        virtual void onDisconnected(const std::string& /*reason*/) noexcept {}
        virtual void onRetryScheduled(config::Duration /*delay*/,
                                      const std::string& /*reason*/) noexcept
        {
        }
        // A probe ended: lastProbe() says how.
        virtual void onProbed() noexcept {}
        // A pong answered the ping we sent `roundTrip` ago.
        virtual void onRoundTrip(std::chrono::microseconds /*roundTrip*/) noexcept {}
        // A whole message, reassembled from its fragments.
        virtual void onMessage(std::string&& payload, bool binary) noexcept = 0;
        // After stop(), or when max_attempts ran out (`gaveUp`).
        virtual void onStopped(bool gaveUp) noexcept = 0;

    protected:
        ~Listener() = default;
    };

    struct Counters
    {
        std::uint64_t received = 0;  // whole messages handed on
        std::uint64_t oversized = 0; // messages over max_message_size, dropped
        std::uint64_t reconnects = 0;
        std::uint64_t heartbeatsSent = 0;
        std::uint64_t probes = 0;
        std::uint64_t probeReconnects = 0; // probes that found the link dead
    };

    // Throws on error.
    PushClient(event::EventLoop& loop, Listener& listener, const config::Config& config);
    ~PushClient();
    PushClient(const PushClient&) = delete;
    PushClient& operator=(const PushClient&) = delete;

    void start() noexcept;
    // Closes with 1000 and reports onStopped() once the link is gone.
    void stop() noexcept;
    // Queues a text message for the server. Returns why it cannot be sent now (not
    // connected, too large), or empty and later calls `written` with whether it was.
    std::string send(std::string_view text, std::function<void(bool)> written);
    // Takes a reloaded config; a changed server section closes the link and reconnects.
    void reconfigure(const config::Config& config);
    // The id ${LAST_ID} stands for at the next connect attempt.
    void setLastId(std::string id) { lastId_ = std::move(id); }
    const std::string& lastId() const noexcept { return lastId_; }
    // Closes the link and connects again at once, with the backoff reset.
    void reconnectNow(const std::string& reason) noexcept;
    // Something happened that may have killed the link unnoticed (`why`: a resume, a
    // network change): a ping now, and no answer within probe_timeout reconnects at once.
    // While waiting to retry, the next attempt happens now.
    void probe(const std::string& why) noexcept;
    // The network changed: a link whose local address went away reconnects at once, any
    // other is probed.
    void onNetworkChange() noexcept;
    // Stops or starts reading from the server while a local reader catches up.
    void holdBack(bool held) noexcept;
    // The last probe and how it ended, for the status: "" before the first.
    const std::string& lastProbe() const noexcept { return lastProbe_; }

    State state() const noexcept { return state_; }
    const std::string& displayUrl() const noexcept { return displayUrl_; }
    // The server's address the link runs to ("[::1]:443", or the proxy's), "" when down.
    const std::string& address() const noexcept { return address_; }
    std::int64_t connectedSinceUs() const noexcept { return connectedSinceUs_; }
    const Counters& counters() const noexcept { return counters_; }

private:
    void createTls();
    void connect() noexcept;
    wire::Route routeTo(const ServerUrl& url) const;
    void onTransport(std::unique_ptr<wire::Transport> transport, const wire::Address& address,
                     const std::string& error) noexcept;
    void scheduleRetry(const std::string& reason) noexcept;
    // Closes with 1000; `wait`: whether what the server still sends is taken first.
    void closeLink(const std::string& reason, wire::WebSocket::Wait wait) noexcept;
    void kill(const std::string& reason) noexcept;
    void noteLoss(const std::string& reason) noexcept;
    void linkGone() noexcept;
    void startLinkTimers() noexcept;
    void failOutbound() noexcept;
    std::string refusalReason(const wire::ResponseHead& head) noexcept;

    void onOpen(const wire::UpgradeResult& result) noexcept override;
    void onRefused(const wire::ResponseHead& head) noexcept override;
    void onMessage(std::string& payload, bool binary) noexcept override;
    void onOversized(std::size_t bytes) noexcept override;
    void onPong(std::string_view payload) noexcept override;
    void onPeerClose(std::optional<std::uint16_t> code, std::string_view reason) noexcept override;
    void onDrained() noexcept override;
    void onEnded(const std::string& reason) noexcept override;

    void onStable() noexcept;
    void onProbeTimeout() noexcept;
    void sendHeartbeat() noexcept;
    void sendPing() noexcept;
    void checkLiveness() noexcept;

    event::EventLoop& loop_;
    Listener& listener_;
    config::ServerConfig server_;
    config::HeartbeatConfig heartbeat_;
    config::ReconnectConfig reconnect_;
    std::string resumeMessage_; // resume.message, ${LAST_ID} not filled in yet
    std::string lastId_;
    std::string displayUrl_;
    std::string proxy_; // server.proxy, else from the environment; "" = direct

    std::unique_ptr<wire::TlsContext> tls_; // for wss:// only
    wire::Resolver resolver_;
    wire::Connector connector_;
    std::unique_ptr<wire::WebSocket> socket_;
    // Ended links, freed from reapTimer_: an ended one may still be on the stack.
    std::vector<std::unique_ptr<wire::WebSocket>> endedSockets_;
    bool connecting_ = false; // connector_ is at work
    std::string address_;     // the server's address the link runs to
    State state_ = State::Idle;
    bool established_ = false; // the current link completed the upgrade
    bool everConnected_ = false;
    // A working link was lost and is not back yet: retries are spread over fleet_spread.
    bool recovering_ = false;
    bool reconnectAfterClose_ = false;
    bool heldBack_ = false;

    Backoff backoff_;
    Counters counters_;
    std::string lossReason_;
    // What the server said about coming back, for the next retry only.
    config::Duration serverWait_{0};
    bool authFailed_ = false;
    std::int64_t connectedSinceUs_ = 0;

    // What the current attempt sends, resolved at connect time (the token is read afresh).
    wire::UpgradeRequest request_;

    // send()'s callbacks, for when what is queued went out.
    std::deque<std::function<void(bool)>> unconfirmed_;
    std::int64_t pingSentUs_ = 0; // lws_now_usecs() when the unanswered ping went; 0: none

    event::Timer retryTimer_;
    event::Timer heartbeatTimer_;
    event::Timer pingTimer_;
    event::Timer livenessTimer_;
    event::Timer stableTimer_;
    event::Timer probeTimer_;
    event::Timer reapTimer_;
    std::int64_t probeStartUs_ = 0; // as lws_now_usecs()
    std::int64_t lastPongUs_ = 0;
    std::string probeWhy_;
    std::string lastProbe_;
};

} // namespace wspush::connection
