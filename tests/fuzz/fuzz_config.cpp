// SPDX-License-Identifier: MIT
// The config loader on any text: it returns a Config that keeps the documented limits, or
// throws ConfigError naming a place in the file; nothing else may escape.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config_error.hpp"
#include "config/loader.hpp"
#include "fuzz_check.hpp"

using wspush::fuzz::require;
namespace config = wspush::config;

namespace {

void checkAccepted(const config::Config& config)
{
    const std::string_view url = config.server.url;
    require(url.starts_with("ws://") || url.starts_with("wss://"), "server.url is ws:// or wss://");
    const auto& reconnect = config.reconnect;
    require(reconnect.initialDelay > config::Duration{0}, "reconnect.initial_delay > 0");
    require(reconnect.maxDelay >= reconnect.initialDelay, "reconnect.max_delay >= initial_delay");
    require(reconnect.multiplier >= 1.0, "reconnect.multiplier >= 1");
    require(reconnect.jitter >= 0.0 && reconnect.jitter < 1.0, "reconnect.jitter in [0, 1)");
    for (const auto& wait : reconnect.closeCodes)
        require(wait.first >= 1000 && wait.first <= wait.last && wait.last <= 4999,
                "close codes within 1000-4999");
    const auto& heartbeat = config.heartbeat;
    const config::Duration zero{0};
    require(heartbeat.pingInterval == zero || heartbeat.timeout == zero ||
                heartbeat.timeout > heartbeat.pingInterval,
            "heartbeat.timeout > heartbeat.ping_interval");
}

} // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the entry point libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        checkAccepted(config::parseConfig(text, "fuzz.yaml"));
    } catch (const config::ConfigError& error) {
        const config::Location& where = error.where();
        require(where.path == "fuzz.yaml" && where.line >= 1 && where.column >= 1,
                "an error names a line and column of the file");
        require(std::string_view(error.what()).starts_with("fuzz.yaml:"),
                "an error reads PATH:LINE:COLUMN: message");
    }
    return 0;
}
