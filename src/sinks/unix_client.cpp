// SPDX-License-Identifier: MIT
#include "sinks/unix_client.hpp"

#include <cerrno>
#include <sys/uio.h>

#include "sinks/unix_events.hpp"
#include "system/log.hpp"

namespace wspush::sinks {

namespace {

constexpr std::size_t maxRequestLine = std::size_t{64} * 1024;
constexpr int maxIovecs = 1024; // UIO_MAXIOV: one writev() for a large batch
// Room kept for a `dropped` notice: {"count":18446744073709551615,"event":"dropped"}
constexpr std::size_t droppedNoticeSize = 64;
// A client cut off gets this long to take its `error` line before the socket closes.
constexpr int cutOffGraceSeconds = 2;

} // namespace

UnixClient::UnixClient(lws* wsi, std::uint64_t id, const config::UnixSinkConfig& config)
    : wsi_(wsi), id_(id), acceptedUs_(lws_now_usecs())
{
    setLimits(config);
}

void UnixClient::setLimits(const config::UnixSinkConfig& config) noexcept
{
    maxQueue_ = config.maxQueue;
    dropPolicy_ = config.policy == config::UnixSinkConfig::Policy::Drop;
}

bool UnixClient::fits(std::size_t length) const noexcept
{
    return queuedBytes_ + length <= maxQueue_;
}

bool UnixClient::queue(Line line, bool isRecord) noexcept
{
    try {
        queuedBytes_ += line->size();
        queue_.push_back({std::move(line), isRecord, true});
        return true;
    } catch (const std::bad_alloc&) {
        return false;
    }
}

void UnixClient::pushRecord(const std::shared_ptr<const record::Record>& record) noexcept
{
    if (closing_)
        return;
    if (lowestSeq_ == 0 || record->seq < lowestSeq_)
        lowestSeq_ = record->seq;
    // Lines waiting only for this loop iteration's write do not make a client slow.
    if (!fits(record->line.size() + droppedNoticeSize))
        flush();
    // A gap is told in one notice, queued together with the record that ends it.
    const std::size_t notice = skipped_ != 0 ? droppedNoticeSize : 0;
    if (!fits(record->line.size() + notice)) {
        if (!dropPolicy_) {
            cutOff("too slow: more than max_queue bytes waiting, disconnecting");
            return;
        }
        ++skipped_;
        ++dropped_;
        return;
    }
    if (skipped_ != 0)
        queueDroppedNotice();
    // Shares the record's own line: one encoding for every client.
    if (queue(Line(record, &record->line), true))
        ++forwarded_;
    else
        ++dropped_;
}

void UnixClient::queueDroppedNotice() noexcept
{
    try {
        Json::Value fields;
        fields["count"] = Json::UInt64(skipped_);
        if (queue(std::make_shared<const std::string>(eventLine("dropped", fields)), false))
            skipped_ = 0;
    } catch (const std::exception&) {
    }
}

void UnixClient::pushEvent(std::string line) noexcept
{
    if (closing_)
        return;
    if (!fits(line.size()))
        flush();
    if (!fits(line.size())) {
        cutOff("too slow: more than max_queue bytes waiting, disconnecting");
        return;
    }
    try {
        queue(std::make_shared<const std::string>(std::move(line)), false);
    } catch (const std::bad_alloc&) {
        cutOff("out of memory");
    }
}

void UnixClient::cutOff(const std::string& why) noexcept
{
    closing_ = true;
    log::notice("unix client " + std::to_string(id_) + ": " + why);
    // Keep a line already begun, so the client never sees half a line before the error.
    const std::size_t keep = frontOffset_ != 0 ? 1 : 0;
    while (queue_.size() > keep) {
        if (queue_.back().isRecord)
            ++dropped_;
        if (queue_.back().counted)
            queuedBytes_ -= queue_.back().line->size();
        queue_.pop_back();
    }
    try {
        Json::Value fields;
        fields["message"] = why;
        queue(std::make_shared<const std::string>(eventLine("error", fields)), false);
    } catch (const std::bad_alloc&) {
    }
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, cutOffGraceSeconds);
}

bool UnixClient::flush() noexcept
{
    if (holding_)
        return true;
    const int fd = lws_get_socket_fd(wsi_);
    while (!queue_.empty()) {
        iovec vectors[maxIovecs];
        int count = 0;
        for (const Item& item : queue_) {
            if (count == maxIovecs)
                break;
            const std::size_t skip = count == 0 ? frontOffset_ : 0;
            vectors[count].iov_base = const_cast<char*>(item.line->data() + skip);
            vectors[count].iov_len = item.line->size() - skip;
            ++count;
        }
        ssize_t written = writev(fd, vectors, count);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                lws_callback_on_writable(wsi_);
                return true;
            }
            return false;
        }
        while (written > 0) {
            const std::size_t left = queue_.front().line->size() - frontOffset_;
            if (static_cast<std::size_t>(written) < left) {
                frontOffset_ += static_cast<std::size_t>(written);
                break;
            }
            written -= static_cast<ssize_t>(left);
            if (queue_.front().counted)
                queuedBytes_ -= queue_.front().line->size();
            queue_.pop_front();
            frontOffset_ = 0;
        }
        if (queue_.empty() && skipped_ != 0 && !closing_ && fits(droppedNoticeSize))
            queueDroppedNotice();
    }
    return !closing_;
}

void UnixClient::insertReplayed(
    std::string gapLine, const std::vector<std::shared_ptr<const record::Record>>& records) noexcept
{
    if (closing_)
        return;
    // Before every line not yet begun: records already on their way cannot be recalled.
    auto at = queue_.begin() + (frontOffset_ != 0 ? 1 : 0);
    try {
        if (!gapLine.empty()) {
            at = queue_.insert(
                     at, {std::make_shared<const std::string>(std::move(gapLine)), false, false}) +
                 1;
        }
        for (const auto& record : records) {
            at = queue_.insert(at, {Line(record, &record->line), true, false}) + 1;
            ++forwarded_;
            if (lowestSeq_ == 0 || record->seq < lowestSeq_)
                lowestSeq_ = record->seq;
        }
    } catch (const std::bad_alloc&) {
        cutOff("out of memory");
    }
}

void UnixClient::receive(std::string_view bytes,
                         const std::function<void(std::string_view)>& onLine,
                         const std::function<void()>& onTooLong)
{
    while (!bytes.empty()) {
        const auto newline = bytes.find('\n');
        const std::string_view piece = bytes.substr(0, newline);
        if (!discardingLine_) {
            if (input_.size() + piece.size() > maxRequestLine) {
                discardingLine_ = true;
                input_.clear();
                onTooLong();
            } else {
                input_.append(piece);
            }
        }
        if (newline == std::string_view::npos)
            return;
        holding_ = false;
        if (!discardingLine_)
            onLine(input_);
        input_.clear();
        discardingLine_ = false;
        bytes.remove_prefix(newline + 1);
    }
}

} // namespace wspush::sinks
