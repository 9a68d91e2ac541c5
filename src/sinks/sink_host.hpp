// SPDX-License-Identifier: MIT
#pragma once

#include <functional>
#include <string>

#include <json/value.h>

#include "store/store.hpp"

namespace wspush::sinks {

// What a sink may ask of the daemon that owns it.
class SinkHost
{
public:
    // The daemon's state and counters, as the `status` event carries them.
    virtual Json::Value status() const = 0;
    // The log every record is in, for replays and named cursors.
    virtual store::Store& store() = 0;

    // Queues `text` for the server. Returns an error message when it cannot be sent now;
    // otherwise `written(true)` runs once it is on the connection, or `written(false)` if
    // the link went away first.
    virtual std::string sendUpstream(std::string text, std::function<void(bool)> written) = 0;

protected:
    ~SinkHost() = default;
};

} // namespace wspush::sinks
