// SPDX-License-Identifier: MIT
#include "config/listen_address.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <netinet/in.h>
#include <sys/un.h>

namespace wspush::config {

namespace {

constexpr std::string_view unixPrefix = "unix:";

std::optional<ListenAddress> unixAddress(std::string_view path, std::string& error)
{
    const bool abstract = path.starts_with('@') && path.size() > 1;
    if (!abstract && !path.starts_with('/')) {
        error = "expected unix: followed by an absolute path or @name";
        return std::nullopt;
    }
    // sun_path holds a filesystem path with its NUL, or the abstract name after a NUL.
    if (path.size() > sizeof(sockaddr_un::sun_path) - (abstract ? 0 : 1)) {
        error = "the socket path is longer than " +
                std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes";
        return std::nullopt;
    }
    ListenAddress address;
    address.kind = ListenAddress::Kind::Unix;
    address.path = std::string(path);
    return address;
}

} // namespace

std::optional<ListenAddress> parseListenAddress(std::string_view text, std::string& error)
{
    if (text.starts_with(unixPrefix))
        return unixAddress(text.substr(unixPrefix.size()), error);

    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        error = "expected ADDRESS:PORT, [IPv6]:PORT, :PORT or unix:/path";
        return std::nullopt;
    }
    std::string_view host = text.substr(0, colon);
    const std::string_view port = text.substr(colon + 1);
    const bool bracketed = host.starts_with('[') && host.ends_with(']');
    if (bracketed)
        host = host.substr(1, host.size() - 2);

    ListenAddress address;
    address.host = std::string(host);
    if (!host.empty() || bracketed) {
        in_addr v4{};
        in6_addr v6{};
        const bool valid = bracketed ? inet_pton(AF_INET6, address.host.c_str(), &v6) == 1
                                     : inet_pton(AF_INET, address.host.c_str(), &v4) == 1;
        if (!valid) {
            error = bracketed || host.find(':') == std::string_view::npos
                        ? "'" + address.host + "' is not a numeric " +
                              (bracketed ? "IPv6" : "IPv4") + " address (names are not resolved)"
                        : "an IPv6 address goes in brackets: [" + address.host + "]:PORT";
            return std::nullopt;
        }
    }
    unsigned number = 0;
    const auto [end, failed] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || failed != std::errc() || end != port.data() + port.size() ||
        number > 65535) {
        error = "the port must be a number from 0 to 65535";
        return std::nullopt;
    }
    address.port = static_cast<std::uint16_t>(number);
    return address;
}

std::string formatListenAddress(const ListenAddress& address)
{
    if (address.kind == ListenAddress::Kind::Unix)
        return std::string(unixPrefix) + address.path;
    const std::string host =
        address.host.find(':') != std::string::npos ? "[" + address.host + "]" : address.host;
    return host + ":" + std::to_string(address.port);
}

} // namespace wspush::config
