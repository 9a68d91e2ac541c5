// SPDX-License-Identifier: MIT
#include "ctl/field_text.hpp"

#include <json/writer.h>

namespace wspush::ctl {

std::string fieldText(const Json::Value& field)
{
    if (field.isNull())
        return "-";
    if (field.isString() || field.isNumeric() || field.isBool())
        return field.asString();
    Json::StreamWriterBuilder compact;
    compact["indentation"] = "";
    compact["emitUTF8"] = true;
    return Json::writeString(compact, field);
}

} // namespace wspush::ctl
