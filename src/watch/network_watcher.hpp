// SPDX-License-Identifier: MIT
#pragma once

#include <functional>
#include <memory>

#include "event/event_loop.hpp"
#include "event/fd_watch.hpp"
#include "event/timer.hpp"
#include "system/unique_fd.hpp"

namespace wspush::watch {

// Tells when the network changed: an rtnetlink socket in the loop, for links, addresses
// and routes. A burst of messages (a link coming up brings many) is told once, after it
// settles; an overrun socket (ENOBUFS) means that something changed too.
class NetworkWatcher
{
public:
    using Handler = std::function<void()>;

    // Never throws: where the kernel refuses the socket it says so once and tells nothing.
    NetworkWatcher(event::EventLoop& loop, Handler onChange);
    ~NetworkWatcher();
    NetworkWatcher(const NetworkWatcher&) = delete;
    NetworkWatcher& operator=(const NetworkWatcher&) = delete;

private:
    void readMessages() noexcept;

    Handler onChange_;
    system::UniqueFd socket_;
    std::unique_ptr<event::FdWatch> watch_;
    event::Timer settle_;
};

} // namespace wspush::watch
