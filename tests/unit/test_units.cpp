// SPDX-License-Identifier: MIT
#include <chrono>
#include <cstddef>
#include <limits>
#include <string_view>

#include <doctest/doctest.h>

#include "config/units.hpp"

using namespace std::chrono_literals;
using wspush::config::Duration;
using wspush::config::parseDuration;
using wspush::config::parseMode;
using wspush::config::parseSize;

TEST_CASE("durations take a number and a unit")
{
    CHECK(parseDuration("250ms") == Duration(250ms));
    CHECK(parseDuration("30s") == Duration(30s));
    CHECK(parseDuration("1.5s") == Duration(1500ms));
    CHECK(parseDuration("0.25s") == Duration(250ms));
    CHECK(parseDuration("5m") == Duration(5min));
    CHECK(parseDuration("1.5m") == Duration(90s));
    CHECK(parseDuration("1h") == Duration(1h));
    CHECK(parseDuration("0s") == Duration(0ms));
    CHECK(parseDuration("0ms") == Duration(0ms));
    CHECK(parseDuration("007s") == Duration(7s));
    CHECK(parseDuration("9223372036854775807ms") ==
          Duration(std::numeric_limits<Duration::rep>::max()));
}

TEST_CASE("durations reject a missing unit, signs and garbage")
{
    for (const char* text : {"", "30", "s", "ms", "-1s", "+1s", "1.s", ".5s", "1x", "30 s", " 30s",
                             "30s ", "1h30m", "abc", "30S", "1e3s", "1,5s", "0x10s"}) {
        CAPTURE(std::string_view(text));
        CHECK_FALSE(parseDuration(text));
    }
}

TEST_CASE("durations reject what milliseconds cannot hold")
{
    CHECK(parseDuration("2562047788015h") == Duration(2562047788015LL * 3600 * 1000));
    for (const char* text : {"1.0005s", "0.5ms", "1.1234567891s", "9223372036854775808ms",
                             "2562047788016h", "99999999999999999999999s"}) {
        CAPTURE(std::string_view(text));
        CHECK_FALSE(parseDuration(text));
    }
}

TEST_CASE("sizes are bytes, binary or decimal units")
{
    CHECK(parseSize("0") == 0u);
    CHECK(parseSize("1048576") == 1048576u);
    CHECK(parseSize("512B") == 512u);
    CHECK(parseSize("64KiB") == 64u * 1024);
    CHECK(parseSize("1MiB") == 1024u * 1024);
    CHECK(parseSize("2GiB") == std::size_t{2} << 30);
    CHECK(parseSize("1.5KiB") == 1536u);
    CHECK(parseSize("10kB") == 10000u);
    CHECK(parseSize("10KB") == 10000u);
    CHECK(parseSize("10MB") == 10000000u);
    CHECK(parseSize("1GB") == 1000000000u);
    CHECK(parseSize("18446744073709551615") == std::numeric_limits<std::size_t>::max());
}

TEST_CASE("sizes reject garbage and overflow")
{
    for (const char* text :
         {"", "B", "MiB", "-1", "+1", "1 MiB", "1mib", "1K", "1M", "1TB", "1TiB", "abc", "0.5B",
          "1.5", "18446744073709551616", "17179869184GiB", "1e3"}) {
        CAPTURE(std::string_view(text));
        CHECK_FALSE(parseSize(text));
    }
}

TEST_CASE("modes are octal up to 07777")
{
    CHECK(parseMode("0660") == 0660u);
    CHECK(parseMode("660") == 0660u);
    CHECK(parseMode("0") == 0u);
    CHECK(parseMode("7777") == 07777u);
    CHECK(parseMode("07777") == 07777u);
    CHECK(parseMode("000000000644") == 0644u);
    for (const char* text : {"", "8", "0689", "17777", "77777777777", "rw", "-660", "0o660",
                             "0x1ff", " 660", "u+rw"}) {
        CAPTURE(std::string_view(text));
        CHECK_FALSE(parseMode(text));
    }
}
