// SPDX-License-Identifier: MIT
#include "record/timestamp.hpp"

#include <cstring>
#include <ctime>

namespace wspush::record {

std::int64_t nowUs() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
}

namespace {

constexpr std::size_t timestampLength = 27; // 2026-11-27T22:31:05.123456Z

// Writes `value` as exactly `width` decimal digits, ending just before `end`.
void writeDigits(char* end, unsigned value, int width) noexcept
{
    for (int i = 0; i < width; ++i) {
        *--end = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}

// By hand: gmtime_r and snprintf cost more than all the rest of encoding a record. The date
// comes from Howard Hinnant's civil_from_days.
void formatTimestamp(std::int64_t microsecondsSinceEpoch, char (&text)[timestampLength]) noexcept
{
    constexpr std::int64_t usPerDay = std::int64_t{86'400} * 1'000'000;
    std::int64_t days = microsecondsSinceEpoch / usPerDay;
    std::int64_t usOfDay = microsecondsSinceEpoch % usPerDay;
    if (usOfDay < 0) {
        usOfDay += usPerDay;
        --days;
    }
    const std::int64_t shifted = days + 719'468; // days since 0000-03-01
    const std::int64_t era = (shifted >= 0 ? shifted : shifted - 146'096) / 146'097;
    const auto dayOfEra = static_cast<unsigned>(shifted - era * 146'097);
    const unsigned yearOfEra =
        (dayOfEra - dayOfEra / 1460 + dayOfEra / 36'524 - dayOfEra / 146'096) / 365;
    const unsigned dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
    const unsigned monthFromMarch = (5 * dayOfYear + 2) / 153;
    const unsigned day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1;
    const unsigned month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
    const auto year = static_cast<unsigned>(era * 400 + yearOfEra + (month <= 2 ? 1 : 0));
    const auto seconds = static_cast<unsigned>(usOfDay / 1'000'000);

    std::memcpy(text, "0000-00-00T00:00:00.000000Z", timestampLength);
    writeDigits(text + 4, year, 4);
    writeDigits(text + 7, month, 2);
    writeDigits(text + 10, day, 2);
    writeDigits(text + 13, seconds / 3600, 2);
    writeDigits(text + 16, seconds / 60 % 60, 2);
    writeDigits(text + 19, seconds % 60, 2);
    writeDigits(text + 26, static_cast<unsigned>(usOfDay % 1'000'000), 6);
}

} // namespace

void appendTimestamp(std::int64_t microsecondsSinceEpoch, std::string& out)
{
    // The records of one read share their receive time: it is formatted once.
    thread_local std::int64_t cachedUs = 0;
    thread_local char cached[timestampLength] = {};
    if (cachedUs != microsecondsSinceEpoch || cached[0] == '\0') {
        formatTimestamp(microsecondsSinceEpoch, cached);
        cachedUs = microsecondsSinceEpoch;
    }
    out.append(cached, timestampLength);
}

} // namespace wspush::record
