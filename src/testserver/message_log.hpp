// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "testserver/payload.hpp"

namespace wspush::testserver {

// The largest sequence number `skip` and `restart-seq` may lead to: 2^53 - 1, the largest
// integer a JSON reader that uses doubles still reads exactly.
inline constexpr std::uint64_t kMaxSeq = (std::uint64_t{1} << 53) - 1;

// With --ids: every message published, in order. A message is published once, when it falls
// due, whether or not any client is connected; it takes the next K (its "n", and its id
// "<prefix>K") and the next sequence number, and every client that writes it, live or in a
// replay, writes the same bytes. The log keeps the last `historySize` messages (the history a
// client can resume from) and whatever a connected client still has to write.
class MessageLog
{
public:
    // Messages published together: consecutive K and sequence numbers, one size, one stamp.
    struct Run
    {
        std::uint64_t firstK = 0;
        std::uint64_t count = 0;
        std::uint64_t firstSeq = 0;
        std::size_t size = 0;
        bool stamped = false;
        std::uint64_t stampNs = 0;
    };

    // Where a client resuming from an id starts: the message after it, when the id is
    // known; the oldest in the history when it is not (too old, never published, or not an id
    // of this server).
    struct ResumePoint
    {
        std::uint64_t start = 0;
        bool known = false;
    };

    MessageLog(std::string idPrefix, std::uint64_t historySize);

    const std::string& idPrefix() const noexcept { return idPrefix_; }
    std::uint64_t historySize() const noexcept { return historySize_; }
    // K of the next message to be published; the first is 1.
    std::uint64_t end() const noexcept { return nextK_; }
    // K of the oldest message in the history; end() when the history is empty.
    std::uint64_t historyFirst() const noexcept;
    std::uint64_t historyCount() const noexcept { return end() - historyFirst(); }
    // The sequence number the next message published takes.
    std::uint64_t nextSeq() const noexcept { return nextSeq_; }

    std::string idOf(std::uint64_t k) const;
    // K of an id this server gives ("<prefix>K", K written without leading zeros); nullopt
    // for anything else.
    std::optional<std::uint64_t> numberOf(std::string_view id) const;

    // Publishes `count` messages of `size` bytes at once (stamped: all with the current
    // time); returns the K of the first.
    std::uint64_t publish(std::uint64_t count, std::size_t size, bool stamped);
    // The next message's sequence number is `count` higher than it would have been.
    void skip(std::uint64_t count) noexcept { nextSeq_ += count; }
    // The next message's sequence number is `seq`.
    void restartSeq(std::uint64_t seq) noexcept { nextSeq_ = seq; }

    ResumePoint resumePoint(std::string_view id) const;

    // Message K as published; K must be in the log (not trimmed, below end()).
    PushMessage message(std::uint64_t k) const;
    // Forgets the runs wholly before both `keepFrom` and the history.
    void trim(std::uint64_t keepFrom);
    // Runs held (for tests).
    std::size_t runs() const noexcept { return runs_.size(); }

private:
    std::string idPrefix_;
    std::uint64_t historySize_;
    std::deque<Run> runs_;
    std::uint64_t nextK_ = 1;
    std::uint64_t nextSeq_ = 1;
};

} // namespace wspush::testserver
