// SPDX-License-Identifier: MIT
// The Unix-socket request parser on any line a client may send: it never throws (a bad
// line is an InvalidRequest, answered with an "error" event), and as one reader serves
// every request, the same line parsed twice gives the same request.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_check.hpp"
#include "sinks/unix_request.hpp"

using wspush::fuzz::require;
namespace sinks = wspush::sinks;

namespace {

sinks::UnixRequest parse(std::string_view line)
{
    try {
        return sinks::parseUnixRequest(line);
    } catch (const std::exception& error) {
        require(false, std::string("parseUnixRequest threw: ") + error.what());
    }
    return {};
}

bool same(const sinks::UnixRequest& a, const sinks::UnixRequest& b)
{
    if (a.index() != b.index())
        return false;
    if (const auto* replay = std::get_if<sinks::ReplayRequest>(&a)) {
        const auto& other = std::get<sinks::ReplayRequest>(b);
        return replay->since == other.since && replay->epoch == other.epoch;
    }
    if (const auto* subscribe = std::get_if<sinks::SubscribeRequest>(&a)) {
        const auto& other = std::get<sinks::SubscribeRequest>(b);
        return subscribe->name == other.name && subscribe->fromFirst == other.fromFirst;
    }
    if (const auto* ack = std::get_if<sinks::AckRequest>(&a))
        return ack->seq == std::get<sinks::AckRequest>(b).seq;
    if (const auto* deletion = std::get_if<sinks::DeleteCursorRequest>(&a))
        return deletion->name == std::get<sinks::DeleteCursorRequest>(b).name;
    if (const auto* send = std::get_if<sinks::SendRequest>(&a))
        return send->text == std::get<sinks::SendRequest>(b).text;
    if (const auto* invalid = std::get_if<sinks::InvalidRequest>(&a))
        return invalid->message == std::get<sinks::InvalidRequest>(b).message;
    return true;
}

} // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the entry point libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    const sinks::UnixRequest request = parse(line);
    if (const auto* invalid = std::get_if<sinks::InvalidRequest>(&request))
        require(!invalid->message.empty(), "an invalid request says why");
    if (const auto* subscribe = std::get_if<sinks::SubscribeRequest>(&request))
        require(sinks::isSubscriptionName(subscribe->name), "a subscription name is valid");
    if (const auto* deletion = std::get_if<sinks::DeleteCursorRequest>(&request))
        require(sinks::isSubscriptionName(deletion->name), "a cursor name is valid");
    require(same(request, parse(line)), "the same line gives the same request");
    return 0;
}
