// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "metrics/exposition.hpp"
#include "metrics/figures.hpp"
#include "metrics/process_figures.hpp"

namespace wspush::metrics {

// The metrics endpoint's own counters.
struct HttpFigures
{
    std::uint64_t answered200 = 0;
    std::uint64_t answered404 = 0;
    std::uint64_t answered400 = 0; // malformed or oversized requests
    std::uint64_t dropped = 0;     // connections closed unanswered: too slow, or evicted
};

// The whole exposition: the daemon's figures, the heartbeat round trip, and, when given,
// the endpoint's counters and the process figures (the textfile has neither: node_exporter
// exports its own process_* and would refuse the same names twice).
std::string renderMetrics(const Figures& figures, const Histogram& roundTrip,
                          const HttpFigures* http, const std::optional<ProcessFigures>& process);

} // namespace wspush::metrics
