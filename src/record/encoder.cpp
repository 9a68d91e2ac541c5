// SPDX-License-Identifier: MIT
#include "record/encoder.hpp"

#include "record/base64.hpp"
#include "record/json_text.hpp"
#include "record/timestamp.hpp"
#include "record/utf8.hpp"

namespace wspush::record {

EncodeResult encodeRecord(std::uint64_t seq, std::int64_t receivedUs, std::string payload,
                          bool binary)
{
    EncodeResult result;
    Record& record = result.record;
    record.seq = seq;
    record.receivedUs = receivedUs;
    record.binary = binary;

    std::string& line = record.line;
    line.reserve(payload.size() + payload.size() / 8 + 64);
    line.append("{\"seq\":");
    line.append(std::to_string(seq));
    line.append(",\"ts\":\"");
    appendTimestamp(receivedUs, line);
    line.append("\",\"data\":");
    if (binary) {
        line.push_back('"');
        appendBase64(payload, line);
        line.append("\",\"binary\":true");
    } else if (isValidUtf8(payload)) {
        if (!appendCompactJson(payload, line))
            appendJsonString(payload, line);
    } else {
        std::string text;
        result.invalidUtf8 = appendSanitizedUtf8(payload, text);
        appendJsonString(text, line);
    }
    line.append("}\n");
    record.payload = std::move(payload);
    return result;
}

} // namespace wspush::record
