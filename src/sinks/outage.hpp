// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>

#include "system/log.hpp"

namespace wspush::sinks {

// A sink's spell of not being able to hand records on: told once when it starts, and once
// when it ends, with how many records were dropped meanwhile (counting those dropped just
// before it was noticed, when a burst filled max_queue before the first write failed).
class Outage
{
public:
    explicit Outage(std::string sinkName) : sinkName_(std::move(sinkName)) {}

    // Logs `why` if no outage is under way yet.
    void begin(log::Level level, const std::string& why) noexcept;
    // Logs the end of the outage under way, or drops that came without one.
    void end() noexcept;
    bool ongoing() const noexcept { return ongoing_; }
    // Logs the first drop of an outage: the admin learns that records are being lost now,
    // not only when it ends.
    void countDrop() noexcept;

private:
    std::string sinkName_;
    bool ongoing_ = false;
    std::uint64_t dropped_ = 0;
};

} // namespace wspush::sinks
