// SPDX-License-Identifier: MIT
#include "system/read_all.hpp"

#include <cerrno>
#include <unistd.h>

#include "system/errno_error.hpp"

namespace wspush::system {

std::string readAll(int fd, const std::string& what)
{
    std::string content;
    char buffer[4096];
    for (;;) {
        const ssize_t got = ::read(fd, buffer, sizeof buffer);
        if (got == 0)
            return content;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            throw errnoError(errno, "cannot read " + what);
        }
        content.append(buffer, static_cast<std::size_t>(got));
    }
}

} // namespace wspush::system
