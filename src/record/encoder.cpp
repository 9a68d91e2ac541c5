// SPDX-License-Identifier: MIT
#include "record/encoder.hpp"

#include <charconv>

#include "record/base64.hpp"
#include "record/json_text.hpp"
#include "record/timestamp.hpp"
#include "record/utf8.hpp"

namespace wspush::record {

std::size_t encodeLine(Record& record)
{
    const std::string& payload = record.payload;
    std::size_t invalidUtf8 = 0;
    // One allocation for the line at most: JSON never grows when compacted, text rarely
    // needs more than a few escapes, base64 takes 4 bytes for 3.
    constexpr std::size_t framing = 96; // {"seq":N,"ts":"…","data":…,"binary":true}\n
    const std::size_t dataRoom =
        record.binary ? (payload.size() + 2) / 3 * 4 + 2 : payload.size() + payload.size() / 8 + 2;
    std::string& line = record.line;
    line.clear();
    line.reserve(framing + dataRoom);
    line.append("{\"seq\":");
    char digits[20];
    line.append(digits, std::to_chars(digits, digits + sizeof digits, record.seq).ptr);
    line.append(",\"ts\":\"");
    appendTimestamp(record.receivedUs, line);
    line.append("\",\"data\":");
    if (record.binary) {
        line.push_back('"');
        appendBase64(payload, line);
        line.append("\",\"binary\":true");
    } else if (isValidUtf8(payload)) {
        if (!appendCompactJson(payload, line))
            appendJsonString(payload, line);
    } else {
        std::string text;
        invalidUtf8 = appendSanitizedUtf8(payload, text);
        appendJsonString(text, line);
    }
    line.append("}\n");
    return invalidUtf8;
}

EncodeResult encodeRecord(std::uint64_t seq, std::int64_t receivedUs, std::string payload,
                          bool binary)
{
    EncodeResult result;
    Record& record = result.record;
    record.seq = seq;
    record.receivedUs = receivedUs;
    record.binary = binary;
    record.payload = std::move(payload);
    result.invalidUtf8 = encodeLine(record);
    return result;
}

} // namespace wspush::record
