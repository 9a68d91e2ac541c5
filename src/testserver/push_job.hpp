// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "testserver/control.hpp"

struct lws;

namespace wspush::testserver {

// The server-wide message number K: every pushed message takes the next one, starting at 1.
class MessageCounter
{
public:
    // Takes `count` consecutive numbers and returns the first.
    std::uint64_t take(std::uint64_t count) noexcept
    {
        const std::uint64_t first = next_;
        next_ += count;
        return first;
    }

    // Returns the unused numbers [first, end) when nothing was taken after them, so that a job
    // cut short leaves no gap.
    void giveBack(std::uint64_t first, std::uint64_t end) noexcept
    {
        if (next_ == end) {
            next_ = first;
        }
    }

private:
    std::uint64_t next_ = 1;
};

// One run of push messages to a fixed set of clients: a `push` command (to the clients connected
// when it was given) or one client's automatic stream (--count). Messages fall due at the job's
// rate, on a clock that stands still while the server is silent; each client then writes them
// as fast as its socket takes them.
//
// With --ids a job publishes instead: it has no targets, and the server takes the messages as
// they fall due (takeDue()) into its MessageLog, for whoever is connected then.
class PushJob
{
public:
    using Clock = std::chrono::steady_clock;
    using FinishedHandler = std::function<void(PushJob&)>;

    static constexpr std::uint64_t kEndless = std::numeric_limits<std::uint64_t>::max();

    PushJob(const PushSpec& spec, std::vector<lws*> targets, MessageCounter& counter,
            FinishedHandler onFinished);
    // A publishing job (--ids).
    PushJob(const PushSpec& spec, FinishedHandler onFinished);

    const PushSpec& spec() const noexcept { return spec_; }
    const std::vector<lws*>& targets() const noexcept { return targets_; }
    bool publishing() const noexcept { return publishing_; }
    bool active() const noexcept { return active_; }
    // Messages each target gets in all: the count, or kEndless.
    std::uint64_t end() const noexcept { return spec_.count == 0 ? kEndless : spec_.count; }
    // Messages due so far; 0 until the job is active.
    std::uint64_t due() const noexcept { return due_; }
    // True while the rate still holds messages back.
    bool pacing() const noexcept { return active_ && spec_.rate > 0 && due_ < end(); }
    // Messages sent to the most advanced target: the N of "pushed N".
    std::uint64_t sent() const noexcept { return sent_; }

    // Starts the clock; a finite job takes its K range now so that every target gets the same
    // K. A job whose targets are all gone finishes at once, taking no K.
    void activate(Clock::time_point now);
    // Moves the pacing clock to `now` (it stands still while `silent`); true when more
    // messages fell due.
    bool advance(Clock::time_point now, bool silent) noexcept;
    // K of the message at `index`. An endless job takes a fresh K for each call.
    std::uint64_t messageNumber(std::uint64_t index) noexcept;
    // `target` was sent `written` messages and needs no more: it got them all, or it is gone.
    // The last target finishes an active job.
    void targetDone(lws* target, std::uint64_t written);

    // A publishing job's messages that fell due since the last call.
    std::uint64_t takeDue() noexcept;
    // A publishing job has been taken its last message: finishes it, with sent() = COUNT.
    // Returns whether it did.
    bool finishIfAllTaken();

private:
    void finish();

    PushSpec spec_;
    std::vector<lws*> targets_;
    MessageCounter* counter_ = nullptr; // nullptr when publishing
    FinishedHandler onFinished_;
    bool publishing_ = false;
    bool active_ = false;
    std::uint64_t taken_ = 0;
    std::uint64_t firstK_ = 0;
    std::uint64_t due_ = 0;
    std::uint64_t sent_ = 0;
    Clock::duration elapsed_{};
    Clock::time_point lastAdvance_{};
};

} // namespace wspush::testserver
