// SPDX-License-Identifier: MIT
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <libwebsockets.h>

#include "testserver/client.hpp"
#include "testserver/control.hpp"
#include "testserver/event_log.hpp"
#include "testserver/handshake.hpp"
#include "testserver/loop_fds.hpp"
#include "testserver/message_log.hpp"
#include "testserver/options.hpp"
#include "testserver/push_job.hpp"

namespace wspush::testserver {

// The whole server, on one thread: one lws context with a WebSocket vhost for the clients and a
// vhost of raw descriptors (stdin, signals, the push pacer) that drive it.
class PushServer
{
public:
    // Throws std::runtime_error (or std::system_error) when it cannot listen or set up the loop.
    explicit PushServer(const Options& options);
    ~PushServer();

    PushServer(const PushServer&) = delete;
    PushServer& operator=(const PushServer&) = delete;

    // Prints "listening PORT", then serves until quit, EOF on stdin, SIGTERM or SIGINT.
    void run();

private:
    struct ContextDeleter
    {
        void operator()(lws_context* context) const noexcept { lws_context_destroy(context); }
    };

    static int onWebSocketEvent(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                                std::size_t length) noexcept;
    static int onLoopEvent(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                           std::size_t length) noexcept;
    int dispatchWebSocket(lws* wsi, lws_callback_reasons reason, void* in, std::size_t length);

    // The client side.
    void onAccepted(lws* wsi);
    int onHttpRequest(lws* wsi);
    int onUpgradeRequest(lws* wsi);
    void onEstablished(lws* wsi);
    // The "header" and "subprotocol" lines asked for on the command line.
    void reportHandshake(lws* wsi, const Handshake& handshake);
    void onReceive(lws* wsi, const char* data, std::size_t length);
    void onPeerClose(const unsigned char* payload, std::size_t length);
    int onWriteable(lws* wsi);
    void onClosed(lws* wsi);
    void onDestroyed(lws* wsi);
    // --resume message: the wait for a client's resume request is over.
    void onResumeWaitOver(lws* wsi);
    // A client resumes after `id`, or goes on live when it names none (--resume).
    void resume(Client& client, const std::optional<std::string>& id);

    // The loop side.
    void onReadable(int fd);
    void onHangUp(int fd);
    void readStdin();
    void endOfInput();
    void onTick();

    // The commands, one line each.
    void handleLine(std::string_view line);
    // Why a well-formed command cannot be carried out with these options, if it cannot.
    std::optional<std::string> refusal(const Command& command) const;
    void execute(const PushCommand& command);
    void execute(const SendCommand& command);
    void execute(const OversizeCommand& command);
    void execute(const PingFloodCommand& command);
    void execute(const FragmentedCommand& command);
    void execute(const CloseCommand& command);
    void execute(const ResetCommand& command);
    void execute(const RefuseCommand& command);
    void execute(const SilentCommand& command);
    void execute(const StatsCommand& command);
    void execute(const SkipCommand& command);
    void execute(const RestartSeqCommand& command);
    void execute(const HistoryCommand& command);
    void execute(const QuitCommand& command);

    // Push jobs.
    std::shared_ptr<PushJob> makeJob(const PushSpec& spec, std::vector<lws*> targets);
    void startAutoPush(Client& client);
    void startNextPush();
    void onPushFinished(PushJob& job);
    void wakeTargets(const PushJob& job);
    // Moves a job's messages along once more fell due: wakes its targets, or publishes them.
    void release(const std::shared_ptr<PushJob>& job);
    // --ids: publishes the messages that fell due into the log and to every client.
    void publishDue(const std::shared_ptr<PushJob>& job);
    // --ids: forgets the published messages no client and no resume can still need.
    void trimLog();
    void updateTicker();

    Options options_;
    EventLog events_;
    SignalFd signals_;
    TickTimer ticker_;
    std::array<lws_protocols, 2> webSocketProtocols_{};
    std::array<lws_protocols, 2> loopProtocols_{};
    // All zero: lws neither pings clients nor hangs up on idle ones, so silent stays silent.
    lws_retry_bo_t noIdleTimeouts_{};

    std::unordered_map<lws*, std::unique_ptr<Client>> clients_;
    // Accepted connections not upgraded yet, with what their request said once it is known.
    std::unordered_map<lws*, Handshake> upgrading_;
    // `push` commands run one after another; the front one is under way.
    std::deque<std::shared_ptr<PushJob>> pushQueue_;
    // The --count streams, one per client, running alongside.
    std::vector<std::shared_ptr<PushJob>> autoPushes_;
    MessageCounter messageNumbers_;
    // --ids: the messages published, with the history; nullptr without --ids.
    std::unique_ptr<MessageLog> log_;
    // --ids with --count: the one stream for all clients has started (at the first connect).
    bool autoPublisherStarted_ = false;

    std::string stdinBuffer_;
    std::uint64_t heartbeats_ = 0;
    std::uint64_t received_ = 0;
    std::uint64_t pushed_ = 0;
    std::optional<RefuseCommand> refusing_;
    bool silent_ = false;
    bool running_ = true;

    // Last, so that it goes first: its teardown still calls back into the members above.
    std::unique_ptr<lws_context, ContextDeleter> context_;
    lws_vhost* webSocketVhost_ = nullptr;
};

} // namespace wspush::testserver
