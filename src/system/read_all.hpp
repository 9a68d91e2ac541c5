// SPDX-License-Identifier: MIT
#pragma once

#include <string>

namespace wspush::system {

// Everything left to read on `fd`, for small files. Throws std::system_error naming `what`
// ("cannot read WHAT").
std::string readAll(int fd, const std::string& what);

} // namespace wspush::system
