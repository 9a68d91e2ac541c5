// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>

namespace wspush::record {

// Microseconds since the epoch, UTC, from the real-time clock.
std::int64_t nowUs() noexcept;

// RFC 3339 in UTC with microseconds: "2026-11-27T22:31:05.123456Z".
void appendTimestamp(std::int64_t microsecondsSinceEpoch, std::string& out);

} // namespace wspush::record
