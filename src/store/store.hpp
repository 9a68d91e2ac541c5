// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "event/event_loop.hpp"
#include "event/timer.hpp"
#include "record/record.hpp"
#include "record/record_pool.hpp"
#include "store/segment.hpp"
#include "system/ring_queue.hpp"
#include "system/unique_fd.hpp"

namespace wspush::store {

class Reader;

// The one log every record goes into before any sink sees it, and that every sink and
// named subscriber reads through a cursor of its own. With a path it is a directory of
// segment files (whole oldest segments removed by retention) plus an epoch and a cursors
// file; without one, a ring in memory behind the same interface. The newest records are
// kept in memory too, so readers that keep up never touch the files.
class Store
{
public:
    // Opens the store, creating the directory (0700) when it is missing, cutting off a
    // torn tail and setting damaged segments aside, each logged. Throws only when the
    // directory cannot be used.
    Store(const config::StoreConfig& config, event::EventLoop& loop, record::RecordPool& pool);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    const std::string& epoch() const noexcept { return epoch_; }
    const std::string& path() const noexcept { return config_.path; }
    std::uint64_t firstSeq() const noexcept; // the oldest held record, 0 when empty
    std::uint64_t lastSeq() const noexcept { return nextSeq_ - 1; }
    std::uint64_t nextSeq() const noexcept { return nextSeq_; }
    std::uint64_t bytes() const noexcept;
    // Records lost to damage found at start, for the gap it reports.
    const std::vector<std::string>& startupFindings() const noexcept { return findings_; }

    // Takes a record whose seq is nextSeq(); it is written at the next commit(), and
    // readers see it from then on.
    void append(std::shared_ptr<const record::Record> record) noexcept;
    // Issues no seq below `next` from now on: a sink holds records up to next - 1 that the
    // store lost. Only at start, before the first append().
    void skipTo(std::uint64_t next) noexcept;
    // The value listing the seqs the store skipped knowingly: "FROM-TO,FROM-TO".
    static constexpr std::string_view holesKey = "store.holes";
    // Writes what append() took since the last commit, then syncs with sync: always.
    void commit() noexcept;
    // Syncs the data and saves the cursors now (stop, sleep).
    void sync() noexcept;
    // New retention and sync settings; a new path takes a restart.
    void reconfigure(const config::StoreConfig& config) noexcept;

    // A reader that returns the records after `after`, in order.
    std::unique_ptr<Reader> reader(std::uint64_t after);

    // Named positions kept in the store: the seq a sink last handed on, or a subscriber
    // acknowledged. Saved at every sync, never ahead of what is in the files.
    std::optional<std::uint64_t> cursor(const std::string& name) const;
    void setCursor(const std::string& name, std::uint64_t seq) noexcept;
    bool removeCursor(const std::string& name) noexcept;
    const std::map<std::string, std::uint64_t>& cursors() const noexcept { return cursors_; }
    // Small values kept beside the cursors (resume's last id).
    std::string value(const std::string& key) const;
    void setValue(const std::string& key, std::string value) noexcept;

private:
    friend class Reader;

    void openDirectory();
    void loadEpoch();
    void recoverSegments();
    void loadCursors();
    void saveCursors() noexcept;
    void noteHole(std::uint64_t from, std::uint64_t to) noexcept;
    bool writePending() noexcept;
    // After a write() that failed with `error` once `written` bytes of pending_ were written.
    bool writeFailed(int error, std::size_t written) noexcept;
    void startSegment(std::uint64_t firstSeq) noexcept;
    void applyRetention() noexcept;
    void trimMemory() noexcept;
    void onSyncTimer() noexcept;
    std::size_t segmentLimit() const noexcept;
    // The segment holding `seq`, or the first after it; segments_.size() when none.
    std::size_t segmentFor(std::uint64_t seq) const noexcept;
    std::shared_ptr<const record::Record> inMemory(std::uint64_t seq) const noexcept;

    config::StoreConfig config_;
    record::RecordPool& pool_;
    std::string epoch_;
    std::vector<std::string> findings_;
    system::UniqueFd directory_;
    system::UniqueFd lock_;

    std::vector<SegmentInfo> segments_; // oldest first; the last one is written to
    system::UniqueFd segmentFd_;
    std::string pending_;             // appended, not yet written
    std::uint64_t pendingFirst_ = 0;  // seq of the first record in pending_
    std::uint64_t writeFailures_ = 0; // in a row
    bool segmentTorn_ = false;        // the open segment ends in half a record: start a new one
    bool unsynced_ = false;
    bool directoryUnsynced_ = false;

    // The newest records, oldest first; on disk, those not written yet are always here.
    system::RingQueue<std::shared_ptr<const record::Record>> memory_;
    std::uint64_t memoryBytes_ = 0;
    std::uint64_t nextSeq_ = 1;

    std::map<std::string, std::uint64_t> cursors_;
    std::map<std::string, std::string> values_;
    bool cursorsChanged_ = false;
    std::uint64_t savedNext_ = 1; // nextSeq_ as the cursors file has it

    event::Timer syncTimer_;
};

} // namespace wspush::store
