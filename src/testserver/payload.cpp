// SPDX-License-Identifier: MIT
#include "testserver/payload.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <ctime>

namespace wspush::testserver {

namespace {

constexpr std::string_view kPushHead = R"({"n":)";
constexpr std::string_view kPushStamp = R"(,"t":)";
constexpr std::string_view kPushMiddle = R"(,"pad":")";
constexpr std::string_view kPushTail = R"("})";

std::size_t decimalDigits(std::uint64_t value)
{
    std::size_t digits = 1;
    while (value >= 10) {
        value /= 10;
        ++digits;
    }
    return digits;
}

std::size_t skeletonLength(std::uint64_t k, bool stamped)
{
    return kPushHead.size() + decimalDigits(k) + (stamped ? kPushStamp.size() + kStampDigits : 0) +
           kPushMiddle.size() + kPushTail.size();
}

std::uint64_t realtimeNs() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000U +
           static_cast<std::uint64_t>(now.tv_nsec);
}

} // namespace

std::size_t pushMessageLength(std::uint64_t k, std::size_t size, bool stamped)
{
    return std::max(skeletonLength(k, stamped), size);
}

void appendPushMessage(std::string& out, std::uint64_t k, std::size_t size, bool stamped)
{
    char digits[20];
    const auto converted = std::to_chars(digits, digits + sizeof digits, k);
    out.append(kPushHead);
    out.append(digits, converted.ptr);
    if (stamped) {
        const auto stamp = std::to_chars(digits, digits + sizeof digits, realtimeNs());
        const auto length = static_cast<std::size_t>(stamp.ptr - digits);
        out.append(kPushStamp);
        // A clock set before 2001 gives fewer digits: JSON allows blanks before a value.
        out.append(kStampDigits - std::min(length, kStampDigits), ' ');
        out.append(digits, stamp.ptr);
    }
    out.append(kPushMiddle);
    out.append(pushMessageLength(k, size, stamped) - skeletonLength(k, stamped), 'x');
    out.append(kPushTail);
}

std::size_t paddedJsonMinimum(std::string_view key)
{
    return key.size() + std::string_view(R"({"":""})").size();
}

std::string paddedJson(std::string_view key, std::size_t size)
{
    assert(size >= paddedJsonMinimum(key));
    std::string json = R"({")";
    json.append(key);
    json.append(R"(":")");
    json.append(size - paddedJsonMinimum(key), 'x');
    json.append(R"("})");
    return json;
}

} // namespace wspush::testserver
