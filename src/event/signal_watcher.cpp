// SPDX-License-Identifier: MIT
#include "event/signal_watcher.hpp"

#include <cerrno>
#include <signal.h>
#include <stdexcept>
#include <sys/signalfd.h>
#include <unistd.h>

#include "system/errno_error.hpp"
#include "system/unique_fd.hpp"

namespace wspush::event {

namespace {

sigset_t setOf(std::initializer_list<int> signals)
{
    sigset_t set;
    sigemptyset(&set);
    for (int signal : signals)
        sigaddset(&set, signal);
    return set;
}

} // namespace

void SignalWatcher::block(std::initializer_list<int> signals)
{
    const sigset_t set = setOf(signals);
    if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0)
        throw system::errnoError(errno, "sigprocmask");
}

SignalWatcher::SignalWatcher(EventLoop& loop, std::initializer_list<int> signals, Handler handler)
    : handler_(std::move(handler))
{
    block(signals);
    const sigset_t set = setOf(signals);
    system::UniqueFd fd(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd.isValid())
        throw system::errnoError(errno, "signalfd");

    // Static: lws reads the list until the vhost is freed, after this watcher is gone.
    static const lws_protocols protocols[] = {
        {"wspush-signals", callback, 0, 0, 0, nullptr, 0},
        {nullptr, nullptr, 0, 0, 0, nullptr, 0},
    };

    lws_context_creation_info info{};
    info.vhost_name = "signals";
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = this;
    vhost_ = lws_create_vhost(loop.context(), &info);
    if (vhost_ == nullptr)
        throw std::runtime_error("cannot create the signal vhost");

    lws_sock_file_fd_type descriptor{};
    descriptor.filefd = fd.get();
    if (lws_adopt_descriptor_vhost(vhost_, LWS_ADOPT_RAW_FILE_DESC, descriptor, protocols[0].name,
                                   nullptr) == nullptr)
        throw std::runtime_error("cannot watch the signalfd");
    fd.release(); // lws closes it with the context
}

SignalWatcher::~SignalWatcher()
{
    lws_vhost_destroy(vhost_);
}

int SignalWatcher::callback(lws* wsi, lws_callback_reasons reason, void*, void*, std::size_t)
{
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    auto* watcher = static_cast<SignalWatcher*>(lws_vhost_user(lws_get_vhost(wsi)));
    watcher->readSignals(lws_get_socket_fd(wsi));
    return 0;
}

void SignalWatcher::readSignals(int fd) noexcept
{
    signalfd_siginfo info{};
    while (::read(fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
        handler_(static_cast<int>(info.ssi_signo));
}

} // namespace wspush::event
