// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <random>

#include "config/config.hpp"

namespace wspush::connection {

// Reconnect delays: initial_delay, growing by multiplier up to max_delay, each spread by
// +/- jitter so a fleet that lost the same server does not come back in step. Every delay
// the backoff chooses itself stays within max_delay, jitter and fleet spread included; only
// a wait the server asked for may be longer.
class Backoff
{
public:
    explicit Backoff(const config::ReconnectConfig& config,
                     std::uint64_t seed = std::random_device{}());

    // The delay before the next attempt; counts the attempt. `afterLoss` (a working link was
    // lost and is not back yet) adds a uniform share of fleet_spread, as much of it as fits
    // under max_delay: a fleet that lost the same server then comes back over that long, not
    // within the jitter. A delay below `atLeast` (what the server asked for) becomes
    // `atLeast` spread upwards by the jitter.
    config::Duration next(config::Duration atLeast = config::Duration{0}, bool afterLoss = false);
    // max_delay, spread downwards by the jitter; counts the attempt.
    config::Duration longest();
    // The attempts counted since the last reset().
    unsigned attempts() const noexcept { return attempts_; }
    void reset() noexcept { attempts_ = 0; }
    void reconfigure(const config::ReconnectConfig& config) noexcept { config_ = config; }

private:
    double spread(double low, double high);
    double uniform(double low, double high);

    config::ReconnectConfig config_;
    unsigned attempts_ = 0;
    std::mt19937_64 random_;
};

} // namespace wspush::connection
