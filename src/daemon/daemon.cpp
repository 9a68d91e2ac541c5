// SPDX-License-Identifier: MIT
#include "daemon/daemon.hpp"

#include <signal.h>

#include "config/config_error.hpp"
#include "config/loader.hpp"
#include "record/encoder.hpp"
#include "record/timestamp.hpp"
#include "sinks/sink_registry.hpp"
#include "system/log.hpp"

namespace wspush::daemon {

namespace {

std::vector<std::unique_ptr<sinks::Sink>> createSinks(const config::Config& config,
                                                      event::EventLoop& loop)
{
    std::vector<std::unique_ptr<sinks::Sink>> created;
    for (const auto& sink : config.sinks)
        created.push_back(sinks::createSink(sink, loop));
    return created;
}

} // namespace

Daemon::Daemon(std::string configPath, config::Config config)
    : configPath_(std::move(configPath)), config_(std::move(config)),
      signals_(loop_, {SIGTERM, SIGINT, SIGHUP}, [this](int signal) { onSignal(signal); }),
      sinks_(createSinks(config_, loop_)), client_(loop_, *this, config_)
{
    useFilter(config_.filter);
    if (sinks_.empty())
        log::warning("no sinks configured: received messages are counted and discarded");
}

int Daemon::run()
{
    log::notice("wspushd starting: " + client_.displayUrl() + ", " + std::to_string(sinks_.size()) +
                " sink(s)");
    client_.start();
    loop_.run([this] { flushSinks(); });
    log::notice("wspushd stopped: " + std::to_string(client_.counters().received) +
                " messages received, " + std::to_string(nextSeq_ - 1) + " forwarded, " +
                std::to_string(filtered_) + " filtered, " +
                std::to_string(client_.counters().oversized) + " oversized");
    return exitCode_;
}

void Daemon::useFilter(const config::FilterConfig& filter)
{
    dropTexts_ = std::unordered_set<std::string>(filter.drop.begin(), filter.drop.end());
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
        client_.stop();
        break;
    }
}

void Daemon::reload() noexcept
{
    log::notice("reloading " + configPath_);
    try {
        config::Config next = config::loadConfigFile(configPath_);
        sinks::checkSinkTypes(next);

        const bool sinksChanged = next.sinks != config_.sinks;
        std::vector<std::unique_ptr<sinks::Sink>> nextSinks;
        if (sinksChanged)
            nextSinks = createSinks(next, loop_);
        client_.reconfigure(next);

        if (sinksChanged) {
            flushSinks();
            sinks_ = std::move(nextSinks);
        } else {
            for (auto& sink : sinks_)
                sink->reopen();
        }
        useFilter(next.filter);
        config_ = std::move(next);
        log::notice("reloaded " + configPath_);
    } catch (const std::exception& error) {
        log::error(std::string("reload rejected, keeping the running config: ") + error.what());
    }
}

void Daemon::flushSinks() noexcept
{
    for (auto& sink : sinks_)
        sink->flush();
}

void Daemon::onMessage(std::string&& payload, bool binary) noexcept
{
    if (!binary && dropTexts_.contains(payload)) {
        ++filtered_;
        return;
    }
    try {
        auto encoded = record::encodeRecord(nextSeq_, record::nowUs(), std::move(payload), binary);
        if (encoded.invalidUtf8 != 0) {
            invalidUtf8_ += encoded.invalidUtf8;
            log::warning("message " + std::to_string(nextSeq_) +
                         ": invalid UTF-8 replaced by U+FFFD (" +
                         std::to_string(encoded.invalidUtf8) + " sequences)");
        }
        ++nextSeq_;
        const auto record = std::make_shared<const record::Record>(std::move(encoded.record));
        for (auto& sink : sinks_)
            sink->deliver(record);
    } catch (const std::bad_alloc&) {
        log::error("out of memory: a message was dropped before it got a seq");
    }
}

void Daemon::onStopped(bool gaveUp) noexcept
{
    if (gaveUp)
        exitCode_ = 1;
    loop_.stop();
}

} // namespace wspush::daemon
