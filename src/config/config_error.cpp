// SPDX-License-Identifier: MIT
#include "config/config_error.hpp"

namespace wspush::config {

ConfigError::ConfigError(const Location& where, const std::string& message)
    : std::runtime_error(where.path + ":" + std::to_string(where.line) + ":" +
                         std::to_string(where.column) + ": " + message),
      where_(where)
{
}

} // namespace wspush::config
