// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace wspush::ctl {

constexpr int exitFailure = 1; // the daemon is not reachable, or refused or did not answer
constexpr int exitUsage = 2;

// Each returns the exit code.

// Prints records as they arrive, the held ones after `since` first; follows the daemon
// across its restarts. Returns only when it cannot connect at first, or stdout fails.
int runTail(const std::string& socketPath, std::optional<std::uint64_t> since, bool raw);
int runStatus(const std::string& socketPath, bool json);
// `text` "-" sends all of stdin, less one trailing newline.
int runSend(const std::string& socketPath, const std::string& text);

} // namespace wspush::ctl
