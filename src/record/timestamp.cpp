// SPDX-License-Identifier: MIT
#include "record/timestamp.hpp"

#include <cstdio>
#include <ctime>

namespace wspush::record {

std::int64_t nowUs() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
}

void appendTimestamp(std::int64_t microsecondsSinceEpoch, std::string& out)
{
    const std::time_t seconds = microsecondsSinceEpoch / 1'000'000;
    const auto micros = static_cast<long>(microsecondsSinceEpoch % 1'000'000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[40];
    const int length =
        std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", utc.tm_year + 1900,
                      utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, micros);
    out.append(text, static_cast<std::size_t>(length));
}

} // namespace wspush::record
