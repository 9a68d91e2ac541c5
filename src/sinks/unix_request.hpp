// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace wspush::sinks {

struct ReplayRequest
{
    std::uint64_t since = 0;
    std::string run; // empty: the current run
};

struct StatusRequest
{
};

struct SendRequest
{
    std::string text; // what goes upstream
};

struct InvalidRequest
{
    std::string message;
};

using UnixRequest = std::variant<ReplayRequest, StatusRequest, SendRequest, InvalidRequest>;

// One request line from a Unix-socket client (without its '\n').
UnixRequest parseUnixRequest(std::string_view line);

} // namespace wspush::sinks
