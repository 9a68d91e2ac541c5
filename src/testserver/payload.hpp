// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wspush::testserver {

// Length of the push message for K: `size`, or more if K has too many digits to fit.
std::size_t pushMessageLength(std::uint64_t k, std::size_t size);

// Appends the push message `{"n":K,"pad":"xx…"}` of pushMessageLength(k, size) bytes.
void appendPushMessage(std::string& out, std::uint64_t k, std::size_t size);

// Smallest size paddedJson() can build for `key`.
std::size_t paddedJsonMinimum(std::string_view key);

// The JSON object `{"KEY":"xx…"}`, exactly `size` bytes (at least paddedJsonMinimum(key)).
std::string paddedJson(std::string_view key, std::size_t size);

} // namespace wspush::testserver
