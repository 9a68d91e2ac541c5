// SPDX-License-Identifier: MIT
#include "testserver/message_log.hpp"

#include <algorithm>
#include <cassert>

#include "testserver/control.hpp"

namespace wspush::testserver {

MessageLog::MessageLog(std::string idPrefix, std::uint64_t historySize)
    : idPrefix_(std::move(idPrefix)), historySize_(historySize)
{
}

std::uint64_t MessageLog::historyFirst() const noexcept
{
    return nextK_ - std::min(historySize_, nextK_ - 1);
}

std::string MessageLog::idOf(std::uint64_t k) const
{
    return idPrefix_ + std::to_string(k);
}

std::optional<std::uint64_t> MessageLog::numberOf(std::string_view id) const
{
    if (!id.starts_with(idPrefix_)) {
        return std::nullopt;
    }
    const std::string_view digits = id.substr(idPrefix_.size());
    std::uint64_t k = 0;
    if (digits.empty() || digits[0] == '0' || !parseNumber(digits, k)) {
        return std::nullopt;
    }
    return k;
}

std::uint64_t MessageLog::publish(std::uint64_t count, std::size_t size, bool stamped)
{
    const std::uint64_t first = nextK_;
    runs_.push_back(Run{first, count, nextSeq_, size, stamped, stamped ? realtimeNs() : 0});
    nextK_ += count;
    nextSeq_ += count;
    return first;
}

MessageLog::ResumePoint MessageLog::resumePoint(std::string_view id) const
{
    const auto k = numberOf(id);
    const std::uint64_t first = historyFirst();
    // The message just before the history is as good as one in it: nothing after it is lost.
    if (!k || *k >= nextK_ || *k + 1 < first) {
        return {first, false};
    }
    return {*k + 1, true};
}

PushMessage MessageLog::message(std::uint64_t k) const
{
    const auto after = std::ranges::upper_bound(runs_, k, {}, &Run::firstK);
    assert(after != runs_.begin());
    const Run& run = *std::prev(after);
    assert(k - run.firstK < run.count);
    PushMessage message = plainPushMessage(k, run.size, run.stamped);
    message.stampNs = run.stampNs;
    message.ids = true;
    message.idPrefix = idPrefix_;
    message.seq = run.firstSeq + (k - run.firstK);
    return message;
}

void MessageLog::trim(std::uint64_t keepFrom)
{
    const std::uint64_t keep = std::min(keepFrom, historyFirst());
    while (!runs_.empty() && runs_.front().firstK + runs_.front().count <= keep) {
        runs_.pop_front();
    }
}

} // namespace wspush::testserver
