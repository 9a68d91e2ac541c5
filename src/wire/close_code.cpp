// SPDX-License-Identifier: MIT
#include "wire/close_code.hpp"

namespace wspush::wire {

std::optional<std::uint16_t> closeCode(std::string_view payload) noexcept
{
    if (payload.size() < 2)
        return std::nullopt;
    return static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                      static_cast<unsigned char>(payload[1]));
}

bool validCloseCode(unsigned code) noexcept
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

} // namespace wspush::wire
