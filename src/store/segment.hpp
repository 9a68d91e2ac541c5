// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "store/record_format.hpp"

namespace wspush::store {

// A segment file is named after the seq it starts at: "00000000000000001042.seg".
std::string segmentFileName(std::uint64_t firstSeq);
std::optional<std::uint64_t> parseSegmentFileName(const std::string& name) noexcept;
// A damaged segment is renamed to this, out of the log, for an administrator to look at.
constexpr const char* setAsideSuffix = ".damaged";

struct SegmentInfo
{
    std::string path;
    std::uint64_t first = 0; // seq of its first record (0: empty)
    std::uint64_t last = 0;
    std::int64_t lastUs = 0; // receive time of its last record
    std::uint64_t bytes = 0;
};

// What a scan of one segment file found.
struct SegmentScan
{
    SegmentInfo info; // of the sound records
    std::uint64_t records = 0;
    std::uint64_t soundEnd = 0;     // offset just after the last sound record
    std::uint64_t damagedBytes = 0; // bytes outside sound records
    bool damagedInside = false;     // damage that has sound records after it
    std::uint64_t damagedSpans = 0; // damaged spans
    std::vector<std::pair<std::uint64_t, std::uint64_t>> sound; // [offset, end) spans
};

// Reads every record of the segment at `path`, checking lengths, checksums and that seqs
// grow past `afterSeq`; past damage it looks for the next sound record. Throws on I/O
// errors.
SegmentScan scanSegment(const std::string& path, std::uint64_t afterSeq);

} // namespace wspush::store
