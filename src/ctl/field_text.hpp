// SPDX-License-Identifier: MIT
#pragma once

#include <string>

#include <json/value.h>

namespace wspush::ctl {

// A field of an event, to print: a string as its text, a number as its digits, null or a
// missing field as "-", anything else as compact JSON.
std::string fieldText(const Json::Value& field);

} // namespace wspush::ctl
