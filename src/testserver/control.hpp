// SPDX-License-Identifier: MIT
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace wspush::testserver {

// Room for the skeleton `{"n":K,"pad":""}` with K up to 17 digits.
inline constexpr std::size_t kMinPushSize = 32;
// A stamped one adds `,"t":NS` (19 digits) to that.
inline constexpr std::size_t kMinStampedPushSize = 56;
// Guards against typos that would make the server allocate gigabytes.
inline constexpr std::size_t kMaxMessageSize = std::size_t{256} * 1024 * 1024;

struct PushSpec
{
    std::uint64_t count = 0; // 0 = endless (automatic pushes only)
    std::size_t size = 200;
    double rate = 1.0;  // messages per second; 0 = as fast as the socket takes them
    bool stamp = false; // each message carries its send time, "t" (CLOCK_REALTIME, ns)
};

struct PushCommand
{
    PushSpec spec;
};

struct SendCommand
{
    std::string payload;
    bool binary = false;
};

struct OversizeCommand
{
    std::size_t bytes = 0;
};

// COUNT ping frames back to back, in as few writes as the socket allows.
struct PingFloodCommand
{
    std::size_t count = 0;
};

struct FragmentedCommand
{
    std::size_t bytes = 0;
    std::size_t parts = 0;
};

struct CloseCommand
{
    std::uint16_t code = 0;
    std::string reason;
};

struct ResetCommand
{
};

// Upgrades are answered with this HTTP status instead, while `on`.
struct RefuseCommand
{
    bool on = false;
    unsigned status = 503;
    std::string reason = "Service Unavailable";
    std::string retryAfter = "1"; // "" sends no Retry-After
};

struct SilentCommand
{
    bool on = false;
};

struct StatsCommand
{
};

// With --ids: the next message's sequence number is `count` higher (a gap upstream).
struct SkipCommand
{
    std::uint64_t count = 0;
};

// With --ids: the sequence starts again at `seq`, as a server that lost its state would.
struct RestartSeqCommand
{
    std::uint64_t seq = 1;
};

// With --ids: prints "history first=ID last=ID count=N".
struct HistoryCommand
{
};

struct QuitCommand
{
};

using Command =
    std::variant<PushCommand, SendCommand, OversizeCommand, FragmentedCommand, CloseCommand,
                 PingFloodCommand, ResetCommand, RefuseCommand, SilentCommand, StatsCommand,
                 SkipCommand, RestartSeqCommand, HistoryCommand, QuitCommand>;

struct ParsedCommand
{
    std::string verb; // echoed back as "ok VERB" once the command is done
    Command command;
};

struct ParseError
{
    std::string message; // printed as "error MESSAGE"
};

// Parses a whole word as a number; false if it is anything else.
template <typename T>
bool parseNumber(std::string_view word, T& value)
{
    const char* end = word.data() + word.size();
    const auto [ptr, error] = std::from_chars(word.data(), end, value);
    return !word.empty() && error == std::errc() && ptr == end;
}

// What is wrong with a push's SIZE or RATE, if anything (the COUNT rules differ by caller).
std::optional<std::string> pushSpecProblem(const PushSpec& spec);

// What is wrong with a push's SIZE under --ids, if anything: it must leave room for the id
// (with `idPrefix`) and the sequence number.
std::optional<std::string> idsPushProblem(const PushSpec& spec, std::string_view idPrefix);

// Parses one stdin line (without its newline). Pure: no I/O and no state, so it is unit-testable.
std::variant<ParsedCommand, ParseError> parseCommand(std::string_view line);

// Undoes the escaping tests use to put a newline into a one-line command: "\n" becomes a
// newline and "\\" a backslash; any other backslash is kept as it is.
std::string decodeEscapes(std::string_view text);

// Keeps a received message on one stdout line: a newline becomes "\n", a carriage return "\r".
std::string escapeLine(std::string_view text);

} // namespace wspush::testserver
