// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <time.h>
#include <vector>

namespace wspush::bench {

// Seconds on the monotonic clock, for elapsed times.
inline double monotonicSeconds() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// Nanoseconds on CLOCK_REALTIME, the clock the bundled server stamps messages with.
inline std::int64_t realtimeNs() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// Nearest-rank percentile of sorted samples (ns), in microseconds.
inline double percentileUs(const std::vector<std::int64_t>& sorted, double fraction) noexcept
{
    if (sorted.empty())
        return 0;
    const auto rank =
        static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
    return static_cast<double>(sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]) /
           1000.0;
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
