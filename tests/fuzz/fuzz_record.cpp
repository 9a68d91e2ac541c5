// SPDX-License-Identifier: MIT
// The record encoder on any payload. The input's first byte chooses the frame type (bit 0:
// binary) and, with bit 1, takes the seq and the receive time from the next 16 bytes; the
// rest is the payload. Every line must be one line of JSON that gives the payload back, the
// same whether the record is new or reused.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include <json/reader.h>

#include "fuzz_check.hpp"
#include "record/base64.hpp"
#include "record/encoder.hpp"
#include "record/json_text.hpp"
#include "record/timestamp.hpp"
#include "record/utf8.hpp"

using wspush::fuzz::require;
namespace record = wspush::record;

namespace {

// 2026-11-27T22:31:05.123456Z
constexpr std::int64_t sampleUs = 1'795'818'665'123'456;
// 9999-12-31T23:59:59.999999Z: RFC 3339 has four-digit years.
constexpr std::int64_t lastUs = 253'402'300'799'999'999;

// RFC 8259 as jsoncpp reads it: any value at the root, duplicate keys allowed.
std::unique_ptr<Json::CharReader> rfcReader()
{
    Json::CharReaderBuilder builder;
    Json::CharReaderBuilder::strictMode(&builder.settings_);
    builder["strictRoot"] = false;
    builder["rejectDupKeys"] = false;
    return std::unique_ptr<Json::CharReader>(builder.newCharReader());
}

// False when jsoncpp refuses `text`, or nests deeper than it goes (it throws then).
bool parseJson(std::string_view text, Json::Value& value)
{
    static const std::unique_ptr<Json::CharReader> reader = rfcReader();
    std::string errors;
    try {
        return reader->parse(text.data(), text.data() + text.size(), &value, &errors);
    } catch (const Json::Exception&) {
        return false;
    }
}

// The receive time as gmtime_r and printf write it, to check the encoder's own arithmetic.
std::string referenceTimestamp(std::int64_t receivedUs)
{
    const std::time_t seconds = receivedUs / 1'000'000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[40];
    const int length =
        std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", utc.tm_year + 1900,
                      utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                      static_cast<long>(receivedUs % 1'000'000));
    return std::string(text, static_cast<std::size_t>(length));
}

void checkLine(const std::string& line, std::uint64_t seq, std::int64_t receivedUs,
               const std::string& payload, bool binary)
{
    require(!line.empty() && line.back() == '\n', "a line ends in a newline");
    for (std::size_t i = 0; i + 1 < line.size(); ++i)
        require(static_cast<unsigned char>(line[i]) >= 0x20, "no control byte within a line");
    require(record::isValidUtf8(line), "a line is UTF-8");

    const std::string dataAt = "{\"seq\":" + std::to_string(seq) + ",\"ts\":\"" +
                               referenceTimestamp(receivedUs) + "\",\"data\":";
    require(line.starts_with(dataAt), "a line starts with its seq and RFC 3339 UTC time");

    std::string compact;
    if (!binary && record::isValidUtf8(payload) && record::appendCompactJson(payload, compact)) {
        // A JSON text is kept as itself, compacted, and compacting it again changes nothing.
        require(line == dataAt + compact + "}\n", "a JSON payload is data as it is");
        std::string again;
        require(record::appendCompactJson(compact, again) && again == compact,
                "compact JSON is already compact");
        Json::Value root;
        Json::Value value;
        if (parseJson(line, root) && parseJson(payload, value))
            require(root["data"] == value, "compacting keeps the value");
        return;
    }

    // Any other payload is a JSON string, which every JSON reader takes.
    Json::Value root;
    require(parseJson(line, root), "a line is JSON");
    require(root["seq"].isUInt64() && root["seq"].asUInt64() == seq, "seq reads back");
    require(root["data"].isString(), "data is a string");
    const std::string data = root["data"].asString();
    if (binary) {
        require(root["binary"].asBool(), "a binary record says so");
        require(record::decodeBase64(data) == payload, "binary data is the payload in base64");
    } else if (record::isValidUtf8(payload)) {
        require(data == payload, "text data is the payload");
    } else {
        std::string sanitized;
        require(record::appendSanitizedUtf8(payload, sanitized) > 0, "invalid UTF-8 is found");
        require(data == sanitized && record::isValidUtf8(data), "invalid UTF-8 becomes U+FFFD");
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

    const record::EncodeResult result = record::encodeRecord(seq, receivedUs, payload, binary);
    const record::Record& encoded = result.record;
    require(encoded.seq == seq && encoded.receivedUs == receivedUs && encoded.binary == binary,
            "the record keeps seq, time and type");
    require(encoded.payload == payload, "the record keeps the payload as received");
    const bool validUtf8 = record::isValidUtf8(payload);
    std::string sanitized;
    require((record::appendSanitizedUtf8(payload, sanitized) == 0) == validUtf8 &&
                (!validUtf8 || sanitized == payload),
            "validation and sanitizing agree on what is UTF-8");
    require((result.invalidUtf8 > 0) == (!binary && !validUtf8),
            "invalid UTF-8 is counted in text payloads only");
    checkLine(encoded.line, seq, receivedUs, payload, binary);

    // A pooled record is encoded again over the buffers of an earlier one.
    static record::Record reused;
    reused.seq = seq;
    reused.receivedUs = receivedUs;
    reused.binary = binary;
    reused.payload.assign(payload);
    require(record::encodeLine(reused) == result.invalidUtf8 && reused.line == encoded.line,
            "a reused record gets the same line");
    return 0;
}
