// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "record/record.hpp"

namespace wspush::record {

// Takes records back, buffers and all, once every sink let go of them, so that a message
// fills an old record instead of allocating a record, a line, a payload and a shared_ptr
// control block: malloc and free of those were a quarter of the daemon's CPU once frames are
// read in bulk. Keeps at most 4 MiB of spare buffers: one loop turn's read of 200-byte
// messages. Single-threaded; must outlive every record it handed out.
class RecordPool
{
public:
    RecordPool() = default;
    RecordPool(const RecordPool&) = delete;
    RecordPool& operator=(const RecordPool&) = delete;
    ~RecordPool();

    // A record with seq 0 and empty strings that keep their capacity. Throws std::bad_alloc.
    std::shared_ptr<Record> take();

private:
    // Gives shared_ptr its control blocks (all of one size) from the pool's free list.
    template <typename T>
    struct BlockAllocator
    {
        using value_type = T;
        explicit BlockAllocator(std::vector<void*>& free) noexcept : free_(&free) {}
        template <typename U>
        BlockAllocator(const BlockAllocator<U>& other) noexcept : free_(other.free_)
        {
        }
        T* allocate(std::size_t count);
        void deallocate(T* block, std::size_t count) noexcept;
        template <typename U>
        bool operator==(const BlockAllocator<U>& other) const noexcept
        {
            return free_ == other.free_;
        }

        std::vector<void*>* free_;
    };

    void giveBack(Record* record) noexcept;

    std::vector<void*> freeBlocks_;
    std::vector<std::unique_ptr<Record>> spares_;
    std::size_t spareBytes_ = 0;
    std::size_t outstanding_ = 0; // handed out and not back yet
};

} // namespace wspush::record
