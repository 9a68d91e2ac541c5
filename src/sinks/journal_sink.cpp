// SPDX-License-Identifier: MIT
#include "sinks/journal_sink.hpp"

#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "record/base64.hpp"
#include "record/timestamp.hpp"
#include "system/unique_fd.hpp"

namespace wspush::sinks {

namespace {

constexpr const char* journalSocket = "/run/systemd/journal/socket";

// KEY=value, or for a value that holds a newline the binary-safe form:
// KEY '\n' little-endian 64-bit length, value, '\n'.
void appendField(std::string& datagram, std::string_view key, std::string_view value)
{
    datagram.append(key);
    if (value.find('\n') == std::string_view::npos) {
        datagram.push_back('=');
        datagram.append(value);
    } else {
        datagram.push_back('\n');
        std::uint64_t length = value.size();
        for (int i = 0; i < 8; ++i) {
            datagram.push_back(static_cast<char>(length & 0xFF));
            length >>= 8;
        }
        datagram.append(value);
    }
    datagram.push_back('\n');
}

} // namespace

JournalSink::JournalSink(const config::JournalSinkConfig& config, event::EventLoop& loop)
    : DatagramSink("journal", journalSocket, config.maxQueue, loop), config_(config)
{
}

void JournalSink::encode(const record::Record& record, std::string& datagram)
{
    datagram.reserve(record.payload.size() + 160);
    if (record.binary) {
        std::string text;
        record::appendBase64(record.payload, text);
        appendField(datagram, "MESSAGE", text);
        appendField(datagram, "WSPUSH_BINARY", "1");
    } else {
        appendField(datagram, "MESSAGE", record.payload);
    }
    appendField(datagram, "PRIORITY", std::to_string(config_.priority));
    appendField(datagram, "SYSLOG_IDENTIFIER", config_.identifier);
    appendField(datagram, "WSPUSH_SEQ", std::to_string(record.seq));
    std::string timestamp;
    record::appendTimestamp(record.receivedUs, timestamp);
    appendField(datagram, "WSPUSH_TS", timestamp);
    appendField(datagram, "WSPUSH_SERVER", server_);
}

// journald takes an entry too large for a datagram as a sealed memfd passed along.
bool JournalSink::sendOversized(int socket, const std::string& datagram) noexcept
{
    const system::UniqueFd memory(memfd_create("wspushd-journal", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!memory.isValid())
        return false;
    for (std::size_t done = 0; done < datagram.size();) {
        const ssize_t written =
            ::write(memory.get(), datagram.data() + done, datagram.size() - done);
        if (written <= 0)
            return false;
        done += static_cast<std::size_t>(written);
    }
    if (fcntl(memory.get(), F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
        return false;

    char control[CMSG_SPACE(sizeof(int))]{};
    msghdr message{};
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    const int fd = memory.get();
    std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
    return sendmsg(socket, &message, MSG_NOSIGNAL) >= 0;
}

} // namespace wspush::sinks
