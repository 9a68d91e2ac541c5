// SPDX-License-Identifier: MIT
#pragma once

#include <memory>

#include "config/config.hpp"
#include "event/event_loop.hpp"
#include "sinks/sink.hpp"
#include "sinks/sink_host.hpp"

namespace wspush::sinks {

// Throws on error (a file that cannot be opened, ...).
std::unique_ptr<Sink> createSink(const config::SinkConfig& config, event::EventLoop& loop,
                                 SinkHost& host);

} // namespace wspush::sinks
