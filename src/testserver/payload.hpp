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
// With --ids, SIZE must leave room for K and the sequence number up to this many digits each.
inline constexpr std::size_t kIdsDigits = 10;

// One push message, as it goes out:
//   {"n":K,"pad":"xx…"}                                   (no ids, not stamped)
//   {"n":K,"t":NS,"pad":"xx…"}                            (stamped)
//   {"id":"<prefix>K","seq":SEQ,"n":K,"pad":"xx…"}        (ids)
//   {"id":"<prefix>K","seq":SEQ,"n":K,"t":NS,"pad":"xx…"} (ids, stamped)
// padded with 'x' to `size` bytes, or longer if the rest does not fit.
struct PushMessage
{
    std::uint64_t k = 0;
    std::size_t size = 0;
    bool stamped = false;
    std::uint64_t stampNs = 0; // the "t" of a stamped message; 0: the time it is built
    bool ids = false;
    std::string_view idPrefix; // with ids; made of characters JSON needs no escape for
    std::uint64_t seq = 0;     // with ids
};

// The message {"n":K,...} without ids.
inline PushMessage plainPushMessage(std::uint64_t k, std::size_t size, bool stamped)
{
    PushMessage message;
    message.k = k;
    message.size = size;
    message.stamped = stamped;
    return message;
}

// Nanoseconds since the epoch on CLOCK_REALTIME.
std::uint64_t realtimeNs() noexcept;

// Length of the message: its size, or more if the rest does not fit.
std::size_t pushMessageLength(const PushMessage& message);
// Appends the message, pushMessageLength(message) bytes.
void appendPushMessage(std::string& out, const PushMessage& message);

// Length of the push message for K: `size`, or more if K (and the stamp) do not fit.
std::size_t pushMessageLength(std::uint64_t k, std::size_t size, bool stamped = false);

// Appends the push message `{"n":K,"pad":"xx…"}` of pushMessageLength(k, size, stamped)
// bytes; `stamped` adds `"t":NS` after K, the time it was built (CLOCK_REALTIME, nanoseconds
// since the epoch), which is when it is sent give or take one batch's build time. Benchmarks
// read it in the records to measure latency on the same clock.
void appendPushMessage(std::string& out, std::uint64_t k, std::size_t size, bool stamped = false);

// The smallest SIZE with which a message with ids (`idPrefix`, K and SEQ of up to kIdsDigits
// digits each) is exactly SIZE bytes.
std::size_t minimumIdsPushSize(std::string_view idPrefix, bool stamped);

// Smallest size paddedJson() can build for `key`.
std::size_t paddedJsonMinimum(std::string_view key);

// The JSON object `{"KEY":"xx…"}`, exactly `size` bytes (at least paddedJsonMinimum(key)).
std::string paddedJson(std::string_view key, std::size_t size);

} // namespace wspush::testserver
