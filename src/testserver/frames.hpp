// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "testserver/payload.hpp"

namespace wspush::testserver {

// Appends one complete, unmasked server-to-client text frame (RFC 6455 5.2) carrying push
// message K, so that many of them can go to the kernel in a single write. `stamped`: the
// message carries the time it was built (see appendPushMessage).
void appendPushFrame(std::string& out, std::uint64_t k, std::size_t size, bool stamped = false);
// The same for any push message (see PushMessage).
void appendPushFrame(std::string& out, const PushMessage& message);

} // namespace wspush::testserver
