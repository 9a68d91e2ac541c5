// SPDX-License-Identifier: MIT
#include "testserver/control.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "testserver/message_log.hpp"
#include "testserver/payload.hpp"

namespace wspush::testserver {

namespace {

// The largest close reason that still fits a control frame (125 bytes minus the code).
constexpr std::size_t kMaxCloseReason = 123;

// A command, or what is wrong with its arguments.
using Result = std::variant<Command, std::string>;

std::vector<std::string_view> splitWords(std::string_view text)
{
    std::vector<std::string_view> words;
    std::size_t start = text.find_first_not_of(' ');
    while (start != std::string_view::npos) {
        const std::size_t end = text.find(' ', start);
        words.push_back(text.substr(start, end - start));
        start = end == std::string_view::npos ? end : text.find_first_not_of(' ', end);
    }
    return words;
}

std::optional<std::string> decodeHex(std::string_view hex)
{
    if (hex.size() % 2 != 0) {
        return std::nullopt;
    }
    std::string bytes;
    bytes.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const char* pair = hex.data() + i;
        unsigned value = 0;
        const auto [ptr, error] = std::from_chars(pair, pair + 2, value, 16);
        if (error != std::errc() || ptr != pair + 2) {
            return std::nullopt;
        }
        bytes.push_back(static_cast<char>(value));
    }
    return bytes;
}

std::string sizeRange(std::size_t minimum)
{
    return std::to_string(minimum) + ".." + std::to_string(kMaxMessageSize);
}

Result parsePush(std::string_view args)
{
    const auto words = splitWords(args);
    PushSpec spec;
    if (words.size() < 3 || words.size() > 4 || !parseNumber(words[0], spec.count) ||
        !parseNumber(words[1], spec.size) || !parseNumber(words[2], spec.rate) ||
        (words.size() == 4 && words[3] != "stamp")) {
        return "usage: push COUNT SIZE RATE [stamp]";
    }
    spec.stamp = words.size() == 4;
    if (spec.count == 0) {
        return "COUNT must be at least 1";
    }
    if (auto problem = pushSpecProblem(spec)) {
        return *std::move(problem);
    }
    return PushCommand{spec};
}

Result parseSend(std::string_view args)
{
    return SendCommand{decodeEscapes(args), false};
}

Result parseHex(std::string_view args, bool binary)
{
    auto bytes = decodeHex(args);
    if (!bytes) {
        return "HEX must be pairs of hex digits without spaces";
    }
    return SendCommand{std::move(*bytes), binary};
}

Result parsePingFlood(std::string_view args)
{
    constexpr std::size_t kMaxPings = 10'000'000;
    const auto words = splitWords(args);
    PingFloodCommand command;
    if (words.size() != 1 || !parseNumber(words[0], command.count) || command.count == 0 ||
        command.count > kMaxPings) {
        return "usage: pingflood COUNT (1.." + std::to_string(kMaxPings) + ")";
    }
    return command;
}

Result parseOversize(std::string_view args)
{
    const auto words = splitWords(args);
    OversizeCommand command;
    if (words.size() != 1 || !parseNumber(words[0], command.bytes)) {
        return "usage: oversize BYTES";
    }
    const std::size_t minimum = paddedJsonMinimum("oversize");
    if (command.bytes < minimum || command.bytes > kMaxMessageSize) {
        return "BYTES must be " + sizeRange(minimum);
    }
    return command;
}

Result parseFragmented(std::string_view args)
{
    const auto words = splitWords(args);
    FragmentedCommand command;
    if (words.size() != 2 || !parseNumber(words[0], command.bytes) ||
        !parseNumber(words[1], command.parts)) {
        return "usage: fragmented BYTES PARTS";
    }
    const std::size_t minimum = paddedJsonMinimum("fragmented");
    if (command.bytes < minimum || command.bytes > kMaxMessageSize) {
        return "BYTES must be " + sizeRange(minimum);
    }
    if (command.parts < 1 || command.parts > command.bytes) {
        return "PARTS must be 1..BYTES";
    }
    return command;
}

Result parseClose(std::string_view args)
{
    const std::size_t start = std::min(args.find_first_not_of(' '), args.size());
    const std::size_t space = std::min(args.find(' ', start), args.size());
    const std::string_view reason = args.substr(std::min(space + 1, args.size()));
    unsigned code = 0;
    if (!parseNumber(args.substr(start, space - start), code) || code > 0xffff) {
        return "usage: close CODE [REASON], CODE 0..65535";
    }
    if (reason.size() > kMaxCloseReason) {
        return "REASON must be at most 123 bytes";
    }
    return CloseCommand{static_cast<std::uint16_t>(code), std::string(reason)};
}

std::optional<bool> parseSwitch(std::string_view args)
{
    const auto words = splitWords(args);
    if (words.size() == 1 && (words[0] == "on" || words[0] == "off")) {
        return words[0] == "on";
    }
    return std::nullopt;
}

std::string_view standardReason(unsigned status)
{
    switch (status) {
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return "Refused";
    }
}

// refuse on|off, or refuse STATUS RETRY-AFTER|- [REASON...]
Result parseRefuse(std::string_view args)
{
    if (const auto on = parseSwitch(args)) {
        RefuseCommand command;
        command.on = *on;
        return command;
    }
    const auto words = splitWords(args);
    RefuseCommand command;
    command.on = true;
    if (words.size() < 2 || !parseNumber(words[0], command.status) || command.status < 200 ||
        command.status > 599 || command.status == 101) {
        return "usage: refuse on|off, or refuse STATUS RETRY-AFTER|- [REASON]";
    }
    command.retryAfter = words[1] == "-" ? "" : std::string(words[1]);
    const std::size_t reasonStart =
        words.size() > 2 ? static_cast<std::size_t>(words[2].data() - args.data()) : args.size();
    command.reason = reasonStart < args.size() ? std::string(args.substr(reasonStart))
                                               : std::string(standardReason(command.status));
    return command;
}

Result parseSilent(std::string_view args)
{
    const auto on = parseSwitch(args);
    if (!on) {
        return "usage: silent on|off";
    }
    return SilentCommand{*on};
}

Result parseSkip(std::string_view args)
{
    const auto words = splitWords(args);
    SkipCommand command;
    if (words.size() != 1 || !parseNumber(words[0], command.count) || command.count == 0 ||
        command.count > kMaxSeq) {
        return "usage: skip N (1.." + std::to_string(kMaxSeq) + ")";
    }
    return command;
}

Result parseRestartSeq(std::string_view args)
{
    const auto words = splitWords(args);
    RestartSeqCommand command;
    if (words.size() > 1 || (words.size() == 1 && !parseNumber(words[0], command.seq)) ||
        command.seq > kMaxSeq) {
        return "usage: restart-seq [K] (0.." + std::to_string(kMaxSeq) + ", default 1)";
    }
    return command;
}

template <typename T>
Result parseBare(std::string_view args)
{
    if (!splitWords(args).empty()) {
        return "takes no arguments";
    }
    return T{};
}

struct Verb
{
    std::string_view name;
    Result (*parse)(std::string_view args);
};

constexpr Verb kVerbs[] = {
    {"push", parsePush},
    {"send", parseSend},
    {"sendhex", [](std::string_view args) { return parseHex(args, false); }},
    {"binhex", [](std::string_view args) { return parseHex(args, true); }},
    {"oversize", parseOversize},
    {"fragmented", parseFragmented},
    {"close", parseClose},
    {"pingflood", parsePingFlood},
    {"reset", parseBare<ResetCommand>},
    {"refuse", parseRefuse},
    {"silent", parseSilent},
    {"stats", parseBare<StatsCommand>},
    {"skip", parseSkip},
    {"restart-seq", parseRestartSeq},
    {"history", parseBare<HistoryCommand>},
    {"quit", parseBare<QuitCommand>},
};

} // namespace

std::optional<std::string> pushSpecProblem(const PushSpec& spec)
{
    const std::size_t minimum = spec.stamp ? kMinStampedPushSize : kMinPushSize;
    if (spec.size < minimum || spec.size > kMaxMessageSize) {
        return "SIZE must be " + sizeRange(minimum);
    }
    if (!std::isfinite(spec.rate) || spec.rate < 0) {
        return "RATE must be messages per second, or 0 for as fast as possible";
    }
    return std::nullopt;
}

std::optional<std::string> idsPushProblem(const PushSpec& spec, std::string_view idPrefix)
{
    const std::size_t minimum = minimumIdsPushSize(idPrefix, spec.stamp);
    if (spec.size < minimum) {
        return "SIZE must be " + sizeRange(minimum) + " with ids";
    }
    return std::nullopt;
}

std::variant<ParsedCommand, ParseError> parseCommand(std::string_view line)
{
    const std::size_t space = line.find(' ');
    const std::string_view verb = line.substr(0, space);
    const std::string_view args =
        space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    for (const Verb& candidate : kVerbs) {
        if (candidate.name != verb) {
            continue;
        }
        Result result = candidate.parse(args);
        if (auto* problem = std::get_if<std::string>(&result)) {
            return ParseError{std::string(verb) + ": " + *problem};
        }
        return ParsedCommand{std::string(verb), std::get<Command>(std::move(result))};
    }
    return ParseError{"unknown command: " + escapeLine(line)};
}

std::string decodeEscapes(std::string_view text)
{
    std::string decoded;
    decoded.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char next = i + 1 < text.size() ? text[i + 1] : '\0';
        if (text[i] == '\\' && (next == 'n' || next == '\\')) {
            decoded.push_back(next == 'n' ? '\n' : '\\');
            ++i;
        } else {
            decoded.push_back(text[i]);
        }
    }
    return decoded;
}

std::string escapeLine(std::string_view text)
{
    std::string escaped;
    escaped.reserve(text.size());
    for (const char c : text) {
        if (c == '\n') {
            escaped.append("\\n");
        } else if (c == '\r') {
            escaped.append("\\r");
        } else {
            escaped.push_back(c);
        }
    }
    return escaped;
}

} // namespace wspush::testserver
