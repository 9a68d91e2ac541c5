// SPDX-License-Identifier: MIT
#pragma once

#include <stdexcept>
#include <string>

#include "config/config.hpp"

namespace wspush::config {

// A configuration problem; what() reads "PATH:LINE:COLUMN: message" (1-based line and
// column), the form editors and admins expect.
class ConfigError : public std::runtime_error
{
public:
    ConfigError(const Location& where, const std::string& message);

    const Location& where() const noexcept { return where_; }

private:
    Location where_;
};

} // namespace wspush::config
