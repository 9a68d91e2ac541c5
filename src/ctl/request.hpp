// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "wspush/subscriber.hpp"

namespace wspush::ctl {

// How long the daemon may take to answer a request.
constexpr std::chrono::seconds replyTimeout{5};

// Prints "wspushctl: TEXT" on stderr.
void warn(std::string_view text);

// Prints why on stderr when it cannot connect.
std::optional<Subscriber> connectOrWarn(const std::string& socketPath);

using Deadline = std::chrono::steady_clock::time_point;

// The next line from the daemon, or nullopt once `deadline` passed. A malformed line is
// told on stderr and passed over. Throws Disconnected.
std::optional<Message> nextBefore(Subscriber& subscriber, Deadline deadline);

// Sends `requestLine`, then waits for the event named `answer`, passing over records and
// other events. Prints why on stderr and returns nullopt when the daemon answers with an
// "error" event, goes away, or does not answer within replyTimeout.
std::optional<Event> request(Subscriber& subscriber, const std::string& requestLine,
                             std::string_view answer);

} // namespace wspush::ctl
