// SPDX-License-Identifier: MIT
#pragma once

#include <ares.h>
#include <cstdint>
#include <functional>
#include <string>
#include <sys/types.h>
#include <unordered_map>
#include <vector>

#include "event/epoll_set.hpp"
#include "event/event_loop.hpp"
#include "event/timer.hpp"
#include "wire/address.hpp"

namespace wspush::wire {

// Looks names up without stalling the loop: c-ares on the lws loop, its sockets watched
// there (ARES_OPT_SOCK_STATE_CB) and its timeouts a loop timer; no thread. /etc/hosts is
// read at each lookup; resolv.conf again once it changed, as a laptop's does on a new
// network.
class Resolver
{
public:
    // The addresses to try, in order (families interleaved), or none and an error:
    // "cannot resolve NAME: REASON".
    using Callback = std::function<void(std::vector<Address> addresses, const std::string& error)>;

    // Throws on error. `resolvConf` is another file than /etc/resolv.conf, for tests.
    explicit Resolver(event::EventLoop& loop, std::string resolvConf = "/etc/resolv.conf");
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // Looks `host` up for TCP to `port`; an address literal answers without a query. Calls
    // back once, from the loop (never from inside resolve()), unless cancel() or another
    // resolve() comes first.
    void resolve(const std::string& host, std::uint16_t port, Callback callback);
    void cancel() noexcept;

private:
    // c-ares's argument for one lookup: a lookup cancelled while one of its two queries
    // (A, AAAA) had answered still calls back with success, so only the generation tells
    // a stale answer.
    struct Lookup
    {
        Resolver* resolver;
        std::uint64_t generation;
    };

    // Which resolv.conf the channel read: a replaced file (rename) has a new inode, an
    // edited one a new mtime.
    struct ConfStamp
    {
        bool exists = false;
        dev_t device = 0;
        ino_t inode = 0;
        off_t size = 0;
        std::int64_t modifiedNs = 0;

        bool operator==(const ConfStamp&) const = default;
    };

    // ares_library_init before the channel, ares_library_cleanup after it.
    struct LibraryUse
    {
        LibraryUse();
        ~LibraryUse();
        LibraryUse(const LibraryUse&) = delete;
        LibraryUse& operator=(const LibraryUse&) = delete;
    };

    static ConfStamp stampOf(const std::string& path) noexcept;
    static void onSocketState(void* data, ares_socket_t fd, int readable, int writable);
    static void onAddrInfo(void* arg, int status, int timeouts, ares_addrinfo* result);

    // Throws on error.
    ares_channel createChannel();
    void refreshChannel();
    void destroyChannel() noexcept;
    void watchSocket(ares_socket_t fd, bool readable, bool writable) noexcept;
    void onSocketEvents(ares_socket_t fd, std::uint32_t events) noexcept;
    void onTimeout() noexcept;
    void updateTimeout() noexcept;
    void finish(int status, const ares_addrinfo* result) noexcept;
    void deliver() noexcept;

    LibraryUse library_;
    std::string resolvConf_;
    ConfStamp confStamp_;
    event::EpollSet sockets_;
    std::unordered_map<ares_socket_t, event::EpollSet::Token> watched_;
    event::Timer timeout_;
    event::Timer delivery_;
    ares_channel channel_ = nullptr;
    std::uint64_t generation_ = 0;
    std::string host_;
    std::uint16_t port_ = 0;
    Callback callback_;
    std::vector<Address> addresses_;
    std::string error_;
};

} // namespace wspush::wire
