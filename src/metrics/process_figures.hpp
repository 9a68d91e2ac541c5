// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>

namespace wspush::metrics {

// This process's figures under the standard process_* names, read from /proc.
struct ProcessFigures
{
    double cpuSeconds = 0;       // user and system time
    double startTimeSeconds = 0; // since the Unix epoch
    std::uint64_t residentBytes = 0;
    std::uint64_t virtualBytes = 0;
    std::uint64_t openFds = 0;
    std::uint64_t maxFds = 0; // the soft RLIMIT_NOFILE
};

// Empty when /proc cannot be read (a sandbox without it): the figures are then left out.
std::optional<ProcessFigures> readProcessFigures() noexcept;

} // namespace wspush::metrics
