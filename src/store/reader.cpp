// SPDX-License-Identifier: MIT
#include "store/reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "record/encoder.hpp"
#include "store/record_format.hpp"
#include "store/store.hpp"
#include "system/log.hpp"

namespace wspush::store {

namespace {

// One read() per this much of a segment: a reader catching up on a backlog costs a system
// call per few hundred small records.
constexpr std::size_t readChunk = std::size_t{256} * 1024;

} // namespace

bool Reader::hasNext() const noexcept
{
    return position_ + 1 < store_.nextSeq_ && (!store_.memory_.empty() || !store_.path().empty());
}

std::shared_ptr<const record::Record> Reader::next() noexcept
{
    const std::uint64_t wanted = position_ + 1;
    if (wanted >= store_.nextSeq_)
        return nullptr;
    const auto& memory = store_.memory_;
    const std::uint64_t memoryFirst = memory.empty() ? store_.nextSeq_ : memory.front()->seq;
    if (wanted >= memoryFirst || store_.path().empty()) {
        if (memory.empty())
            return nullptr;
        closeSegment();
        const std::uint64_t seq = std::max(wanted, memoryFirst);
        position_ = seq;
        return memory[seq - memoryFirst];
    }
    if (auto record = nextFromDisk(wanted))
        return record;
    // Not in the files (never written: the disk was full): what memory holds comes next.
    if (memory.empty())
        return nullptr;
    closeSegment();
    position_ = memoryFirst;
    return memory.front();
}

std::shared_ptr<const record::Record> Reader::nextFromDisk(std::uint64_t wanted) noexcept
{
    if (!segment_.isValid() && !openSegmentFor(wanted))
        return nullptr;
    for (;;) {
        StoredRecord stored;
        const std::string_view bytes = std::string_view(buffer_).substr(bufferOffset_);
        const ParseResult result = parseChecked(bytes, stored);
        if (result == ParseResult::Complete) {
            bufferOffset_ += stored.size;
            if (stored.seq < wanted)
                continue;
            try {
                std::shared_ptr<record::Record> record = store_.pool_.take();
                record->seq = stored.seq;
                record->receivedUs = stored.receivedUs;
                record->binary = stored.binary;
                record->payload.assign(stored.payload);
                record::encodeLine(*record);
                position_ = stored.seq;
                return record;
            } catch (const std::bad_alloc&) {
                return nullptr;
            }
        }
        if (result == ParseResult::Damaged) {
            log::warning("store: a damaged record in " + std::to_string(segmentFirst_) +
                         "'s segment while reading; skipping the rest of it");
        } else if (readMore()) {
            continue;
        }
        // The end of this segment: on to the next one.
        const std::uint64_t after = segmentFirst_;
        closeSegment();
        const auto& segments = store_.segments_;
        const auto later = std::find_if(segments.begin(), segments.end(),
                                        [after](const SegmentInfo& s) { return s.first > after; });
        if (later == segments.end() || !openSegmentFor(std::max(wanted, later->first)))
            return nullptr;
    }
}

bool Reader::openSegmentFor(std::uint64_t seq) noexcept
{
    const std::size_t index = store_.segmentFor(seq);
    if (index == store_.segments_.size())
        return false;
    const SegmentInfo& segment = store_.segments_[index];
    segment_.reset(::open(segment.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!segment_.isValid()) {
        log::warning("store: cannot open " + segment.path + ": " + std::strerror(errno));
        return false;
    }
    segmentFirst_ = segment.first;
    fileOffset_ = 0;
    buffer_.clear();
    bufferOffset_ = 0;
    return true;
}

bool Reader::readMore() noexcept
{
    try {
        buffer_.erase(0, bufferOffset_);
        bufferOffset_ = 0;
        const std::size_t kept = buffer_.size();
        buffer_.resize(kept + readChunk);
        ssize_t got;
        do
            got = ::pread(segment_.get(), buffer_.data() + kept, readChunk,
                          static_cast<off_t>(fileOffset_));
        while (got < 0 && errno == EINTR);
        buffer_.resize(kept + static_cast<std::size_t>(std::max<ssize_t>(got, 0)));
        if (got < 0)
            log::warning("store: cannot read a segment: " + std::string(std::strerror(errno)));
        if (got <= 0)
            return false;
        fileOffset_ += static_cast<std::uint64_t>(got);
        return true;
    } catch (const std::bad_alloc&) {
        return false;
    }
}

void Reader::closeSegment() noexcept
{
    if (!segment_.isValid())
        return;
    segment_.reset();
    std::string().swap(buffer_);
    bufferOffset_ = 0;
}

} // namespace wspush::store
