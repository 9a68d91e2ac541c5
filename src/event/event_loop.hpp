// SPDX-License-Identifier: MIT
#pragma once

#include <functional>

#include <libwebsockets.h>

namespace wspush::event {

// The one lws context everything runs on: a single thread, lws's own poll loop. It has no
// vhost of its own; each user (the push client, the signal watcher, socket servers)
// creates the vhost it needs.
class EventLoop
{
public:
    // Throws on error.
    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    lws_context* context() const noexcept { return context_; }

    // Services events until stop(); `afterIteration` runs after each batch of events, so
    // work queued while handling them (sink writes) is done once per batch.
    void run(const std::function<void()>& afterIteration);
    void stop() noexcept { stopping_ = true; }

private:
    lws_context* context_ = nullptr;
    bool stopping_ = false;
};

} // namespace wspush::event
