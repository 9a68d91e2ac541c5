// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "record/record.hpp"

namespace wspush::record {

struct EncodeResult
{
    Record record;
    std::size_t invalidUtf8 = 0; // sequences replaced by U+FFFD in the jsonl form
};

// Builds a record and its jsonl line: `data` is the JSON value when a text payload is one
// JSON text, else the text as a JSON string; a binary payload is base64 with "binary":true.
EncodeResult encodeRecord(std::uint64_t seq, std::int64_t receivedUs, std::string payload,
                          bool binary);

} // namespace wspush::record
