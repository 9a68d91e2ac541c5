// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace wspush::record {

// Well-formed UTF-8 per RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF.
bool isValidUtf8(std::string_view text) noexcept;

// Appends `text` to `out` with each maximal invalid subsequence replaced by U+FFFD (the
// Unicode "substitution of maximal subparts" practice); returns how many were replaced.
std::size_t appendSanitizedUtf8(std::string_view text, std::string& out);

} // namespace wspush::record
