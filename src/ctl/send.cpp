// SPDX-License-Identifier: MIT
#include <cerrno>
#include <cstdio>
#include <string>

#include "ctl/commands.hpp"
#include "ctl/request.hpp"
#include "system/errno_error.hpp"

namespace wspush::ctl {

namespace {

// All of stdin, less one trailing newline: `echo TEXT | wspushctl send -` sends TEXT.
// Throws std::system_error.
std::string readStdin()
{
    std::string text;
    char chunk[64 * 1024];
    std::size_t got = 0;
    while ((got = std::fread(chunk, 1, sizeof chunk, stdin)) > 0)
        text.append(chunk, got);
    if (std::ferror(stdin))
        throw system::errnoError(errno, "cannot read stdin");
    if (text.ends_with('\n'))
        text.pop_back();
    return text;
}

} // namespace

int runSend(const std::string& socketPath, const std::string& text)
{
    std::string data = text;
    if (text == "-") {
        try {
            data = readStdin();
        } catch (const std::system_error& error) {
            warn(error.what());
            return exitFailure;
        }
    }
    std::optional<Subscriber> subscriber = connectOrWarn(socketPath);
    if (!subscriber)
        return exitFailure;
    return request(*subscriber, sendRequest(Json::Value(data)), "sent") ? 0 : exitFailure;
}

} // namespace wspush::ctl
