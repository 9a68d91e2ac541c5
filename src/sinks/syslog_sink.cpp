// SPDX-License-Identifier: MIT
#include "sinks/syslog_sink.hpp"

#include <ctime>
#include <unistd.h>

#include "record/base64.hpp"

namespace wspush::sinks {

SyslogSink::SyslogSink(const config::SyslogSinkConfig& config, event::EventLoop& loop)
    : DatagramSink("syslog " + config.socket, config.socket, config.maxQueue, loop),
      config_(config), tag_(config.identifier + "[" + std::to_string(getpid()) + "]: ")
{
}

void SyslogSink::encode(const record::Record& record, std::string& datagram)
{
    // Local time, as syslog(3) writes it: syslogd adds the host and may rewrite the time.
    const std::time_t seconds = record.receivedUs / 1'000'000;
    std::tm local{};
    localtime_r(&seconds, &local);
    char header[48];
    const std::size_t length = std::strftime(header, sizeof header, "%b %e %H:%M:%S ", &local);

    datagram.reserve(record.payload.size() + 64);
    datagram += '<';
    datagram += std::to_string(config_.facility | config_.priority);
    datagram += '>';
    datagram.append(header, length);
    datagram.append(tag_);
    if (record.binary)
        record::appendBase64(record.payload, datagram);
    else
        datagram.append(record.payload);
}

} // namespace wspush::sinks
