// SPDX-License-Identifier: MIT
#include "metrics/textfile.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

#include "system/errno_error.hpp"
#include "system/unique_fd.hpp"

namespace wspush::metrics {

void replaceFile(const std::string& path, std::string_view text)
{
    // node_exporter reads only *.prom files: PATH.tmp is never read half-written.
    const std::string temporary = path + ".tmp";
    system::UniqueFd fd(
        ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd.isValid())
        throw system::errnoError(errno, "cannot write " + temporary);
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t written = ::write(fd.get(), text.data() + done, text.size() - done);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            const int error = errno;
            unlink(temporary.c_str());
            throw system::errnoError(error, "cannot write " + temporary);
        }
        done += static_cast<std::size_t>(written);
    }
    if (::close(fd.release()) != 0) {
        const int error = errno;
        unlink(temporary.c_str());
        throw system::errnoError(error, "cannot write " + temporary);
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        const int error = errno;
        unlink(temporary.c_str());
        throw system::errnoError(error, "cannot rename " + temporary + " to " + path);
    }
}

} // namespace wspush::metrics
