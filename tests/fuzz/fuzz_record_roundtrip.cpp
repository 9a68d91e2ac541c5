// SPDX-License-Identifier: MIT
// The client library on the lines the record encoder writes. The input is read as fuzz_record
// reads it: the first byte chooses the frame type (bit 0: binary) and, with bit 1, takes the
// seq and the receive time from the next 16 bytes; the rest is the payload. parseLine must
// take the encoder's line for a record with the same seq, time and type, and payloadOf must
// give the payload back: as it was, with U+FFFD for invalid UTF-8, compacted when it is JSON
// (a JSON string as its text, unless a lone surrogate leaves it none). The payload is also
// read as a line of its own, which must give the same answer twice.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "record/base64.hpp"
#include "record/encoder.hpp"
#include "record/json_text.hpp"
#include "record/timestamp.hpp"
#include "record/utf8.hpp"
#include "wspush/protocol.hpp"

using wspush::fuzz::require;
namespace record = wspush::record;

namespace {

// 2026-11-27T22:31:05.123456Z
constexpr std::int64_t sampleUs = 1'795'818'665'123'456;
// 9999-12-31T23:59:59.999999Z: RFC 3339 has four-digit years.
constexpr std::int64_t lastUs = 253'402'300'799'999'999;

void appendCodePoint(std::uint32_t codePoint, std::string& out)
{
    if (codePoint < 0x80) {
        out += static_cast<char>(codePoint);
        return;
    }
    // Continuation bytes from the last one back, then the lead byte in front.
    std::string tail;
    std::uint32_t leadLimit = 0x40; // what still fits beside the lead byte's length bits
    std::uint32_t leadBits = 0xC0;
    while (codePoint >= leadLimit) {
        tail.insert(tail.begin(), static_cast<char>(0x80 | (codePoint & 0x3F)));
        codePoint >>= 6;
        leadLimit >>= 1;
        leadBits = leadBits >> 1 | 0x80;
    }
    out += static_cast<char>((leadBits << 1 & 0xFF) | codePoint);
    out += tail;
}

// The text of `quoted`, one valid JSON string, written apart from the library's decoder: the
// escapes become UTF-16 code units, paired as they come. None for a lone surrogate.
std::optional<std::string> referenceText(std::string_view quoted)
{
    std::string text;
    std::optional<std::uint32_t> high; // a high surrogate waiting for its low half
    for (std::size_t i = 1; i + 1 < quoted.size(); ++i) {
        std::uint32_t unit = 0;
        if (quoted[i] != '\\' || quoted[i + 1] != 'u') {
            if (high)
                return std::nullopt;
            if (quoted[i] != '\\') {
                text += quoted[i];
                continue;
            }
            const char letter = quoted[++i];
            const std::string_view letters = "\"\\/bfnrt";
            const std::string_view meanings = "\"\\/\b\f\n\r\t";
            text += meanings[letters.find(letter)];
            continue;
        }
        for (const char digit : quoted.substr(i + 2, 4))
            unit = unit * 16 + static_cast<std::uint32_t>(digit <= '9' ? digit - '0'
                                                                       : (digit | 0x20) - 'a' + 10);
        i += 5;
        if (unit >= 0xD800 && unit < 0xDC00) {
            if (high)
                return std::nullopt;
            high = unit;
        } else if (unit >= 0xDC00 && unit < 0xE000) {
            if (!high)
                return std::nullopt;
            appendCodePoint(0x10000 + (*high - 0xD800) * 0x400 + (unit - 0xDC00), text);
            high.reset();
        } else {
            if (high)
                return std::nullopt;
            appendCodePoint(unit, text);
        }
    }
    if (high)
        return std::nullopt;
    return text;
}

// What payloadOf must give for a record of `payload`, and what Record::data must hold when it
// is a string (nullopt: null, or any value).
struct Expected
{
    std::string payload;
    std::optional<std::string> stringData;
    bool nullData = false;
};

Expected expectedFor(const std::string& payload, bool binary)
{
    if (binary) {
        std::string base64;
        record::appendBase64(payload, base64);
        return {payload, base64};
    }
    if (!record::isValidUtf8(payload)) {
        std::string sanitized;
        record::appendSanitizedUtf8(payload, sanitized);
        return {sanitized, sanitized};
    }
    std::string compact;
    if (!record::appendCompactJson(payload, compact))
        return {payload, payload};
    if (!compact.starts_with('"'))
        return {compact, std::nullopt};
    if (auto text = referenceText(compact))
        return {*text, *text};
    return {compact, std::nullopt, true};
}

void checkRoundTrip(std::uint64_t seq, std::int64_t receivedUs, const std::string& payload,
                    bool binary)
{
    const std::string line = record::encodeRecord(seq, receivedUs, payload, binary).record.line;
    std::string error;
    const auto message = wspush::parseLine(line, error);
    require(message.has_value(), "the client reads every line the daemon writes");
    require(std::holds_alternative<wspush::Record>(*message), "a record line is a record");
    const auto& parsed = std::get<wspush::Record>(*message);

    std::string ts;
    record::appendTimestamp(receivedUs, ts);
    require(parsed.seq == seq, "seq reads back");
    require(parsed.ts == ts, "ts reads back");
    require(parsed.binary == binary, "the frame type reads back");
    require(parsed.line + '\n' == line, "the line is kept as received");

    const Expected expected = expectedFor(payload, binary);
    require(wspush::payloadOf(parsed) == expected.payload, "the payload reads back");
    if (expected.stringData)
        require(parsed.data.isString() && parsed.data.asString() == *expected.stringData,
                "a string's data is its text");
    if (expected.nullData)
        require(parsed.data.isNull(), "a string without a text has null data");
    const wspush::Record copy = parsed;
    require(wspush::payloadOf(copy) == expected.payload, "a copied record gives the same payload");
}

// Any line: the same answer twice, and a record's payload can be taken.
void checkAnyLine(std::string_view line)
{
    std::string error;
    const auto message = wspush::parseLine(line, error);
    std::string again;
    const auto second = wspush::parseLine(line, again);
    require(message.has_value() == second.has_value() && error == again, "the same answer twice");
    if (!message) {
        require(!error.empty(), "a refused line has a reason");
        return;
    }
    if (const auto* parsed = std::get_if<wspush::Record>(&*message)) {
        const auto& other = std::get<wspush::Record>(*second);
        require(parsed->seq == other.seq && wspush::payloadOf(*parsed) == wspush::payloadOf(other),
                "the same record twice");
    }
}

} // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the entry point libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const bool binary = (data[0] & 1) != 0;
    std::uint64_t seq = size;
    std::int64_t receivedUs = sampleUs;
    std::size_t skip = 1;
    if ((data[0] & 2) != 0 && size >= 17) {
        std::memcpy(&seq, data + 1, sizeof seq);
        std::uint64_t us = 0;
        std::memcpy(&us, data + 9, sizeof us);
        receivedUs = static_cast<std::int64_t>(us % static_cast<std::uint64_t>(lastUs + 1));
        skip = 17;
    }
    const std::string payload(reinterpret_cast<const char*>(data) + skip, size - skip);
    checkRoundTrip(seq, receivedUs, payload, binary);
    checkAnyLine(payload);
    return 0;
}
