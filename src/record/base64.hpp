// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

namespace wspush::record {

// Appends the standard (RFC 4648, padded) base64 form of `bytes`.
void appendBase64(std::string_view bytes, std::string& out);
// The bytes of standard base64 `text`; decoding stops at the first character outside it.
std::string decodeBase64(std::string_view text);

} // namespace wspush::record
