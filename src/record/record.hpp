// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>

namespace wspush::record {

// One received message, as every sink sees it. Built once, then only read: sinks share it.
struct Record
{
    std::uint64_t seq = 0;
    std::int64_t receivedUs = 0; // UTC, microseconds since the epoch
    bool binary = false;
    std::string payload; // the bytes as received
    std::string line;    // the jsonl form, ending in '\n'
};

} // namespace wspush::record
