// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wspush::config {

// Where a server socket listens: a numeric TCP address and port, or a Unix socket. Names
// are not resolved: that would block the loop, and a listener wants one fixed address.
struct ListenAddress
{
    enum class Kind
    {
        Tcp,
        Unix
    } kind = Kind::Tcp;
    std::string host;       // Tcp: a numeric IPv4 or IPv6 address, no brackets; "": every address
    std::uint16_t port = 0; // Tcp: 0 lets the kernel pick one
    std::string path;       // Unix: an absolute path, or "@name" in the abstract namespace

    bool operator==(const ListenAddress&) const = default;
};

// "127.0.0.1:9464", "[::1]:9464", ":9464", "unix:/run/wspushd/metrics.sock", "unix:@name".
// Empty, with `error` set to why, on anything else.
std::optional<ListenAddress> parseListenAddress(std::string_view text, std::string& error);

// How logs show it: the forms parseListenAddress() takes.
std::string formatListenAddress(const ListenAddress& address);

} // namespace wspush::config
