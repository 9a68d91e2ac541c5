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
        return replay->since == other.since && replay->run == other.run;
    }
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
    require(same(request, parse(line)), "the same line gives the same request");
    return 0;
}
