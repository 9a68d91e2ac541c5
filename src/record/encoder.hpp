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

// Writes record.line, the jsonl form of its seq, receivedUs and payload (replacing what it
// held, in the capacity it has): `data` is the JSON value when a text payload is one JSON
// text, else the text as a JSON string; a binary payload is base64 with "binary":true.
// Returns how many invalid UTF-8 sequences were replaced by U+FFFD. Throws std::bad_alloc.
std::size_t encodeLine(Record& record);

// A record and its line, as encodeLine() writes it.
EncodeResult encodeRecord(std::uint64_t seq, std::int64_t receivedUs, std::string payload,
                          bool binary);

} // namespace wspush::record
