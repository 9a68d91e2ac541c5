// SPDX-License-Identifier: MIT
#include "connection/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace wspush::connection {

namespace {

config::Duration toDuration(double ms)
{
    return config::Duration(static_cast<config::Duration::rep>(std::llround(ms)));
}

} // namespace

Backoff::Backoff(const config::ReconnectConfig& config, std::uint64_t seed)
    : config_(config), random_(seed)
{
}

double Backoff::spread(double low, double high)
{
    return config_.jitter > 0.0 ? uniform(low, high) : 0.0;
}

double Backoff::uniform(double low, double high)
{
    return std::uniform_real_distribution<double>(low, high)(random_);
}

config::Duration Backoff::next(config::Duration atLeast, bool afterLoss)
{
    const double initial = static_cast<double>(config_.initialDelay.count());
    const double max = static_cast<double>(config_.maxDelay.count());
    const double base =
        std::min(max, initial * std::pow(config_.multiplier, static_cast<double>(attempts_)));
    ++attempts_;
    // Drawn within the part of base +/- jitter below max_delay, so that the delays stay
    // uniform there instead of piling up at max_delay.
    double delay = base;
    if (config_.jitter > 0.0)
        delay =
            uniform(base * (1.0 - config_.jitter), std::min(max, base * (1.0 + config_.jitter)));
    if (afterLoss) {
        const double window = static_cast<double>(config_.fleetSpread.count());
        delay += uniform(0.0, std::clamp(max - delay, 0.0, window));
    }
    const double floor = static_cast<double>(atLeast.count());
    if (delay >= floor)
        return toDuration(delay);
    return toDuration(floor * (1.0 + spread(0.0, config_.jitter)));
}

config::Duration Backoff::longest()
{
    ++attempts_;
    const double max = static_cast<double>(config_.maxDelay.count());
    return toDuration(max * (1.0 - spread(0.0, config_.jitter)));
}

} // namespace wspush::connection
