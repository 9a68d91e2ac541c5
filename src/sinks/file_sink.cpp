// SPDX-License-Identifier: MIT
#include "sinks/file_sink.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include "system/log.hpp"

namespace wspush::sinks {

namespace {

constexpr auto retryInterval = std::chrono::seconds(1);
// Bounds one write() so a large backlog does not hold the loop for long.
constexpr std::size_t maxWriteSize = std::size_t{1024} * 1024;

// Where the line holding the byte before `end` starts: just after the last newline before
// `end`, or 0. Reads backwards a chunk at a time, so a line of any length is found.
// nullopt when the file cannot be read.
std::optional<std::uint64_t> lineStartBefore(int fd, std::uint64_t end)
{
    constexpr std::uint64_t chunk = 64 * 1024;
    std::string buffer;
    while (end > 0) {
        const std::uint64_t start = end > chunk ? end - chunk : 0;
        buffer.resize(end - start);
        if (pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(start)) !=
            static_cast<ssize_t>(buffer.size()))
            return std::nullopt;
        const auto newline = buffer.rfind('\n');
        if (newline != std::string::npos)
            return start + newline + 1;
        end = start;
    }
    return 0;
}

} // namespace

FileSink::FileSink(const config::FileSinkConfig& config, event::EventLoop& loop)
    : config_(config), name_("file " + config.path), outage_(name_),
      retryTimer_(loop.context(), [this] { flush(); }),
      syncTimer_(loop.context(), [this] { syncNow(); })
{
    if (!open())
        throw std::runtime_error("cannot open " + config_.path + ": " + std::strerror(errno));
    if (config_.format == config::FileSinkConfig::Format::Jsonl)
        readLastLine();
}

// After a crash the file may end in half a line, and the cursor kept in the store may be
// behind the last line written: the half line goes, and holdsUpTo() tells where to go on.
void FileSink::readLastLine() noexcept
{
    const system::UniqueFd fd(::open(config_.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.isValid() || size_ == 0)
        return;
    try {
        const auto complete = lineStartBefore(fd.get(), size_);
        if (!complete)
            return;
        if (*complete != size_) {
            log::warning(name_ + ": cut " + std::to_string(size_ - *complete) +
                         " bytes of an unfinished line off the end");
            if (ftruncate(fd_.get(), static_cast<off_t>(*complete)) == 0)
                size_ = *complete;
        }
        if (*complete == 0)
            return;
        const auto lineStart = lineStartBefore(fd.get(), *complete - 1);
        if (!lineStart)
            return;
        constexpr std::string_view prefix = "{\"seq\":";
        char head[prefix.size() + 20];
        const ssize_t got =
            pread(fd.get(), head, std::min<std::uint64_t>(sizeof head, *complete - *lineStart),
                  static_cast<off_t>(*lineStart));
        const std::string_view line(head, static_cast<std::size_t>(std::max<ssize_t>(got, 0)));
        if (!line.starts_with(prefix))
            return;
        std::uint64_t seq = 0;
        if (std::from_chars(line.data() + prefix.size(), line.data() + line.size(), seq).ec ==
            std::errc())
            holdsUpTo_ = seq;
    } catch (const std::bad_alloc&) {
    }
}

// max_queue is for a file that cannot be written; while it can, a write's worth is enough
// to keep it busy, and a sink catching up on a backlog holds no more than that in memory.
bool FileSink::wantsMore() const noexcept
{
    const std::size_t limit =
        outage_.ongoing() ? config_.maxQueue : std::min(config_.maxQueue, maxWriteSize);
    return pending_.size() - pendingOffset_ < limit;
}

bool FileSink::open() noexcept
{
    fd_.reset(::open(config_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (!fd_.isValid())
        return false;
    struct stat status
    {
    };
    size_ = fstat(fd_.get(), &status) == 0 ? static_cast<std::uint64_t>(status.st_size) : 0;
    return true;
}

void FileSink::deliver(const std::shared_ptr<const record::Record>& record) noexcept
{
    const bool raw = config_.format == config::FileSinkConfig::Format::Raw;
    const std::size_t length = raw ? record->payload.size() + 1 : record->line.size();
    // A burst larger than max_queue within one loop iteration is written now: only a file
    // that does not take records makes the sink stop taking them.
    if (pending_.size() - pendingOffset_ + length > config_.maxQueue && !outage_.ongoing())
        flush();
    try {
        if (raw) {
            pending_.append(record->payload);
            pending_.push_back('\n');
        } else {
            pending_.append(record->line);
        }
        ++pendingRecords_;
        pendingLastSeq_ = record->seq;
    } catch (const std::bad_alloc&) {
        ++counters_.dropped;
        outage_.countDrop();
    }
}

void FileSink::flush() noexcept
{
    if (pendingOffset_ == pending_.size())
        return;
    if (!fd_.isValid() && !open()) {
        fail("cannot open " + config_.path, errno);
        return;
    }
    while (pendingOffset_ < pending_.size()) {
        if (!writeSome())
            return;
    }
    counters_.forwarded += pendingRecords_;
    pendingRecords_ = 0;
    handedOn_ = pendingLastSeq_;
    pending_.clear();
    pendingOffset_ = 0;
    outage_.end();

    if (config_.fsync == config::FileSinkConfig::Fsync::Always) {
        syncNow();
    } else if (config_.fsync == config::FileSinkConfig::Fsync::Interval) {
        unsynced_ = true;
        if (!syncTimer_.isPending())
            syncTimer_.schedule(
                std::chrono::duration_cast<std::chrono::microseconds>(config_.fsyncInterval));
    }
}

// Writes the next chunk of pending_, cut at a line end so that rotation happens between
// records and a file stays within max_size unless a single record is larger.
bool FileSink::writeSome() noexcept
{
    if (config_.maxSize != 0 && size_ >= config_.maxSize && !rotate())
        return false;

    std::string_view chunk(pending_.data() + pendingOffset_, pending_.size() - pendingOffset_);
    if (chunk.size() > maxWriteSize) {
        const auto cut = chunk.rfind('\n', maxWriteSize - 1);
        chunk = chunk.substr(0, cut == std::string_view::npos ? chunk.find('\n') + 1 : cut + 1);
    }
    if (config_.maxSize != 0 && size_ + chunk.size() > config_.maxSize) {
        const std::size_t room = config_.maxSize - size_;
        const auto cut = room == 0 ? std::string_view::npos : chunk.rfind('\n', room - 1);
        if (cut != std::string_view::npos)
            chunk = chunk.substr(0, cut + 1);
        else if (size_ > 0)
            return rotate();
        else
            chunk = chunk.substr(0, chunk.find('\n') + 1);
    }

    const ssize_t written = ::write(fd_.get(), chunk.data(), chunk.size());
    if (written < 0) {
        if (errno == EINTR)
            return true;
        const int error = errno;
        fd_.reset(); // reopened on the next try, in case the path now leads elsewhere
        fail("cannot write " + config_.path, error);
        return false;
    }
    pendingOffset_ += static_cast<std::size_t>(written);
    size_ += static_cast<std::uint64_t>(written);
    if (config_.maxSize != 0) {
        // With O_APPEND the offset is the file's real end, even after a copytruncate.
        const off_t end = lseek(fd_.get(), 0, SEEK_CUR);
        if (end >= 0)
            size_ = static_cast<std::uint64_t>(end);
    }
    return true;
}

bool FileSink::rotate() noexcept
{
    const auto numbered = [this](unsigned n) { return config_.path + "." + std::to_string(n); };
    fd_.reset();
    for (unsigned n = config_.keep; n > 1; --n) {
        if (::rename(numbered(n - 1).c_str(), numbered(n).c_str()) != 0 && errno != ENOENT)
            log::warning(name_ + ": cannot rotate " + numbered(n - 1) + ": " +
                         std::strerror(errno));
    }
    if (::rename(config_.path.c_str(), numbered(1).c_str()) != 0 && errno != ENOENT)
        log::warning(name_ + ": cannot rotate " + config_.path + ": " + std::strerror(errno));
    if (!open()) {
        fail("cannot open " + config_.path + " after rotating", errno);
        return false;
    }
    return true;
}

void FileSink::fail(const std::string& what, int error) noexcept
{
    outage_.begin(log::Level::Error, what + ": " + std::strerror(error) +
                                         "; holding records in memory and retrying every second");
    retryTimer_.schedule(retryInterval);
}

void FileSink::syncNow() noexcept
{
    unsynced_ = false;
    if (fd_.isValid() && fdatasync(fd_.get()) != 0)
        log::warning(name_ + ": fdatasync: " + std::strerror(errno));
}

void FileSink::reopen() noexcept
{
    flush();
    if (unsynced_)
        syncNow();
    if (!open())
        fail("cannot reopen " + config_.path, errno);
}

} // namespace wspush::sinks
