// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

namespace wspush::metrics {

// Replaces `path` with `text` atomically: written to PATH.tmp, then renamed over it, so a
// reader (node_exporter's textfile collector) sees the old file or the new one, never a
// part. Throws on error (the directory is missing or read-only, the disk is full).
void replaceFile(const std::string& path, std::string_view text);

} // namespace wspush::metrics
