// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sinks/sink.hpp"
#include "store/reader.hpp"
#include "store/store.hpp"

namespace wspush::daemon {

// Feeds one sink the store's records from its cursor on, while it wants them, and keeps
// its cursor in the store. Records the store no longer holds when the sink gets there
// (retention, damage) are skipped: logged and counted as dropped.
class SinkFeed
{
public:
    // Starts after the sink's cursor, or at the newest record for a sink without one.
    SinkFeed(store::Store& store, std::unique_ptr<sinks::Sink> sink);
    SinkFeed(const SinkFeed&) = delete;
    SinkFeed& operator=(const SinkFeed&) = delete;

    // Delivers a bounded batch; true when records are left for the next call.
    bool feed() noexcept;
    // Records are waiting for it and it wants them now.
    bool canTakeMore() const noexcept { return reader_->hasNext() && sink_->wantsMore(); }
    // After the sink's flush(): moves the cursor to what it handed on.
    void keepPosition() noexcept;

    sinks::Sink& sink() const noexcept { return *sink_; }
    // Records it skipped, and those it will skip: no longer in the store, not given to it.
    std::uint64_t lost() const noexcept;
    std::uint64_t position() const noexcept { return reader_->position(); }
    // The records the sink has not been given yet.
    std::uint64_t lag() const noexcept;

private:
    store::Store& store_;
    std::unique_ptr<sinks::Sink> sink_;
    std::string cursorName_;
    std::unique_ptr<store::Reader> reader_;
    std::uint64_t skipped_ = 0;
};

} // namespace wspush::daemon
