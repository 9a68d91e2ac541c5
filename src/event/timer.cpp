// SPDX-License-Identifier: MIT
#include "event/timer.hpp"

#include <type_traits>

namespace wspush::event {

Timer::Timer(lws_context* context, Callback callback)
    : context_(context), callback_(std::move(callback))
{
    static_assert(std::is_standard_layout_v<Node>);
    node_.owner = this;
}

Timer::~Timer()
{
    cancel();
}

void Timer::schedule(std::chrono::microseconds delay) noexcept
{
    pending_ = true;
    lws_sul_schedule(context_, 0, &node_.sul, fire, delay.count() > 0 ? delay.count() : 1);
}

void Timer::cancel() noexcept
{
    if (!pending_)
        return;
    pending_ = false;
    lws_sul_cancel(&node_.sul);
}

void Timer::fire(lws_sorted_usec_list_t* sul)
{
    Timer* timer = reinterpret_cast<Node*>(sul)->owner;
    timer->pending_ = false;
    timer->callback_();
}

} // namespace wspush::event
