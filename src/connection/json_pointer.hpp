// SPDX-License-Identifier: MIT
#pragma once

#include <string_view>

#include <json/value.h>

namespace wspush::connection {

// The value `pointer` (RFC 6901, "~0" and "~1" escapes) names in `root`, or nullptr.
const Json::Value* resolvePointer(const Json::Value& root, std::string_view pointer) noexcept;

} // namespace wspush::connection
