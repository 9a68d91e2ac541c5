// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "record/record.hpp"

namespace wspush::record {

// Takes records back, buffers and all, once every sink let go of them, so that a message
// fills an old record instead of allocating a record, a line and a payload: malloc and free
// of those were a tenth of the daemon's CPU once frames are read in bulk. Keeps at most
// 1 MiB of spare buffers. Single-threaded; must outlive every record it handed out.
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
    void giveBack(Record* record) noexcept;

    std::vector<std::unique_ptr<Record>> spares_;
    std::size_t spareBytes_ = 0;
    std::size_t outstanding_ = 0; // handed out and not back yet
};

} // namespace wspush::record
