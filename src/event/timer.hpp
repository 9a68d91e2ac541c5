// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <functional>

#include <libwebsockets.h>

namespace wspush::event {

// A one-shot timer on the lws loop. Scheduling again moves it; destroying cancels it.
class Timer
{
public:
    using Callback = std::function<void()>;

    Timer(lws_context* context, Callback callback);
    ~Timer();
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    void schedule(std::chrono::microseconds delay) noexcept;
    void cancel() noexcept;
    bool isPending() const noexcept { return pending_; }

private:
    // Standard layout, so the sul lws hands back converts to the node holding it.
    struct Node
    {
        lws_sorted_usec_list_t sul;
        Timer* owner;
    };

    static void fire(lws_sorted_usec_list_t* sul);

    lws_context* context_;
    Callback callback_;
    Node node_{};
    bool pending_ = false;
};

} // namespace wspush::event
