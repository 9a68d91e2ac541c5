// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "wspush/protocol.hpp"

namespace wspush {

// The daemon closed the connection, or it broke. Connect a new Subscriber to go on; a
// replay request with the last seq seen fills the hole.
class Disconnected : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

// A line that is neither a record nor an event; the Subscriber goes on with the next line.
class MalformedLine : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

// A client of the daemon's Unix socket: reads the records and events it writes and sends
// it requests. Records flow from the moment it connects, with no request needed.
class Subscriber
{
public:
    // `path` is a filesystem path, or "@NAME" for NAME in Linux's abstract namespace.
    // Throws std::system_error ("cannot connect to PATH: …") when it cannot connect.
    explicit Subscriber(const std::string& path);
    ~Subscriber();
    Subscriber(Subscriber&& other) noexcept;
    Subscriber& operator=(Subscriber&& other) noexcept;
    Subscriber(const Subscriber&) = delete;
    Subscriber& operator=(const Subscriber&) = delete;

    // Writes one request line (see protocol.hpp). Throws Disconnected.
    void send(std::string_view requestLine);

    // The next line from the daemon, or nullopt when none is complete within `timeout`.
    // Throws Disconnected, or MalformedLine.
    std::optional<Message> next(std::chrono::milliseconds timeout);

    // To wait for the daemon in one's own poll() loop, once next() has returned nullopt:
    // until then, lines already read may be waiting here rather than in the socket.
    int fd() const noexcept { return fd_; }

private:
    std::optional<std::string_view> takeLine() noexcept;
    void readMore();

    int fd_ = -1;
    std::string buffer_; // what was read; lines before begin_ were returned
    std::size_t begin_ = 0;
    std::size_t scanned_ = 0; // no '\n' between begin_ and here
};

} // namespace wspush
