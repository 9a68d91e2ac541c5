// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

namespace wspush::record {

// When `text` (valid UTF-8) is exactly one JSON text per RFC 8259, with any value at the
// root and whitespace around it, appends it to `out` without its insignificant whitespace
// and returns true. Otherwise leaves `out` as it was and returns false. Validates in one
// pass without building a tree, and without recursion, so nesting depth costs no stack.
bool appendCompactJson(std::string_view text, std::string& out);

// Appends `text` (valid UTF-8) as a quoted JSON string.
void appendJsonString(std::string_view text, std::string& out);

} // namespace wspush::record
