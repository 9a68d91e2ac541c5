// SPDX-License-Identifier: MIT
#include "testserver/event_log.hpp"

#include <cstdio>
#include <string>

#include "testserver/control.hpp"

namespace wspush::testserver {

void EventLog::listening(int port)
{
    line("listening " + std::to_string(port));
}

void EventLog::header(std::string_view name, const std::optional<std::string>& value)
{
    line("header " + std::string(name) + " " + (value ? escapeLine(*value) : std::string("-")));
}

void EventLog::subprotocol(std::optional<std::string_view> name)
{
    line("subprotocol " + (name ? std::string(*name) : std::string("-")));
}

void EventLog::connected(std::string_view id)
{
    line("connected " + escapeLine(id));
}

void EventLog::heartbeat(std::uint64_t total)
{
    if (!quiet_) {
        line("heartbeat " + std::to_string(total));
    }
}

void EventLog::received(std::string_view text)
{
    line("received " + escapeLine(text));
}

void EventLog::receivedBinary(std::string_view bytes)
{
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string hex = "binary ";
    for (const char byte : bytes) {
        const auto value = static_cast<unsigned char>(byte);
        hex.push_back(kDigits[value >> 4]);
        hex.push_back(kDigits[value & 0xf]);
    }
    line(hex);
}

void EventLog::closed(unsigned code)
{
    line("closed " + std::to_string(code));
}

void EventLog::disconnected()
{
    line("disconnected");
}

void EventLog::pushed(std::uint64_t count)
{
    line("pushed " + std::to_string(count));
}

void EventLog::stats(const Stats& stats)
{
    line("stats clients=" + std::to_string(stats.clients) +
         " heartbeats=" + std::to_string(stats.heartbeats) +
         " received=" + std::to_string(stats.received) + " pushed=" + std::to_string(stats.pushed));
}

void EventLog::resumed(std::string_view client, std::string_view id, std::uint64_t count)
{
    line("resumed " + escapeLine(client) + " from " + escapeLine(id) + ": " +
         std::to_string(count) + " messages");
}

void EventLog::live(std::string_view client)
{
    line("live " + escapeLine(client));
}

void EventLog::unknownId(std::string_view client, std::string_view id,
                         const std::optional<std::string>& first)
{
    line("unknown-id " + escapeLine(client) + " " + escapeLine(id) +
         " first=" + first.value_or("-"));
}

void EventLog::history(const std::optional<std::string>& first,
                       const std::optional<std::string>& last, std::uint64_t count)
{
    line("history first=" + first.value_or("-") + " last=" + last.value_or("-") +
         " count=" + std::to_string(count));
}

void EventLog::ok(std::string_view verb)
{
    line("ok " + std::string(verb));
}

void EventLog::error(std::string_view message)
{
    line("error " + std::string(message));
}

void EventLog::line(std::string_view text)
{
    // A reader that went away must not stop the server; its tests are over anyway.
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

} // namespace wspush::testserver
