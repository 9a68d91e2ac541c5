// SPDX-License-Identifier: MIT
#include "config/units.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace wspush::config {

namespace {

struct Unit
{
    std::string_view suffix;
    std::uint64_t factor;
};

constexpr std::array durationUnits{
    Unit{"ms", 1},
    Unit{"s", 1000},
    Unit{"m", 60'000},
    Unit{"h", 3'600'000},
};

constexpr std::array sizeUnits{
    Unit{"", 1},
    Unit{"B", 1},
    Unit{"KiB", std::uint64_t{1} << 10},
    Unit{"MiB", std::uint64_t{1} << 20},
    Unit{"GiB", std::uint64_t{1} << 30},
    Unit{"kB", 1000},
    Unit{"KB", 1000},
    Unit{"MB", 1'000'000},
    Unit{"GB", 1'000'000'000},
};

// Enough for any sub-unit precision that still lands on a whole millisecond or byte, and
// small enough that the fraction times the largest factor cannot overflow.
constexpr std::size_t maxFractionDigits = 9;

bool isDigit(char c) noexcept
{
    return c >= '0' && c <= '9';
}

// "<digits>[.<digits>]<suffix>" times the suffix's factor, when that is a whole number no
// larger than `max`. Integer arithmetic throughout, so "1.1s" is exactly 1100 ms.
template <std::size_t N>
std::optional<std::uint64_t> parseScaled(std::string_view text, const std::array<Unit, N>& units,
                                         std::uint64_t max) noexcept
{
    std::size_t pos = 0;
    std::uint64_t whole = 0;
    while (pos < text.size() && isDigit(text[pos])) {
        const unsigned digit = text[pos] - '0';
        if (whole > (max - digit) / 10) {
            return std::nullopt;
        }
        whole = whole * 10 + digit;
        ++pos;
    }
    if (pos == 0) {
        return std::nullopt;
    }

    std::uint64_t fraction = 0;
    std::uint64_t fractionScale = 1;
    if (pos < text.size() && text[pos] == '.') {
        const std::size_t start = ++pos;
        while (pos < text.size() && isDigit(text[pos])) {
            fraction = fraction * 10 + (text[pos] - '0');
            fractionScale *= 10;
            ++pos;
            if (pos - start > maxFractionDigits) {
                return std::nullopt;
            }
        }
        if (pos == start) {
            return std::nullopt;
        }
    }

    const std::string_view suffix = text.substr(pos);
    for (const Unit& unit : units) {
        if (unit.suffix != suffix) {
            continue;
        }
        if (whole > max / unit.factor || (fraction * unit.factor) % fractionScale != 0) {
            return std::nullopt;
        }
        const std::uint64_t part = fraction * unit.factor / fractionScale;
        if (whole * unit.factor > max - part) {
            return std::nullopt;
        }
        return whole * unit.factor + part;
    }
    return std::nullopt;
}

} // namespace

std::optional<Duration> parseDuration(std::string_view text) noexcept
{
    const auto ms = parseScaled(text, durationUnits, std::numeric_limits<Duration::rep>::max());
    if (!ms) {
        return std::nullopt;
    }
    return Duration(static_cast<Duration::rep>(*ms));
}

std::optional<std::size_t> parseSize(std::string_view text) noexcept
{
    const auto bytes = parseScaled(text, sizeUnits, std::numeric_limits<std::size_t>::max());
    if (!bytes) {
        return std::nullopt;
    }
    return static_cast<std::size_t>(*bytes);
}

std::optional<unsigned> parseMode(std::string_view text) noexcept
{
    if (text.empty()) {
        return std::nullopt;
    }
    unsigned mode = 0;
    for (const char c : text) {
        if (c < '0' || c > '7') {
            return std::nullopt;
        }
        mode = mode * 8 + (c - '0');
        if (mode > 07777) {
            return std::nullopt;
        }
    }
    return mode;
}

std::string formatSeconds(Duration duration)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(duration.count()) / 1000.0);
    return text;
}

} // namespace wspush::config
