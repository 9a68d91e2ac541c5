// SPDX-License-Identifier: MIT
#include "event/event_loop.hpp"

#include <stdexcept>

namespace wspush::event {

EventLoop::EventLoop()
{
    lws_context_creation_info info{};
    // No TLS set-up here: OpenSSL initialises itself when a wss:// client first needs it,
    // and a daemon on ws:// then never touches most of libcrypto (about 4 MB of RSS).
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    // lws reads at most this much per poll (4 KiB by default): at 200-byte frames, larger
    // reads cut the daemon's kernel time per message by two thirds.
    info.pt_serv_buf_size = 64 * 1024;
    info.port = CONTEXT_PORT_NO_LISTEN;
    context_ = lws_create_context(&info);
    if (context_ == nullptr)
        throw std::runtime_error("cannot create the libwebsockets context");
}

EventLoop::~EventLoop()
{
    lws_context_destroy(context_);
}

void EventLoop::run(const std::function<void()>& afterIteration)
{
    stopping_ = false;
    while (!stopping_) {
        if (lws_service(context_, 0) < 0)
            throw std::runtime_error("the libwebsockets event loop failed");
        afterIteration();
    }
}

} // namespace wspush::event
