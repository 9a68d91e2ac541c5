// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "wire/opcode.hpp"

namespace wspush::wire {

// Fresh masking keys (RFC 6455 5.3) from OpenSSL's CSPRNG, drawn a block at a time so that
// a key is not a call into OpenSSL each.
class MaskKeys
{
public:
    std::uint32_t next() noexcept;

private:
    void refill() noexcept;

    static constexpr std::size_t blockKeys = 64;
    std::uint32_t keys_[blockKeys] = {};
    std::size_t used_ = blockKeys;
};

// Appends one whole masked frame (FIN set) carrying `payload` to `out`; a control frame's
// payload must be at most 125 bytes.
void appendClientFrame(std::string& out, Opcode opcode, std::string_view payload, MaskKeys& keys);

} // namespace wspush::wire
