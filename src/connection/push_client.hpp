// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <libwebsockets.h>

#include "config/config.hpp"
#include "connection/backoff.hpp"
#include "event/event_loop.hpp"
#include "event/timer.hpp"

namespace wspush::connection {

// Keeps one WebSocket connection to the push server alive: heartbeat, pings, dead-link
// detection, reconnect with backoff and jitter after every kind of loss.
class PushClient
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
    // The last probe and how it ended, for the status: "" before the first.
    const std::string& lastProbe() const noexcept { return lastProbe_; }

    State state() const noexcept { return state_; }
    const std::string& displayUrl() const noexcept { return displayUrl_; }
    std::int64_t connectedSinceUs() const noexcept { return connectedSinceUs_; }
    const Counters& counters() const noexcept { return counters_; }

private:
    static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                        std::size_t length);
    int dispatch(lws_callback_reasons reason, void* in, std::size_t length) noexcept;
    static const lws_protocols* protocols();
    static const lws_extension* extensions();

    void createVhost();
    void connect() noexcept;
    void scheduleRetry(const std::string& reason) noexcept;
    void closeLink(const std::string& reason) noexcept;
    void kill(const std::string& reason) noexcept;
    void noteLoss(const std::string& reason) noexcept;
    void readPendingTlsAlert() noexcept;
    void startLinkTimers() noexcept;
    void queueText(std::string_view text, std::function<void(bool)> written) noexcept;
    void failOutbound() noexcept;

    int appendHandshakeHeaders(unsigned char** position, std::size_t length) noexcept;
    void onConnectionError(const char* text, std::size_t length) noexcept;
    std::string onRefused(unsigned status) noexcept;
    void onEstablished() noexcept;
    void onStable() noexcept;
    void onProbeTimeout() noexcept;
    void onReceive(const char* data, std::size_t length) noexcept;
    int onWriteable() noexcept;
    void onPeerClose(const unsigned char* in, std::size_t length) noexcept;
    void onDestroyed() noexcept;

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

    lws_retry_bo_t idlePolicy_{};
    lws_vhost* vhost_ = nullptr;
    lws_vhost* retiredVhost_ = nullptr; // replaced by a reload, destroyed once idle
    lws* wsi_ = nullptr;
    State state_ = State::Idle;
    bool established_ = false; // the current wsi completed the upgrade
    bool everConnected_ = false;
    // A working link was lost and is not back yet: retries are spread over fleet_spread.
    bool recovering_ = false;
    bool reconnectAfterClose_ = false;
    bool closeSent_ = false;

    Backoff backoff_;
    Counters counters_;
    std::string lossReason_;
    // What the server said about coming back, for the next retry only.
    config::Duration serverWait_{0};
    bool authFailed_ = false;
    std::int64_t connectedSinceUs_ = 0;
    std::int64_t lastInboundUs_ = 0;

    // What the current attempt sends, resolved at connect time (the token is read afresh).
    std::string connectHost_;    // the Host header's authority
    std::string checkAddressOf_; // an IPv6 address the certificate must be valid for
    std::string connectAddress_;
    std::string connectPath_;
    std::vector<std::pair<std::string, std::string>> connectHeaders_;

    struct Outgoing
    {
        std::string framed; // LWS_PRE bytes of headroom, then the text
        std::function<void(bool)> written;
    };
    std::deque<Outgoing> outbound_;
    bool pingDue_ = false;
    std::int64_t pingSentUs_ = 0; // lws_now_usecs() when the unanswered ping went; 0: none

    std::string message_; // the message being reassembled
    std::size_t messageBytes_ = 0;
    bool inMessage_ = false;
    bool messageBinary_ = false;
    bool messageOversized_ = false;

    event::Timer retryTimer_;
    event::Timer heartbeatTimer_;
    event::Timer pingTimer_;
    event::Timer livenessTimer_;
    event::Timer stableTimer_;
    event::Timer probeTimer_;
    std::int64_t probeStartUs_ = 0; // as lws_now_usecs()
    std::int64_t lastPongUs_ = 0;
    std::string probeWhy_;
    std::string lastProbe_;
};

} // namespace wspush::connection
