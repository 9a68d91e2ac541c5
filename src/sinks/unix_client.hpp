// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <libwebsockets.h>

#include "config/config.hpp"
#include "record/record.hpp"
#include "store/reader.hpp"
#include "system/ring_queue.hpp"

namespace wspush::sinks {

// One local application on the Unix socket: the lines queued for it (shared with every
// other client, never copied), the request bytes it sent, and what it was sent so far.
//
// A client is live (each record the sink is given is queued for it) or catching up: after
// a replay or a subscribe it is fed from a store reader of its own, a little at a time as
// its socket drains, and gets no live records until that reader reaches the last record
// the sink was given. So a client far behind costs a bounded amount of memory.
class UnixClient
{
public:
    using Line = std::shared_ptr<const std::string>;

    UnixClient(lws* wsi, std::uint64_t id, const config::UnixSinkConfig& config);
    UnixClient(const UnixClient&) = delete;
    UnixClient& operator=(const UnixClient&) = delete;

    lws* wsi() const noexcept { return wsi_; }
    std::uint64_t id() const noexcept { return id_; }
    bool isClosing() const noexcept { return closing_; }

    // Queues a live record under the sink's policy; ignored while catching up.
    void pushRecord(const std::shared_ptr<const record::Record>& record) noexcept;
    // Queues an event line; one that does not fit cuts the client off (it cannot be skipped).
    void pushEvent(std::string line) noexcept;
    // Writes what the socket takes, in as few writev() calls as it takes, and while
    // catching up reads more from the store, up to `delivered` (the last seq the sink was
    // given). False when the client is gone, or was cut off and its last line is out.
    bool flush(std::uint64_t delivered) noexcept;
    // Queues an `error` line with `why` (and `reason`, a word for programs, if given) and
    // closes the connection once it is written (or after a short grace).
    void cutOff(const std::string& why, const char* reason = nullptr) noexcept;
    // Splits received bytes into request lines (at most 64 KiB each); `onLine` gets each
    // complete line, `onTooLong` once per line that was too long.
    void receive(std::string_view bytes, const std::function<void(std::string_view)>& onLine,
                 const std::function<void()>& onTooLong);

    // Starts catching up from `reader`: records queued but not begun are taken back (the
    // reader gives them again if they are wanted). With `skipSent`, records this client
    // was already sent are not sent again (a replay); a subscription sends all.
    void catchUp(std::unique_ptr<store::Reader> reader, bool skipSent) noexcept;
    // The lowest seq queued and not begun (0: none), which a replay must not leave out.
    std::uint64_t firstUnsent() const noexcept;

    // The named subscription this client holds ("" for none). Records queued from now on
    // may be acknowledged once written.
    const std::string& subscription() const noexcept { return subscription_; }
    void subscribe(std::string name) noexcept;
    // The highest seq of its subscription written to it in full: an ack may not pass it.
    std::uint64_t ackLimit() const noexcept { return ackLimit_; }

    // A new client gets only the events queued before its first record written until its
    // first request line or release(), so that a replay or subscription asked for at once
    // comes before any live record, and its `hello` comes first all the same.
    void release() noexcept { holding_ = false; }
    bool isHolding() const noexcept { return holding_; }
    std::int64_t acceptedUs() const noexcept { return acceptedUs_; }
    // A reload changed max_queue or the policy.
    void setLimits(const config::UnixSinkConfig& config) noexcept;

    std::uint64_t forwarded() const noexcept { return forwarded_; }
    std::uint64_t dropped() const noexcept { return dropped_; }
    // Live records queued for this client, counted against max_queue.
    std::size_t queuedBytes() const noexcept { return queuedBytes_; }
    // Half its max_queue has waited for less than 250 ms: a live reader that may be cut
    // off soon, but catches up if records wait for it. One that stays behind longer is left
    // to max_queue, so that it holds up nobody for longer.
    bool isBehind() const noexcept;

private:
    struct Item
    {
        Line line;
        std::uint64_t seq; // 0: an event
        // Counted against max_queue. What a catch-up reads is not: it is read only as the
        // socket drains, so a replay larger than max_queue does not cut its client off.
        bool counted;
        bool ackable; // a record of the subscription
    };

    enum class Written
    {
        All,     // nothing left that may be written now
        Blocked, // the socket is full; lws calls back once it drains
        Budget,  // enough for one loop iteration; lws calls back for more
        Failed
    };

    bool fits(std::size_t length) const noexcept;
    bool queue(Line line, std::uint64_t seq, bool counted) noexcept;
    void queueDroppedNotice() noexcept;
    void queueGap(std::uint64_t from, std::uint64_t to) noexcept;
    Written write(std::size_t& budget) noexcept;
    void popFront() noexcept;
    // Reads from the catch-up reader until enough waits in the queue; goes live once the
    // reader reaches `delivered`.
    void refill(std::uint64_t delivered) noexcept;
    void goLive() noexcept;

    lws* wsi_;
    std::uint64_t id_;
    std::size_t maxQueue_ = 0;
    bool dropPolicy_ = false;

    system::RingQueue<Item> queue_;
    std::size_t queuedBytes_ = 0;    // of the counted items
    std::size_t uncountedBytes_ = 0; // of the others
    std::size_t frontOffset_ = 0;    // bytes of queue_.front() already written
    std::uint64_t skipped_ = 0;      // records skipped and not yet told with a `dropped` event
    bool closing_ = false;
    // lws_now_usecs() when isBehind() first saw it behind; 0: not behind.
    mutable std::int64_t behindSinceUs_ = 0;
    bool holding_ = true;
    std::int64_t acceptedUs_; // monotonic

    std::unique_ptr<store::Reader> reader_; // while catching up
    // Records written before a replay, which its catch-up does not send again.
    std::uint64_t skipFrom_ = 0;
    std::uint64_t skipTo_ = 0;
    // The lowest and highest seq written (or begun) so far; 0 before the first.
    std::uint64_t sentLow_ = 0;
    std::uint64_t sentHigh_ = 0;

    std::string subscription_;
    std::uint64_t ackLimit_ = 0;

    std::string input_;
    bool discardingLine_ = false;

    std::uint64_t forwarded_ = 0;
    std::uint64_t dropped_ = 0;
};

} // namespace wspush::sinks
