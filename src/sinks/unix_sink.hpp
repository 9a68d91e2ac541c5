// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include <libwebsockets.h>

#include "config/config.hpp"
#include "event/event_loop.hpp"
#include "event/timer.hpp"
#include "sinks/sink.hpp"
#include "sinks/sink_host.hpp"
#include "sinks/unix_client.hpp"
#include "sinks/unix_request.hpp"
#include "system/unique_fd.hpp"

namespace wspush::sinks {

// Serves records as JSON lines on a Unix stream socket, in the daemon's loop, and answers
// the requests local applications write back (replay, status, send, and durable named
// subscriptions whose cursors live in the store).
class UnixSink final : public Sink
{
public:
    // Throws on error: the socket is in use by another daemon, cannot be bound, or its
    // mode or group cannot be set.
    UnixSink(const config::UnixSinkConfig& config, event::EventLoop& loop, SinkHost& host);
    ~UnixSink() override;

    void deliver(const std::shared_ptr<const record::Record>& record) noexcept override;
    void flush() noexcept override;
    void onLinkUp(const std::string& server) noexcept override;
    void onLinkDown(const std::string& reason) noexcept override;
    void onUpstreamGap(std::int64_t expected, std::int64_t got) noexcept override;
    bool reconfigure(const config::SinkConfig& next) noexcept override;
    std::uint64_t handedOn() const noexcept override { return lastSeq_; }
    bool keepsCursor() const noexcept override { return false; }
    // Records wait in the store while a reader catches up (see UnixClient::isBehind).
    bool wantsMore() const noexcept override { return !isBehind(); }
    bool isBehind() const noexcept override;

    SinkCounters counters() const noexcept override;
    const std::string& name() const noexcept override { return name_; }

private:
    static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                        std::size_t length);
    int onClientEvent(lws* wsi, lws_callback_reasons reason, UnixClient** slot, void* in,
                      std::size_t length) noexcept;

    static const lws_protocols* protocols();
    void takeLock();
    bool adoptActivatedSocket();
    void listen(event::EventLoop& loop);
    void applyPermissions() const;
    void acceptPending() noexcept;

    void onAccepted(lws* wsi, UnixClient** slot) noexcept;
    void onClosed(UnixClient* client) noexcept;
    void releaseNewClients() noexcept;
    void handleRequest(UnixClient& client, std::string_view line) noexcept;
    void replay(UnixClient& client, const ReplayRequest& request) noexcept;
    void subscribe(UnixClient& client, const SubscribeRequest& request) noexcept;
    void ack(UnixClient& client, const AckRequest& request) noexcept;
    void sendCursors(UnixClient& client) noexcept;
    void deleteCursor(UnixClient& client, const DeleteCursorRequest& request) noexcept;
    // The subscribers' cursors: name, seq, lag and whether a client holds it.
    Json::Value cursorList() const;
    void refuse(UnixClient& client, const std::string& message) noexcept;
    void sendStatus(UnixClient& client) noexcept;
    void sendUpstream(UnixClient& client, SendRequest&& request) noexcept;
    // A `connected` or `disconnected` event, with `key` and a ts, to every client.
    void broadcastLinkEvent(const char* name, const char* key, const std::string& value) noexcept;

    config::UnixSinkConfig config_;
    SinkHost& host_;
    std::string name_;
    lws_vhost* vhost_ = nullptr;
    system::UniqueFd lock_;
    int activatedFd_ = -1; // the listening socket systemd passed, owned by lws once adopted

    std::map<std::uint64_t, std::unique_ptr<UnixClient>> clients_;
    std::uint64_t nextClientId_ = 1;
    std::uint64_t lastSeq_ = 0; // the last record given to this sink
    // Each subscription name held, and the id of the client holding it.
    std::map<std::string, std::uint64_t> subscribers_;
    SinkCounters closedClients_; // what clients that left had been sent or dropped
    // Send confirmations check it, so one arriving after this sink is gone does nothing.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    event::Timer releaseTimer_;
};

} // namespace wspush::sinks
