// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <sys/socket.h>
#include <vector>

namespace wspush::wire {

// One address to connect to, port included, as the kernel takes it.
struct Address
{
    sockaddr_storage storage{};
    socklen_t length = 0;

    int family() const noexcept;
    // Numeric, without the port: "127.0.0.1", "::1", "fe80::1%eth0".
    std::string text() const;
    // "127.0.0.1:443", "[::1]:443".
    std::string textWithPort() const;
};

// RFC 8305 4: the families alternate, starting with the family of the first address, so
// that a dead family costs one attempt, not all of its addresses. The order within a
// family is kept.
std::vector<Address> interleaveFamilies(std::vector<Address> addresses);

} // namespace wspush::wire
