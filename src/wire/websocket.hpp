// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "event/event_loop.hpp"
#include "event/fd_watch.hpp"
#include "wire/frame_writer.hpp"
#include "wire/message_deflater.hpp"
#include "wire/message_reader.hpp"
#include "wire/response_head.hpp"
#include "wire/transport.hpp"
#include "wire/upgrade_check.hpp"
#include "wire/upgrade_request.hpp"

namespace wspush::wire {

// The client's end of one WebSocket connection (RFC 6455) over an open stream: the upgrade,
// then frames both ways. Pings are answered here and the close handshake is done here; what
// to make of it all is the listener's.
class WebSocket final : private MessageReader::Handler
{
public:
    class Listener
    {
    public:
        virtual void onOpen(const UpgradeResult& result) noexcept = 0;
        // The server answered the upgrade with another status; the link ends next.
        virtual void onRefused(const ResponseHead& head) noexcept = 0;
        // The listener may take `payload`'s buffer or swap a spare one in.
        virtual void onMessage(std::string& payload, bool binary) noexcept = 0;
        virtual void onOversized(std::size_t bytes) noexcept = 0;
        virtual void onPong(std::string_view payload) noexcept = 0;
        // The server's close frame: its code, if it gave one, and reason.
        virtual void onPeerClose(std::optional<std::uint16_t> code,
                                 std::string_view reason) noexcept = 0;
        // Everything queued went to the kernel.
        virtual void onDrained() noexcept = 0;
        // The link is over, and why. The WebSocket must outlive this call.
        virtual void onEnded(const std::string& reason) noexcept = 0;

    protected:
        ~Listener() = default;
    };

    // Throws on error.
    WebSocket(event::EventLoop& loop, std::unique_ptr<Transport> transport, Listener& listener,
              std::size_t maxMessageSize);
    ~WebSocket();
    WebSocket(const WebSocket&) = delete;
    WebSocket& operator=(const WebSocket&) = delete;

    void upgrade(const UpgradeRequest& request) noexcept;
    bool isOpen() const noexcept { return open_ && !ended_; }
    void sendText(std::string_view text) noexcept;
    void sendPing(std::string_view payload) noexcept;
    enum class Wait
    {
        ForAnswer, // take what the server still sends until its close frame or hang-up
        No,        // end once the close frame is written: the link may be dead
    };
    // Sends a close frame, then ends as `wait` says.
    void close(std::uint16_t code, std::string_view reason, Wait wait) noexcept;
    // Ends the link now, without a goodbye.
    void abort(const std::string& reason) noexcept;
    void setMaxMessageSize(std::size_t bytes) noexcept { reader_.setMaxMessageSize(bytes); }
    // Stops or starts reading: TCP then slows the server down.
    void holdBack(bool held) noexcept;

    // CLOCK_MONOTONIC_COARSE µs of the last bytes from the server.
    std::int64_t lastInboundUs() const noexcept { return lastInboundUs_; }
    std::size_t queuedBytes() const noexcept { return out_.size() - outSent_; }
    const Transport& transport() const noexcept { return *transport_; }

private:
    void onReadable() noexcept;
    void onWritable() noexcept;
    void onHangUp() noexcept;
    void take(std::string_view bytes) noexcept;
    std::string_view takeHead(std::string_view bytes) noexcept;
    void queueFrame(Opcode opcode, std::string_view payload) noexcept;
    void queueCompressed(std::string_view text) noexcept;
    void flush() noexcept;
    void fail(std::uint16_t code, const std::string& reason) noexcept;
    void end(const std::string& reason) noexcept;

    void onMessage(std::string& payload, bool binary) noexcept override;
    void onOversized(std::size_t bytes) noexcept override;
    void onControl(Opcode opcode, std::string_view payload) noexcept override;

    std::unique_ptr<Transport> transport_;
    Listener& listener_;
    std::unique_ptr<event::FdWatch> watch_;
    std::unique_ptr<char[]> buffer_;

    UpgradeRequest request_;
    std::string key_;
    ResponseHead head_;
    MessageReader reader_;
    MaskKeys maskKeys_;
    MessageDeflater deflater_;
    std::string compressed_; // a message on its way out, compressed

    std::string out_;
    std::size_t outSent_ = 0;
    std::int64_t lastInboundUs_ = 0;
    bool open_ = false;
    bool closeSent_ = false;
    bool endAfterFlush_ = false;
    bool readWaitsForWritable_ = false;
    bool heldBack_ = false;
    // The newest ping of the read being taken, answered once it is taken.
    char pongPayload_[125] = {};
    std::size_t pongLength_ = 0;
    bool pongDue_ = false;
    bool ended_ = false;
    std::string endReason_;
};

} // namespace wspush::wire
