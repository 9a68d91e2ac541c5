// SPDX-License-Identifier: MIT
#include "sinks/datagram_sink.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>

#include "system/log.hpp"

namespace wspush::sinks {

namespace {

// A stopped receiver is polled this often; cheap, and bounds the delay after it resumes.
constexpr auto retryInterval = std::chrono::milliseconds(20);

} // namespace

DatagramSink::DatagramSink(std::string name, std::string socketPath, std::size_t maxQueue,
                           event::EventLoop& loop)
    : name_(std::move(name)), socketPath_(std::move(socketPath)), maxQueue_(maxQueue),
      outage_(name_), retryTimer_(loop.context(), [this] { flush(); })
{
}

bool DatagramSink::connectSocket() noexcept
{
    socket_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!socket_.isValid())
        return false;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socketPath_.c_str(), sizeof address.sun_path - 1);
    if (::connect(socket_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) !=
        0) {
        const int error = errno;
        socket_.reset();
        errno = error;
        return false;
    }
    return true;
}

void DatagramSink::deliver(const std::shared_ptr<const record::Record>& record) noexcept
{
    try {
        std::string datagram;
        encode(*record, datagram);
        // A burst within one loop iteration is sent now: only a receiver that does not
        // take entries makes the sink stop taking records.
        if (pendingBytes_ + datagram.size() > maxQueue_ && !outage_.ongoing())
            flush();
        pendingBytes_ += datagram.size();
        pending_.emplace_back(record->seq, std::move(datagram));
    } catch (const std::bad_alloc&) {
        ++counters_.dropped;
        outage_.countDrop();
    }
}

void DatagramSink::flush() noexcept
{
    if (pending_.empty())
        return;
    if (!socket_.isValid() && !connectSocket()) {
        fail(std::string("cannot connect to ") + socketPath_ + ": " + std::strerror(errno));
        return;
    }
    bool sent = false;
    while (!pending_.empty()) {
        const auto& [seq, datagram] = pending_.front();
        if (::send(socket_.get(), datagram.data(), datagram.size(), MSG_NOSIGNAL) < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EMSGSIZE && sendOversized(socket_.get(), datagram)) {
                // sent another way
            } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                // A receiver that took some and is full now is slow, not stopped.
                if (sent)
                    retryTimer_.schedule(retryInterval);
                else
                    fail(socketPath_ + " is not taking entries (is its reader stopped?)");
                return;
            } else if (errno == EMSGSIZE) {
                log::warning(name_ + ": dropped a record too large for " + socketPath_);
                ++counters_.dropped;
            } else {
                const int error = errno;
                socket_.reset(); // reconnect on the next try: the receiver may have restarted
                fail(std::string("cannot send to ") + socketPath_ + ": " + std::strerror(error));
                return;
            }
        } else {
            ++counters_.forwarded;
            sent = true;
            outage_.end(); // taking entries again, though a backlog may be left
        }
        pendingBytes_ -= datagram.size();
        handedOn_ = seq;
        pending_.pop_front();
    }
}

void DatagramSink::fail(const std::string& why) noexcept
{
    outage_.begin(log::Level::Warning, why + "; holding records in memory up to max_queue");
    retryTimer_.schedule(retryInterval);
}

} // namespace wspush::sinks
