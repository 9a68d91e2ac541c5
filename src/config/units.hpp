// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace wspush::config {

// "250ms", "30s", "1.5s", "5m", "1h"; a unit is required. Empty on anything else.
std::optional<Duration> parseDuration(std::string_view text) noexcept;

// "4.2 s": how a delay reads in log lines and STATUS=.
std::string formatSeconds(Duration duration);

// "1048576", "512B", "64KiB", "1MiB", "2GiB", "10kB", "10MB", "1GB".
std::optional<std::size_t> parseSize(std::string_view text) noexcept;

// Octal permission bits, "0660" or "660"; at most 07777.
std::optional<unsigned> parseMode(std::string_view text) noexcept;

} // namespace wspush::config
