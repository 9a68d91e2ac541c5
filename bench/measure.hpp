// SPDX-License-Identifier: MIT
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <time.h>

namespace wspush::bench {

// Seconds on the monotonic clock, for elapsed times.
inline double monotonicSeconds() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// CPU time (user + system) this process has used so far, so a tool can show it was not
// the bottleneck.
inline double ownCpuSeconds() noexcept
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// A command-line number. Throws std::invalid_argument naming the option when `text` is not
// a whole number in [min, max].
inline std::uint64_t parseNumber(const char* text, const char* option, std::uint64_t min,
                                 std::uint64_t max)
{
    char* end = nullptr;
    errno = 0;
    const unsigned long long value = std::strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value < min || value > max)
        throw std::invalid_argument(std::string(option) + ": expected a number from " +
                                    std::to_string(min) + " to " + std::to_string(max) + ", got '" +
                                    text + "'");
    return value;
}

} // namespace wspush::bench
