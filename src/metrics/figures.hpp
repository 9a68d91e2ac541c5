// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wspush::metrics {

// One sink's counters, as the daemon's status has them.
struct SinkFigures
{
    std::string type;              // "file", as the config names it
    std::string name;              // "file /var/lib/wspushd/messages.jsonl", as logs name it
    std::uint64_t delivered = 0;   // records it handed on
    std::uint64_t dropped = 0;     // records it skipped (its policy, retention)
    std::uint64_t lag = 0;         // records in the store not given to it yet
    std::uint64_t queuedBytes = 0; // held in memory, waiting to be written
};

// What the daemon shows at one moment: a plain copy, taken when a scrape or the textfile
// asks for it, so nothing on the message path is touched by the metrics.
struct Figures
{
    std::string server; // the URL, credentials masked
    bool linkUp = false;
    std::int64_t connectedSinceUs = 0; // the current link's start (Unix µs); 0 while down
    std::uint64_t connects = 0;        // upgrades that succeeded
    std::uint64_t reconnects = 0;      // of those, after the first
    std::uint64_t heartbeatsSent = 0;
    std::uint64_t received = 0;
    std::uint64_t forwarded = 0;
    std::uint64_t filtered = 0;
    std::uint64_t oversized = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t upstreamGaps = 0;
    std::uint64_t invalidUtf8 = 0;  // sequences replaced by U+FFFD
    std::int64_t lastMessageUs = 0; // the newest record's receive time (Unix µs); 0: none
    std::uint64_t storeBytes = 0;
    std::uint64_t storeFirstSeq = 0; // 0 when empty
    std::uint64_t storeLastSeq = 0;
    std::vector<SinkFigures> sinks;
};

} // namespace wspush::metrics
