// SPDX-License-Identifier: MIT
#include "system/log.hpp"

#include <cstdio>
#include <utility>

#include <libwebsockets.h>

namespace wspush::log {

namespace {

bool verbose_ = false;
std::vector<std::string> secrets_;
std::string lastLwsError_;

std::string redact(std::string_view text)
{
    std::string line(text);
    for (const auto& secret : secrets_) {
        if (secret.empty())
            continue;
        for (auto at = line.find(secret); at != std::string::npos; at = line.find(secret, at + 3))
            line.replace(at, secret.size(), "***");
    }
    return line;
}

Level levelOfLws(int lwsLevel) noexcept
{
    switch (lwsLevel) {
    case LLL_ERR:
        return Level::Error;
    case LLL_WARN:
        return Level::Warning;
    case LLL_NOTICE:
        return Level::Notice;
    case LLL_INFO:
        return Level::Info;
    default:
        return Level::Debug;
    }
}

void emitLws(int lwsLevel, const char* line)
{
    std::string_view text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.remove_suffix(1);
    if (lwsLevel == LLL_ERR)
        lastLwsError_ = text;
    write(levelOfLws(lwsLevel), std::string("lws: ") + std::string(text));
}

} // namespace

void setVerbose(bool verbose) noexcept
{
    verbose_ = verbose;
}

bool isVerbose() noexcept
{
    return verbose_;
}

void setSecrets(std::vector<std::string> secrets)
{
    secrets_ = std::move(secrets);
}

void write(Level level, std::string_view text) noexcept
{
    if (level == Level::Debug && !verbose_)
        return;
    try {
        const std::string line = redact(text);
        std::fprintf(stderr, "<%d>%s\n", static_cast<int>(level), line.c_str());
    } catch (...) {
        std::fprintf(stderr, "<%d>(log line lost: out of memory)\n", static_cast<int>(level));
    }
}

void routeLwsLogs() noexcept
{
    int levels = LLL_ERR | LLL_WARN;
    if (verbose_)
        levels |= LLL_NOTICE | LLL_INFO;
    lws_set_log_level(levels, emitLws);
}

std::string takeLwsError()
{
    return std::exchange(lastLwsError_, std::string());
}

} // namespace wspush::log
