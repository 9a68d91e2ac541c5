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
};

// Where records go. Every method runs on the event loop and must not block it: a sink
// queues what it cannot hand on at once, within its own bound, and counts what it drops.
class Sink
{
public:
    virtual ~Sink() = default;

    // Records arrive in seq order, each once. The record is shared with the other sinks.
    virtual void deliver(const std::shared_ptr<const record::Record>& record) noexcept = 0;
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

    virtual SinkCounters counters() const noexcept = 0;
    // How logs and status name it: "file /var/lib/wspushd/messages.jsonl".
    virtual const std::string& name() const noexcept = 0;
};

} // namespace wspush::sinks
