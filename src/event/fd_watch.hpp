// SPDX-License-Identifier: MIT
#pragma once

#include <functional>

#include <libwebsockets.h>

#include "event/event_loop.hpp"

namespace wspush::event {

// One file descriptor the loop polls for its owner, like MPD's SocketEvent: lws adopts a
// dup() of it as a raw file (lws aborts on an fd it already polls) and reports when it is
// readable, and writable while that is asked for. The owner keeps its own fd.
class FdWatch
{
public:
    using Callback = std::function<void()>;

    // Throws on error. `onClosed` runs when lws stops polling the fd on its own (POLLHUP or
    // POLLERR, as a peer's reset brings, without a readable event first).
    FdWatch(EventLoop& loop, int fd, Callback onReadable, Callback onWritable = {},
            Callback onClosed = {});
    ~FdWatch();
    FdWatch(const FdWatch&) = delete;
    FdWatch& operator=(const FdWatch&) = delete;

    // Asks for one onWritable() call once the fd can be written.
    void wantWritable() noexcept;
    // Stops or starts reporting readability: what the peer sends waits in the kernel.
    void setReadable(bool wanted) noexcept;

private:
    static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                        std::size_t length);

    Callback onReadable_;
    Callback onWritable_;
    Callback onClosed_;
    lws_vhost* vhost_ = nullptr;
    lws* wsi_ = nullptr;
};

} // namespace wspush::event
