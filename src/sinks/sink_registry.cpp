// SPDX-License-Identifier: MIT
#include "sinks/sink_registry.hpp"

#include <string_view>

#include "config/config_error.hpp"
#include "sinks/exec_sink.hpp"
#include "sinks/file_sink.hpp"
#include "sinks/journal_sink.hpp"
#include "sinks/mqtt_sink.hpp"
#include "sinks/redis_sink.hpp"
#include "sinks/syslog_sink.hpp"
#include "sinks/unix_sink.hpp"

namespace wspush::sinks {

namespace {

struct SinkDescriptor
{
    std::string_view type;
    std::unique_ptr<Sink> (*create)(const config::SinkConfig& config, event::EventLoop& loop,
                                    SinkHost& host);
};

std::unique_ptr<Sink> createFileSink(const config::SinkConfig& config, event::EventLoop& loop,
                                     SinkHost&)
{
    return std::make_unique<FileSink>(std::get<config::FileSinkConfig>(config.settings), loop);
}

std::unique_ptr<Sink> createUnixSink(const config::SinkConfig& config, event::EventLoop& loop,
                                     SinkHost& host)
{
    return std::make_unique<UnixSink>(std::get<config::UnixSinkConfig>(config.settings), loop,
                                      host);
}

std::unique_ptr<Sink> createJournalSink(const config::SinkConfig& config, event::EventLoop& loop,
                                        SinkHost&)
{
    return std::make_unique<JournalSink>(std::get<config::JournalSinkConfig>(config.settings),
                                         loop);
}

std::unique_ptr<Sink> createSyslogSink(const config::SinkConfig& config, event::EventLoop& loop,
                                       SinkHost&)
{
    return std::make_unique<SyslogSink>(std::get<config::SyslogSinkConfig>(config.settings), loop);
}

std::unique_ptr<Sink> createMqttSink(const config::SinkConfig& config, event::EventLoop& loop,
                                     SinkHost&)
{
    return std::make_unique<MqttSink>(std::get<config::MqttSinkConfig>(config.settings), loop);
}

std::unique_ptr<Sink> createExecSink(const config::SinkConfig& config, event::EventLoop& loop,
                                     SinkHost& host)
{
    return std::make_unique<ExecSink>(std::get<config::ExecSinkConfig>(config.settings), loop,
                                      host);
}

std::unique_ptr<Sink> createRedisSink(const config::SinkConfig& config, event::EventLoop& loop,
                                      SinkHost&)
{
    return std::make_unique<RedisSink>(std::get<config::RedisSinkConfig>(config.settings), loop);
}

constexpr SinkDescriptor descriptors[] = {
    {"exec", createExecSink}, {"file", createFileSink},   {"journal", createJournalSink},
    {"mqtt", createMqttSink}, {"redis", createRedisSink}, {"syslog", createSyslogSink},
    {"unix", createUnixSink},
};

const SinkDescriptor* find(std::string_view type) noexcept
{
    for (const auto& descriptor : descriptors) {
        if (descriptor.type == type)
            return &descriptor;
    }
    return nullptr;
}

} // namespace

std::unique_ptr<Sink> createSink(const config::SinkConfig& config, event::EventLoop& loop,
                                 SinkHost& host)
{
    const SinkDescriptor* descriptor = find(config.type);
    if (descriptor == nullptr) // the config loader knows the same types
        throw config::ConfigError(config.location,
                                  "sink type '" + config.type + "' is not available");
    return descriptor->create(config, loop, host);
}

} // namespace wspush::sinks
