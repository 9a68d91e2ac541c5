// SPDX-License-Identifier: MIT
#include "daemon/daemon.hpp"

#include <algorithm>
#include <cstdio>
#include <random>
#include <signal.h>

#include "config/config_error.hpp"
#include "config/loader.hpp"
#include "config/units.hpp"
#include "connection/token.hpp"
#include "record/encoder.hpp"
#include "record/timestamp.hpp"
#include "sinks/sink_registry.hpp"
#include "system/log.hpp"

namespace wspush::daemon {

namespace {

const char* stateName(connection::PushClient::State state)
{
    using State = connection::PushClient::State;
    switch (state) {
    case State::Idle:
    case State::Connecting:
        return "connecting";
    case State::Connected:
        return "connected";
    case State::WaitingToRetry:
        return "waiting";
    case State::Closing:
        return "closing";
    case State::Stopped:
        return "stopped";
    }
    return "unknown";
}

} // namespace

Daemon::Daemon(std::string configPath, config::Config config)
    : configPath_(std::move(configPath)), config_(std::move(config)),
      signals_(loop_, {SIGTERM, SIGINT, SIGHUP}, [this](int signal) { onSignal(signal); }),
      notifier_(loop_), store_(config_.store, loop_, records_), sinks_(createSinks(config_)),
      catchUp_(loop_.context(), [] {}), holdCheck_(loop_.context(), [] {}),
      client_(loop_, *this, config_), resume_(config_.resume),
      sleep_(loop_, [this](bool sleeping) { onSleep(sleeping); }),
      network_(loop_, [this] { client_.onNetworkChange(); }),
      metrics_(config_.metrics, loop_, [this] { return metricsFigures(); })
{
    useFilter(config_.filter);
    restoreResumeState();
    if (sinks_.empty())
        log::warning("no sinks configured: received messages are counted and discarded");
}

int Daemon::run()
{
    log::notice("wspushd starting: " + client_.displayUrl() + ", " + std::to_string(sinks_.size()) +
                " sink(s); " + storeText());
    // Ready once the config is loaded and the sinks are open, before the server answers.
    notifier_.ready("connecting to " + client_.displayUrl());
    client_.start();
    loop_.run([this] { flushSinks(); });
    store_.sync();
    log::notice("wspushd stopped: " + std::to_string(client_.counters().received) +
                " messages received, " + std::to_string(forwarded_) + " forwarded, " +
                std::to_string(filtered_) + " filtered, " +
                std::to_string(client_.counters().oversized) + " oversized");
    return exitCode_;
}

void Daemon::useFilter(const config::FilterConfig& filter)
{
    dropTexts_ = std::unordered_set<std::string>(filter.drop.begin(), filter.drop.end());
    dropLongest_ = 0;
    for (const auto& text : dropTexts_)
        dropLongest_ = std::max(dropLongest_, text.size());
}

namespace {

constexpr const char* lastIdKey = "resume.last_id";
constexpr const char* lastSequenceKey = "resume.last_sequence";

} // namespace

// The last id, the server's last sequence number and the dedup window, from the newest
// records in the store: they are there even when the values saved beside them lag (a crash
// before the next sync).
void Daemon::restoreResumeState()
{
    std::string lastId = store_.value(lastIdKey);
    if (const std::string sequence = store_.value(lastSequenceKey); !sequence.empty()) {
        try {
            resume_.setLastSequence(std::stoll(sequence));
        } catch (const std::exception&) {
        }
    }
    const std::uint64_t last = store_.lastSeq();
    if (resume_.isActive() && last != 0) {
        const std::uint64_t window = std::max<std::uint64_t>(config_.resume.dedup, 1);
        const auto reader = store_.reader(last > window ? last - window : 0);
        while (auto record = reader->next()) {
            auto [id, sequence] = resume_.fieldsOf(record->payload);
            if (id) {
                lastId = *id;
                resume_.rememberId(std::move(*id));
            }
            if (sequence)
                resume_.setLastSequence(*sequence);
        }
    }
    if (!lastId.empty())
        client_.setLastId(std::move(lastId));
}

bool Daemon::inspectForResume(std::string_view payload, bool binary) noexcept
{
    const auto verdict = resume_.inspect(payload, binary);
    if (verdict.duplicate) {
        ++duplicates_;
        log::debug("message " + *verdict.id + " came again: dropped as a duplicate");
        return false;
    }
    if (verdict.id)
        unstoredLastId_ = verdict.id;
    if (resume_.lastSequence())
        unstoredSequence_ = resume_.lastSequence();
    if (verdict.gap) {
        ++upstreamGaps_;
        const auto [expected, got] = *verdict.gap;
        log::warning("the server's sequence jumped: expected " + std::to_string(expected) +
                     ", got " + std::to_string(got) +
                     (got < expected ? " (it started again)" : ""));
        for (auto& feed : sinks_)
            feed->sink().onUpstreamGap(expected, got);
        if (config_.resume.reconnectOnGap)
            client_.reconnectNow("a gap in the server's sequence");
    }
    return true;
}

// After the records are in the store: ${LAST_ID} and the kept values move on.
void Daemon::keepResumeState() noexcept
{
    if (unstoredLastId_) {
        store_.setValue(lastIdKey, *unstoredLastId_);
        client_.setLastId(std::move(*unstoredLastId_));
        unstoredLastId_.reset();
    }
    if (unstoredSequence_) {
        store_.setValue(lastSequenceKey, std::to_string(*unstoredSequence_));
        unstoredSequence_.reset();
    }
}

void Daemon::onSignal(int signal) noexcept
{
    switch (signal) {
    case SIGHUP:
        reload();
        break;
    default:
        if (stopping_)
            return;
        stopping_ = true;
        log::notice(std::string("received ") + sigabbrev_np(signal) + ", closing the link");
        notifier_.stopping();
        client_.stop();
        break;
    }
}

void Daemon::reload() noexcept
{
    log::notice("reloading " + configPath_);
    notifier_.reloading();
    try {
        config::Config next = config::loadConfigFile(configPath_);
        connection::readToken(next.server); // an unreadable token file rejects the reload
        metrics_.reconfigure(next.metrics);
        client_.reconfigure(next);
        try {
            replaceSinks(next.sinks);
        } catch (...) {
            client_.reconfigure(config_);
            throw;
        }
        store_.reconfigure(next.store);
        useFilter(next.filter);
        resume_.reconfigure(next.resume);
        config_ = std::move(next);
        log::notice("reloaded " + configPath_);
    } catch (const std::exception& error) {
        log::error(std::string("reload rejected, keeping the running config: ") + error.what());
    }
    notifier_.ready(stateText());
}

// Sinks whose settings did not change are kept (and reopen their files); the others are
// closed before their successors open, which may want the same path.
void Daemon::replaceSinks(const std::vector<config::SinkConfig>& next)
{
    flushSinks();
    std::vector<std::unique_ptr<SinkFeed>> kept(next.size());
    for (std::size_t i = 0; i < sinks_.size(); ++i) {
        for (std::size_t j = 0; j < next.size(); ++j) {
            if (!kept[j] && next[j] == config_.sinks[i]) {
                kept[j] = std::move(sinks_[i]);
                break;
            }
        }
    }
    for (std::size_t j = 0; j < next.size(); ++j) {
        for (std::size_t i = 0; i < sinks_.size() && !kept[j]; ++i) {
            if (sinks_[i] && sinks_[i]->sink().reconfigure(next[j]))
                kept[j] = std::move(sinks_[i]);
        }
    }

    sinks_.clear(); // closes those not kept, so a successor can take their path
    try {
        for (std::size_t j = 0; j < next.size(); ++j) {
            if (!kept[j])
                kept[j] = createSink(next[j]);
            else
                kept[j]->sink().reopen();
        }
        sinks_ = std::move(kept);
    } catch (...) {
        kept.clear();
        sinks_ = createSinks(config_);
        throw;
    }
}

// After each batch of loop events: the records of the batch go into the store, then to
// every sink that takes them.
void Daemon::flushSinks() noexcept
{
    store_.commit();
    keepResumeState();
    feedSinks();
    paceLink();
    if (iterationUs_ != 0)
        lastMessageUs_ = iterationUs_;
    iterationUs_ = 0;
}

void Daemon::feedSinks() noexcept
{
    // A flush may make room at once (a file sink writes its batch, an MQTT broker at QoS 0
    // takes what was published as it is written): then there is no event to wait for, so a
    // sink catching up goes round a few times here, and a timer brings the next iteration.
    constexpr int rounds = 8;
    bool more = false;
    for (int round = 0; round < rounds; ++round) {
        more = false;
        for (auto& feed : sinks_)
            more = feed->feed() || more;
        for (auto& feed : sinks_) {
            feed->sink().flush();
            more = more || feed->canTakeMore();
        }
        if (!more)
            break;
    }
    for (auto& feed : sinks_)
        feed->keepPosition();
    if (more && !catchUp_.isPending())
        catchUp_.schedule(std::chrono::microseconds(0));
}

void Daemon::paceLink() noexcept
{
    bool behind = false;
    for (const auto& feed : sinks_)
        behind = feed->sink().isBehind() || behind;
    if (behind && !holdCheck_.isPending())
        holdCheck_.schedule(std::chrono::milliseconds(50));
    if (behind == linkHeld_)
        return;
    linkHeld_ = behind;
    client_.holdBack(behind);
}

std::unique_ptr<SinkFeed> Daemon::createSink(const config::SinkConfig& config)
{
    return std::make_unique<SinkFeed>(store_, sinks::createSink(config, loop_, *this));
}

std::vector<std::unique_ptr<SinkFeed>> Daemon::createSinks(const config::Config& config)
{
    std::vector<std::unique_ptr<SinkFeed>> created;
    for (const auto& sink : config.sinks)
        created.push_back(createSink(sink));
    return created;
}

std::string Daemon::stateText() const
{
    std::string text = client_.state() == connection::PushClient::State::Connected
                           ? "connected to " + client_.displayUrl() + ", " +
                                 std::to_string(forwarded_) + " messages"
                           : std::string(stateName(client_.state())) + ": " + client_.displayUrl();
    if (!client_.lastProbe().empty())
        text += "; last probe: " + client_.lastProbe();
    return text + "; " + storeText();
}

// "store /var/lib/wspushd/store 12 MiB, seq 1-1042, epoch 5f0c…; behind: file 12"
std::string Daemon::storeText() const
{
    std::string text =
        "store " + (store_.path().empty() ? std::string("in memory") : store_.path()) + " " +
        std::to_string(store_.bytes() >> 20) + " MiB, seq " + std::to_string(store_.firstSeq()) +
        "-" + std::to_string(store_.lastSeq()) + ", epoch " + store_.epoch().substr(0, 8);
    std::string behind;
    for (const auto& feed : sinks_) {
        if (feed->lag() != 0)
            behind += (behind.empty() ? "; behind: " : ", ") + feed->sink().name() + " " +
                      std::to_string(feed->lag());
    }
    return text + behind;
}

void Daemon::onRetryScheduled(config::Duration delay, const std::string& reason) noexcept
{
    notifier_.status("reconnecting in " + config::formatSeconds(delay) + ": " + reason);
}

void Daemon::onConnected() noexcept
{
    notifier_.status(stateText());
    for (auto& feed : sinks_)
        feed->sink().onLinkUp(client_.displayUrl());
}

void Daemon::onDisconnected(const std::string& reason) noexcept
{
    notifier_.status("disconnected: " + reason);
    for (auto& feed : sinks_)
        feed->sink().onLinkDown(reason);
}

Json::Value Daemon::status() const
{
    const auto& counters = client_.counters();
    Json::Value status(Json::objectValue);
    status["run"] = store_.epoch(); // the round-1 name, kept for old clients
    status["epoch"] = store_.epoch();
    status["state"] = stateName(client_.state());
    status["server"] = client_.displayUrl();
    status["address"] = client_.address();
    if (client_.state() == connection::PushClient::State::Connected) {
        std::string since;
        record::appendTimestamp(client_.connectedSinceUs(), since);
        status["connected_since"] = since;
    } else {
        status["connected_since"] = Json::Value();
    }
    status["reconnects"] = Json::UInt64(counters.reconnects);
    status["probes"] = Json::UInt64(counters.probes);
    status["probe_reconnects"] = Json::UInt64(counters.probeReconnects);
    status["last_probe"] = client_.lastProbe();
    status["received"] = Json::UInt64(counters.received);
    status["forwarded"] = Json::UInt64(forwarded_);
    status["filtered"] = Json::UInt64(filtered_);
    status["oversized"] = Json::UInt64(counters.oversized);
    status["last_seq"] = Json::UInt64(store_.lastSeq());
    status["duplicates"] = Json::UInt64(duplicates_);
    status["upstream_gaps"] = Json::UInt64(upstreamGaps_);
    status["last_id"] = client_.lastId();
    Json::Value store(Json::objectValue);
    store["path"] = store_.path();
    store["epoch"] = store_.epoch();
    store["first"] = Json::UInt64(store_.firstSeq());
    store["last"] = Json::UInt64(store_.lastSeq());
    store["bytes"] = Json::UInt64(store_.bytes());
    status["store"] = store;
    Json::Value sinkList(Json::arrayValue);
    for (std::size_t i = 0; i < sinks_.size(); ++i) {
        const sinks::Sink& sink = sinks_[i]->sink();
        const sinks::SinkCounters sinkCounters = sink.counters();
        Json::Value entry(Json::objectValue);
        entry["type"] = config_.sinks[i].type;
        entry["name"] = sink.name();
        entry["forwarded"] = Json::UInt64(sinkCounters.forwarded);
        entry["dropped"] = Json::UInt64(sinkCounters.dropped + sinks_[i]->lost());
        entry["lag"] = Json::UInt64(sinks_[i]->lag());
        sinkList.append(entry);
    }
    status["sinks"] = sinkList;
    return status;
}

metrics::Figures Daemon::metricsFigures() const
{
    const auto& counters = client_.counters();
    metrics::Figures figures;
    figures.server = client_.displayUrl();
    figures.linkUp = client_.state() == connection::PushClient::State::Connected;
    figures.connectedSinceUs = figures.linkUp ? client_.connectedSinceUs() : 0;
    // connectedSinceUs() stays set once a link was up: the first connect, then reconnects.
    figures.connects = counters.reconnects + (client_.connectedSinceUs() != 0 ? 1 : 0);
    figures.reconnects = counters.reconnects;
    figures.heartbeatsSent = counters.heartbeatsSent;
    figures.received = counters.received;
    figures.forwarded = forwarded_;
    figures.filtered = filtered_;
    figures.oversized = counters.oversized;
    figures.duplicates = duplicates_;
    figures.upstreamGaps = upstreamGaps_;
    figures.invalidUtf8 = invalidUtf8_;
    figures.lastMessageUs = lastMessageUs_;
    figures.storeBytes = store_.bytes();
    figures.storeFirstSeq = store_.firstSeq();
    figures.storeLastSeq = store_.lastSeq();
    for (std::size_t i = 0; i < sinks_.size(); ++i) {
        const sinks::SinkCounters sinkCounters = sinks_[i]->sink().counters();
        figures.sinks.push_back({config_.sinks[i].type, sinks_[i]->sink().name(),
                                 sinkCounters.forwarded, sinkCounters.dropped + sinks_[i]->lost(),
                                 sinks_[i]->lag(), sinkCounters.queuedBytes});
    }
    return figures;
}

std::string Daemon::sendUpstream(std::string text, std::function<void(bool)> written)
{
    return client_.send(text, std::move(written));
}

void Daemon::onMessage(std::string&& payload, bool binary) noexcept
{
    // Hashing every payload to look it up cost more than the length check that rules out
    // nearly all of them.
    if (!binary && payload.size() <= dropLongest_ && dropTexts_.contains(payload)) {
        ++filtered_;
        return;
    }
    if (resume_.isActive() && !inspectForResume(payload, binary))
        return;
    if (iterationUs_ == 0)
        iterationUs_ = record::nowUs();
    try {
        std::shared_ptr<record::Record> record = records_.take();
        record->seq = store_.nextSeq();
        record->receivedUs = iterationUs_;
        record->binary = binary;
        // The client gets the record's old buffer back, for its next message.
        record->payload.swap(payload);
        const std::size_t invalidUtf8 = record::encodeLine(*record);
        if (invalidUtf8 != 0) {
            invalidUtf8_ += invalidUtf8;
            log::warning("message " + std::to_string(record->seq) +
                         ": invalid UTF-8 replaced by U+FFFD (" + std::to_string(invalidUtf8) +
                         " sequences)");
        }
        ++forwarded_;
        store_.append(std::move(record));
    } catch (const std::bad_alloc&) {
        log::error("out of memory: a message was dropped before it got a seq");
    }
}

void Daemon::onSleep(bool sleeping) noexcept
{
    if (sleeping) {
        // Nothing received so far may be lost if the machine does not come back.
        flushSinks();
        store_.sync();
        return;
    }
    client_.probe("the machine woke up");
}

void Daemon::onProbed() noexcept
{
    notifier_.status(stateText());
}

void Daemon::onStopped(bool gaveUp) noexcept
{
    if (gaveUp)
        exitCode_ = 1;
    loop_.stop();
}

} // namespace wspush::daemon
