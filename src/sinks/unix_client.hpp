// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <libwebsockets.h>

#include "config/config.hpp"
#include "record/record.hpp"

namespace wspush::sinks {

// One local application on the Unix socket: the lines queued for it (shared with every
// other client, never copied), the request bytes it sent, and what it was sent so far.
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

    // Queues a record under the sink's policy, live or replayed.
    void pushRecord(const std::shared_ptr<const record::Record>& record) noexcept;
    // Queues an event line; one that does not fit cuts the client off (it cannot be skipped).
    void pushEvent(std::string line) noexcept;
    // Writes what the socket takes, in as few writev() calls as it takes; false when the
    // client is gone or must be cut off now.
    bool flush() noexcept;
    // Splits received bytes into request lines (at most 64 KiB each); `onLine` gets each
    // complete line, `onTooLong` once per line that was too long.
    void receive(std::string_view bytes, const std::function<void(std::string_view)>& onLine,
                 const std::function<void()>& onTooLong);

    // The lowest seq queued for this client so far (0: none). What it was sent is always
    // one run of seqs, since a replay only fills in below it.
    std::uint64_t lowestSeq() const noexcept { return lowestSeq_; }
    // Queues a replay ahead of the live records not yet being written: a `gap` event line
    // (or nothing) and held records in seq order.
    void insertReplayed(std::string gapLine,
                        const std::vector<std::shared_ptr<const record::Record>>& records) noexcept;
    // A new client gets nothing written until its first request line or release(), so a
    // replay asked for at once comes before the live records.
    void release() noexcept { holding_ = false; }
    bool isHolding() const noexcept { return holding_; }
    std::int64_t acceptedUs() const noexcept { return acceptedUs_; }
    // A reload changed max_queue or the policy.
    void setLimits(const config::UnixSinkConfig& config) noexcept;

    std::uint64_t forwarded() const noexcept { return forwarded_; }
    std::uint64_t dropped() const noexcept { return dropped_; }

private:
    struct Item
    {
        Line line;
        bool isRecord;
        // Counted against max_queue. A replayed record is not: the replay ring holds it
        // anyway, so a replay larger than max_queue does not cut its client off.
        bool counted;
    };

    bool fits(std::size_t length) const noexcept;
    bool queue(Line line, bool isRecord) noexcept;
    void cutOff(const std::string& why) noexcept;
    void queueDroppedNotice() noexcept;

    lws* wsi_;
    std::uint64_t id_;
    std::size_t maxQueue_ = 0;
    bool dropPolicy_ = false;

    std::deque<Item> queue_;
    std::size_t queuedBytes_ = 0; // of the counted items
    std::size_t frontOffset_ = 0; // bytes of queue_.front() already written
    std::uint64_t skipped_ = 0;   // records skipped and not yet told with a `dropped` event
    bool closing_ = false;
    bool holding_ = true;
    std::int64_t acceptedUs_; // monotonic

    std::string input_;
    bool discardingLine_ = false;

    std::uint64_t lowestSeq_ = 0;
    std::uint64_t forwarded_ = 0;
    std::uint64_t dropped_ = 0;
};

} // namespace wspush::sinks
