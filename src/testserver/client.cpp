// SPDX-License-Identifier: MIT
#include "testserver/client.hpp"

#include <algorithm>

#include "testserver/frames.hpp"

namespace wspush::testserver {

namespace {

// Push frames gathered into one write: one send() per frame would cap the rate far lower.
constexpr std::size_t kBatchBytes = std::size_t{64} * 1024;
// Bytes written per WRITEABLE callback before the loop gets its turn (stdin, other clients).
constexpr std::size_t kBudgetBytes = std::size_t{1024} * 1024;

} // namespace

Client::Frame::Frame(std::string_view payload, int protocol)
    : buffer(LWS_PRE + payload.size()), protocol(protocol)
{
    std::copy(payload.begin(), payload.end(), buffer.begin() + LWS_PRE);
}

Client::Client(lws* wsi, std::string id, const MessageLog* log)
    : wsi_(wsi), id_(std::move(id)), log_(log)
{
}

void Client::queueFrame(std::string_view payload, lws_write_protocol protocol)
{
    insert(insertionPoint(), Frame(payload, protocol));
}

void Client::queueFragmented(std::string_view payload, std::size_t parts)
{
    std::size_t at = insertionPoint();
    std::size_t offset = 0;
    for (std::size_t part = 0; part < parts; ++part) {
        const std::size_t length = payload.size() / parts + (part < payload.size() % parts);
        const int protocol = lws_write_ws_flags(LWS_WRITE_TEXT, part == 0, part + 1 == parts);
        insert(at++, Frame(payload.substr(offset, length), protocol));
        offset += length;
    }
}

void Client::queueClose(std::uint16_t code, std::string reason)
{
    insert(insertionPoint(), Close{code, std::move(reason)});
}

void Client::queuePush(std::shared_ptr<PushJob> job)
{
    const std::uint64_t end = job->end();
    insert(outbox_.size(), Pushes{std::move(job), 0, end});
}

void Client::queuePublished(std::uint64_t first, std::uint64_t end)
{
    if (!outbox_.empty()) {
        if (auto* last = std::get_if<Published>(&outbox_.back()); last && last->end == first) {
            last->end = end;
            lws_callback_on_writable(wsi_);
            return;
        }
    }
    insert(outbox_.size(), Published{first, end});
}

void Client::hold(bool on)
{
    holding_ = on;
    if (!on) {
        lws_callback_on_writable(wsi_);
    }
}

std::uint64_t Client::resume(std::uint64_t start, std::uint64_t logEnd)
{
    hold(false);
    std::size_t at = outbox_.size();
    std::uint64_t position = logEnd;
    for (std::size_t i = 0; i < outbox_.size(); ++i) {
        const auto* published = std::get_if<Published>(&outbox_[i]);
        if (published != nullptr && published->next < published->end) {
            at = i;
            position = published->next;
            break;
        }
    }
    if (start < position) {
        insert(at, Published{start, position});
        return position - start;
    }
    for (Item& item : outbox_) {
        if (auto* published = std::get_if<Published>(&item)) {
            published->next = std::max(published->next, std::min(start, published->end));
        }
    }
    return 0;
}

std::optional<std::uint64_t> Client::oldestPublished() const
{
    std::optional<std::uint64_t> oldest;
    for (const Item& item : outbox_) {
        const auto* published = std::get_if<Published>(&item);
        if (published != nullptr && published->next < published->end &&
            (!oldest || published->next < *oldest)) {
            oldest = published->next;
        }
    }
    return oldest;
}

std::optional<Client::Message> Client::receive(const char* data, std::size_t length, bool binary,
                                               bool last)
{
    incoming_.append(data, length);
    if (!last) {
        return std::nullopt;
    }
    Message message{std::move(incoming_), binary};
    incoming_.clear();
    return message;
}

Client::WriteResult Client::write()
{
    WriteResult result;
    if (closing_) {
        return result; // lws calls once more while it sends the close frame
    }
    budget_ = kBudgetBytes;
    batch_.resize(LWS_PRE);
    while (!outbox_.empty()) {
        if (batch_.size() >= LWS_PRE + kBatchBytes) {
            if (!flushBatch()) {
                result.hangUp = true;
                return result;
            }
            if (budget_ == 0 || lws_send_pipe_choked(wsi_)) {
                lws_callback_on_writable(wsi_);
                return result;
            }
        }
        Item& item = outbox_.front();
        if (auto* published = std::get_if<Published>(&item)) {
            if (published->next == published->end) {
                outbox_.pop_front();
                continue;
            }
            if (holding_) {
                break;
            }
            appendPushFrame(batch_, log_->message(published->next));
            ++published->next;
            ++result.pushed;
            continue;
        }
        if (auto* pushes = std::get_if<Pushes>(&item)) {
            const std::uint64_t due = std::min(pushes->end, pushes->job->due());
            if (pushes->next < due) {
                appendPushFrame(batch_, pushes->job->messageNumber(pushes->next),
                                pushes->job->spec().size, pushes->job->spec().stamp);
                ++pushes->next;
                ++result.pushed;
                continue;
            }
            if (pushes->next < pushes->end) {
                break; // the rest is not due yet
            }
            const std::shared_ptr<PushJob> job = std::move(pushes->job);
            const std::uint64_t end = pushes->end;
            outbox_.pop_front();
            if (end == job->end()) {
                job->targetDone(wsi_, end);
            }
            continue;
        }
        if (!flushBatch()) {
            result.hangUp = true;
            return result;
        }
        if (auto* close = std::get_if<Close>(&item)) {
            lws_close_reason(wsi_, static_cast<lws_close_status>(close->code),
                             reinterpret_cast<unsigned char*>(close->reason.data()),
                             close->reason.size());
            closing_ = true;
            result.hangUp = true;
            return result;
        }
        auto& frame = std::get<Frame>(item);
        const std::size_t length = frame.buffer.size() - LWS_PRE;
        if (lws_write(wsi_, frame.buffer.data() + LWS_PRE, length,
                      static_cast<lws_write_protocol>(frame.protocol)) < 0) {
            result.hangUp = true;
            return result;
        }
        budget_ -= std::min(budget_, length);
        written_ = std::move(frame.buffer);
        outbox_.pop_front();
        if (budget_ == 0 || lws_send_pipe_choked(wsi_)) {
            lws_callback_on_writable(wsi_);
            return result;
        }
    }
    result.hangUp = !flushBatch();
    return result;
}

void Client::abandonPushes()
{
    std::vector<const PushJob*> told;
    for (Item& item : outbox_) {
        auto* pushes = std::get_if<Pushes>(&item);
        if (pushes == nullptr || std::ranges::find(told, pushes->job.get()) != told.end()) {
            continue;
        }
        told.push_back(pushes->job.get());
        pushes->job->targetDone(wsi_, pushes->next);
    }
    outbox_.clear();
}

std::size_t Client::insertionPoint()
{
    // Step back over push runs with nothing due yet, and split a run that is partly due.
    std::size_t at = outbox_.size();
    while (at > 0) {
        auto* pushes = std::get_if<Pushes>(&outbox_[at - 1]);
        if (pushes == nullptr) {
            break;
        }
        const std::uint64_t due = std::min(pushes->end, pushes->job->due());
        if (due <= pushes->next) {
            --at;
            continue;
        }
        if (due < pushes->end) {
            Pushes rest{pushes->job, due, pushes->end};
            pushes->end = due;
            outbox_.insert(outbox_.begin() + static_cast<std::ptrdiff_t>(at), std::move(rest));
        }
        break;
    }
    return at;
}

void Client::insert(std::size_t at, Item item)
{
    outbox_.insert(outbox_.begin() + static_cast<std::ptrdiff_t>(at), std::move(item));
    lws_callback_on_writable(wsi_);
}

bool Client::flushBatch() noexcept
{
    const std::size_t length = batch_.size() - LWS_PRE;
    if (length == 0) {
        return true;
    }
    const int written = lws_write(wsi_, reinterpret_cast<unsigned char*>(batch_.data()) + LWS_PRE,
                                  length, LWS_WRITE_RAW);
    batch_.resize(LWS_PRE);
    budget_ -= std::min(budget_, length);
    return written >= 0;
}

} // namespace wspush::testserver
