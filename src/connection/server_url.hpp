// SPDX-License-Identifier: MIT
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wspush::connection {

// The parts of a ws:// or wss:// URL that a connect attempt needs.
struct ServerUrl
{
    bool secure = false;
    std::string userInfo; // "user:pass" or empty
    std::string host;     // without brackets for IPv6
    int port = 0;
    std::string path; // with the query, at least "/"
};

// Empty when `url` is not ws:// or wss:// with a host and a valid port.
std::optional<ServerUrl> parseServerUrl(std::string_view url);

// The URL as it may be shown: credentials and ${TOKEN} as "***".
std::string maskUrl(std::string_view url);

} // namespace wspush::connection
