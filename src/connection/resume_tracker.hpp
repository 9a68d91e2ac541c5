// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "config/config.hpp"

namespace wspush::connection {

// What resume.* makes of each message: its id (for ${LAST_ID} and dedup) and its place in
// the server's sequence (for gaps). Dedup keeps the last `dedup` ids, evicting the oldest:
// O(1) a message.
class ResumeTracker
{
public:
    struct Gap
    {
        std::int64_t expected = 0;
        std::int64_t got = 0;
    };

    struct Verdict
    {
        bool duplicate = false;
        std::optional<std::string> id; // as text: a string id, or an integer's digits
        std::optional<Gap> gap;
    };

    explicit ResumeTracker(const config::ResumeConfig& config);

    bool isActive() const noexcept { return !config_.id.empty() || !config_.sequence.empty(); }
    // Looks at one message, and takes its id and sequence number as seen unless it is a
    // duplicate. Never throws: a message that is not JSON has neither.
    Verdict inspect(std::string_view payload, bool binary) noexcept;
    // An id from the store at start, so that the dedup window survives a restart.
    void rememberId(std::string id) noexcept;
    // The sequence number of the last message, kept across restarts.
    void setLastSequence(std::int64_t sequence) noexcept { lastSequence_ = sequence; }
    std::optional<std::int64_t> lastSequence() const noexcept { return lastSequence_; }
    // The id and sequence number of `payload`, without taking them as seen.
    struct Fields
    {
        std::optional<std::string> id; // as text: a string id, or an integer's digits
        std::optional<std::int64_t> sequence;
    };
    Fields fieldsOf(std::string_view payload) const noexcept;

    void reconfigure(const config::ResumeConfig& config);
    const config::ResumeConfig& config() const noexcept { return config_; }

private:
    config::ResumeConfig config_;
    std::unordered_set<std::string> seen_;
    std::deque<std::string> order_; // oldest first
    std::optional<std::int64_t> lastSequence_;
};

} // namespace wspush::connection
