// SPDX-License-Identifier: MIT
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "system/errno_error.hpp"
#include "system/unique_fd.hpp"

namespace wspush::bench {

// Connects to the daemon's Unix socket (`@name`: the abstract namespace) and asks for its
// status, whose answer tells the reader it was taken on. Throws on error.
inline system::UniqueFd connectSubscriber(const std::string& path)
{
    static constexpr char statusRequest[] = "{\"op\":\"status\"}\n";
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path)
        throw std::invalid_argument(path + ": too long for a Unix socket address");
    std::memcpy(address.sun_path, path.data(), path.size());
    if (path.starts_with('@'))
        address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                               (path.starts_with('@') ? 0 : 1));

    system::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.isValid())
        throw system::errnoError(errno, "socket");
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0)
        throw system::errnoError(errno, "connect " + path);
    if (write(fd.get(), statusRequest, sizeof statusRequest - 1) !=
        static_cast<ssize_t>(sizeof statusRequest - 1))
        throw system::errnoError(errno, "write to " + path);
    return fd;
}

} // namespace wspush::bench
