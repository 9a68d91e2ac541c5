// SPDX-License-Identifier: MIT
#pragma once

#include <string>

#include "config/config.hpp"
#include "sinks/datagram_sink.hpp"

namespace wspush::sinks {

// One syslog message per record, in the form syslog(3) sends to /dev/log
// ("<PRI>Mmm dd hh:mm:ss IDENT[PID]: payload"), for hosts that forward with rsyslog.
class SyslogSink final : public DatagramSink
{
public:
    SyslogSink(const config::SyslogSinkConfig& config, event::EventLoop& loop);

private:
    void encode(const record::Record& record, std::string& datagram) override;

    config::SyslogSinkConfig config_;
    std::string tag_; // "IDENT[PID]: "
};

} // namespace wspush::sinks
