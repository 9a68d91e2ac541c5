// SPDX-License-Identifier: MIT
#pragma once

#include <functional>
#include <initializer_list>

#include <libwebsockets.h>

#include "event/event_loop.hpp"

namespace wspush::event {

// Delivers signals as loop events: they are blocked and read from a signalfd that lws
// polls (lws's own signal_cb is ignored by its default poll loop).
class SignalWatcher
{
public:
    using Handler = std::function<void(int signal)>;

    // Throws on error.
    SignalWatcher(EventLoop& loop, std::initializer_list<int> signals, Handler handler);
    ~SignalWatcher();
    SignalWatcher(const SignalWatcher&) = delete;
    SignalWatcher& operator=(const SignalWatcher&) = delete;

    // Blocks `signals` for the calling thread, so none is lost before the watcher exists.
    static void block(std::initializer_list<int> signals);

private:
    static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                        std::size_t length);
    void readSignals(int fd) noexcept;

    Handler handler_;
    lws_vhost* vhost_ = nullptr;
};

} // namespace wspush::event
