// SPDX-License-Identifier: MIT
#include "record/record_pool.hpp"

#include <cassert>

namespace wspush::record {

namespace {

constexpr std::size_t maxSpareBytes = std::size_t{1024} * 1024;

std::size_t bufferBytes(const Record& record) noexcept
{
    return record.payload.capacity() + record.line.capacity();
}

} // namespace

RecordPool::~RecordPool()
{
    assert(outstanding_ == 0);
}

std::shared_ptr<Record> RecordPool::take()
{
    std::unique_ptr<Record> record;
    if (spares_.empty()) {
        record = std::make_unique<Record>();
    } else {
        record = std::move(spares_.back());
        spares_.pop_back();
        spareBytes_ -= bufferBytes(*record);
    }
    // Should the control block not fit in memory, the deleter takes the record back.
    ++outstanding_;
    return {record.release(), [this](Record* done) { giveBack(done); }};
}

void RecordPool::giveBack(Record* record) noexcept
{
    --outstanding_;
    std::unique_ptr<Record> owned(record);
    const std::size_t bytes = bufferBytes(*record);
    if (spareBytes_ + bytes > maxSpareBytes)
        return;
    record->seq = 0;
    record->receivedUs = 0;
    record->binary = false;
    record->payload.clear();
    record->line.clear();
    try {
        spares_.push_back(std::move(owned));
        spareBytes_ += bytes;
    } catch (const std::bad_alloc&) {
    }
}

} // namespace wspush::record
