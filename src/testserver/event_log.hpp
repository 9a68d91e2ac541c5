// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wspush::testserver {

struct Stats
{
    std::size_t clients = 0;
    std::uint64_t heartbeats = 0;
    std::uint64_t received = 0;
    std::uint64_t pushed = 0;
};

// The events tests read from stdout, one line each, flushed at once.
class EventLog
{
public:
    // `quiet` drops the heartbeat lines, which would dominate a benchmark's output.
    explicit EventLog(bool quiet) : quiet_(quiet) {}

    void listening(int port);
    // Before "connected", when asked for: a request header (nullopt: absent) and the selected
    // subprotocol (nullopt: none).
    void header(std::string_view name, const std::optional<std::string>& value);
    void subprotocol(std::optional<std::string_view> name);
    void connected(std::string_view id);
    void heartbeat(std::uint64_t total);
    void received(std::string_view text);
    void receivedBinary(std::string_view bytes);
    void closed(unsigned code);
    void disconnected();
    void pushed(std::uint64_t count);
    void stats(const Stats& stats);
    // With --resume: a client resumes after ID, getting `count` messages from the history
    // first; or it goes on with live messages only, having named no id.
    void resumed(std::string_view client, std::string_view id, std::uint64_t count);
    void live(std::string_view client);
    // A client resumes after an ID the history does not hold; it starts at `first`, the oldest
    // id in the history (nullopt: the history is empty).
    void unknownId(std::string_view client, std::string_view id,
                   const std::optional<std::string>& first);
    // The `history` command; ids are nullopt when the history is empty.
    void history(const std::optional<std::string>& first, const std::optional<std::string>& last,
                 std::uint64_t count);
    void ok(std::string_view verb);
    void error(std::string_view message);

private:
    void line(std::string_view text);

    bool quiet_;
};

} // namespace wspush::testserver
