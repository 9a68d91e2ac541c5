// SPDX-License-Identifier: MIT
#include "systemd/notifier.hpp"

#include <ctime>

#include <systemd/sd-daemon.h>

namespace wspush::systemd {

namespace {

// STATUS= is one line.
std::string oneLine(std::string text)
{
    for (char& c : text) {
        if (c == '\n' || c == '\r')
            c = ' ';
    }
    return text;
}

std::uint64_t monotonicUs() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000 +
           static_cast<std::uint64_t>(now.tv_nsec) / 1000;
}

} // namespace

Notifier::Notifier(event::EventLoop& loop)
    : watchdogTimer_(loop.context(), [this] { pingWatchdog(); })
{
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        watchdogUs_ = usec;
        pingWatchdog();
    }
}

void Notifier::pingWatchdog() noexcept
{
    sd_notify(0, "WATCHDOG=1");
    watchdogTimer_.schedule(std::chrono::microseconds(watchdogUs_ / 2));
}

void Notifier::ready(const std::string& status) noexcept
{
    sd_notifyf(0, "READY=1\nSTATUS=%s", oneLine(status).c_str());
}

void Notifier::status(const std::string& status) noexcept
{
    sd_notifyf(0, "STATUS=%s", oneLine(status).c_str());
}

void Notifier::reloading() noexcept
{
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
               static_cast<unsigned long long>(monotonicUs()));
}

void Notifier::stopping() noexcept
{
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

} // namespace wspush::systemd
