// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>

namespace wspush::wire {

// A frame's opcode (RFC 6455 5.2); 0x3-0x7 and 0xB-0xF are reserved.
enum class Opcode : std::uint8_t
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA
};

} // namespace wspush::wire
