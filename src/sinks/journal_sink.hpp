// SPDX-License-Identifier: MIT
#pragma once

#include <string>

#include "config/config.hpp"
#include "sinks/datagram_sink.hpp"

namespace wspush::sinks {

// One journal entry per record, sent with journald's native protocol: MESSAGE is the
// payload (base64 for a binary one) and WSPUSH_SEQ, WSPUSH_TS, WSPUSH_SERVER make
// `journalctl WSPUSH_SEQ=42` find it.
class JournalSink final : public DatagramSink
{
public:
    JournalSink(const config::JournalSinkConfig& config, event::EventLoop& loop);

    void onLinkUp(const std::string& server) noexcept override { server_ = server; }

private:
    void encode(const record::Record& record, std::string& datagram) override;
    bool sendOversized(int socket, const std::string& datagram) noexcept override;

    config::JournalSinkConfig config_;
    std::string server_;
};

} // namespace wspush::sinks
