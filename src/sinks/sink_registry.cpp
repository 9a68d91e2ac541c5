// SPDX-License-Identifier: MIT
#include "sinks/sink_registry.hpp"

#include <string_view>

#include "config/config_error.hpp"
#include "sinks/file_sink.hpp"
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

constexpr SinkDescriptor descriptors[] = {
    {"file", createFileSink},
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

std::string availableTypes()
{
    std::string list;
    for (const auto& descriptor : descriptors) {
        if (!list.empty())
            list += ", ";
        list += descriptor.type;
    }
    return list;
}

} // namespace

void checkSinkTypes(const config::Config& config)
{
    for (const auto& sink : config.sinks) {
        if (find(sink.type) == nullptr)
            throw config::ConfigError(sink.location, "sink type '" + sink.type +
                                                         "' is not available in this build "
                                                         "yet (available: " +
                                                         availableTypes() + ")");
    }
}

std::unique_ptr<Sink> createSink(const config::SinkConfig& config, event::EventLoop& loop,
                                 SinkHost& host)
{
    const SinkDescriptor* descriptor = find(config.type);
    if (descriptor == nullptr)
        throw config::ConfigError(config.location,
                                  "sink type '" + config.type + "' is not available");
    return descriptor->create(config, loop, host);
}

} // namespace wspush::sinks
