// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "event/event_loop.hpp"
#include "event/fd_watch.hpp"
#include "system/unique_fd.hpp"

namespace wspush::event {

// Many fds behind one loop watch: an epoll instance the loop polls. Unlike FdWatch, each fd
// is watched for exactly the events asked for (EPOLLONESHOT to ask once), so the write end
// of a pipe whose reader went away (EPOLLERR, which poll() reports whatever was asked for)
// does not keep the loop busy; and it costs no lws vhost per fd.
class EpollSet
{
public:
    // The events epoll reported (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP).
    using Callback = std::function<void(std::uint32_t events)>;
    using Token = std::uint64_t;

    // Throws on error.
    explicit EpollSet(EventLoop& loop);
    EpollSet(const EpollSet&) = delete;
    EpollSet& operator=(const EpollSet&) = delete;

    // Watches `fd` (kept open by the caller until remove()); 0 on error, with errno set.
    Token add(int fd, std::uint32_t events, Callback callback) noexcept;
    // Changes the events (re-arms a one-shot watch).
    bool modify(Token token, std::uint32_t events) noexcept;
    // Stops watching; a callback may remove any watch, its own too.
    void remove(Token token) noexcept;

private:
    struct Entry
    {
        int fd;
        Callback callback;
    };

    void dispatch() noexcept;

    system::UniqueFd epoll_;
    std::unordered_map<Token, std::shared_ptr<Entry>> entries_;
    Token nextToken_ = 1;
    FdWatch watch_;
};

} // namespace wspush::event
