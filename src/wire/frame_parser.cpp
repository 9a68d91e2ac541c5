// SPDX-License-Identifier: MIT
#include "wire/frame_parser.hpp"

#include <algorithm>
#include <cstring>

namespace wspush::wire {

namespace {

constexpr unsigned char finBit = 0x80;
constexpr unsigned char rsv1Bit = 0x40;
constexpr unsigned char rsv23Bits = 0x30;
constexpr unsigned char opcodeBits = 0x0f;
constexpr unsigned char maskBit = 0x80;
constexpr unsigned char lengthBits = 0x7f;

// The header's size from its second byte; a masked frame never gets this far.
std::size_t headerSize(unsigned char second) noexcept
{
    const unsigned length = second & lengthBits;
    return length < 126 ? 2 : length == 126 ? 4 : 10;
}

bool isControl(unsigned opcode) noexcept
{
    return (opcode & 0x8) != 0;
}

bool knownOpcode(unsigned opcode) noexcept
{
    return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

std::string_view view(const unsigned char* bytes, std::size_t size) noexcept
{
    return {reinterpret_cast<const char*>(bytes), size};
}

} // namespace

void FrameParser::reset() noexcept
{
    error_ = nullptr;
    state_ = State::Header;
    inMessage_ = false;
    fin_ = false;
    remaining_ = 0;
    headerHave_ = 0;
    controlHave_ = 0;
}

bool FrameParser::fail(const char* error) noexcept
{
    error_ = error;
    return false;
}

const char* FrameParser::checkStart(unsigned char first, unsigned char second) const noexcept
{
    const unsigned opcode = first & opcodeBits;
    const bool fin = (first & finBit) != 0;
    const bool compressed = (first & rsv1Bit) != 0;
    if ((second & maskBit) != 0)
        return "masked frame from the server";
    if ((first & rsv23Bits) != 0)
        return "reserved bits set";
    if (!knownOpcode(opcode))
        return "unknown opcode";
    if (compressed && !allowCompression_)
        return "compressed bit without permessage-deflate";
    if (isControl(opcode)) {
        if (!fin)
            return "fragmented control frame";
        if (compressed)
            return "compressed bit on a control frame";
    } else if (opcode == static_cast<unsigned>(Opcode::Continuation)) {
        if (!inMessage_)
            return "continuation without a message";
        if (compressed)
            return "compressed bit on a continuation frame";
    } else if (inMessage_) {
        return "data frame inside a fragmented message";
    }
    return nullptr;
}

bool FrameParser::startFrame(const unsigned char* header) noexcept
{
    const unsigned opcode = header[0] & opcodeBits;
    const unsigned length7 = header[1] & lengthBits;
    std::uint64_t length = length7;
    if (length7 == 126) {
        length = (std::uint64_t{header[2]} << 8) | header[3];
    } else if (length7 == 127) {
        length = 0;
        for (int i = 2; i < 10; ++i)
            length = (length << 8) | header[i];
        if ((length >> 63) != 0)
            return fail("64-bit length with the top bit set");
    }

    if (isControl(opcode)) {
        if (length > maxControlPayload)
            return fail("control frame longer than 125 bytes");
        if (length == 0) {
            handler_.onControl(static_cast<Opcode>(opcode), {});
            return true;
        }
        controlOpcode_ = static_cast<Opcode>(opcode);
        controlHave_ = 0;
        remaining_ = length;
        state_ = State::Control;
        return true;
    }

    fin_ = (header[0] & finBit) != 0;
    if (opcode != static_cast<unsigned>(Opcode::Continuation)) {
        inMessage_ = true;
        handler_.onMessageStart(opcode == static_cast<unsigned>(Opcode::Binary),
                                (header[0] & rsv1Bit) != 0);
    }
    if (length == 0) {
        if (fin_) {
            inMessage_ = false;
            handler_.onMessageData({}, true);
        }
        return true;
    }
    remaining_ = length;
    state_ = State::Payload;
    return true;
}

bool FrameParser::feed(std::string_view bytes) noexcept
{
    if (error_ != nullptr)
        return false;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const auto* const end = p + bytes.size();
    while (p != end) {
        const auto available = static_cast<std::size_t>(end - p);
        switch (state_) {
        case State::Header:
            // The common case: the whole header is in the bytes fed.
            if (headerHave_ == 0 && available >= 2) {
                if (const char* violation = checkStart(p[0], p[1]))
                    return fail(violation);
                const std::size_t size = headerSize(p[1]);
                if (available >= size) {
                    if (!startFrame(p))
                        return false;
                    p += size;
                    break;
                }
            }
            if (headerHave_ < 2) {
                header_[headerHave_++] = *p++;
                if (headerHave_ < 2)
                    break;
                if (const char* violation = checkStart(header_[0], header_[1]))
                    return fail(violation);
            }
            {
                const std::size_t size = headerSize(header_[1]);
                const std::size_t n =
                    std::min(size - headerHave_, static_cast<std::size_t>(end - p));
                std::memcpy(header_ + headerHave_, p, n);
                headerHave_ += n;
                p += n;
                if (headerHave_ == size) {
                    headerHave_ = 0;
                    if (!startFrame(header_))
                        return false;
                }
            }
            break;

        case State::Payload: {
            const std::size_t n =
                remaining_ < available ? static_cast<std::size_t>(remaining_) : available;
            remaining_ -= n;
            bool last = false;
            if (remaining_ == 0) {
                state_ = State::Header;
                last = fin_;
                if (fin_)
                    inMessage_ = false;
            }
            handler_.onMessageData(view(p, n), last);
            p += n;
            break;
        }

        case State::Control: {
            const auto length = static_cast<std::size_t>(remaining_);
            if (controlHave_ == 0 && available >= length) {
                state_ = State::Header;
                handler_.onControl(controlOpcode_, view(p, length));
                p += length;
                break;
            }
            const std::size_t n = std::min(length - controlHave_, available);
            std::memcpy(control_ + controlHave_, p, n);
            controlHave_ += n;
            p += n;
            if (controlHave_ == length) {
                controlHave_ = 0;
                state_ = State::Header;
                handler_.onControl(controlOpcode_, view(control_, length));
            }
            break;
        }
        }
    }
    return true;
}

} // namespace wspush::wire
