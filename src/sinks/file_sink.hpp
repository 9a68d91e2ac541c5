// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "event/event_loop.hpp"
#include "event/timer.hpp"
#include "sinks/outage.hpp"
#include "sinks/sink.hpp"
#include "system/unique_fd.hpp"

namespace wspush::sinks {

// Appends records to a file, one write per loop iteration for all records queued in it.
// While the file cannot be written (a full disk, EIO) records wait in memory up to
// max_queue and are retried every second; beyond that it takes no more until the file
// takes what it holds.
class FileSink final : public Sink
{
public:
    // Throws on error: the file must open at start.
    FileSink(const config::FileSinkConfig& config, event::EventLoop& loop);

    void deliver(const std::shared_ptr<const record::Record>& record) noexcept override;
    void flush() noexcept override;
    void reopen() noexcept override;
    bool wantsMore() const noexcept override;
    std::uint64_t handedOn() const noexcept override { return handedOn_; }
    std::uint64_t holdsUpTo() const noexcept override { return holdsUpTo_; }

    SinkCounters counters() const noexcept override
    {
        SinkCounters counters = counters_;
        counters.queuedBytes = pending_.size() - pendingOffset_;
        return counters;
    }
    const std::string& name() const noexcept override { return name_; }

private:
    bool open() noexcept;
    void readLastLine() noexcept;
    bool rotate() noexcept;
    bool writeSome() noexcept;
    void fail(const std::string& what, int error) noexcept;
    void syncNow() noexcept;

    config::FileSinkConfig config_;
    std::string name_;
    system::UniqueFd fd_;
    std::uint64_t size_ = 0; // of the open file, for rotation

    std::string pending_;           // whole lines, not yet written past pendingOffset_
    std::size_t pendingOffset_ = 0; // bytes of pending_ already written
    std::uint64_t pendingRecords_ = 0;
    std::uint64_t pendingLastSeq_ = 0;
    std::uint64_t handedOn_ = 0;
    std::uint64_t holdsUpTo_ = 0;

    SinkCounters counters_;
    Outage outage_;
    bool unsynced_ = false;

    event::Timer retryTimer_;
    event::Timer syncTimer_;
};

} // namespace wspush::sinks
