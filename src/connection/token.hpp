// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

#include "config/config.hpp"

namespace wspush::connection {

// The token from token_file or the systemd credential, read now and trimmed; empty when
// neither is configured. Throws std::runtime_error naming the file when it cannot be read.
std::string readToken(const config::ServerConfig& server);

// `text` with every `placeholder` (such as "${LAST_ID}") replaced by `value`.
std::string substitute(std::string_view text, std::string_view placeholder, std::string_view value);
// `text` with every ${TOKEN} replaced by `token`.
std::string substituteToken(std::string_view text, std::string_view token);

bool usesToken(std::string_view text) noexcept;

} // namespace wspush::connection
