// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <systemd/sd-bus.h>

#include "event/event_loop.hpp"
#include "event/fd_watch.hpp"
#include "event/timer.hpp"

namespace wspush::watch {

// Tells when the machine goes to sleep and wakes up: logind's PrepareForSleep signal on
// the system bus (sd-bus, its fd and timeout driven by the loop), and, for machines
// without logind (containers), a jump of CLOCK_BOOTTIME - CLOCK_MONOTONIC seen by a coarse
// timer: the monotonic clock stops while the machine sleeps.
class SleepWatcher
{
public:
    // `onSleep(true)` before sleeping, `onSleep(false)` after waking up.
    using Handler = std::function<void(bool sleeping)>;

    // Never throws for the bus: without one it says once that it cannot watch for sleep
    // and keeps the clock backstop.
    SleepWatcher(event::EventLoop& loop, Handler onSleep);
    ~SleepWatcher();
    SleepWatcher(const SleepWatcher&) = delete;
    SleepWatcher& operator=(const SleepWatcher&) = delete;

private:
    bool connectBus(event::EventLoop& loop);
    void dropBus() noexcept;
    void processBus() noexcept;
    void armBus() noexcept;
    void checkClocks() noexcept;
    static int onPrepareForSleep(sd_bus_message* message, void* self, sd_bus_error* error);
    static int onMatchInstalled(sd_bus_message* message, void* self, sd_bus_error* error);

    Handler onSleep_;
    sd_bus* bus_ = nullptr;
    sd_bus_slot* match_ = nullptr;
    bool busFailed_ = false;
    std::unique_ptr<event::FdWatch> busWatch_;
    event::Timer busTimer_;
    event::Timer clockTimer_;
    std::int64_t sleptUs_ = 0; // CLOCK_BOOTTIME - CLOCK_MONOTONIC when last looked at
};

} // namespace wspush::watch
