// SPDX-License-Identifier: MIT
#include "wire/websocket.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <sys/socket.h>

#include "system/log.hpp"
#include "wire/close_code.hpp"

namespace wspush::wire {

namespace {

// One 64 KiB read per wake-up, as libwebsockets did: a loop turn's records are still in the
// cache when the sinks write them (1 MiB turns measured slower), and a local reader with a
// small max_queue gets its turn before the next burst.
constexpr std::size_t readBufferSize = std::size_t{64} * 1024;
// A server that pings faster than we can write gets no more pongs queued than this.
constexpr std::size_t pongQueueLimit = std::size_t{64} * 1024;

std::int64_t coarseNowUs() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
}

} // namespace

WebSocket::WebSocket(event::EventLoop& loop, std::unique_ptr<Transport> transport,
                     Listener& listener, std::size_t maxMessageSize)
    : transport_(std::move(transport)), listener_(listener),
      buffer_(std::make_unique<char[]>(readBufferSize)), reader_(*this, maxMessageSize)
{
    watch_ = std::make_unique<event::FdWatch>(
        loop, transport_->fd(), [this] { onReadable(); }, [this] { onWritable(); },
        [this] { onHangUp(); });
    lastInboundUs_ = coarseNowUs();
}

WebSocket::~WebSocket()
{
    watch_.reset(); // before the transport closes the fd it watches a copy of
}

void WebSocket::upgrade(const UpgradeRequest& request) noexcept
{
    try {
        request_ = request;
        out_ += formatUpgradeRequest(request_, key_);
    } catch (const std::exception& error) {
        end(std::string("cannot send the upgrade request: ") + error.what());
        return;
    }
    log::debug("upgrade request sent");
    flush();
}

void WebSocket::sendText(std::string_view text) noexcept
{
    if (deflater_.isActive())
        queueCompressed(text);
    else
        queueFrame(Opcode::Text, text);
}

void WebSocket::queueCompressed(std::string_view text) noexcept
{
    if (ended_ || closeSent_)
        return;
    try {
        compressed_.clear();
        deflater_.compress(text, compressed_);
        const std::size_t start = out_.size();
        appendClientFrame(out_, Opcode::Text, compressed_, maskKeys_);
        out_[start] = static_cast<char>(out_[start] | 0x40); // RSV1: a compressed message
    } catch (const std::exception& error) {
        end(std::string("cannot send a message: ") + error.what());
        return;
    }
    flush();
}

void WebSocket::sendPing(std::string_view payload) noexcept
{
    queueFrame(Opcode::Ping, payload);
}

void WebSocket::close(std::uint16_t code, std::string_view reason, Wait wait) noexcept
{
    if (ended_)
        return;
    if (!open_ || closeSent_) {
        if (!open_)
            end(std::string(reason));
        return;
    }
    std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
    payload.append(reason.substr(0, 123));
    queueFrame(Opcode::Close, payload);
    closeSent_ = true;
    if (wait == Wait::ForAnswer)
        return; // what the server sent before its answer is still taken
    endAfterFlush_ = true;
    if (endReason_.empty())
        endReason_ = "closed";
    flush();
}

void WebSocket::abort(const std::string& reason) noexcept
{
    end(reason);
}

void WebSocket::holdBack(bool held) noexcept
{
    if (held == heldBack_ || ended_)
        return;
    heldBack_ = held;
    watch_->setReadable(!held);
    // TLS may hold decrypted bytes that no poll() reports.
    if (!held && transport_->hasBuffered())
        onReadable();
}

void WebSocket::onReadable() noexcept
{
    if (heldBack_)
        return;
    readWaitsForWritable_ = false;
    // TLS hands over one record (16 KiB at most) a read: it reads on up to the same 64 KiB a
    // turn, and on through what it decrypted already, which no poll() would report.
    for (std::size_t taken = 0; !ended_;) {
        if (taken != 0 && !transport_->hasBuffered() &&
            (!transport_->isTls() || taken >= readBufferSize))
            return;
        std::size_t count = 0;
        switch (transport_->read(buffer_.get(), readBufferSize, count)) {
        case Transport::Status::Ok:
            lastInboundUs_ = coarseNowUs();
            taken += count;
            take({buffer_.get(), count});
            break;
        case Transport::Status::WouldBlock:
            if (transport_->wantsWritable()) {
                readWaitsForWritable_ = true;
                watch_->wantWritable();
            }
            return;
        case Transport::Status::Closed:
            end(closeSent_ ? "closed" : "connection closed");
            return;
        case Transport::Status::Failed:
            end("connection lost: " + transport_->error());
            return;
        }
    }
}

void WebSocket::onWritable() noexcept
{
    if (readWaitsForWritable_)
        onReadable();
    flush();
}

void WebSocket::onHangUp() noexcept
{
    // What came before the hang-up (a close frame, a TLS alert) still counts.
    heldBack_ = false;
    onReadable();
    end(closeSent_ ? "closed" : "connection closed");
}

void WebSocket::take(std::string_view bytes) noexcept
{
    if (!open_) {
        bytes = takeHead(bytes);
        if (!open_ || ended_)
            return;
    }
    if (!reader_.feed(bytes)) {
        fail(reader_.closeCode(), std::string("protocol error from the server: ") + reader_.error());
        return;
    }
    if (pongDue_) {
        pongDue_ = false;
        if (queuedBytes() < pongQueueLimit)
            queueFrame(Opcode::Pong, {pongPayload_, pongLength_});
    }
}

std::string_view WebSocket::takeHead(std::string_view bytes) noexcept
{
    std::size_t consumed = 0;
    switch (head_.feed(bytes, consumed)) {
    case ResponseHead::Progress::NeedMore:
        return {};
    case ResponseHead::Progress::Invalid:
        end("the server's answer to the upgrade is not HTTP: " + head_.error());
        return {};
    case ResponseHead::Progress::Complete:
        break;
    }
    if (head_.status() != 101) {
        listener_.onRefused(head_);
        end("the server refused the upgrade");
        return {};
    }
    UpgradeResult result;
    try {
        if (const std::string wrong = checkUpgradeResponse(head_, request_, key_, result);
            !wrong.empty()) {
            end(wrong);
            return {};
        }
        reader_.reset(result.deflate);
        deflater_.reset(result.deflate);
    } catch (const std::exception& error) {
        end(error.what());
        return {};
    }
    open_ = true;
    log::debug(result.deflate.enabled ? "upgraded, with permessage-deflate" : "upgraded");
    listener_.onOpen(result);
    return bytes.substr(consumed);
}

void WebSocket::onMessage(std::string& payload, bool binary) noexcept
{
    listener_.onMessage(payload, binary);
}

void WebSocket::onOversized(std::size_t bytes) noexcept
{
    listener_.onOversized(bytes);
}

void WebSocket::onControl(Opcode opcode, std::string_view payload) noexcept
{
    switch (opcode) {
    case Opcode::Ping:
        // RFC 6455 5.5.3: one pong for the newest ping of a read; a flood costs no writes.
        pongLength_ = std::min(payload.size(), sizeof pongPayload_);
        std::memcpy(pongPayload_, payload.data(), pongLength_);
        pongDue_ = true;
        break;
    case Opcode::Pong:
        listener_.onPong(payload);
        break;
    case Opcode::Close: {
        if (closeSent_) {
            end("closed");
            return;
        }
        const std::optional<std::uint16_t> code = closeCode(payload);
        if (payload.size() == 1 || (code && !validCloseCode(*code))) {
            fail(1002, "protocol error from the server: an invalid close frame");
            return;
        }
        listener_.onPeerClose(code, payload.size() > 2 ? payload.substr(2) : std::string_view{});
        // RFC 6455 5.5.1: echo the code.
        endReason_ = "closed by the server";
        close(code.value_or(1000), {}, Wait::No);
        break;
    }
    default:
        break;
    }
}

void WebSocket::queueFrame(Opcode opcode, std::string_view payload) noexcept
{
    if (ended_ || closeSent_)
        return;
    try {
        appendClientFrame(out_, opcode, payload, maskKeys_);
    } catch (const std::bad_alloc&) {
        end("out of memory for a frame to the server");
        return;
    }
    flush();
}

void WebSocket::flush() noexcept
{
    while (!ended_ && outSent_ < out_.size()) {
        std::size_t count = 0;
        switch (transport_->write(out_.data() + outSent_, out_.size() - outSent_, count)) {
        case Transport::Status::Ok:
            outSent_ += count;
            break;
        case Transport::Status::WouldBlock:
            watch_->wantWritable();
            return;
        case Transport::Status::Closed:
        case Transport::Status::Failed:
            end("connection lost while writing: " + transport_->error());
            return;
        }
    }
    if (ended_)
        return;
    const bool wrote = !out_.empty();
    out_.clear();
    outSent_ = 0;
    if (endAfterFlush_) {
        end(endReason_);
        return;
    }
    if (wrote)
        listener_.onDrained();
}

void WebSocket::fail(std::uint16_t code, const std::string& reason) noexcept
{
    if (open_ && !closeSent_) {
        std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
        try {
            appendClientFrame(out_, Opcode::Close, payload, maskKeys_);
        } catch (const std::bad_alloc&) {
        }
        closeSent_ = true;
        // One try to say why; the link ends either way.
        std::size_t count = 0;
        transport_->write(out_.data() + outSent_, out_.size() - outSent_, count);
    }
    end(reason);
}

void WebSocket::end(const std::string& reason) noexcept
{
    if (ended_)
        return;
    ended_ = true;
    // The fd watch holds a copy of the fd until the loop frees it: the peer must see the
    // end now.
    ::shutdown(transport_->fd(), SHUT_RDWR);
    listener_.onEnded(reason);
}

} // namespace wspush::wire
