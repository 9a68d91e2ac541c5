// SPDX-License-Identifier: MIT
#include "wspush/protocol.hpp"

#include <algorithm>
#include <charconv>
#include <memory>
#include <stdexcept>

#include <json/reader.h>
#include <json/writer.h>

#include "record/base64.hpp"
#include "record/json_text.hpp"

namespace wspush {

namespace {

std::string compactJson(const Json::Value& value)
{
    static const Json::StreamWriterBuilder builder = [] {
        Json::StreamWriterBuilder compact;
        compact["indentation"] = "";
        compact["emitUTF8"] = true;
        return compact;
    }();
    return Json::writeString(builder, value);
}

std::string requestLine(const Json::Value& request)
{
    return compactJson(request) + '\n';
}

// jsoncpp lists errors as "* Line 1, Column 9\n  Extra non-whitespace after JSON value.\n";
// the first one, on one line, is enough to say what is wrong.
std::string firstError(std::string_view errors)
{
    const auto lineEnd = errors.find('\n');
    std::string_view where = errors.substr(0, lineEnd);
    std::string_view what = lineEnd == std::string_view::npos ? "" : errors.substr(lineEnd + 1);
    if (where.starts_with("* "))
        where.remove_prefix(2);
    what = what.substr(0, what.find('\n'));
    what.remove_prefix(std::min(what.find_first_not_of(' '), what.size()));
    return std::string(where) + ": " + std::string(what);
}

bool parseObject(std::string_view line, Json::Value& root, std::string& error)
{
    // A reader keeps state while it parses: one per thread.
    thread_local const std::unique_ptr<Json::CharReader> reader = [] {
        Json::CharReaderBuilder builder;
        Json::CharReaderBuilder::strictMode(&builder.settings_);
        builder["strictRoot"] = false; // to tell "not JSON" from "not an object"
        return std::unique_ptr<Json::CharReader>(builder.newCharReader());
    }();
    std::string errors;
    try {
        if (!reader->parse(line.data(), line.data() + line.size(), &root, &errors)) {
            error = "not JSON: " + firstError(errors);
            return false;
        }
    } catch (const Json::Exception& failure) {
        // jsoncpp throws past its nesting limit (1000), which a record's data may exceed.
        error = std::string("not readable here: ") + failure.what();
        return false;
    }
    if (!root.isObject()) {
        error = "not a JSON object";
        return false;
    }
    return true;
}

// The parts of a line in the framing that only the daemon's encoder writes (encodeLine):
// {"seq":N,"ts":"TS","data":DATA} or {"seq":N,"ts":"TS","data":"BASE64","binary":true},
// with DATA one compact JSON text.
struct RecordFraming
{
    std::uint64_t seq = 0;
    std::string_view ts;
    std::size_t dataOffset = 0;
    std::string_view data;
    bool binary = false;
};

// Whether `json` is one JSON text (RFC 8259) as appendCompactJson writes it.
bool isCompactJson(std::string_view json)
{
    thread_local std::string compact; // keeps its capacity from line to line
    compact.clear();
    return record::appendCompactJson(json, compact) && compact == json;
}

std::optional<RecordFraming> recordFraming(std::string_view line)
{
    constexpr std::string_view seqKey = R"({"seq":)";
    constexpr std::string_view tsKey = R"(,"ts":")";
    constexpr std::string_view dataKey = R"(","data":)";
    constexpr std::string_view binaryEnd = R"(,"binary":true})";
    if (!line.starts_with(seqKey) || !line.ends_with('}'))
        return std::nullopt;
    RecordFraming framing;
    const char* const digits = line.data() + seqKey.size();
    const char* const end = line.data() + line.size();
    const auto [seqEnd, status] = std::from_chars(digits, end, framing.seq);
    if (status != std::errc{} || (*digits == '0' && seqEnd - digits > 1))
        return std::nullopt;
    std::string_view rest(seqEnd, static_cast<std::size_t>(end - seqEnd));
    if (!rest.starts_with(tsKey))
        return std::nullopt;
    rest.remove_prefix(tsKey.size());
    // The time is plain ASCII, without escapes.
    framing.ts = rest.substr(0, rest.find_first_of("\"\\"));
    rest.remove_prefix(framing.ts.size());
    if (!rest.starts_with(dataKey))
        return std::nullopt;
    for (const char c : framing.ts) {
        if (static_cast<unsigned char>(c) < 0x20)
            return std::nullopt;
    }
    rest.remove_prefix(dataKey.size());
    // No JSON text ends in `,"binary":true`, so the end tells the two forms apart.
    framing.binary = rest.ends_with(binaryEnd);
    rest.remove_suffix(framing.binary ? binaryEnd.size() : 1);
    if ((framing.binary && !rest.starts_with('"')) || !isCompactJson(rest))
        return std::nullopt;
    framing.dataOffset = static_cast<std::size_t>(rest.data() - line.data());
    framing.data = rest;
    return framing;
}

// Reads `json` (one valid JSON text) as Record::data: duplicate keys allowed, the last one
// counting. False when jsoncpp cannot hold it (a number beyond a double, more than 1000
// levels of nesting).
bool readData(std::string_view json, Json::Value& data)
{
    thread_local const std::unique_ptr<Json::CharReader> reader = [] {
        Json::CharReaderBuilder builder;
        Json::CharReaderBuilder::strictMode(&builder.settings_);
        builder["strictRoot"] = false;
        builder["rejectDupKeys"] = false;
        return std::unique_ptr<Json::CharReader>(builder.newCharReader());
    }();
    std::string errors;
    try {
        return reader->parse(json.data(), json.data() + json.size(), &data, &errors);
    } catch (const Json::Exception&) {
        return false; // past jsoncpp's nesting limit
    }
}

// A line the daemon wrote is a record whatever its data holds: seq, ts and binary come from
// the framing, data is read as far as jsoncpp can, and its text stays in the line for
// payloadOf().
Record recordFrom(const RecordFraming& framing, std::string_view line)
{
    Record record;
    record.seq = framing.seq;
    record.ts = framing.ts;
    record.binary = framing.binary;
    record.line = line;
    if (framing.data.starts_with('"')) {
        std::string text;
        if (record::appendJsonStringText(framing.data, text))
            record.data = text;
    } else if (record::hasLoneSurrogate(framing.data) || !readData(framing.data, record.data)) {
        record.data = Json::Value();
    }
    record.data.setOffsetStart(static_cast<std::ptrdiff_t>(framing.dataOffset));
    record.data.setOffsetLimit(
        static_cast<std::ptrdiff_t>(framing.dataOffset + framing.data.size()));
    return record;
}

std::optional<Message> recordFrom(Json::Value& root, std::string_view line, std::string& error)
{
    const Json::Value& seq = root["seq"];
    const Json::Value& binary = root["binary"];
    if (!seq.isUInt64()) {
        error = "a record whose seq is not an unsigned integer";
    } else if (!root["ts"].isString()) {
        error = "a record without a ts string";
    } else if (!root.isMember("data")) {
        error = "a record without data";
    } else if (!binary.isNull() && !binary.isBool()) {
        error = "a record whose binary is not true or false";
    } else if (binary.asBool() && !root["data"].isString()) {
        error = "a binary record whose data is not a base64 string";
    } else {
        Record record;
        record.seq = seq.asUInt64();
        record.ts = root["ts"].asString();
        record.binary = binary.asBool();
        record.data = std::move(root["data"]);
        record.line = line;
        return record;
    }
    return std::nullopt;
}

} // namespace

std::optional<Message> parseLine(std::string_view line, std::string& error)
{
    if (line.ends_with('\n'))
        line.remove_suffix(1);
    if (const auto framing = recordFraming(line))
        return recordFrom(*framing, line);
    Json::Value root;
    if (!parseObject(line, root, error))
        return std::nullopt;
    if (root.isMember("seq"))
        return recordFrom(root, line, error);
    if (!root["event"].isString()) {
        error = "neither a record (no seq) nor an event (no event name)";
        return std::nullopt;
    }
    Event event;
    event.name = root["event"].asString();
    event.fields = std::move(root);
    event.line = line;
    return event;
}

std::string payloadOf(const Record& record)
{
    // The daemon wrote the payload's own text, compacted, or the text as a JSON string: cut
    // it out of the line rather than let jsoncpp reorder keys and respell numbers.
    const auto start = record.data.getOffsetStart();
    const auto limit = record.data.getOffsetLimit();
    if (start < limit && static_cast<std::size_t>(limit) <= record.line.size()) {
        const std::string_view json =
            std::string_view(record.line)
                .substr(static_cast<std::size_t>(start), static_cast<std::size_t>(limit - start));
        std::string text;
        if (!json.starts_with('"') || !record::appendJsonStringText(json, text))
            return std::string(json); // not a string, or one that has no UTF-8 text
        return record.binary ? record::decodeBase64(text) : text;
    }
    if (record.data.isString()) {
        const std::string text = record.data.asString();
        return record.binary ? record::decodeBase64(text) : text;
    }
    return compactJson(record.data);
}

std::optional<Hello> helloOf(const Event& event)
{
    const Json::Value& fields = event.fields;
    if (event.name != "hello" || !fields["epoch"].isString() || !fields["first"].isUInt64() ||
        !fields["last"].isUInt64())
        return std::nullopt;
    return Hello{fields["epoch"].asString(), fields["first"].asUInt64(), fields["last"].asUInt64()};
}

std::string replayRequest(std::uint64_t since, const std::string& epoch)
{
    Json::Value request(Json::objectValue);
    request["op"] = "replay";
    request["since"] = Json::UInt64{since};
    if (!epoch.empty())
        request["epoch"] = epoch;
    return requestLine(request);
}

bool isSubscriptionName(std::string_view name) noexcept
{
    constexpr std::size_t maxLength = 64;
    return !name.empty() && name.size() <= maxLength &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
           });
}

std::string subscribeRequest(const std::string& name, bool fromFirst)
{
    if (!isSubscriptionName(name))
        throw std::invalid_argument("a subscription name is 1 to 64 of A-Z, a-z, 0-9, '.', "
                                    "'_' and '-', not '" +
                                    name + "'");
    Json::Value request(Json::objectValue);
    request["op"] = "subscribe";
    request["name"] = name;
    if (fromFirst)
        request["from"] = "first";
    return requestLine(request);
}

std::string ackRequest(std::uint64_t seq)
{
    Json::Value request(Json::objectValue);
    request["op"] = "ack";
    request["seq"] = Json::UInt64{seq};
    return requestLine(request);
}

std::string cursorsRequest()
{
    Json::Value request(Json::objectValue);
    request["op"] = "cursors";
    return requestLine(request);
}

std::string deleteCursorRequest(const std::string& name)
{
    if (!isSubscriptionName(name))
        throw std::invalid_argument("a cursor name is 1 to 64 of A-Z, a-z, 0-9, '.', '_' and "
                                    "'-', not '" +
                                    name + "'");
    Json::Value request(Json::objectValue);
    request["op"] = "delete_cursor";
    request["name"] = name;
    return requestLine(request);
}

std::string statusRequest()
{
    Json::Value request(Json::objectValue);
    request["op"] = "status";
    return requestLine(request);
}

std::string sendRequest(const Json::Value& data)
{
    Json::Value request(Json::objectValue);
    request["op"] = "send";
    request["data"] = data;
    return requestLine(request);
}

} // namespace wspush
