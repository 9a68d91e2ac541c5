// SPDX-License-Identifier: MIT
#include "sinks/unix_request.hpp"

#include <memory>

#include <json/reader.h>
#include <json/writer.h>

namespace wspush::sinks {

namespace {

constexpr std::size_t maxNameLength = 64;
constexpr const char* nameRule = "1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'";

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
    const Json::Value& epoch = request["epoch"];
    const Json::Value& run = request["run"];
    if (!epoch.isNull() && !epoch.isString())
        return InvalidRequest{"replay's \"epoch\" must be a string"};
    if (!run.isNull() && !run.isString())
        return InvalidRequest{"replay's \"run\" must be a string"};
    if (epoch.isString() && run.isString() && epoch.asString() != run.asString())
        return InvalidRequest{"replay's \"epoch\" and \"run\" differ"};
    const Json::Value& given = epoch.isString() ? epoch : run;
    return ReplayRequest{since.asUInt64(), given.isString() ? given.asString() : std::string()};
}

UnixRequest parseSend(const Json::Value& request)
{
    if (!request.isMember("data"))
        return InvalidRequest{"send needs \"data\""};
    const Json::Value& data = request["data"];
    return SendRequest{data.isString() ? data.asString() : compactJson(data)};
}

// The "name" of a subscribe or delete_cursor request, or why it is not one.
std::variant<std::string, InvalidRequest> nameOf(const Json::Value& request, const char* op)
{
    const Json::Value& name = request["name"];
    if (!name.isString())
        return InvalidRequest{std::string(op) + " needs \"name\": " + nameRule};
    std::string text = name.asString();
    if (!isSubscriptionName(text))
        return InvalidRequest{std::string(op) + "'s \"name\" must be " + nameRule};
    return text;
}

UnixRequest parseSubscribe(const Json::Value& request)
{
    auto name = nameOf(request, "subscribe");
    if (auto* invalid = std::get_if<InvalidRequest>(&name))
        return std::move(*invalid);
    const Json::Value& from = request["from"];
    if (!from.isNull() &&
        !(from.isString() && (from.asString() == "first" || from.asString() == "next")))
        return InvalidRequest{"subscribe's \"from\" is \"first\" or \"next\""};
    return SubscribeRequest{std::get<std::string>(std::move(name)),
                            from.isString() && from.asString() == "first"};
}

UnixRequest parseAck(const Json::Value& request)
{
    const Json::Value& seq = request["seq"];
    if (!seq.isUInt64())
        return InvalidRequest{"ack needs \"seq\": the last record handled"};
    return AckRequest{seq.asUInt64()};
}

UnixRequest parseDeleteCursor(const Json::Value& request)
{
    auto name = nameOf(request, "delete_cursor");
    if (auto* invalid = std::get_if<InvalidRequest>(&name))
        return std::move(*invalid);
    return DeleteCursorRequest{std::get<std::string>(std::move(name))};
}

} // namespace

bool isSubscriptionName(std::string_view name) noexcept
{
    if (name.empty() || name.size() > maxNameLength)
        return false;
    for (const char c : name) {
        const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                             (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!allowed)
            return false;
    }
    return true;
}

UnixRequest parseUnixRequest(std::string_view line)
{
    static const std::unique_ptr<Json::CharReader> reader = strictReader();
    static const std::string known = "replay, status, send, subscribe, ack, cursors, delete_cursor";
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
        return InvalidRequest{"a request needs \"op\": " + known};
    const std::string name = op.asString();
    if (name == "replay")
        return parseReplay(request);
    if (name == "status")
        return StatusRequest{};
    if (name == "send")
        return parseSend(request);
    if (name == "subscribe")
        return parseSubscribe(request);
    if (name == "ack")
        return parseAck(request);
    if (name == "cursors")
        return CursorsRequest{};
    if (name == "delete_cursor")
        return parseDeleteCursor(request);
    return InvalidRequest{"unknown op '" + name + "' (known: " + known + ")"};
}

} // namespace wspush::sinks
