// SPDX-License-Identifier: MIT
#pragma once

#include <optional>
#include <string>

namespace wspush::store {

// A small file's content with a "crc32 XXXXXXXX" line after it, so that a damaged file is
// told from a sound one (the cursors file).
std::string withChecksum(const std::string& content);
// The content, or nullopt when the checksum line is missing or does not match.
std::optional<std::string> withoutChecksum(const std::string& file);

} // namespace wspush::store
