// SPDX-License-Identifier: MIT
#include "event/fd_watch.hpp"

#include <cerrno>
#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

#include "system/errno_error.hpp"
#include "system/unique_fd.hpp"

namespace wspush::event {

FdWatch::FdWatch(EventLoop& loop, int fd, Callback onReadable, Callback onWritable,
                 Callback onClosed)
    : onReadable_(std::move(onReadable)), onWritable_(std::move(onWritable)),
      onClosed_(std::move(onClosed))
{
    system::UniqueFd copy(fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!copy.isValid())
        throw system::errnoError(errno, "dup");
    // Static: lws reads the list until the vhost is freed.
    static const lws_protocols protocols[] = {
        {"wspush-fd", callback, sizeof(FdWatch*), 0, 0, nullptr, 0},
        {nullptr, nullptr, 0, 0, 0, nullptr, 0},
    };
    lws_context_creation_info info{};
    info.vhost_name = "fd";
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    vhost_ = lws_create_vhost(loop.context(), &info);
    if (vhost_ == nullptr)
        throw std::runtime_error("cannot create a vhost to watch an fd");
    lws_sock_file_fd_type descriptor{};
    descriptor.filefd = copy.get();
    wsi_ = lws_adopt_descriptor_vhost(vhost_, LWS_ADOPT_RAW_FILE_DESC, descriptor,
                                      protocols[0].name, nullptr);
    if (wsi_ == nullptr) {
        lws_vhost_destroy(vhost_);
        throw std::runtime_error("cannot watch an fd in the loop");
    }
    copy.release(); // lws closes it with the wsi
    // Through the wsi's own user data, which the destructor clears: lws may still call
    // for the wsi while it tears the vhost down.
    *static_cast<FdWatch**>(lws_wsi_user(wsi_)) = this;
}

FdWatch::~FdWatch()
{
    if (wsi_ != nullptr) {
        *static_cast<FdWatch**>(lws_wsi_user(wsi_)) = nullptr;
        // lws 4.1.6 leaves a raw file's wsi, and the fd, polled after its vhost is
        // destroyed: a hung-up socket then wakes the loop for ever.
        lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    }
    lws_vhost_destroy(vhost_);
}

void FdWatch::wantWritable() noexcept
{
    if (wsi_ != nullptr)
        lws_callback_on_writable(wsi_);
}

void FdWatch::setReadable(bool wanted) noexcept
{
    if (wsi_ != nullptr)
        lws_rx_flow_control(wsi_, wanted ? 1 : 0);
}

int FdWatch::callback(lws* wsi, lws_callback_reasons reason, void* user, void*, std::size_t)
{
    FdWatch* watch = user != nullptr ? *static_cast<FdWatch**>(user) : nullptr;
    if (watch == nullptr)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (watch->onReadable_)
            watch->onReadable_();
        break;
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        if (watch->onWritable_)
            watch->onWritable_();
        break;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (watch->wsi_ == wsi) {
            watch->wsi_ = nullptr;
            if (watch->onClosed_)
                watch->onClosed_();
        }
        break;
    default:
        break;
    }
    return 0;
}

} // namespace wspush::event
