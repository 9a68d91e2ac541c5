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

// When `quoted` is one JSON string, quotes included, appends its text in UTF-8 to `out`
// and returns true. Returns false, leaving `out` as it was, when it is not, or when a \u
// escape is half of a UTF-16 surrogate pair without the other half ("\ud800"), which has no
// UTF-8 form: jsoncpp 1.9.5 refuses a lone high surrogate, turns a lone low one into
// invalid UTF-8 and pairs a high one with whatever escape follows it.
bool appendJsonStringText(std::string_view quoted, std::string& out);

// Whether a \u escape in `json`, one JSON text that appendCompactJson accepts, is a lone
// UTF-16 surrogate, which jsoncpp refuses or misreads (see appendJsonStringText).
bool hasLoneSurrogate(std::string_view json) noexcept;

} // namespace wspush::record
