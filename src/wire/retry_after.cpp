// SPDX-License-Identifier: MIT
#include "wire/retry_after.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <ctime>

namespace wspush::wire {

std::optional<config::Duration> parseRetryAfter(const std::string& value, config::Duration longest)
{
    const char* end = value.data() + value.size();
    if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos) {
        std::uint64_t seconds = 0;
        const auto parsed = std::from_chars(value.data(), end, seconds);
        // More seconds than `longest` holds, or than any duration can: `longest` it is.
        const auto cap = static_cast<std::uint64_t>(
            std::max<std::int64_t>(std::chrono::floor<std::chrono::seconds>(longest).count(), 0));
        if (parsed.ec != std::errc() || seconds > cap)
            return longest;
        return std::min<config::Duration>(std::chrono::seconds(seconds), longest);
    }

    // IMF-fixdate, then the obsolete RFC 850 and asctime forms a recipient must still read.
    static constexpr const char* forms[] = {
        "%a, %d %b %Y %H:%M:%S GMT",
        "%A, %d-%b-%y %H:%M:%S GMT",
        "%a %b %e %H:%M:%S %Y",
    };
    for (const char* form : forms) {
        std::tm date{};
        const char* parsed = strptime(value.c_str(), form, &date);
        if (parsed != end)
            continue;
        const std::time_t until = timegm(&date);
        const auto now = std::chrono::system_clock::now();
        const std::time_t nowSeconds = std::chrono::system_clock::to_time_t(now);
        // A far date (year 9999) is beyond the clock's nanoseconds: whole seconds first.
        if (until - nowSeconds > std::chrono::ceil<std::chrono::seconds>(longest).count())
            return longest;
        if (until < nowSeconds)
            return config::Duration{0};
        const auto wait = std::chrono::ceil<config::Duration>(
            std::chrono::system_clock::from_time_t(until) - now);
        return std::clamp(wait, config::Duration{0}, std::max(longest, config::Duration{0}));
    }
    return std::nullopt;
}

} // namespace wspush::wire
