// SPDX-License-Identifier: MIT
#pragma once

#include <string>

#include "event/event_loop.hpp"
#include "event/timer.hpp"

namespace wspush::systemd {

// Tells systemd (Type=notify) how the daemon is doing: READY=1, STATUS=, RELOADING=1,
// STOPPING=1, and WATCHDOG=1 from a loop timer at half WatchdogSec, so a wedged loop stops
// the pings and systemd restarts the service. Does nothing without $NOTIFY_SOCKET.
class Notifier
{
public:
    explicit Notifier(event::EventLoop& loop);
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    void ready(const std::string& status) noexcept;
    void status(const std::string& status) noexcept;
    void reloading() noexcept;
    void stopping() noexcept;

private:
    void pingWatchdog() noexcept;

    event::Timer watchdogTimer_;
    std::uint64_t watchdogUs_ = 0;
};

} // namespace wspush::systemd
