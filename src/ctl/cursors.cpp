// SPDX-License-Identifier: MIT
#include <cstdio>
#include <string>

#include "ctl/commands.hpp"
#include "ctl/request.hpp"
#include "ctl/table.hpp"

namespace wspush::ctl {

int runCursors(const std::string& socketPath, bool json)
{
    std::optional<Subscriber> subscriber = connectOrWarn(socketPath);
    if (!subscriber)
        return exitFailure;
    const std::optional<Event> cursors = request(*subscriber, cursorsRequest(), "cursors");
    if (!cursors)
        return exitFailure;
    if (json)
        std::printf("%s\n", cursors->line.c_str());
    else
        printCursors(cursors->fields["cursors"]);
    return 0;
}

int runDeleteCursor(const std::string& socketPath, const std::string& name)
{
    std::optional<Subscriber> subscriber = connectOrWarn(socketPath);
    if (!subscriber)
        return exitFailure;
    return request(*subscriber, deleteCursorRequest(name), "cursor_deleted") ? 0 : exitFailure;
}

} // namespace wspush::ctl
