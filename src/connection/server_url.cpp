// SPDX-License-Identifier: MIT
#include "connection/server_url.hpp"

#include <charconv>

namespace wspush::connection {

namespace {

constexpr std::string_view tokenPlaceholder = "${TOKEN}";

std::string_view schemeOf(std::string_view url) noexcept
{
    if (url.starts_with("wss://"))
        return "wss://";
    if (url.starts_with("ws://"))
        return "ws://";
    return {};
}

} // namespace

std::optional<ServerUrl> parseServerUrl(std::string_view url)
{
    const std::string_view scheme = schemeOf(url);
    if (scheme.empty())
        return std::nullopt;
    ServerUrl parsed;
    parsed.secure = scheme == "wss://";
    parsed.port = parsed.secure ? 443 : 80;

    std::string_view rest = url.substr(scheme.size());
    const auto pathStart = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, pathStart);
    std::string_view path = pathStart == std::string_view::npos ? "" : rest.substr(pathStart);
    if (const auto fragment = path.find('#'); fragment != std::string_view::npos)
        path = path.substr(0, fragment);
    if (path.empty() || path.front() != '/')
        parsed.path = '/';
    parsed.path += path;

    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        parsed.userInfo = authority.substr(0, at);
        authority.remove_prefix(at + 1);
    }

    std::string_view portText;
    if (authority.starts_with("[")) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        parsed.host = authority.substr(1, close - 1);
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return std::nullopt;
            portText = after.substr(1);
        }
    } else {
        const auto colon = authority.rfind(':');
        parsed.host = authority.substr(0, colon);
        if (colon != std::string_view::npos)
            portText = authority.substr(colon + 1);
    }
    if (parsed.host.empty())
        return std::nullopt;
    if (!portText.empty()) {
        int port = 0;
        const auto [end, error] =
            std::from_chars(portText.data(), portText.data() + portText.size(), port);
        if (error != std::errc() || end != portText.data() + portText.size() || port < 1 ||
            port > 65535)
            return std::nullopt;
        parsed.port = port;
    }
    return parsed;
}

std::string maskUrl(std::string_view url)
{
    std::string masked(url);
    // Any scheme: proxy URLs (http://) carry credentials too.
    const auto schemeEnd = masked.find("://");
    const std::size_t authorityStart = schemeEnd == std::string::npos ? 0 : schemeEnd + 3;
    const auto authorityEnd = masked.find_first_of("/?#", authorityStart);
    const auto at = masked.rfind('@', authorityEnd);
    if (schemeEnd != std::string::npos && at != std::string::npos && at >= authorityStart)
        masked.replace(authorityStart, at - authorityStart, "***");
    for (auto found = masked.find(tokenPlaceholder); found != std::string::npos;
         found = masked.find(tokenPlaceholder, found))
        masked.replace(found, tokenPlaceholder.size(), "***");
    return masked;
}

} // namespace wspush::connection
