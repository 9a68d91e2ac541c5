// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <zlib.h>

#include "wire/deflate_parameters.hpp"
#include "wire/frame_parser.hpp"
#include "wire/opcode.hpp"

namespace wspush::wire {

// Whole messages out of a server's frames: fragments joined, compressed ones inflated
// (RFC 7692). At most maxMessageSize bytes of a message are held; a larger one is only
// measured (inflated into a fixed scratch buffer, keeping the compression context in step)
// and reported. UTF-8 is not checked here: the record encoder replaces what is invalid.
class MessageReader final : private FrameParser::Handler
{
public:
    class Handler
    {
    public:
        // A whole message. The reader reuses `payload`'s buffer for the next message: the
        // handler may move it away or swap a spare buffer in.
        virtual void onMessage(std::string& payload, bool binary) noexcept = 0;
        // A message larger than maxMessageSize (after inflation) was dropped; `bytes` its
        // whole size.
        virtual void onOversized(std::size_t bytes) noexcept = 0;
        virtual void onControl(Opcode opcode, std::string_view payload) noexcept = 0;

    protected:
        ~Handler() = default;
    };

    MessageReader(Handler& handler, std::size_t maxMessageSize) noexcept;
    ~MessageReader();
    MessageReader(const MessageReader&) = delete;
    MessageReader& operator=(const MessageReader&) = delete;

    void setMaxMessageSize(std::size_t bytes) noexcept { maxMessageSize_ = bytes; }
    // A new connection: with deflate.enabled, compressed messages are inflated. Throws on
    // error (no memory for zlib's state).
    void reset(const DeflateParameters& deflate);
    // False when the link must be failed: closeCode() and error() say why. Then false again
    // until reset().
    bool feed(std::string_view bytes) noexcept;
    // After feed() failed: 1002 (protocol error), 1007 (invalid compressed data) or, when
    // zlib found no memory for its window, 1011. 0 before.
    std::uint16_t closeCode() const noexcept { return closeCode_; }
    const char* error() const noexcept { return error_; }

private:
    void onMessageStart(bool binary, bool compressed) noexcept override;
    void onMessageData(std::string_view piece, bool last) noexcept override;
    void onControl(Opcode opcode, std::string_view payload) noexcept override;

    // Takes `size` bytes of the message: held while it fits, counted always.
    void take(const char* bytes, std::size_t size) noexcept;
    // Inflates `size` compressed bytes into the message; false on a failure.
    bool inflatePiece(const unsigned char* bytes, std::size_t size) noexcept;
    // A deflate stream ended inside a message (BFINAL): go on with a fresh one.
    bool restartStream() noexcept;
    void finishMessage() noexcept;
    void fail(std::uint16_t code, const char* error) noexcept;

    FrameParser parser_;
    Handler& handler_;
    std::size_t maxMessageSize_;
    std::string message_;
    std::size_t messageBytes_ = 0; // the current message's size so far, held or not
    bool binary_ = false;
    bool compressed_ = false;
    bool oversized_ = false;
    bool compressedBytes_ = false; // the current compressed message had some
    DeflateParameters deflate_;
    bool streamReady_ = false;
    bool freshStream_ = true; // the stream has taken nothing since it was (re)started
    z_stream stream_{};
    std::uint16_t closeCode_ = 0;
    const char* error_ = nullptr;
    char errorText_[96] = {};
    // Inflated bytes on their way into message_ (or only counted), and zlib's window while a
    // stream restarts: 32 KiB.
    unsigned char scratch_[std::size_t{1} << 15];
};

} // namespace wspush::wire
