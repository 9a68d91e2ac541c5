// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wspush::testserver {

// Room for the send time in a stamped push message: nanoseconds since the epoch have 19 digits
// from 2001 to 2286 (fewer are padded with blanks), so the length does not depend on the clock.
inline constexpr std::size_t kStampDigits = 19;

// Length of the push message for K: `size`, or more if K (and the stamp) do not fit.
std::size_t pushMessageLength(std::uint64_t k, std::size_t size, bool stamped = false);

// Appends the push message `{"n":K,"pad":"xx…"}` of pushMessageLength(k, size, stamped)
// bytes; `stamped` adds `"t":NS` after K, the time it was built (CLOCK_REALTIME, nanoseconds
// since the epoch), which is when it is sent give or take one batch's build time. Benchmarks
// read it in the records to measure latency on the same clock.
void appendPushMessage(std::string& out, std::uint64_t k, std::size_t size, bool stamped = false);

// Smallest size paddedJson() can build for `key`.
std::size_t paddedJsonMinimum(std::string_view key);

// The JSON object `{"KEY":"xx…"}`, exactly `size` bytes (at least paddedJsonMinimum(key)).
std::string paddedJson(std::string_view key, std::size_t size);

} // namespace wspush::testserver
