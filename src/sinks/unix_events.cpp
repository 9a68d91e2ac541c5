// SPDX-License-Identifier: MIT
#include "sinks/unix_events.hpp"

#include <json/writer.h>

namespace wspush::sinks {

std::string eventLine(const std::string& name, const Json::Value& fields)
{
    Json::Value event(Json::objectValue);
    event["event"] = name;
    if (fields.isObject()) {
        for (const auto& key : fields.getMemberNames())
            event[key] = fields[key];
    }
    Json::StreamWriterBuilder builder;
    builder["indentation"] = "";
    builder["emitUTF8"] = true;
    return Json::writeString(builder, event) + "\n";
}

} // namespace wspush::sinks
