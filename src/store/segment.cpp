// SPDX-License-Identifier: MIT
#include "store/segment.hpp"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "system/errno_error.hpp"
#include "system/unique_fd.hpp"

namespace wspush::store {

namespace {

constexpr std::string_view segmentSuffix = ".seg";
constexpr std::size_t seqDigits = 20;
// A record found past damage must be within this many seqs of the last sound one, so that
// random bytes are not taken for a record.
constexpr std::uint64_t resyncReach = std::uint64_t{1} << 32;

// The file's bytes, mapped read-only.
class Mapping
{
public:
    explicit Mapping(const std::string& path)
    {
        fd_ = system::UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd_.isValid())
            throw system::errnoError(errno, "cannot open " + path);
        struct stat st
        {
        };
        if (fstat(fd_.get(), &st) != 0)
            throw system::errnoError(errno, "cannot stat " + path);
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ == 0)
            return;
        data_ = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_.get(), 0);
        if (data_ == MAP_FAILED)
            throw system::errnoError(errno, "cannot map " + path);
        madvise(data_, size_, MADV_SEQUENTIAL);
    }
    ~Mapping()
    {
        if (size_ != 0)
            munmap(data_, size_);
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;

    std::string_view bytes() const noexcept
    {
        return size_ == 0 ? std::string_view() : std::string_view(static_cast<char*>(data_), size_);
    }

private:
    system::UniqueFd fd_;
    void* data_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace

std::string segmentFileName(std::uint64_t firstSeq)
{
    char name[seqDigits + 8];
    std::snprintf(name, sizeof name, "%020llu.seg", static_cast<unsigned long long>(firstSeq));
    return name;
}

std::optional<std::uint64_t> parseSegmentFileName(const std::string& name) noexcept
{
    if (name.size() != seqDigits + segmentSuffix.size() || !name.ends_with(segmentSuffix))
        return std::nullopt;
    std::uint64_t seq = 0;
    const auto [end, error] = std::from_chars(name.data(), name.data() + seqDigits, seq);
    if (error != std::errc() || end != name.data() + seqDigits || seq == 0)
        return std::nullopt;
    return seq;
}

SegmentScan scanSegment(const std::string& path, std::uint64_t afterSeq)
{
    const Mapping mapping(path);
    const std::string_view bytes = mapping.bytes();
    SegmentScan scan;
    scan.info.path = path;
    scan.info.bytes = bytes.size();
    std::uint64_t previous = afterSeq;
    std::size_t offset = 0;
    bool inDamage = false;
    while (offset < bytes.size()) {
        StoredRecord record;
        const bool resyncing = inDamage || scan.records != 0;
        if (parseStored(bytes.substr(offset), record, previous,
                        resyncing ? resyncReach : UINT64_MAX) != ParseResult::Complete) {
            if (!inDamage)
                ++scan.damagedSpans;
            inDamage = true;
            ++scan.damagedBytes;
            ++offset;
            continue;
        }
        if (inDamage)
            scan.damagedInside = true;
        inDamage = false;
        if (scan.records == 0)
            scan.info.first = record.seq;
        scan.info.last = record.seq;
        scan.info.lastUs = record.receivedUs;
        ++scan.records;
        scan.sound.emplace_back(offset, offset + record.size);
        offset += record.size;
        scan.soundEnd = offset;
        previous = record.seq;
    }
    return scan;
}

} // namespace wspush::store
