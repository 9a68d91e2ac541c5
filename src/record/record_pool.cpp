// SPDX-License-Identifier: MIT
#include "record/record_pool.hpp"

#include <cassert>

namespace wspush::record {

namespace {

constexpr std::size_t maxSpareBytes = std::size_t{4} * 1024 * 1024;
constexpr std::size_t maxFreeBlocks = 16384;

std::size_t bufferBytes(const Record& record) noexcept
{
    return record.payload.capacity() + record.line.capacity();
}

} // namespace

template <typename T>
T* RecordPool::BlockAllocator<T>::allocate(std::size_t count)
{
    if (count == 1 && !free_->empty()) {
        void* block = free_->back();
        free_->pop_back();
        return static_cast<T*>(block);
    }
    return static_cast<T*>(::operator new(count * sizeof(T)));
}

template <typename T>
void RecordPool::BlockAllocator<T>::deallocate(T* block, std::size_t count) noexcept
{
    if (count == 1 && free_->size() < maxFreeBlocks) {
        try {
            free_->push_back(block);
            return;
        } catch (const std::bad_alloc&) {
        }
    }
    ::operator delete(block);
}

RecordPool::~RecordPool()
{
    assert(outstanding_ == 0);
    for (void* block : freeBlocks_)
        ::operator delete(block);
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
    return {record.release(), [this](Record* done) { giveBack(done); },
            BlockAllocator<Record>(freeBlocks_)};
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
