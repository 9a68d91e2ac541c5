// SPDX-License-Identifier: MIT
#include "event/epoll_set.hpp"

#include <cerrno>
#include <sys/epoll.h>

#include "system/errno_error.hpp"

namespace wspush::event {

namespace {

int createEpoll()
{
    const int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0)
        throw system::errnoError(errno, "epoll_create1");
    return fd;
}

} // namespace

EpollSet::EpollSet(EventLoop& loop)
    : epoll_(createEpoll()), watch_(loop, epoll_.get(), [this] { dispatch(); })
{
}

EpollSet::Token EpollSet::add(int fd, std::uint32_t events, Callback callback) noexcept
{
    try {
        const Token token = nextToken_++;
        epoll_event event{};
        event.events = events;
        event.data.u64 = token;
        if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0)
            return 0;
        entries_.emplace(token, std::make_shared<Entry>(Entry{fd, std::move(callback)}));
        return token;
    } catch (const std::bad_alloc&) {
        errno = ENOMEM;
        return 0;
    }
}

bool EpollSet::modify(Token token, std::uint32_t events) noexcept
{
    const auto it = entries_.find(token);
    if (it == entries_.end())
        return false;
    epoll_event event{};
    event.events = events;
    event.data.u64 = token;
    return epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, it->second->fd, &event) == 0;
}

void EpollSet::remove(Token token) noexcept
{
    const auto it = entries_.find(token);
    if (it == entries_.end())
        return;
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second->fd, nullptr);
    entries_.erase(it);
}

void EpollSet::dispatch() noexcept
{
    epoll_event events[64];
    const int count = epoll_wait(epoll_.get(), events, 64, 0);
    for (int i = 0; i < count; ++i) {
        const auto it = entries_.find(events[i].data.u64);
        if (it == entries_.end())
            continue; // removed by an earlier callback of this batch
        // Kept alive while it runs, should it remove itself.
        const std::shared_ptr<Entry> entry = it->second;
        entry->callback(events[i].events);
    }
}

} // namespace wspush::event
