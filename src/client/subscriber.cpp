// SPDX-License-Identifier: MIT
#include "wspush/subscriber.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>

#include "system/errno_error.hpp"

namespace wspush {

namespace {

constexpr std::size_t readSize = std::size_t{64} * 1024;

using MillisecondCount = std::chrono::milliseconds::rep;

std::system_error connectError(int error, const std::string& path)
{
    return system::errnoError(error, "cannot connect to " + path);
}

std::string lostConnection(int error)
{
    return "connection to the daemon lost: " + std::generic_category().message(error);
}

} // namespace

Subscriber::Subscriber(const std::string& path)
{
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    // An abstract name starts with a NUL instead of the '@' and ends where the address
    // length says; a filesystem path ends with a NUL. Either way: one byte more than the name.
    const bool abstract = path.starts_with('@');
    const std::string_view name = std::string_view(path).substr(abstract ? 1 : 0);
    const std::size_t used = name.size() + 1;
    if (used > sizeof address.sun_path)
        throw connectError(ENAMETOOLONG, path);
    name.copy(address.sun_path + (abstract ? 1 : 0), name.size());

    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        throw connectError(errno, path);
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + used);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), length) < 0) {
        const int error = errno;
        ::close(fd_);
        throw connectError(error, path);
    }
}

Subscriber::~Subscriber()
{
    if (fd_ >= 0)
        ::close(fd_);
}

Subscriber::Subscriber(Subscriber&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)), begin_(other.begin_),
      scanned_(other.scanned_)
{
}

Subscriber& Subscriber::operator=(Subscriber&& other) noexcept
{
    if (this != &other) {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        buffer_ = std::move(other.buffer_);
        begin_ = other.begin_;
        scanned_ = other.scanned_;
    }
    return *this;
}

void Subscriber::send(std::string_view requestLine)
{
    while (!requestLine.empty()) {
        const ssize_t sent = ::send(fd_, requestLine.data(), requestLine.size(), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            throw Disconnected(lostConnection(errno));
        }
        requestLine.remove_prefix(static_cast<std::size_t>(sent));
    }
}

std::optional<Message> Subscriber::next(std::chrono::milliseconds timeout)
{
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (const auto line = takeLine()) {
            std::string error;
            auto message = parseLine(*line, error);
            if (!message)
                throw MalformedLine("unreadable line from the daemon: " + error);
            return message;
        }
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd readable{fd_, POLLIN, 0};
        const int ready = ::poll(
            &readable, 1, static_cast<int>(std::clamp<MillisecondCount>(left.count(), 0, INT_MAX)));
        if (ready < 0 && errno != EINTR)
            throw Disconnected(lostConnection(errno));
        if (ready == 0)
            return std::nullopt;
        if (ready > 0)
            readMore();
    }
}

std::optional<std::string_view> Subscriber::takeLine() noexcept
{
    const std::size_t end = buffer_.find('\n', scanned_);
    if (end == std::string::npos) {
        scanned_ = buffer_.size();
        return std::nullopt;
    }
    const std::string_view line = std::string_view(buffer_).substr(begin_, end - begin_);
    begin_ = end + 1;
    scanned_ = begin_;
    return line;
}

void Subscriber::readMore()
{
    buffer_.erase(0, begin_);
    scanned_ -= begin_;
    begin_ = 0;
    const std::size_t kept = buffer_.size();
    buffer_.resize(kept + readSize);
    const ssize_t got = ::read(fd_, buffer_.data() + kept, readSize);
    const int error = errno;
    buffer_.resize(kept + static_cast<std::size_t>(got > 0 ? got : 0));
    if (got == 0)
        throw Disconnected("connection closed by the daemon");
    if (got < 0 && error != EINTR && error != EAGAIN)
        throw Disconnected(lostConnection(error));
}

} // namespace wspush
