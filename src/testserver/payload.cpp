// SPDX-License-Identifier: MIT
#include "testserver/payload.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>

namespace wspush::testserver {

namespace {

constexpr std::string_view kPushHead = R"({"n":)";
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

std::size_t skeletonLength(std::uint64_t k)
{
    return kPushHead.size() + decimalDigits(k) + kPushMiddle.size() + kPushTail.size();
}

} // namespace

std::size_t pushMessageLength(std::uint64_t k, std::size_t size)
{
    return std::max(skeletonLength(k), size);
}

void appendPushMessage(std::string& out, std::uint64_t k, std::size_t size)
{
    char digits[20];
    const auto converted = std::to_chars(digits, digits + sizeof digits, k);
    out.append(kPushHead);
    out.append(digits, converted.ptr);
    out.append(kPushMiddle);
    out.append(pushMessageLength(k, size) - skeletonLength(k), 'x');
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
