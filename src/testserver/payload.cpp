// SPDX-License-Identifier: MIT
#include "testserver/payload.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <ctime>

namespace wspush::testserver {

namespace {

constexpr std::string_view kIdHead = R"({"id":")";
constexpr std::string_view kIdSeq = R"(","seq":)";
constexpr std::string_view kIdN = R"(,"n":)";
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

std::size_t skeletonLength(const PushMessage& message)
{
    std::size_t length = message.ids
                             ? kIdHead.size() + message.idPrefix.size() + decimalDigits(message.k) +
                                   kIdSeq.size() + decimalDigits(message.seq) + kIdN.size()
                             : kPushHead.size();
    length += decimalDigits(message.k);
    if (message.stamped) {
        length += kPushStamp.size() + kStampDigits;
    }
    return length + kPushMiddle.size() + kPushTail.size();
}

void appendNumber(std::string& out, std::uint64_t value)
{
    char digits[20];
    const auto converted = std::to_chars(digits, digits + sizeof digits, value);
    out.append(digits, converted.ptr);
}

} // namespace

std::uint64_t realtimeNs() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000U +
           static_cast<std::uint64_t>(now.tv_nsec);
}

std::size_t pushMessageLength(const PushMessage& message)
{
    return std::max(skeletonLength(message), message.size);
}

void appendPushMessage(std::string& out, const PushMessage& message)
{
    if (message.ids) {
        out.append(kIdHead);
        out.append(message.idPrefix);
        appendNumber(out, message.k);
        out.append(kIdSeq);
        appendNumber(out, message.seq);
        out.append(kIdN);
    } else {
        out.append(kPushHead);
    }
    appendNumber(out, message.k);
    if (message.stamped) {
        char digits[20];
        const std::uint64_t ns = message.stampNs != 0 ? message.stampNs : realtimeNs();
        const auto stamp = std::to_chars(digits, digits + sizeof digits, ns);
        const auto length = static_cast<std::size_t>(stamp.ptr - digits);
        out.append(kPushStamp);
        // A clock set before 2001 gives fewer digits: JSON allows blanks before a value.
        out.append(kStampDigits - std::min(length, kStampDigits), ' ');
        out.append(digits, stamp.ptr);
    }
    out.append(kPushMiddle);
    out.append(pushMessageLength(message) - skeletonLength(message), 'x');
    out.append(kPushTail);
}

std::size_t pushMessageLength(std::uint64_t k, std::size_t size, bool stamped)
{
    return pushMessageLength(plainPushMessage(k, size, stamped));
}

void appendPushMessage(std::string& out, std::uint64_t k, std::size_t size, bool stamped)
{
    appendPushMessage(out, plainPushMessage(k, size, stamped));
}

std::size_t minimumIdsPushSize(std::string_view idPrefix, bool stamped)
{
    constexpr std::uint64_t kLargest = 9'999'999'999;
    static_assert(kIdsDigits == 10);
    PushMessage message = plainPushMessage(kLargest, 0, stamped);
    message.ids = true;
    message.idPrefix = idPrefix;
    message.seq = kLargest;
    return skeletonLength(message);
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
