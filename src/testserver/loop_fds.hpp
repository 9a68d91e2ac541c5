// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>

namespace wspush::testserver {

// SIGINT and SIGTERM as a readable descriptor. The lws poll loop ignores signal_cb, so the
// signals are blocked and the loop watches this instead.
class SignalFd
{
public:
    // Blocks the signals (before any thread exists). Throws std::system_error.
    SignalFd();
    ~SignalFd();

    SignalFd(const SignalFd&) = delete;
    SignalFd& operator=(const SignalFd&) = delete;

    int fd() const noexcept { return fd_; }
    // The descriptor now belongs to lws, which closes what it adopted when its context goes.
    void disown() noexcept { owned_ = false; }
    // Consumes the pending signals.
    void drain() noexcept;

private:
    int fd_;
    bool owned_ = true;
};

// A periodic timer as a readable descriptor, for the push pacer: lws timers make the poll loop
// spin through the last millisecond before each expiry, a timerfd does not.
class TickTimer
{
public:
    // Throws std::system_error.
    TickTimer();
    ~TickTimer();

    TickTimer(const TickTimer&) = delete;
    TickTimer& operator=(const TickTimer&) = delete;

    int fd() const noexcept { return fd_; }
    // The descriptor now belongs to lws, which closes what it adopted when its context goes.
    void disown() noexcept { owned_ = false; }
    bool running() const noexcept { return running_; }
    void start(std::chrono::nanoseconds period) noexcept;
    void stop() noexcept;
    // Consumes the expirations, so the descriptor stops being readable.
    void drain() noexcept;

private:
    int fd_;
    bool owned_ = true;
    bool running_ = false;
};

} // namespace wspush::testserver
