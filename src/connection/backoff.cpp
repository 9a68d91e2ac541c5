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
    return config_.jitter > 0.0 ? std::uniform_real_distribution<double>(low, high)(random_) : 0.0;
}

config::Duration Backoff::next(config::Duration atLeast)
{
    const double initial = static_cast<double>(config_.initialDelay.count());
    const double max = static_cast<double>(config_.maxDelay.count());
    const double base =
        std::min(max, initial * std::pow(config_.multiplier, static_cast<double>(attempts_)));
    ++attempts_;
    const double jittered =
        std::clamp(base * (1.0 + spread(-config_.jitter, config_.jitter)), 0.0, max);
    const double floor = static_cast<double>(atLeast.count());
    if (jittered >= floor)
        return toDuration(jittered);
    return toDuration(floor * (1.0 + spread(0.0, config_.jitter)));
}

config::Duration Backoff::fleetSpread()
{
    const double window = static_cast<double>(config_.fleetSpread.count());
    return toDuration(std::uniform_real_distribution<double>(0.0, window)(random_));
}

config::Duration Backoff::longest()
{
    ++attempts_;
    const double max = static_cast<double>(config_.maxDelay.count());
    return toDuration(max * (1.0 - spread(0.0, config_.jitter)));
}

} // namespace wspush::connection
