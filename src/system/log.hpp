// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wspush::log {

// sd-daemon priorities: each line goes to stderr as "<N>text", which journald files under
// that priority when stderr is the unit's stream.
enum class Level
{
    Error = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7
};

void setVerbose(bool verbose) noexcept;
bool isVerbose() noexcept;

// Every occurrence of these strings is printed as "***" in every later line: tokens and
// header values never reach a log.
void setSecrets(std::vector<std::string> secrets);

void write(Level level, std::string_view text) noexcept;

// Routes libwebsockets' own log lines through write(), so reasons lws alone knows (why a
// TLS handshake failed) are seen, masked like our own.
void routeLwsLogs() noexcept;

// The last error line libwebsockets logged since the previous call, then forgets it: its
// own callbacks often carry only a generic reason ("connect SSL err 1").
std::string takeLwsError();

inline void error(std::string_view text) noexcept
{
    write(Level::Error, text);
}
inline void warning(std::string_view text) noexcept
{
    write(Level::Warning, text);
}
inline void notice(std::string_view text) noexcept
{
    write(Level::Notice, text);
}
inline void info(std::string_view text) noexcept
{
    write(Level::Info, text);
}
inline void debug(std::string_view text) noexcept
{
    write(Level::Debug, text);
}

} // namespace wspush::log
