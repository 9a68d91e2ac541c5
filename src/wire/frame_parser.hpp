// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "wire/opcode.hpp"

namespace wspush::wire {

// Parses the frames a server sends (the client's side of RFC 6455 5.2) in place: payloads are
// handed on as views into the bytes fed, never copied. Only a header or a control frame split
// between two reads is kept, in fixed arrays.
class FrameParser
{
public:
    class Handler
    {
    public:
        // The first frame of a data message begins; `compressed`: RSV1 was set on it.
        virtual void onMessageStart(bool binary, bool compressed) noexcept = 0;
        // Payload bytes of the current data message, in order, as they arrive (a view into
        // the bytes fed); `last` on the message's final piece (may be empty).
        virtual void onMessageData(std::string_view piece, bool last) noexcept = 0;
        // A whole control frame (close, ping, pong) and its payload (<= 125 bytes).
        virtual void onControl(Opcode opcode, std::string_view payload) noexcept = 0;

    protected:
        ~Handler() = default;
    };

    static constexpr std::size_t maxHeaderSize = 14;
    static constexpr std::size_t maxControlPayload = 125;

    explicit FrameParser(Handler& handler) noexcept : handler_(handler) {}

    // Whether RSV1 may mark a compressed message (permessage-deflate was negotiated).
    void allowCompression(bool allowed) noexcept { allowCompression_ = allowed; }
    // Forgets any partial frame or message: a new connection.
    void reset() noexcept;
    // Parses all of `bytes`, calling the handler. False on a protocol violation: error() names
    // it and the caller fails the link with 1002; feed() then returns false until reset().
    bool feed(std::string_view bytes) noexcept;
    // What was violated, nullptr if nothing.
    const char* error() const noexcept { return error_; }

private:
    enum class State : std::uint8_t
    {
        Header,
        Payload,
        Control
    };

    // Takes the frame whose whole header is at `header`; false on a violation.
    bool startFrame(const unsigned char* header) noexcept;
    // Checks the first two bytes of a header, before its length is known.
    const char* checkStart(unsigned char first, unsigned char second) const noexcept;
    bool fail(const char* error) noexcept;

    Handler& handler_;
    const char* error_ = nullptr;
    State state_ = State::Header;
    bool allowCompression_ = false;
    bool inMessage_ = false; // a data message's final frame is still to come
    bool fin_ = false;       // of the frame being read
    Opcode controlOpcode_ = Opcode::Close;
    std::uint64_t remaining_ = 0; // payload bytes of the current frame not yet seen
    std::size_t headerHave_ = 0;
    std::size_t controlHave_ = 0;
    unsigned char header_[maxHeaderSize];
    unsigned char control_[maxControlPayload];
};

} // namespace wspush::wire
