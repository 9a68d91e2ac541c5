// SPDX-License-Identifier: MIT
#pragma once

#include <string>

#include "config/config.hpp"

namespace wspush::config {

// Reads and validates a YAML config file. ${VAR} in server.url and header values is
// expanded from the environment (an unset variable is an error); ${TOKEN} is kept when
// server.token_file or server.token_credential is set, else it is expanded too.
// Throws ConfigError.
Config loadConfigFile(const std::string& path);

// The same for text already in memory; `path` only names it in messages.
// Throws ConfigError.
Config parseConfig(const std::string& text, const std::string& path);

} // namespace wspush::config
