// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "event/event_loop.hpp"
#include "event/timer.hpp"
#include "metrics/exposition.hpp"
#include "metrics/figures.hpp"
#include "metrics/http_listener.hpp"
#include "metrics/render.hpp"

namespace wspush::metrics {

// The daemon's figures for monitoring: GET /metrics on `metrics.listen` and the textfile
// rewritten every `metrics.interval`, both in the Prometheus text format. Figures are asked
// of the daemon only when a scrape or a rewrite wants them; the one figure gathered here is
// the heartbeat round trip, which has no other home.
class Metrics
{
public:
    using Source = std::function<Figures()>;

    // Throws on error: the address cannot be bound, or the textfile cannot be written.
    Metrics(const config::MetricsConfig& config, event::EventLoop& loop, Source source);
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // A reloaded config: a changed listen address is bound anew, the old one closed.
    // Throws on error and keeps the running settings.
    void reconfigure(const config::MetricsConfig& config);

    // A pong answered our ping after `roundTrip`.
    void observeRoundTrip(std::chrono::microseconds roundTrip) noexcept
    {
        roundTrip_.observe(roundTrip);
    }

    // The exposition now; with the endpoint's and the process figures when `forScrape`.
    std::string render(bool forScrape) const;

private:
    std::unique_ptr<HttpListener> listen(const std::string& address);
    void rewriteTextfile() noexcept;

    event::EventLoop& loop_;
    Source source_;
    config::MetricsConfig config_;
    Histogram roundTrip_;
    HttpFigures http_;
    std::unique_ptr<HttpListener> listener_;
    event::Timer textfileTimer_;
    bool textfileFailing_ = false; // said once, until it works again
};

} // namespace wspush::metrics
