// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "record/record.hpp"

namespace wspush::store {

// A record as a segment file holds it: a 28-byte little-endian header (payload length,
// CRC-32 of everything after the CRC field, seq, receive time, flags) and the payload as
// received. The jsonl line is not stored: encodeLine() makes the same line again from these.
constexpr std::size_t headerSize = 28;
// Larger than server.max_message_size can be: a length above it is damage.
constexpr std::size_t maxStoredPayload = std::size_t{1} << 30;

void appendStored(const record::Record& record, std::string& out);

struct StoredRecord
{
    std::uint64_t seq = 0;
    std::int64_t receivedUs = 0;
    bool binary = false;
    std::string_view payload;
    std::size_t size = 0; // header and payload
};

// The header of a record appendStored() wrote, at `at` (headerSize bytes or more), read
// without checks.
struct StoredHeader
{
    std::uint64_t seq = 0;
    std::int64_t receivedUs = 0;
    std::size_t size = 0; // header and payload
};
StoredHeader storedHeader(const char* at) noexcept;

enum class ParseResult
{
    Complete,   // `out` holds the record
    Incomplete, // `bytes` ends inside a record that looks sound so far
    Damaged     // not a record: bad length, flags or checksum
};

// Reads the record at the start of `bytes`. A seq not above `afterSeq`, or more than `reach`
// above it, is damage too (checked before the checksum, which a scan past damage tries at
// every offset).
ParseResult parseStored(std::string_view bytes, StoredRecord& out, std::uint64_t afterSeq = 0,
                        std::uint64_t reach = UINT64_MAX) noexcept;
// The same without the checksum, for records the store checked at start or wrote itself:
// a reader catching up on a backlog would spend a third of its time on it.
ParseResult parseChecked(std::string_view bytes, StoredRecord& out) noexcept;

} // namespace wspush::store
