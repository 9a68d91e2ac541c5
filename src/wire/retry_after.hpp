// SPDX-License-Identifier: MIT
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"

namespace wspush::wire {

// A Retry-After value (RFC 9110 10.2.3: delay-seconds, or an HTTP-date in any of the three
// forms of 5.6.7) as a wait from now, at most `longest` so that a broken server cannot park
// the daemon; a date in the past is no wait. nullopt when the value is neither.
std::optional<config::Duration> parseRetryAfter(const std::string& value, config::Duration longest);

} // namespace wspush::wire
