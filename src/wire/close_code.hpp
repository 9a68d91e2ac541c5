// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace wspush::wire {

// The status code at the start of a close frame's payload; none when the payload is
// shorter than 2 bytes (empty: no code given; 1 byte: a malformed close frame).
std::optional<std::uint16_t> closeCode(std::string_view payload) noexcept;

// Whether `code` may appear in a close frame (RFC 6455 7.4 and the IANA registry): 1000-1003,
// 1007-1014 and 3000-4999. 1004-1006 and 1015 are reserved for reports, never sent.
bool validCloseCode(unsigned code) noexcept;

} // namespace wspush::wire
