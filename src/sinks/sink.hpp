// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "record/record.hpp"

namespace wspush::sinks {

struct SinkCounters
{
    std::uint64_t forwarded = 0;
    std::uint64_t dropped = 0;
    std::uint64_t queuedBytes = 0; // held in memory now, not handed on yet (a gauge)
};

// Where records go. Every method runs on the event loop and must not block it. The daemon
// reads the store at the sink's own cursor and delivers while the sink wants more: a sink
// that cannot hand records on stops wanting them, and is fed again from the store later.
class Sink
{
public:
    virtual ~Sink() = default;

    // Records arrive in seq order, each once (a seq may be skipped: removed from the store
    // before this sink got it). The record is shared with the other sinks.
    virtual void deliver(const std::shared_ptr<const record::Record>& record) noexcept = 0;
    // Whether deliver() may be called now: false while its queue is full.
    virtual bool wantsMore() const noexcept { return true; }
    // Whether a reader of its fell behind a moment ago: the daemon then holds the link
    // back, so that a burst does not cut off a reader that keeps up on average.
    virtual bool isBehind() const noexcept { return false; }
    // The seq of the last record it handed on for good (written, sent), which its cursor
    // in the store keeps across restarts.
    virtual std::uint64_t handedOn() const noexcept = 0;
    // The last seq it already holds from an earlier run (a file's last line), so that a
    // restart does not write it twice; 0 when unknown.
    virtual std::uint64_t holdsUpTo() const noexcept { return 0; }
    // Whether its position survives a restart; a sink that only serves who is listening
    // starts at the newest record.
    virtual bool keepsCursor() const noexcept { return true; }
    // After each batch of loop events: hand on what deliver() queued.
    virtual void flush() noexcept {}
    // SIGHUP: reopen what may have been rotated away.
    virtual void reopen() noexcept {}
    // A reload changed this sink's settings: true when it took them in place, false when
    // it must be replaced by a new sink.
    virtual bool reconfigure(const config::SinkConfig& /*next*/) noexcept { return false; }
    // The upstream link came up (to the masked URL) or went down (why).
    virtual void onLinkUp(const std::string& /*server*/) noexcept {}
    virtual void onLinkDown(const std::string& /*reason*/) noexcept {}
    // The server's sequence (resume.sequence) jumped from `expected` to `got`.
    virtual void onUpstreamGap(std::int64_t /*expected*/, std::int64_t /*got*/) noexcept {}

    virtual SinkCounters counters() const noexcept = 0;
    // How logs and status name it: "file /var/lib/wspushd/messages.jsonl".
    virtual const std::string& name() const noexcept = 0;
};

} // namespace wspush::sinks
