// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "record/record.hpp"
#include "system/unique_fd.hpp"

namespace wspush::store {

class Store;

// Reads a store's records in seq order from a position of its own: from memory while it
// keeps up, from the segment files (in large reads, one segment open at a time) when it
// lags. Records that retention or damage removed are skipped: the seq of the record
// next() returns then jumps past position() + 1. Must not outlive its store.
class Reader
{
public:
    Reader(Store& store, std::uint64_t after) noexcept : store_(store), position_(after) {}
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    // The next record, or nullptr when there is none yet.
    std::shared_ptr<const record::Record> next() noexcept;
    // The seq of the record next() returned last, or `after`.
    std::uint64_t position() const noexcept { return position_; }
    // Whether next() would return a record.
    bool hasNext() const noexcept;

private:
    std::shared_ptr<const record::Record> nextFromDisk(std::uint64_t wanted) noexcept;
    bool openSegmentFor(std::uint64_t seq) noexcept;
    bool readMore() noexcept;
    void closeSegment() noexcept;

    Store& store_;
    std::uint64_t position_;

    system::UniqueFd segment_;
    std::uint64_t segmentFirst_ = 0; // of the open segment
    std::uint64_t fileOffset_ = 0;   // where the next read starts
    std::string buffer_;
    std::size_t bufferOffset_ = 0;
};

} // namespace wspush::store
