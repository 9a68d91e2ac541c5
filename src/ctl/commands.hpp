// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace wspush::ctl {

constexpr int exitFailure = 1; // the daemon is not reachable, or refused or did not answer
constexpr int exitUsage = 2;

struct TailOptions
{
    std::optional<std::uint64_t> since; // replay the held records after this seq first
    std::string name;                   // a durable subscription; "" for none
    bool fromFirst = false;             // a new name starts at the oldest held record
    bool raw = false;                   // payloads only
};

// Each returns the exit code.

// Prints records as they arrive, the held ones after `since` first, or those after the
// subscription's cursor, which it moves on (ack) once each record is written; follows the
// daemon across its restarts. Returns only when it cannot connect at first, stdout fails,
// or its subscription is refused or taken over.
int runTail(const std::string& socketPath, const TailOptions& options);
int runStatus(const std::string& socketPath, bool json);
// `text` "-" sends all of stdin, less one trailing newline.
int runSend(const std::string& socketPath, const std::string& text);
// Lists the subscriptions' cursors: name, seq, lag, whether a client holds it.
int runCursors(const std::string& socketPath, bool json);
int runDeleteCursor(const std::string& socketPath, const std::string& name);

} // namespace wspush::ctl
