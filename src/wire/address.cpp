// SPDX-License-Identifier: MIT
#include "wire/address.hpp"

#include <cstdint>
#include <netdb.h>
#include <netinet/in.h>

namespace wspush::wire {

int Address::family() const noexcept
{
    return storage.ss_family;
}

std::string Address::text() const
{
    char host[NI_MAXHOST];
    if (getnameinfo(reinterpret_cast<const sockaddr*>(&storage), length, host, sizeof host, nullptr,
                    0, NI_NUMERICHOST) != 0)
        return "?";
    return host;
}

std::string Address::textWithPort() const
{
    std::uint16_t port = 0;
    if (family() == AF_INET)
        port = ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    else if (family() == AF_INET6)
        port = ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    std::string result;
    if (family() == AF_INET6) {
        result += '[';
        result += text();
        result += ']';
    } else {
        result = text();
    }
    result += ':';
    result += std::to_string(port);
    return result;
}

std::vector<Address> interleaveFamilies(std::vector<Address> addresses)
{
    if (addresses.empty())
        return addresses;
    const int first = addresses.front().family();
    std::vector<Address> preferred;
    std::vector<Address> others;
    for (Address& address : addresses)
        (address.family() == first ? preferred : others).push_back(address);
    std::vector<Address> interleaved;
    interleaved.reserve(addresses.size());
    for (std::size_t i = 0; i < preferred.size() || i < others.size(); ++i) {
        if (i < preferred.size())
            interleaved.push_back(preferred[i]);
        if (i < others.size())
            interleaved.push_back(others[i]);
    }
    return interleaved;
}

} // namespace wspush::wire
