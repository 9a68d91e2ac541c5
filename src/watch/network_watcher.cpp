// SPDX-License-Identifier: MIT
#include "watch/network_watcher.hpp"

#include <cerrno>
#include <cstring>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include "system/log.hpp"

namespace wspush::watch {

namespace {

// Messages closer together than this are one change.
constexpr auto settleTime = std::chrono::milliseconds(100);

} // namespace

NetworkWatcher::NetworkWatcher(event::EventLoop& loop, Handler onChange)
    : onChange_(std::move(onChange)), settle_(loop.context(), [this] { onChange_(); })
{
    socket_.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    address.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
                        RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
    if (!socket_.isValid() ||
        bind(socket_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        log::notice(std::string("cannot watch the network (rtnetlink: ") + std::strerror(errno) +
                    "): a changed network is noticed only when the link times out");
        socket_.reset();
        return;
    }
    try {
        watch_ = std::make_unique<event::FdWatch>(loop, socket_.get(), [this] { readMessages(); });
    } catch (const std::exception& error) {
        log::notice(std::string("cannot watch the network: ") + error.what());
        socket_.reset();
    }
}

NetworkWatcher::~NetworkWatcher() = default;

void NetworkWatcher::readMessages() noexcept
{
    alignas(nlmsghdr) char buffer[16384];
    bool changed = false;
    for (;;) {
        const ssize_t got = ::recv(socket_.get(), buffer, sizeof buffer, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            changed = changed || errno == ENOBUFS; // messages were lost: something changed
            break;
        }
        auto left = static_cast<unsigned>(got);
        for (auto* header = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(header, left);
             header = NLMSG_NEXT(header, left)) {
            switch (header->nlmsg_type) {
            case RTM_NEWLINK:
            case RTM_DELLINK:
            case RTM_NEWADDR:
            case RTM_DELADDR:
            case RTM_NEWROUTE:
            case RTM_DELROUTE:
                changed = true;
                break;
            default:
                break;
            }
        }
    }
    if (changed && !settle_.isPending())
        settle_.schedule(settleTime);
}

} // namespace wspush::watch
