// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

namespace wspush::record {

// Appends the standard (RFC 4648, padded) base64 form of `bytes`.
void appendBase64(std::string_view bytes, std::string& out);

} // namespace wspush::record
