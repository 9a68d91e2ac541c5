// SPDX-License-Identifier: MIT
#include "daemon/sink_feed.hpp"

#include <algorithm>

#include "system/log.hpp"

namespace wspush::daemon {

namespace {

// Records one feed() delivers at most, so that a sink catching up on a backlog shares the
// loop with the connection and the other sinks.
constexpr unsigned batchRecords = 4096;

} // namespace

SinkFeed::SinkFeed(store::Store& store, std::unique_ptr<sinks::Sink> owned)
    : store_(store), sink_(std::move(owned)), cursorName_("sink " + sink_->name())
{
    const sinks::Sink& sink = *sink_;
    std::uint64_t after = store.lastSeq();
    const auto cursor = sink.keepsCursor() ? store.cursor(cursorName_) : std::nullopt;
    if (cursor) {
        after = *cursor;
        // The sink holds records the store lost (written to the sink while the store could
        // not write them, before a crash): their seqs are not issued again.
        if (sink.holdsUpTo() > store.lastSeq()) {
            log::warning(sink.name() + " holds records up to " + std::to_string(sink.holdsUpTo()) +
                         ", the store only up to " + std::to_string(store.lastSeq()) +
                         "; going on after " + std::to_string(sink.holdsUpTo()));
            store.skipTo(sink.holdsUpTo() + 1);
        }
        // Where the sink's own output ends says more than its cursor, which is behind it
        // when saved before a crash, and ahead of it when the sink's file lost its tail
        // (not on disk yet at a power loss): nothing twice, no hole.
        if (sink.holdsUpTo() != 0 && sink.holdsUpTo() <= store.lastSeq()) {
            if (sink.holdsUpTo() < after)
                log::warning(sink.name() + " holds records only up to " +
                             std::to_string(sink.holdsUpTo()) + ", its cursor is at " +
                             std::to_string(after) + ": they come again");
            after = sink.holdsUpTo();
        }
        if (after < store.lastSeq())
            log::notice(sink.name() + ": catching up from record " + std::to_string(after + 1) +
                        " to " + std::to_string(store.lastSeq()));
    } else if (sink.keepsCursor()) {
        // A new sink starts at the next record, and its cursor is on disk before it gets
        // one: after a crash it goes on from there, not from the newest record then.
        store.setCursor(cursorName_, after);
        store.sync();
    }
    reader_ = store.reader(after);
}

bool SinkFeed::feed() noexcept
{
    for (unsigned count = 0; count < batchRecords; ++count) {
        if (!sink_->wantsMore())
            return false;
        const std::uint64_t expected = reader_->position() + 1;
        auto record = reader_->next();
        if (!record)
            return false;
        if (record->seq != expected) {
            skipped_ += record->seq - expected;
            log::warning(sink_->name() + ": records " + std::to_string(expected) + " to " +
                         std::to_string(record->seq - 1) +
                         " were no longer in the store when it got there; skipped");
        }
        sink_->deliver(record);
    }
    return reader_->hasNext();
}

void SinkFeed::keepPosition() noexcept
{
    if (sink_->keepsCursor() && sink_->handedOn() != 0)
        store_.setCursor(cursorName_, sink_->handedOn());
}

std::uint64_t SinkFeed::lost() const noexcept
{
    const std::uint64_t first = store_.firstSeq();
    const std::uint64_t next = reader_->position() + 1;
    return skipped_ + (first > next ? first - next : 0);
}

std::uint64_t SinkFeed::lag() const noexcept
{
    return store_.lastSeq() - std::min(store_.lastSeq(), reader_->position());
}

} // namespace wspush::daemon
