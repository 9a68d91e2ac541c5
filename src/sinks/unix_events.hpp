// SPDX-License-Identifier: MIT
#pragma once

#include <string>

#include <json/value.h>

namespace wspush::sinks {

// `{"event":NAME,...fields}` as one compact line ending in '\n'.
std::string eventLine(const std::string& name, const Json::Value& fields = Json::Value());

} // namespace wspush::sinks
