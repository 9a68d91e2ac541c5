// SPDX-License-Identifier: MIT
#include "connection/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace wspush::connection {

Backoff::Backoff(const config::ReconnectConfig& config, std::uint64_t seed)
    : config_(config), random_(seed)
{
}

config::Duration Backoff::next()
{
    const double initial = static_cast<double>(config_.initialDelay.count());
    const double max = static_cast<double>(config_.maxDelay.count());
    const double base =
        std::min(max, initial * std::pow(config_.multiplier, static_cast<double>(attempts_)));
    ++attempts_;
    double factor = 1.0;
    if (config_.jitter > 0.0)
        factor += std::uniform_real_distribution<double>(-config_.jitter, config_.jitter)(random_);
    const double jittered = std::clamp(base * factor, 0.0, max);
    return config::Duration(static_cast<config::Duration::rep>(std::llround(jittered)));
}

} // namespace wspush::connection
