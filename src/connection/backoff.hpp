// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <random>

#include "config/config.hpp"

namespace wspush::connection {

// Reconnect delays: initial_delay, growing by multiplier up to max_delay, each spread by
// +/- jitter so a fleet that lost the same server does not come back in step.
class Backoff
{
public:
    explicit Backoff(const config::ReconnectConfig& config,
                     std::uint64_t seed = std::random_device{}());

    // The delay before the next attempt; counts the attempt. A delay below `atLeast` (what
    // the server asked for) becomes `atLeast` spread upwards by the jitter.
    config::Duration next(config::Duration atLeast = config::Duration{0});
    // max_delay, spread downwards by the jitter; counts the attempt.
    config::Duration longest();
    // A random share of fleet_spread, added to each retry after a working link is lost: a
    // fleet that lost the same server then comes back over that long, not within the jitter.
    config::Duration fleetSpread();
    // The attempts counted since the last reset().
    unsigned attempts() const noexcept { return attempts_; }
    void reset() noexcept { attempts_ = 0; }
    void reconfigure(const config::ReconnectConfig& config) noexcept { config_ = config; }

private:
    double spread(double low, double high);

    config::ReconnectConfig config_;
    unsigned attempts_ = 0;
    std::mt19937_64 random_;
};

} // namespace wspush::connection
