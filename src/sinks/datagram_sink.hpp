// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "event/event_loop.hpp"
#include "event/timer.hpp"
#include "sinks/outage.hpp"
#include "sinks/sink.hpp"
#include "system/unique_fd.hpp"

namespace wspush::sinks {

// Hands each record as one datagram to a local logging socket (journald, syslogd) without
// ever blocking the loop: sd_journal_send() and syslog(3) block while the receiver is
// stopped or slow. What the socket does not take waits in memory up to max_queue bytes and
// is retried; meanwhile the sink takes no more. Recovery is logged.
class DatagramSink : public Sink
{
public:
    void deliver(const std::shared_ptr<const record::Record>& record) noexcept override;
    void flush() noexcept override;
    bool wantsMore() const noexcept override { return pendingBytes_ < maxQueue_; }
    std::uint64_t handedOn() const noexcept override { return handedOn_; }

    SinkCounters counters() const noexcept override
    {
        SinkCounters counters = counters_;
        counters.queuedBytes = pendingBytes_;
        return counters;
    }
    const std::string& name() const noexcept override { return name_; }

protected:
    DatagramSink(std::string name, std::string socketPath, std::size_t maxQueue,
                 event::EventLoop& loop);

    // Appends the datagram that carries `record`.
    virtual void encode(const record::Record& record, std::string& datagram) = 0;
    // Sends a datagram too large for the socket (EMSGSIZE) some other way; false if none.
    virtual bool sendOversized(int /*socket*/, const std::string& /*datagram*/) noexcept
    {
        return false;
    }

private:
    bool connectSocket() noexcept;
    void fail(const std::string& why) noexcept;

    std::string name_;
    std::string socketPath_;
    std::size_t maxQueue_;
    system::UniqueFd socket_;

    std::deque<std::pair<std::uint64_t, std::string>> pending_; // seq, datagram
    std::uint64_t handedOn_ = 0;
    std::size_t pendingBytes_ = 0;

    SinkCounters counters_;
    Outage outage_;
    event::Timer retryTimer_;
};

} // namespace wspush::sinks
