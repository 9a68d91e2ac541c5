// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <system_error>

namespace wspush::system {

// A failed system call, with what was being done: "open /x: Permission denied".
inline std::system_error errnoError(int error, const std::string& what)
{
    return std::system_error(error, std::generic_category(), what);
}

} // namespace wspush::system
