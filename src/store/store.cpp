// SPDX-License-Identifier: MIT
#include "store/store.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <json/reader.h>
#include <json/writer.h>

#include "record/timestamp.hpp"
#include "store/checksum_line.hpp"
#include "store/reader.hpp"
#include "system/errno_error.hpp"
#include "system/log.hpp"
#include "system/read_all.hpp"

namespace wspush::store {

namespace {

constexpr const char* epochFile = "epoch";
constexpr const char* cursorsFile = "cursors";
constexpr const char* lockFile = "lock";
// On disk, the newest records are also kept in memory up to this much, so that readers
// that keep up never read the files.
constexpr std::uint64_t memoryWindow = std::uint64_t{8} << 20;
// Records that cannot be written (a full disk) wait in memory up to this much; beyond it
// they are given up on, and logged.
constexpr std::size_t maxPending = std::size_t{64} << 20;

std::uint64_t memoryCost(const record::Record& record) noexcept
{
    return record.payload.capacity() + record.line.capacity() + sizeof(record::Record) + 64;
}

std::string newEpoch()
{
    std::random_device random;
    char text[33];
    std::snprintf(text, sizeof text, "%08x%08x%08x%08x", random(), random(), random(), random());
    return text;
}

std::string sizeText(std::uint64_t bytes)
{
    return std::to_string(bytes) + " bytes";
}

// Reads a small file whole; nullopt when it does not exist. Throws on other errors.
std::optional<std::string> readSmallFile(int directory, const char* name)
{
    const system::UniqueFd fd(::openat(directory, name, O_RDONLY | O_CLOEXEC));
    if (!fd.isValid()) {
        if (errno == ENOENT)
            return std::nullopt;
        throw system::errnoError(errno, std::string("cannot open ") + name);
    }
    return system::readAll(fd.get(), name);
}

bool writeAll(int fd, std::string_view bytes) noexcept
{
    while (!bytes.empty()) {
        const ssize_t done = ::write(fd, bytes.data(), bytes.size());
        if (done < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(done));
    }
    return true;
}

// Replaces `name` in `directory` with `content` as a whole: a crash leaves the old or the
// new file, never half of one. Returns the errno of a failure, 0 on success.
int replaceFile(int directory, const char* name, std::string_view content, bool durable) noexcept
{
    const std::string temporary = std::string(name) + ".new";
    const system::UniqueFd fd(
        ::openat(directory, temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.isValid())
        return errno;
    if (!writeAll(fd.get(), content) || (durable && fdatasync(fd.get()) != 0)) {
        const int error = errno;
        unlinkat(directory, temporary.c_str(), 0);
        return error;
    }
    if (renameat(directory, temporary.c_str(), directory, name) != 0)
        return errno;
    if (durable)
        fsync(directory);
    return 0;
}

// A name for a damaged segment's copy that no earlier one has: NAME.seg.damaged, then
// NAME.seg.2.damaged and so on.
std::string asideName(const std::string& path)
{
    std::string aside = path + setAsideSuffix;
    for (unsigned n = 2; access(aside.c_str(), F_OK) == 0; ++n)
        aside = path + "." + std::to_string(n) + setAsideSuffix;
    return aside;
}

} // namespace

Store::Store(const config::StoreConfig& config, event::EventLoop& loop, record::RecordPool& pool)
    : config_(config), pool_(pool), syncTimer_(loop.context(), [this] { onSyncTimer(); })
{
    if (config_.path.empty()) {
        epoch_ = newEpoch();
        return;
    }
    openDirectory();
    loadEpoch();
    recoverSegments();
    loadCursors();
    // Records that were in the store once and are not now (a torn or damaged tail): their
    // seqs are not issued again, since a sink may have seen them.
    if (!segments_.empty() && segments_.back().last + 1 < nextSeq_) {
        log::warning("store " + config_.path + ": records " +
                     std::to_string(segments_.back().last + 1) + " to " +
                     std::to_string(nextSeq_ - 1) +
                     " are no longer in it; their seqs are not issued again");
        noteHole(segments_.back().last + 1, nextSeq_ - 1);
    }
    syncTimer_.schedule(
        std::chrono::duration_cast<std::chrono::microseconds>(config_.syncInterval));
}

Store::~Store()
{
    if (!config_.path.empty())
        sync();
}

void Store::openDirectory()
{
    const std::string& path = config_.path;
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
        throw system::errnoError(errno, "store " + path + ": cannot create the directory");
    directory_ = system::UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!directory_.isValid())
        throw system::errnoError(errno, "store " + path + ": cannot open the directory");
    lock_ =
        system::UniqueFd(::openat(directory_.get(), lockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock_.isValid())
        throw system::errnoError(errno, "store " + path + ": cannot write to the directory");
    if (flock(lock_.get(), LOCK_EX | LOCK_NB) != 0)
        throw std::runtime_error("store " + path + " is in use by another wspushd (it holds " +
                                 path + "/lock)");
}

void Store::loadEpoch()
{
    const auto content = readSmallFile(directory_.get(), epochFile);
    if (content && content->size() == 33 && content->back() == '\n' &&
        content->find_first_not_of("0123456789abcdef") == 32) {
        epoch_ = content->substr(0, 32);
        return;
    }
    epoch_ = newEpoch();
    if (content)
        log::warning("store " + config_.path + ": the epoch file was unreadable; new epoch " +
                     epoch_);
    if (const int error = replaceFile(directory_.get(), epochFile, epoch_ + "\n", true))
        throw system::errnoError(error, "store " + config_.path + ": cannot write the epoch");
}

void Store::recoverSegments()
{
    std::vector<std::pair<std::uint64_t, std::string>> found;
    for (const auto& entry : std::filesystem::directory_iterator(config_.path)) {
        const std::string name = entry.path().filename();
        if (const auto seq = parseSegmentFileName(name))
            found.emplace_back(*seq, name);
    }
    std::sort(found.begin(), found.end());

    std::uint64_t last = 0;
    for (std::size_t i = 0; i < found.size(); ++i) {
        const std::string path = config_.path + "/" + found[i].second;
        const bool newest = i + 1 == found.size();
        SegmentScan scan;
        try {
            scan = scanSegment(path, last);
        } catch (const std::exception& error) {
            // Unreadable (EIO, not a file): out of the log, the daemon goes on without it.
            const std::string aside = asideName(path);
            const bool moved = rename(path.c_str(), aside.c_str()) == 0;
            findings_.push_back(std::string(error.what()) + ": " +
                                (moved ? "set aside as " + aside : "left out of the log"));
            continue;
        }
        SegmentInfo info = scan.info;
        if (scan.damagedBytes != 0 && newest && !scan.damagedInside) {
            if (truncate(path.c_str(), static_cast<off_t>(scan.soundEnd)) != 0)
                throw system::errnoError(errno, "store: cannot cut the torn tail of " + path);
            findings_.push_back("cut a torn tail of " + sizeText(scan.damagedBytes) + " off " +
                                path);
            info.bytes = scan.soundEnd;
        } else if (scan.damagedBytes != 0) {
            std::string sound;
            {
                const system::UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
                for (const auto& [from, to] : scan.sound) {
                    std::string span(to - from, '\0');
                    if (!in.isValid() ||
                        pread(in.get(), span.data(), span.size(), static_cast<off_t>(from)) !=
                            static_cast<ssize_t>(span.size()))
                        throw system::errnoError(errno, "store: cannot read " + path);
                    sound += span;
                }
            }
            // First a second name for the damaged file, then its sound records in its place:
            // a crash at any step leaves them in the log (the damaged file is set aside again
            // at the next start) and the damaged file kept.
            const std::string aside = asideName(path);
            if (link(path.c_str(), aside.c_str()) != 0 && rename(path.c_str(), aside.c_str()) != 0)
                throw system::errnoError(errno, "store: cannot set " + path + " aside");
            findings_.push_back(path + " was damaged (" + sizeText(scan.damagedBytes) + " in " +
                                std::to_string(scan.damagedSpans) + " place(s)): set aside as " +
                                aside + ", " + std::to_string(scan.records) +
                                " sound record(s) kept");
            if (scan.records != 0) {
                const std::string name = segmentFileName(info.first);
                info.path = config_.path + "/" + name;
                if (const int error = replaceFile(directory_.get(), name.c_str(), sound, true))
                    throw system::errnoError(error, "store: cannot write " + info.path);
                info.bytes = sound.size();
            }
            if (info.path != path)
                unlink(path.c_str());
        }
        if (scan.records == 0) {
            unlink(path.c_str());
            continue;
        }
        if (last != 0 && info.first != last + 1)
            findings_.push_back("records " + std::to_string(last + 1) + " to " +
                                std::to_string(info.first - 1) + " are missing before " +
                                info.path);
        last = info.last;
        segments_.push_back(info);
    }
    nextSeq_ = last + 1;
    for (const auto& finding : findings_)
        log::warning("store " + config_.path + ": " + finding);
}

void Store::loadCursors()
{
    const auto file = readSmallFile(directory_.get(), cursorsFile);
    if (!file)
        return;
    const auto content = withoutChecksum(*file);
    Json::Value root;
    Json::CharReaderBuilder builder;
    std::string errors;
    const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    if (!content ||
        !reader->parse(content->data(), content->data() + content->size(), &root, &errors) ||
        !root.isObject()) {
        findings_.push_back("the cursors file was damaged: every cursor starts at the newest "
                            "record");
        log::warning("store " + config_.path + ": " + findings_.back());
        return;
    }
    for (const auto& name : root["cursors"].getMemberNames()) {
        const Json::Value& seq = root["cursors"][name];
        if (seq.isUInt64())
            cursors_[name] = std::min<std::uint64_t>(seq.asUInt64(), lastSeq());
    }
    for (const auto& key : root["values"].getMemberNames()) {
        if (root["values"][key].isString())
            values_[key] = root["values"][key].asString();
    }
    // A seq is never issued twice in an epoch, even when every segment holding it is gone.
    if (root["next"].isUInt64())
        nextSeq_ = std::max<std::uint64_t>(nextSeq_, root["next"].asUInt64());
    savedNext_ = nextSeq_;
}

void Store::saveCursors() noexcept
{
    if ((!cursorsChanged_ && savedNext_ == nextSeq_) || config_.path.empty())
        return;
    try {
        Json::Value root(Json::objectValue);
        root["next"] = Json::UInt64(nextSeq_);
        root["cursors"] = Json::Value(Json::objectValue);
        for (const auto& [name, seq] : cursors_)
            root["cursors"][name] = Json::UInt64(seq);
        root["values"] = Json::Value(Json::objectValue);
        for (const auto& [key, text] : values_)
            root["values"][key] = text;
        Json::StreamWriterBuilder writer;
        writer["indentation"] = "";
        const std::string content = Json::writeString(writer, root) + "\n";
        if (const int error = replaceFile(directory_.get(), cursorsFile, withChecksum(content),
                                          config_.sync != config::StoreConfig::Sync::None)) {
            log::warning("store " + config_.path +
                         ": cannot save the cursors: " + std::strerror(error));
            return;
        }
        cursorsChanged_ = false;
        savedNext_ = root["next"].asUInt64();
    } catch (const std::exception& error) {
        log::warning("store " + config_.path + ": cannot save the cursors: " + error.what());
    }
}

std::uint64_t Store::firstSeq() const noexcept
{
    if (!segments_.empty())
        return segments_.front().first;
    if (!memory_.empty())
        return memory_.front()->seq;
    return 0;
}

std::uint64_t Store::bytes() const noexcept
{
    if (config_.path.empty())
        return memoryBytes_;
    std::uint64_t total = pending_.size();
    for (const auto& segment : segments_)
        total += segment.bytes;
    return total;
}

std::size_t Store::segmentLimit() const noexcept
{
    return std::clamp<std::size_t>(config_.effectiveMaxSize() / 8, std::size_t{64} << 10,
                                   std::size_t{64} << 20);
}

std::size_t Store::segmentFor(std::uint64_t seq) const noexcept
{
    // The last segment starting at or below seq, or else the first one.
    auto after =
        std::upper_bound(segments_.begin(), segments_.end(), seq,
                         [](std::uint64_t s, const SegmentInfo& info) { return s < info.first; });
    if (after != segments_.begin()) {
        const auto holding = std::prev(after);
        if (seq <= holding->last)
            return static_cast<std::size_t>(holding - segments_.begin());
    }
    return static_cast<std::size_t>(after - segments_.begin());
}

void Store::append(std::shared_ptr<const record::Record> record) noexcept
{
    try {
        if (!config_.path.empty()) {
            // A fast link brings a whole segment's worth in one loop turn: segments keep
            // their size, so retention deletes in steps of one.
            const std::size_t segmentBytes = segments_.empty() ? 0 : segments_.back().bytes;
            if (!pending_.empty() && writeFailures_ == 0 &&
                segmentBytes + pending_.size() >= segmentLimit())
                writePending();
            if (pending_.empty())
                pendingFirst_ = record->seq;
            appendStored(*record, pending_);
        }
        memoryBytes_ += memoryCost(*record);
        nextSeq_ = record->seq + 1;
        memory_.pushBack(std::move(record));
    } catch (const std::bad_alloc&) {
        log::error("store: out of memory; a record was not stored");
    }
}

void Store::skipTo(std::uint64_t next) noexcept
{
    // Records in memory are consecutive: a jump can only come before the first.
    if (next <= nextSeq_ || !memory_.empty())
        return;
    noteHole(nextSeq_, next - 1);
    nextSeq_ = next;
}

// Kept with the cursors, so that --verify-store tells a hole the daemon made knowingly
// from a segment gone missing.
void Store::noteHole(std::uint64_t from, std::uint64_t to) noexcept
{
    try {
        std::string& holes = values_[std::string(holesKey)];
        if (!holes.empty())
            holes += ',';
        holes += std::to_string(from);
        holes += '-';
        holes += std::to_string(to);
        cursorsChanged_ = true;
        saveCursors();
    } catch (const std::bad_alloc&) {
    }
}

void Store::startSegment(std::uint64_t firstSeq) noexcept
{
    const std::string name = segmentFileName(firstSeq);
    segmentFd_.reset(
        ::openat(directory_.get(), name.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!segmentFd_.isValid())
        return;
    segments_.push_back(SegmentInfo{config_.path + "/" + name, 0, 0, 0, 0});
    directoryUnsynced_ = true;
}

bool Store::writePending() noexcept
{
    if (pending_.empty())
        return true;
    const bool full =
        !segments_.empty() && (segments_.back().bytes >= segmentLimit() || segmentTorn_);
    if (!segmentFd_.isValid() || full) {
        if (segmentFd_.isValid() && config_.sync != config::StoreConfig::Sync::None)
            fdatasync(segmentFd_.get());
        segmentFd_.reset();
        if (!segments_.empty() && segments_.back().bytes == 0) {
            unlinkat(directory_.get(),
                     segments_.back().path.substr(config_.path.size() + 1).c_str(), 0);
            segments_.pop_back();
        }
        segmentTorn_ = false;
        if (!segments_.empty() && !full) {
            // The newest segment after a start: append to it.
            segmentFd_.reset(
                ::open(segments_.back().path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
        } else {
            startSegment(pendingFirst_);
        }
        if (!segmentFd_.isValid())
            return writeFailed(errno, 0);
    }
    std::size_t written = 0;
    while (written < pending_.size()) {
        const ssize_t done =
            ::write(segmentFd_.get(), pending_.data() + written, pending_.size() - written);
        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0)
            return writeFailed(errno, written);
        written += static_cast<std::size_t>(done);
    }
    if (writeFailures_ != 0)
        log::notice("store " + config_.path + ": writing again after " +
                    std::to_string(writeFailures_) + " failed attempt(s)");
    writeFailures_ = 0;
    SegmentInfo& segment = segments_.back();
    segment.bytes += pending_.size();
    if (segment.first == 0)
        segment.first = pendingFirst_;
    segment.last = nextSeq_ - 1;
    segment.lastUs = memory_.back()->receivedUs;
    pending_.clear();
    unsynced_ = true;
    return true;
}

bool Store::writeFailed(int error, std::size_t written) noexcept
{
    if (writeFailures_++ == 0)
        log::error("store " + config_.path + ": cannot write: " + std::strerror(error) +
                   "; records wait in memory");
    if (written != 0) {
        // The records written whole stay; one written in part is cut off the file again and
        // goes whole at the next try: a segment holds whole records only, and the next one
        // never starts with the rest of a record.
        SegmentInfo& segment = segments_.back();
        std::size_t whole = 0;
        while (whole < written) {
            const StoredHeader header = storedHeader(pending_.data() + whole);
            if (whole + header.size > written)
                break;
            if (segment.first == 0)
                segment.first = header.seq;
            segment.last = header.seq;
            segment.lastUs = header.receivedUs;
            whole += header.size;
        }
        if (whole != written &&
            ftruncate(segmentFd_.get(), static_cast<off_t>(segment.bytes + whole)) != 0) {
            log::error("store " + config_.path + ": cannot cut half a record off " + segment.path +
                       ": " + std::strerror(errno) + "; the next records go to a new segment");
            segmentTorn_ = true;
        }
        segment.bytes += whole;
        pending_.erase(0, whole);
        if (!pending_.empty())
            pendingFirst_ = storedHeader(pending_.data()).seq;
        unsynced_ = unsynced_ || whole != 0;
    }
    if (pending_.size() > maxPending) {
        log::error("store " + config_.path + ": " + sizeText(pending_.size()) +
                   " of records could not be written and are given up on");
        pending_.clear();
    }
    return false;
}

void Store::commit() noexcept
{
    if (config_.path.empty()) {
        trimMemory();
        return;
    }
    if (pending_.empty())
        return;
    if (writePending() && config_.sync == config::StoreConfig::Sync::Always) {
        if (fdatasync(segmentFd_.get()) == 0)
            unsynced_ = false;
        if (directoryUnsynced_ && fsync(directory_.get()) == 0)
            directoryUnsynced_ = false;
    }
    applyRetention();
    trimMemory();
}

void Store::sync() noexcept
{
    if (config_.path.empty())
        return;
    writePending();
    if (config_.sync != config::StoreConfig::Sync::None) {
        if (unsynced_ && segmentFd_.isValid() && fdatasync(segmentFd_.get()) == 0)
            unsynced_ = false;
        if (directoryUnsynced_ && fsync(directory_.get()) == 0)
            directoryUnsynced_ = false;
    }
    saveCursors();
}

void Store::onSyncTimer() noexcept
{
    sync();
    applyRetention();
    syncTimer_.schedule(
        std::chrono::duration_cast<std::chrono::microseconds>(config_.syncInterval));
}

void Store::applyRetention() noexcept
{
    const std::uint64_t maxSize = config_.effectiveMaxSize();
    std::uint64_t total = bytes();
    const std::int64_t oldestKept =
        config_.maxAge.count() > 0
            ? record::nowUs() -
                  std::chrono::duration_cast<std::chrono::microseconds>(config_.maxAge).count()
            : 0;
    while (segments_.size() > 1 &&
           (total > maxSize || (oldestKept != 0 && segments_.front().lastUs < oldestKept))) {
        const SegmentInfo& oldest = segments_.front();
        if (::unlink(oldest.path.c_str()) != 0 && errno != ENOENT) {
            log::warning("store: cannot remove " + oldest.path + ": " + std::strerror(errno));
            return;
        }
        log::debug("store: removed " + oldest.path + " (records " + std::to_string(oldest.first) +
                   " to " + std::to_string(oldest.last) + ")");
        total -= oldest.bytes;
        segments_.erase(segments_.begin());
        directoryUnsynced_ = true;
        // Readers do not get from memory what retention removed from the files.
        while (!memory_.empty() && memory_.front()->seq < segments_.front().first) {
            memoryBytes_ -= memoryCost(*memory_.front());
            memory_.popFront();
        }
    }
}

void Store::trimMemory() noexcept
{
    const std::uint64_t budget = config_.path.empty() ? config_.effectiveMaxSize() : memoryWindow;
    while (memory_.size() > 1 && memoryBytes_ > budget) {
        const auto& oldest = memory_.front();
        if (!pending_.empty() && oldest->seq >= pendingFirst_)
            break;
        memoryBytes_ -= memoryCost(*oldest);
        memory_.popFront();
    }
}

void Store::reconfigure(const config::StoreConfig& config) noexcept
{
    if (config.path != config_.path) {
        log::warning("store: a new store.path takes a restart; keeping " +
                     (config_.path.empty() ? std::string("the memory store") : config_.path));
        return;
    }
    config_ = config;
    applyRetention();
    trimMemory();
}

std::unique_ptr<Reader> Store::reader(std::uint64_t after)
{
    return std::make_unique<Reader>(*this, after);
}

std::optional<std::uint64_t> Store::cursor(const std::string& name) const
{
    const auto found = cursors_.find(name);
    if (found == cursors_.end())
        return std::nullopt;
    return found->second;
}

void Store::setCursor(const std::string& name, std::uint64_t seq) noexcept
{
    try {
        auto [entry, added] = cursors_.try_emplace(name, seq);
        if (added || entry->second != seq) {
            entry->second = seq;
            cursorsChanged_ = true;
        }
    } catch (const std::bad_alloc&) {
    }
}

bool Store::removeCursor(const std::string& name) noexcept
{
    if (cursors_.erase(name) == 0)
        return false;
    cursorsChanged_ = true;
    return true;
}

std::string Store::value(const std::string& key) const
{
    const auto found = values_.find(key);
    return found == values_.end() ? std::string() : found->second;
}

void Store::setValue(const std::string& key, std::string value) noexcept
{
    try {
        values_[key] = std::move(value);
        cursorsChanged_ = true;
    } catch (const std::bad_alloc&) {
    }
}

} // namespace wspush::store
