// SPDX-License-Identifier: MIT
#include "wire/resolver.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "system/log.hpp"

namespace wspush::wire {

namespace {

// An address literal as getaddrinfo reads it (scope ids included), which never queries.
bool numericAddresses(const std::string& host, std::uint16_t port, std::vector<Address>& addresses)
{
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0)
        return false;
    for (const addrinfo* node = found; node != nullptr; node = node->ai_next) {
        if (node->ai_addrlen > sizeof(sockaddr_storage))
            continue;
        Address address;
        std::memcpy(&address.storage, node->ai_addr, node->ai_addrlen);
        address.length = node->ai_addrlen;
        addresses.push_back(address);
    }
    freeaddrinfo(found);
    return !addresses.empty();
}

void setPort(Address& address, std::uint16_t port) noexcept
{
    if (address.family() == AF_INET)
        reinterpret_cast<sockaddr_in*>(&address.storage)->sin_port = htons(port);
    else if (address.family() == AF_INET6)
        reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_port = htons(port);
}

} // namespace

Resolver::LibraryUse::LibraryUse()
{
    const int status = ares_library_init(ARES_LIB_INIT_ALL);
    if (status != ARES_SUCCESS)
        throw std::runtime_error(std::string("cannot set up c-ares: ") + ares_strerror(status));
}

Resolver::LibraryUse::~LibraryUse()
{
    ares_library_cleanup();
}

Resolver::Resolver(event::EventLoop& loop, std::string resolvConf)
    : resolvConf_(std::move(resolvConf)), confStamp_(stampOf(resolvConf_)), sockets_(loop),
      timeout_(loop.context(), [this] { onTimeout(); }),
      delivery_(loop.context(), [this] { deliver(); })
{
    channel_ = createChannel();
}

Resolver::~Resolver()
{
    destroyChannel();
}

void Resolver::resolve(const std::string& host, std::uint16_t port, Callback callback)
{
    cancel();
    host_ = host;
    port_ = port;
    callback_ = std::move(callback);
    if (numericAddresses(host, port, addresses_)) {
        delivery_.schedule(std::chrono::microseconds(0));
        return;
    }
    refreshChannel();
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = ARES_AI_NUMERICSERV;
    const std::string service = std::to_string(port);
    auto lookup = std::make_unique<Lookup>(Lookup{this, generation_});
    // May call back at once (/etc/hosts, a malformed name): finish() defers the answer.
    ares_getaddrinfo(channel_, host.c_str(), service.c_str(), &hints, onAddrInfo, lookup.release());
    updateTimeout();
}

void Resolver::cancel() noexcept
{
    ++generation_;
    callback_ = nullptr;
    addresses_.clear();
    error_.clear();
    delivery_.cancel();
    if (channel_ != nullptr)
        ares_cancel(channel_);
    updateTimeout();
}

Resolver::ConfStamp Resolver::stampOf(const std::string& path) noexcept
{
    struct stat status = {};
    if (stat(path.c_str(), &status) != 0)
        return {};
    ConfStamp stamp;
    stamp.exists = true;
    stamp.device = status.st_dev;
    stamp.inode = status.st_ino;
    stamp.size = status.st_size;
    stamp.modifiedNs = std::int64_t{status.st_mtim.tv_sec} * 1'000'000'000 + status.st_mtim.tv_nsec;
    return stamp;
}

ares_channel Resolver::createChannel()
{
    ares_options options{};
    options.sock_state_cb = onSocketState;
    options.sock_state_cb_data = this;
    options.resolvconf_path = resolvConf_.data();
    ares_channel channel = nullptr;
    const int status =
        ares_init_options(&channel, &options, ARES_OPT_SOCK_STATE_CB | ARES_OPT_RESOLVCONF);
    if (status != ARES_SUCCESS)
        throw std::runtime_error("cannot set up the resolver (" + resolvConf_ +
                                 "): " + ares_strerror(status));
    return channel;
}

void Resolver::refreshChannel()
{
    const ConfStamp stamp = stampOf(resolvConf_);
    if (stamp == confStamp_)
        return;
    ares_channel fresh = nullptr;
    try {
        fresh = createChannel();
    } catch (const std::runtime_error& error) {
        // The old servers may still answer; the next lookup tries again.
        log::warning(std::string(error.what()) + "; keeping the name servers read before");
        return;
    }
    destroyChannel();
    channel_ = fresh;
    confStamp_ = stamp;
    log::debug(resolvConf_ + " changed: name servers read again");
}

void Resolver::destroyChannel() noexcept
{
    if (channel_ == nullptr)
        return;
    ++generation_;
    // Calls back pending lookups with ARES_EDESTRUCTION and closes the sockets, saying so.
    ares_destroy(channel_);
    channel_ = nullptr;
    for (const auto& [fd, token] : watched_)
        sockets_.remove(token);
    watched_.clear();
    timeout_.cancel();
}

void Resolver::onSocketState(void* data, ares_socket_t fd, int readable, int writable)
{
    static_cast<Resolver*>(data)->watchSocket(fd, readable != 0, writable != 0);
}

void Resolver::watchSocket(ares_socket_t fd, bool readable, bool writable) noexcept
{
    const auto it = watched_.find(fd);
    if (!readable && !writable) {
        // Said before c-ares closes it.
        if (it != watched_.end()) {
            sockets_.remove(it->second);
            watched_.erase(it);
        }
        return;
    }
    const std::uint32_t events = (readable ? EPOLLIN : 0U) | (writable ? EPOLLOUT : 0U);
    if (it != watched_.end()) {
        sockets_.modify(it->second, events);
        return;
    }
    const event::EpollSet::Token token = sockets_.add(
        fd, events, [this, fd](std::uint32_t happened) { onSocketEvents(fd, happened); });
    try {
        if (token != 0) {
            watched_.emplace(fd, token);
            return;
        }
    } catch (const std::bad_alloc&) {
        sockets_.remove(token);
        errno = ENOMEM;
    }
    // The query then times out, with c-ares's reason.
    log::warning(std::string("cannot watch a DNS socket: ") + std::strerror(errno));
}

void Resolver::onSocketEvents(ares_socket_t fd, std::uint32_t events) noexcept
{
    // An error (a refused UDP query) is read as such by c-ares.
    const bool readable = (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0;
    const bool writable = (events & (EPOLLOUT | EPOLLERR)) != 0;
    ares_process_fd(channel_, readable ? fd : ARES_SOCKET_BAD, writable ? fd : ARES_SOCKET_BAD);
    updateTimeout();
}

void Resolver::onTimeout() noexcept
{
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    updateTimeout();
}

void Resolver::updateTimeout() noexcept
{
    timeval left{};
    if (channel_ == nullptr || ares_timeout(channel_, nullptr, &left) == nullptr) {
        timeout_.cancel();
        return;
    }
    // A millisecond late, so that c-ares finds the query expired rather than the loop
    // spinning through its last microseconds.
    timeout_.schedule(std::chrono::seconds(left.tv_sec) + std::chrono::microseconds(left.tv_usec) +
                      std::chrono::milliseconds(1));
}

void Resolver::onAddrInfo(void* arg, int status, int, ares_addrinfo* result)
{
    const std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(arg));
    const std::unique_ptr<ares_addrinfo, decltype(&ares_freeaddrinfo)> owned(result,
                                                                             ares_freeaddrinfo);
    if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION)
        return;
    if (lookup->generation != lookup->resolver->generation_)
        return;
    lookup->resolver->finish(status, result);
}

void Resolver::finish(int status, const ares_addrinfo* result) noexcept
{
    try {
        std::vector<Address> addresses;
        if (status == ARES_SUCCESS && result != nullptr) {
            for (const ares_addrinfo_node* node = result->nodes; node != nullptr;
                 node = node->ai_next) {
                if ((node->ai_family != AF_INET && node->ai_family != AF_INET6) ||
                    node->ai_addrlen > sizeof(sockaddr_storage))
                    continue;
                Address address;
                std::memcpy(&address.storage, node->ai_addr, node->ai_addrlen);
                address.length = node->ai_addrlen;
                setPort(address, port_);
                addresses.push_back(address);
            }
        }
        if (addresses.empty()) {
            error_ = "cannot resolve " + host_ + ": " +
                     ares_strerror(status == ARES_SUCCESS ? ARES_ENODATA : status);
        } else {
            addresses_ = interleaveFamilies(std::move(addresses));
            std::string list;
            for (const Address& address : addresses_) {
                if (!list.empty())
                    list += ", ";
                list += address.text();
            }
            log::debug("resolved " + host_ + ": " + list);
        }
    } catch (const std::bad_alloc&) {
        addresses_.clear();
        error_ = "cannot resolve: out of memory";
    }
    // Never from inside c-ares: the callback may resolve again or destroy this resolver.
    delivery_.schedule(std::chrono::microseconds(0));
}

void Resolver::deliver() noexcept
{
    Callback callback = std::move(callback_);
    callback_ = nullptr;
    std::vector<Address> addresses = std::move(addresses_);
    addresses_.clear();
    const std::string error = std::move(error_);
    error_.clear();
    if (callback)
        callback(std::move(addresses), error);
}

} // namespace wspush::wire
