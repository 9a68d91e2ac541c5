// SPDX-License-Identifier: MIT
#include "sinks/unix_client.hpp"

#include <algorithm>
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
// A catch-up reads this far ahead of what the socket took: enough to fill it in one
// writev(), little enough that a thousand clients far behind cost little.
constexpr std::size_t catchUpAhead = std::size_t{256} * 1024;
// One flush writes at most this much to one client, so that a fast reader catching up on a
// large backlog shares the loop with the connection and everyone else.
constexpr std::size_t flushBudget = std::size_t{4} << 20;

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

bool UnixClient::isBehind() const noexcept
{
    constexpr std::int64_t longestWaitUs = 250'000;
    if (closing_ || reader_ || queuedBytes_ <= maxQueue_ / 2) {
        behindSinceUs_ = 0;
        return false;
    }
    const std::int64_t now = lws_now_usecs();
    if (behindSinceUs_ == 0)
        behindSinceUs_ = now;
    return now - behindSinceUs_ < longestWaitUs;
}

bool UnixClient::fits(std::size_t length) const noexcept
{
    return queuedBytes_ + length <= maxQueue_;
}

bool UnixClient::queue(Line line, std::uint64_t seq, bool counted) noexcept
{
    try {
        const std::size_t size = line->size();
        queue_.pushBack({std::move(line), seq, counted, seq != 0 && !subscription_.empty()});
        (counted ? queuedBytes_ : uncountedBytes_) += size;
        return true;
    } catch (const std::bad_alloc&) {
        return false;
    }
}

void UnixClient::pushRecord(const std::shared_ptr<const record::Record>& record) noexcept
{
    if (closing_ || reader_)
        return;
    // Lines waiting only for this loop iteration's write do not make a client slow.
    if (!fits(record->line.size() + droppedNoticeSize)) {
        std::size_t budget = flushBudget;
        write(budget);
    }
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
    if (queue(Line(record, &record->line), record->seq, true))
        ++forwarded_;
    else
        ++dropped_;
}

void UnixClient::queueDroppedNotice() noexcept
{
    try {
        Json::Value fields;
        fields["count"] = Json::UInt64(skipped_);
        if (queue(std::make_shared<const std::string>(eventLine("dropped", fields)), 0, true))
            skipped_ = 0;
    } catch (const std::exception&) {
    }
}

void UnixClient::queueGap(std::uint64_t from, std::uint64_t to) noexcept
{
    if (from > to)
        return;
    try {
        Json::Value fields;
        fields["from"] = Json::UInt64(from);
        fields["to"] = Json::UInt64(to);
        queue(std::make_shared<const std::string>(eventLine("gap", fields)), 0, false);
    } catch (const std::exception&) {
    }
}

void UnixClient::pushEvent(std::string line) noexcept
{
    if (closing_)
        return;
    if (!fits(line.size())) {
        std::size_t budget = flushBudget;
        write(budget);
    }
    if (!fits(line.size())) {
        cutOff("too slow: more than max_queue bytes waiting, disconnecting");
        return;
    }
    try {
        queue(std::make_shared<const std::string>(std::move(line)), 0, true);
    } catch (const std::bad_alloc&) {
        cutOff("out of memory");
    }
}

void UnixClient::cutOff(const std::string& why, const char* reason) noexcept
{
    if (closing_)
        return;
    closing_ = true;
    holding_ = false;
    reader_.reset();
    log::notice("unix client " + std::to_string(id_) + ": " + why);
    // Keep a line already begun, so the client never sees half a line before the error.
    const std::size_t keep = frontOffset_ != 0 ? 1 : 0;
    while (queue_.size() > keep) {
        const Item& last = queue_.back();
        if (last.seq != 0)
            ++dropped_;
        (last.counted ? queuedBytes_ : uncountedBytes_) -= last.line->size();
        queue_.popBack();
    }
    try {
        Json::Value fields;
        fields["message"] = why;
        if (reason != nullptr)
            fields["reason"] = reason;
        queue(std::make_shared<const std::string>(eventLine("error", fields)), 0, false);
    } catch (const std::exception&) {
    }
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, cutOffGraceSeconds);
}

void UnixClient::popFront() noexcept
{
    const Item& front = queue_.front();
    (front.counted ? queuedBytes_ : uncountedBytes_) -= front.line->size();
    if (front.seq != 0) {
        sentLow_ = sentLow_ == 0 ? front.seq : std::min(sentLow_, front.seq);
        sentHigh_ = std::max(sentHigh_, front.seq);
        if (front.ackable)
            ackLimit_ = std::max(ackLimit_, front.seq);
    }
    queue_.popFront();
    frontOffset_ = 0;
}

UnixClient::Written UnixClient::write(std::size_t& budget) noexcept
{
    const int fd = lws_get_socket_fd(wsi_);
    while (!queue_.empty()) {
        iovec vectors[maxIovecs];
        int count = 0;
        std::size_t bytes = 0;
        for (std::size_t i = 0; i < queue_.size(); ++i) {
            const Item& item = queue_[i];
            // A held client gets the events before its first record only.
            if (count == maxIovecs || bytes >= budget || (holding_ && item.seq != 0))
                break;
            const std::size_t skip = count == 0 ? frontOffset_ : 0;
            vectors[count].iov_base = const_cast<char*>(item.line->data() + skip);
            vectors[count].iov_len = item.line->size() - skip;
            bytes += vectors[count].iov_len;
            ++count;
        }
        if (count == 0)
            return Written::All;
        ssize_t written = writev(fd, vectors, count);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                lws_callback_on_writable(wsi_);
                return Written::Blocked;
            }
            return Written::Failed;
        }
        budget -= std::min(budget, static_cast<std::size_t>(written));
        while (written > 0) {
            const Item& front = queue_.front();
            const std::size_t left = front.line->size() - frontOffset_;
            if (static_cast<std::size_t>(written) < left) {
                frontOffset_ += static_cast<std::size_t>(written);
                // Begun is as good as sent: a replay must not send it again.
                if (front.seq != 0) {
                    sentLow_ = sentLow_ == 0 ? front.seq : std::min(sentLow_, front.seq);
                    sentHigh_ = std::max(sentHigh_, front.seq);
                }
                break;
            }
            written -= static_cast<ssize_t>(left);
            popFront();
        }
        if (queue_.empty() && skipped_ != 0 && !closing_ && fits(droppedNoticeSize))
            queueDroppedNotice();
        if (budget == 0 && !queue_.empty()) {
            lws_callback_on_writable(wsi_);
            return Written::Budget;
        }
    }
    return Written::All;
}

bool UnixClient::flush(std::uint64_t delivered) noexcept
{
    std::size_t budget = flushBudget;
    for (;;) {
        if (reader_ && !closing_)
            refill(delivered);
        const Written result = write(budget);
        if (result == Written::Failed)
            return false;
        // A client cut off keeps its socket until its error line is out, or its grace ends.
        if (result != Written::All)
            return true;
        if (!reader_ || closing_ || holding_)
            return !closing_;
    }
}

void UnixClient::refill(std::uint64_t delivered) noexcept
{
    while (reader_ && uncountedBytes_ < catchUpAhead) {
        const std::uint64_t expected = reader_->position() + 1;
        if (expected > delivered) {
            goLive();
            return;
        }
        const auto record = reader_->next();
        if (!record) {
            // The store could not give what it should hold (a read error): the client is
            // told, and goes on with what comes live.
            log::warning("unix client " + std::to_string(id_) + ": records " +
                         std::to_string(expected) + " to " + std::to_string(delivered) +
                         " could not be read from the store");
            queueGap(expected, delivered);
            goLive();
            return;
        }
        // Removed by retention (or damage) before this client got there.
        if (record->seq > expected)
            queueGap(expected, std::min(record->seq - 1, delivered));
        if (record->seq > delivered) {
            goLive(); // the sink is given this record next, and passes it on live
            return;
        }
        if (record->seq >= skipFrom_ && record->seq <= skipTo_)
            continue;
        if (queue(Line(record, &record->line), record->seq, false))
            ++forwarded_;
        else
            ++dropped_;
    }
}

void UnixClient::goLive() noexcept
{
    reader_.reset();
    skipFrom_ = 0;
    skipTo_ = 0;
}

void UnixClient::catchUp(std::unique_ptr<store::Reader> reader, bool skipSent) noexcept
{
    if (closing_)
        return;
    // Records not begun are taken back; events stay, in their order.
    const std::size_t keep = frontOffset_ != 0 ? 1 : 0;
    system::RingQueue<Item> kept;
    try {
        for (std::size_t i = 0; i < queue_.size(); ++i) {
            Item& item = queue_[i];
            if (i < keep || item.seq == 0) {
                kept.pushBack(std::move(item));
                continue;
            }
            (item.counted ? queuedBytes_ : uncountedBytes_) -= item.line->size();
            --forwarded_;
        }
    } catch (const std::bad_alloc&) {
        cutOff("out of memory");
        return;
    }
    queue_ = std::move(kept);
    skipped_ = 0; // the reader gives again what was dropped, if it is wanted
    skipFrom_ = skipSent ? sentLow_ : 0;
    skipTo_ = skipSent ? sentHigh_ : 0;
    if (skipFrom_ == 0)
        skipTo_ = 0;
    reader_ = std::move(reader);
}

std::uint64_t UnixClient::firstUnsent() const noexcept
{
    const std::size_t begun = frontOffset_ != 0 ? 1 : 0;
    for (std::size_t i = begun; i < queue_.size(); ++i) {
        if (queue_[i].seq != 0)
            return queue_[i].seq;
    }
    return 0;
}

void UnixClient::subscribe(std::string name) noexcept
{
    subscription_ = std::move(name);
    ackLimit_ = 0;
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
