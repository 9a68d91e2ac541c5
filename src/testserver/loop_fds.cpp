// SPDX-License-Identifier: MIT
#include "testserver/loop_fds.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <system_error>
#include <unistd.h>

namespace wspush::testserver {

namespace {

int checked(int result, const char* what)
{
    if (result < 0) {
        throw std::system_error(errno, std::generic_category(), what);
    }
    return result;
}

} // namespace

SignalFd::SignalFd()
{
    sigset_t signals{};
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    checked(sigprocmask(SIG_BLOCK, &signals, nullptr), "sigprocmask");
    fd_ = checked(signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC), "signalfd");
}

SignalFd::~SignalFd()
{
    if (owned_) {
        close(fd_);
    }
}

void SignalFd::drain() noexcept
{
    signalfd_siginfo info{};
    while (read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    }
}

TickTimer::TickTimer()
    : fd_(checked(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), "timerfd_create"))
{
}

TickTimer::~TickTimer()
{
    if (owned_) {
        close(fd_);
    }
}

void TickTimer::start(std::chrono::nanoseconds period) noexcept
{
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(period);
    itimerspec spec{};
    spec.it_interval.tv_sec = seconds.count();
    spec.it_interval.tv_nsec = (period - seconds).count();
    spec.it_value = spec.it_interval;
    running_ = timerfd_settime(fd_, 0, &spec, nullptr) == 0;
}

void TickTimer::stop() noexcept
{
    const itimerspec disarm{};
    timerfd_settime(fd_, 0, &disarm, nullptr);
    running_ = false;
    drain();
}

void TickTimer::drain() noexcept
{
    std::uint64_t expirations = 0;
    [[maybe_unused]] const ssize_t result = read(fd_, &expirations, sizeof expirations);
}

} // namespace wspush::testserver
