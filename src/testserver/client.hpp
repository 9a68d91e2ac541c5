// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <libwebsockets.h>

#include "testserver/message_log.hpp"
#include "testserver/push_job.hpp"

namespace wspush::testserver {

// One upgraded WebSocket connection: what it still has to be sent, in order, and the message it
// is receiving.
class Client
{
public:
    struct Message
    {
        std::string data;
        bool binary = false;
    };

    struct WriteResult
    {
        bool hangUp = false;      // a close frame is due or the socket failed: return -1
        std::uint64_t pushed = 0; // push messages written
    };

    // `log`: the server's published messages, with --ids; else nullptr.
    Client(lws* wsi, std::string id, const MessageLog* log = nullptr);

    lws* wsi() const noexcept { return wsi_; }
    const std::string& id() const noexcept { return id_; }

    // Frames go out after every push message already due to this client and ahead of those not
    // yet due, so that `send` or `close` during a slow push is not held back until it ends.
    void queueFrame(std::string_view payload, lws_write_protocol protocol);
    void queueFragmented(std::string_view payload, std::size_t parts);
    void queueClose(std::uint16_t code, std::string reason);
    // A job's messages go out after everything queued before.
    void queuePush(std::shared_ptr<PushJob> job);

    // With --ids: published messages [first, end) go out after everything queued before.
    void queuePublished(std::uint64_t first, std::uint64_t end);
    // Published messages wait (frames queued after them too) while held: until the client
    // says where to resume from, or the wait for that is over.
    void hold(bool on);
    bool holding() const noexcept { return holding_; }
    // The client goes on from published message `start`: the messages from `start` up to
    // the one it would have been sent next go out first (returns how many), or, when it has
    // them already, those it would have been sent before `start` are dropped (returns 0).
    // `logEnd` is the K of the next message to be published. Stops holding.
    std::uint64_t resume(std::uint64_t start, std::uint64_t logEnd);
    // K of the oldest published message still to be written, if any.
    std::optional<std::uint64_t> oldestPublished() const;

    // Adds one piece of a received message; returns the message once it is complete.
    std::optional<Message> receive(const char* data, std::size_t length, bool binary, bool last);

    // Writes until the socket is choked or nothing is due; for SERVER_WRITEABLE.
    WriteResult write();

    // Tells the push jobs still owed messages that this client is gone.
    void abandonPushes();

private:
    struct Frame
    {
        Frame(std::string_view payload, int protocol);

        std::vector<unsigned char> buffer; // LWS_PRE bytes of headroom, then the payload
        int protocol;
    };

    struct Close
    {
        std::uint16_t code = 0;
        std::string reason;
    };

    // Messages [next, end) of a job; a job is split into several runs when frames are queued
    // while it is under way.
    struct Pushes
    {
        std::shared_ptr<PushJob> job;
        std::uint64_t next = 0;
        std::uint64_t end = 0;
    };

    // Published messages [next, end) of the MessageLog (--ids).
    struct Published
    {
        std::uint64_t next = 0;
        std::uint64_t end = 0;
    };

    using Item = std::variant<Frame, Close, Pushes, Published>;

    std::size_t insertionPoint();
    void insert(std::size_t at, Item item);
    bool flushBatch() noexcept;

    lws* wsi_;
    std::string id_;
    const MessageLog* log_;
    bool holding_ = false;
    std::deque<Item> outbox_;
    std::string batch_; // push frames gathered for one write, after LWS_PRE bytes of headroom
    // The last frame written. With permessage-deflate, lws goes on compressing from it after
    // lws_write() returns, until the next WRITEABLE callback.
    std::vector<unsigned char> written_;
    std::size_t budget_ = 0;
    std::string incoming_;
    bool closing_ = false;
};

} // namespace wspush::testserver
