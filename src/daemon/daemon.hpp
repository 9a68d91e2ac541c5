// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "config/config.hpp"
#include "connection/push_client.hpp"
#include "connection/resume_tracker.hpp"
#include "daemon/sink_feed.hpp"
#include "event/event_loop.hpp"
#include "event/signal_watcher.hpp"
#include "event/timer.hpp"
#include "metrics/metrics.hpp"
#include "record/record_pool.hpp"
#include "sinks/sink.hpp"
#include "sinks/sink_host.hpp"
#include "store/store.hpp"
#include "systemd/notifier.hpp"
#include "watch/network_watcher.hpp"
#include "watch/sleep_watcher.hpp"

namespace wspush::daemon {

// Owns the loop, the push connection, the store and the sinks: each received message becomes
// one record in the store, and every sink reads the store through its own cursor.
class Daemon final : private connection::PushClient::Listener, private sinks::SinkHost
{
public:
    // Throws on error: a sink that cannot be set up, the loop, the client.
    Daemon(std::string configPath, config::Config config);
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Runs until SIGTERM/SIGINT (0) or until reconnecting gave up (1); returns the exit code.
    int run();

private:
    void onSignal(int signal) noexcept;
    void reload() noexcept;
    void flushSinks() noexcept;
    void feedSinks() noexcept;
    void paceLink() noexcept;
    void useFilter(const config::FilterConfig& filter);
    void restoreResumeState();
    // false when resume.* says the message is not to be forwarded (a duplicate).
    bool inspectForResume(std::string_view payload, bool binary) noexcept;
    void keepResumeState() noexcept;

    void onConnected() noexcept override;
    void onDisconnected(const std::string& reason) noexcept override;
    void onRetryScheduled(config::Duration delay, const std::string& reason) noexcept override;
    void onMessage(std::string&& payload, bool binary) noexcept override;
    void onStopped(bool gaveUp) noexcept override;
    void onRoundTrip(std::chrono::microseconds roundTrip) noexcept override
    {
        metrics_.observeRoundTrip(roundTrip);
    }
    void onProbed() noexcept override;
    void onSleep(bool sleeping) noexcept;

    Json::Value status() const override;
    store::Store& store() override { return store_; }
    std::string sendUpstream(std::string text, std::function<void(bool)> written) override;

    // What the metrics show, copied when a scrape or the textfile asks.
    metrics::Figures metricsFigures() const;

    std::unique_ptr<SinkFeed> createSink(const config::SinkConfig& config);
    std::vector<std::unique_ptr<SinkFeed>> createSinks(const config::Config& config);
    // For STATUS=: "connected to URL, 1042 messages; store …", "waiting: URL; store …".
    std::string stateText() const;
    std::string storeText() const;
    void replaceSinks(const std::vector<config::SinkConfig>& next);

    std::string configPath_;
    config::Config config_;
    event::EventLoop loop_;
    event::SignalWatcher signals_;
    systemd::Notifier notifier_;
    record::RecordPool records_; // before the store and sinks: it outlives every record
    store::Store store_;
    std::vector<std::unique_ptr<SinkFeed>> sinks_;
    event::Timer catchUp_; // another loop iteration, for sinks with records left to take
    // The link held back while a local reader catches up; the timer looks again while
    // nothing else happens.
    event::Timer holdCheck_;
    bool linkHeld_ = false;
    connection::PushClient client_;

    std::unordered_set<std::string> dropTexts_;
    std::size_t dropLongest_ = 0; // of dropTexts_: a longer payload is never dropped
    // The receive time of the records of this loop iteration, read once when the first one
    // arrives (0: none yet): they all came out of the same read().
    std::int64_t iterationUs_ = 0;
    std::uint64_t forwarded_ = 0; // in this run
    connection::ResumeTracker resume_;
    // The id and sequence number of the newest record, kept once it is in the store.
    std::optional<std::string> unstoredLastId_;
    std::optional<std::int64_t> unstoredSequence_;
    std::uint64_t duplicates_ = 0;
    std::uint64_t upstreamGaps_ = 0;
    watch::SleepWatcher sleep_;
    watch::NetworkWatcher network_;
    std::uint64_t filtered_ = 0;
    std::uint64_t invalidUtf8_ = 0;
    bool stopping_ = false;
    int exitCode_ = 0;
    std::int64_t lastMessageUs_ = 0; // the newest record's receive time
    metrics::Metrics metrics_;       // last: it reads all of the above
};

} // namespace wspush::daemon
