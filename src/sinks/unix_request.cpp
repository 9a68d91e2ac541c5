// SPDX-License-Identifier: MIT
#include "sinks/unix_request.hpp"

#include <memory>

#include <json/reader.h>
#include <json/writer.h>

namespace wspush::sinks {

namespace {

std::unique_ptr<Json::CharReader> strictReader()
{
    Json::CharReaderBuilder builder;
    builder["allowComments"] = false;
    builder["strictRoot"] = false;
    builder["allowDroppedNullPlaceholders"] = false;
    builder["allowNumericKeys"] = false;
    builder["allowSingleQuotes"] = false;
    builder["failIfExtra"] = true;
    builder["rejectDupKeys"] = true;
    builder["allowSpecialFloats"] = false;
    builder["allowTrailingCommas"] = false;
    return std::unique_ptr<Json::CharReader>(builder.newCharReader());
}

std::string compactJson(const Json::Value& value)
{
    Json::StreamWriterBuilder builder;
    builder["indentation"] = "";
    builder["emitUTF8"] = true;
    return Json::writeString(builder, value);
}

UnixRequest parseReplay(const Json::Value& request)
{
    const Json::Value& since = request["since"];
    if (!since.isUInt64())
        return InvalidRequest{"replay needs \"since\": a seq, 0 or more"};
    const Json::Value& run = request["run"];
    if (!run.isNull() && !run.isString())
        return InvalidRequest{"replay's \"run\" must be a string"};
    return ReplayRequest{since.asUInt64(), run.isString() ? run.asString() : std::string()};
}

UnixRequest parseSend(const Json::Value& request)
{
    if (!request.isMember("data"))
        return InvalidRequest{"send needs \"data\""};
    const Json::Value& data = request["data"];
    return SendRequest{data.isString() ? data.asString() : compactJson(data)};
}

} // namespace

UnixRequest parseUnixRequest(std::string_view line)
{
    static const std::unique_ptr<Json::CharReader> reader = strictReader();
    Json::Value request;
    std::string errors;
    try {
        if (!reader->parse(line.data(), line.data() + line.size(), &request, &errors))
            return InvalidRequest{"request is not JSON"};
    } catch (const Json::RuntimeError&) {
        // jsoncpp throws rather than fails past its depth limit (1000).
        return InvalidRequest{"request nests too deeply"};
    }
    if (!request.isObject())
        return InvalidRequest{"a request is a JSON object"};
    const Json::Value& op = request["op"];
    if (!op.isString())
        return InvalidRequest{"a request needs \"op\": replay, status or send"};
    const std::string name = op.asString();
    if (name == "replay")
        return parseReplay(request);
    if (name == "status")
        return StatusRequest{};
    if (name == "send")
        return parseSend(request);
    return InvalidRequest{"unknown op '" + name + "' (known: replay, status, send)"};
}

} // namespace wspush::sinks
