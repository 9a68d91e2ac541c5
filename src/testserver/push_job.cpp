// SPDX-License-Identifier: MIT
#include "testserver/push_job.hpp"

#include <algorithm>
#include <cmath>

namespace wspush::testserver {

PushJob::PushJob(const PushSpec& spec, std::vector<lws*> targets, MessageCounter& counter,
                 FinishedHandler onFinished)
    : spec_(spec), targets_(std::move(targets)), counter_(&counter),
      onFinished_(std::move(onFinished))
{
}

PushJob::PushJob(const PushSpec& spec, FinishedHandler onFinished)
    : spec_(spec), onFinished_(std::move(onFinished)), publishing_(true)
{
}

void PushJob::activate(Clock::time_point now)
{
    active_ = true;
    if (!publishing_ && targets_.empty()) {
        onFinished_(*this);
        return;
    }
    lastAdvance_ = now;
    if (!publishing_ && spec_.count != 0) {
        firstK_ = counter_->take(spec_.count);
    }
    due_ = spec_.rate > 0 ? 1 : end();
}

bool PushJob::advance(Clock::time_point now, bool silent) noexcept
{
    if (!pacing()) {
        return false;
    }
    if (!silent) {
        elapsed_ += now - lastAdvance_;
    }
    lastAdvance_ = now;
    const double seconds = std::chrono::duration<double>(elapsed_).count();
    const double due = 1 + std::floor(seconds * spec_.rate);
    const std::uint64_t newDue =
        due >= static_cast<double>(end()) ? end() : static_cast<std::uint64_t>(due);
    const bool more = newDue > due_;
    due_ = newDue;
    return more;
}

std::uint64_t PushJob::messageNumber(std::uint64_t index) noexcept
{
    return spec_.count == 0 ? counter_->take(1) : firstK_ + index;
}

void PushJob::targetDone(lws* target, std::uint64_t written)
{
    std::erase(targets_, target);
    sent_ = std::max(sent_, written);
    if (active_ && targets_.empty()) {
        finish();
    }
}

std::uint64_t PushJob::takeDue() noexcept
{
    const std::uint64_t count = due_ - taken_;
    taken_ = due_;
    return count;
}

bool PushJob::finishIfAllTaken()
{
    if (!active_ || taken_ != end()) {
        return false;
    }
    sent_ = taken_;
    active_ = false;
    onFinished_(*this); // may destroy this job
    return true;
}

void PushJob::finish()
{
    if (spec_.count != 0) {
        counter_->giveBack(firstK_ + sent_, firstK_ + spec_.count);
    }
    onFinished_(*this);
}

} // namespace wspush::testserver
