// SPDX-License-Identifier: MIT
#include "watch/sleep_watcher.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <poll.h>

#include "system/log.hpp"

namespace wspush::watch {

namespace {

// How often the clocks are compared, and the jump that means the machine slept.
constexpr auto clockCheck = std::chrono::seconds(5);
constexpr std::int64_t sleepJumpUs = 2'000'000;

std::int64_t microseconds(clockid_t clock) noexcept
{
    timespec now{};
    clock_gettime(clock, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
}

std::int64_t sleptUs() noexcept
{
    return microseconds(CLOCK_BOOTTIME) - microseconds(CLOCK_MONOTONIC);
}

} // namespace

SleepWatcher::SleepWatcher(event::EventLoop& loop, Handler onSleep)
    : onSleep_(std::move(onSleep)), busTimer_(loop.context(), [this] { processBus(); }),
      clockTimer_(loop.context(), [this] { checkClocks(); }), sleptUs_(sleptUs())
{
    clockTimer_.schedule(clockCheck);
    if (!connectBus(loop))
        dropBus();
}

SleepWatcher::~SleepWatcher()
{
    busWatch_.reset();
    sd_bus_slot_unref(match_);
    sd_bus_flush_close_unref(bus_);
}

bool SleepWatcher::connectBus(event::EventLoop& loop)
{
    int result = sd_bus_open_system(&bus_);
    if (result < 0) {
        log::notice(std::string("no system bus (") + std::strerror(-result) +
                    "): cannot watch for sleep; a jump of the clocks still tells a resume");
        return false;
    }
    result = sd_bus_match_signal_async(bus_, &match_, "org.freedesktop.login1",
                                       "/org/freedesktop/login1",
                                       "org.freedesktop.login1.Manager", "PrepareForSleep",
                                       onPrepareForSleep, onMatchInstalled, this);
    if (result < 0) {
        log::notice(std::string("cannot watch for sleep on the system bus: ") +
                    std::strerror(-result));
        return false;
    }
    try {
        busWatch_ = std::make_unique<event::FdWatch>(
            loop, sd_bus_get_fd(bus_), [this] { processBus(); }, [this] { processBus(); });
    } catch (const std::exception& error) {
        log::notice(std::string("cannot watch the system bus: ") + error.what());
        return false;
    }
    processBus(); // the connection and its authentication start with writes
    return true;
}

// Without the bus: what is left of it goes.
void SleepWatcher::dropBus() noexcept
{
    busTimer_.cancel();
    busWatch_.reset();
    match_ = sd_bus_slot_unref(match_);
    bus_ = sd_bus_flush_close_unref(bus_);
}

void SleepWatcher::processBus() noexcept
{
    if (bus_ == nullptr)
        return;
    if (busFailed_) {
        dropBus(); // from the timer: not inside the watch's own callback
        return;
    }
    for (;;) {
        const int result = sd_bus_process(bus_, nullptr);
        if (result < 0) {
            log::notice(std::string("the system bus: ") + std::strerror(-result) +
                        ": no longer watching for sleep on it");
            busFailed_ = true;
            busTimer_.schedule(std::chrono::microseconds(0));
            return;
        }
        if (result == 0)
            break;
    }
    armBus();
}

// What sd-bus waits for next: writability, and its own timeout (an absolute
// CLOCK_MONOTONIC time, which lws timers take as a delay).
void SleepWatcher::armBus() noexcept
{
    if (bus_ == nullptr)
        return;
    if ((sd_bus_get_events(bus_) & POLLOUT) != 0)
        busWatch_->wantWritable();
    std::uint64_t until = 0;
    if (sd_bus_get_timeout(bus_, &until) >= 0 && until != UINT64_MAX) {
        const auto now = static_cast<std::uint64_t>(microseconds(CLOCK_MONOTONIC));
        busTimer_.schedule(std::chrono::microseconds(until > now ? until - now : 0));
    } else {
        busTimer_.cancel();
    }
}

void SleepWatcher::checkClocks() noexcept
{
    const std::int64_t now = sleptUs();
    if (now - sleptUs_ >= sleepJumpUs) {
        log::notice("the clocks say the machine slept " +
                    std::to_string((now - sleptUs_) / 1000) + " ms");
        onSleep_(false);
    }
    sleptUs_ = now;
    clockTimer_.schedule(clockCheck);
}

int SleepWatcher::onPrepareForSleep(sd_bus_message* message, void* self, sd_bus_error*)
{
    auto* watcher = static_cast<SleepWatcher*>(self);
    int sleeping = 0;
    if (sd_bus_message_read(message, "b", &sleeping) < 0)
        return 0;
    log::notice(sleeping != 0 ? "the machine is going to sleep" : "the machine woke up");
    // The clocks' jump over this sleep is told by logind already.
    watcher->sleptUs_ = sleptUs();
    watcher->onSleep_(sleeping != 0);
    return 0;
}

int SleepWatcher::onMatchInstalled(sd_bus_message* message, void* self, sd_bus_error*)
{
    const sd_bus_error* error = sd_bus_message_get_error(message);
    if (error != nullptr) {
        log::notice(std::string("cannot watch for sleep on the system bus: ") +
                    (error->message != nullptr ? error->message : error->name));
        static_cast<SleepWatcher*>(self)->busTimer_.cancel();
        return 0;
    }
    log::notice("watching logind's PrepareForSleep on the system bus");
    return 0;
}

} // namespace wspush::watch
