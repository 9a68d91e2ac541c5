// SPDX-License-Identifier: MIT
#include "wspush/protocol.hpp"

#include <memory>

#include <json/reader.h>
#include <json/writer.h>

#include "record/base64.hpp"

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
    if (record.data.isString()) {
        const std::string text = record.data.asString();
        return record.binary ? record::decodeBase64(text) : text;
    }
    // The daemon wrote the payload's own text, compacted: cut it out of the line rather
    // than let jsoncpp reorder keys and respell numbers.
    const auto start = record.data.getOffsetStart();
    const auto limit = record.data.getOffsetLimit();
    if (start < limit && static_cast<std::size_t>(limit) <= record.line.size())
        return record.line.substr(static_cast<std::size_t>(start),
                                  static_cast<std::size_t>(limit - start));
    return compactJson(record.data);
}

std::string replayRequest(std::uint64_t since, const std::string& run)
{
    Json::Value request(Json::objectValue);
    request["op"] = "replay";
    request["since"] = Json::UInt64{since};
    if (!run.empty())
        request["run"] = run;
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
