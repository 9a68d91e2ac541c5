// SPDX-License-Identifier: MIT
#include "testserver/frames.hpp"

#include "testserver/payload.hpp"

namespace wspush::testserver {

namespace {

constexpr unsigned char kFinText = 0x81;
constexpr unsigned char kLength16 = 126;
constexpr unsigned char kLength64 = 127;

void appendTextFrameHeader(std::string& out, std::uint64_t length)
{
    out.push_back(static_cast<char>(kFinText));
    int lengthBytes = 0;
    if (length < kLength16) {
        out.push_back(static_cast<char>(length));
    } else if (length <= 0xffff) {
        out.push_back(static_cast<char>(kLength16));
        lengthBytes = 2;
    } else {
        out.push_back(static_cast<char>(kLength64));
        lengthBytes = 8;
    }
    for (int shift = 8 * (lengthBytes - 1); shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((length >> shift) & 0xff));
    }
}

} // namespace

void appendPushFrame(std::string& out, std::uint64_t k, std::size_t size, bool stamped)
{
    appendPushFrame(out, plainPushMessage(k, size, stamped));
}

void appendPushFrame(std::string& out, const PushMessage& message)
{
    appendTextFrameHeader(out, pushMessageLength(message));
    appendPushMessage(out, message);
}

} // namespace wspush::testserver
