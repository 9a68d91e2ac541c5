// SPDX-License-Identifier: MIT
#include "metrics/render.hpp"

#include "build_config.hpp"

namespace wspush::metrics {

namespace {

using Type = Exposition::Type;

double seconds(std::int64_t unixUs)
{
    return static_cast<double>(unixUs) / 1e6;
}

void counter(Exposition& out, std::string_view name, std::string_view help, std::uint64_t value)
{
    out.family(name, Type::Counter, help);
    out.sample(name, {}, value);
}

void gauge(Exposition& out, std::string_view name, std::string_view help, std::uint64_t value)
{
    out.family(name, Type::Gauge, help);
    out.sample(name, {}, value);
}

void gauge(Exposition& out, std::string_view name, std::string_view help, double value)
{
    out.family(name, Type::Gauge, help);
    out.sample(name, {}, value);
}

void writeLink(Exposition& out, const Figures& figures)
{
    out.family("wspushd_info", Type::Gauge,
               "Always 1: the version and the server URL (credentials masked) as labels.");
    out.sample("wspushd_info", {{"version", WSPUSH_VERSION}, {"server", figures.server}},
               std::uint64_t{1});
    out.family("wspushd_link_up", Type::Gauge,
               "1 while the WebSocket link to the server is open, else 0.");
    out.sample("wspushd_link_up", {{"server", figures.server}},
               std::uint64_t{figures.linkUp ? 1U : 0U});
    gauge(out, "wspushd_link_connected_since_seconds",
          "When the open link was established (Unix time); 0 while the link is down.",
          figures.linkUp ? seconds(figures.connectedSinceUs) : 0.0);
    counter(out, "wspushd_connects_total", "WebSocket upgrades that succeeded.", figures.connects);
    counter(out, "wspushd_reconnects_total",
            "Successful connects after the first one, i.e. links lost and restored.",
            figures.reconnects);
    counter(out, "wspushd_heartbeats_sent_total", "Heartbeat messages sent to the server.",
            figures.heartbeatsSent);
}

void writeMessages(Exposition& out, const Figures& figures)
{
    counter(out, "wspushd_messages_received_total",
            "Whole messages received from the server (oversized ones not included).",
            figures.received);
    counter(out, "wspushd_messages_forwarded_total",
            "Messages given a seq and stored for the sinks.", figures.forwarded);
    counter(out, "wspushd_messages_filtered_total",
            "Messages dropped as protocol replies by filter.drop.", figures.filtered);
    counter(out, "wspushd_messages_oversized_total",
            "Messages over server.max_message_size, dropped.", figures.oversized);
    counter(out, "wspushd_messages_duplicates_total",
            "Messages dropped because their resume.id was seen already.", figures.duplicates);
    counter(out, "wspushd_upstream_gaps_total",
            "Jumps in the server's own sequence number (resume.sequence).", figures.upstreamGaps);
    counter(out, "wspushd_invalid_utf8_total",
            "Invalid UTF-8 sequences in text messages, replaced by U+FFFD.", figures.invalidUtf8);
    gauge(out, "wspushd_last_message_time_seconds",
          "When the newest forwarded message was received (Unix time); 0 before the first.",
          figures.lastMessageUs != 0 ? seconds(figures.lastMessageUs) : 0.0);
}

void writeStore(Exposition& out, const Figures& figures)
{
    gauge(out, "wspushd_store_bytes", "Bytes of records the store holds (on disk or in memory).",
          figures.storeBytes);
    gauge(out, "wspushd_store_first_seq", "The oldest seq the store holds; 0 when empty.",
          figures.storeFirstSeq);
    gauge(out, "wspushd_store_last_seq", "The newest seq the store holds; 0 when empty.",
          figures.storeLastSeq);
}

// Each series of a sink carries `sink` (TYPE:INDEX in the config's list, unique) and `name`.
void writeSinks(Exposition& out, const Figures& figures)
{
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < figures.sinks.size(); ++i)
        ids.push_back(figures.sinks[i].type + ":" + std::to_string(i));
    const auto family = [&](std::string_view name, Type type, std::string_view help,
                            std::uint64_t SinkFigures::*field) {
        out.family(name, type, help);
        for (std::size_t i = 0; i < figures.sinks.size(); ++i)
            out.sample(name, {{"sink", ids[i]}, {"name", figures.sinks[i].name}},
                       figures.sinks[i].*field);
    };
    family("wspushd_sink_delivered_total", Type::Counter,
           "Records the sink handed on (written, sent).", &SinkFigures::delivered);
    family("wspushd_sink_dropped_total", Type::Counter,
           "Records the sink skipped: its drop policy, or removed by retention before it got "
           "them.",
           &SinkFigures::dropped);
    family("wspushd_sink_lag_records", Type::Gauge,
           "Records in the store not given to the sink yet.", &SinkFigures::lag);
    family("wspushd_sink_queued_bytes", Type::Gauge,
           "Bytes the sink holds in memory, waiting to be written.", &SinkFigures::queuedBytes);
}

void writeHttp(Exposition& out, const HttpFigures& http)
{
    constexpr std::string_view name = "wspushd_metrics_requests_total";
    out.family(name, Type::Counter, "Requests to the metrics endpoint, by HTTP status answered.");
    out.sample(name, {{"code", "200"}}, http.answered200);
    out.sample(name, {{"code", "400"}}, http.answered400);
    out.sample(name, {{"code", "404"}}, http.answered404);
    counter(out, "wspushd_metrics_connections_dropped_total",
            "Metrics connections closed unanswered: too slow, or evicted by newer ones.",
            http.dropped);
}

// The standard names and help texts, as the Prometheus client libraries write them.
void writeProcess(Exposition& out, const ProcessFigures& process)
{
    out.family("process_cpu_seconds_total", Type::Counter,
               "Total user and system CPU time spent in seconds.");
    out.sample("process_cpu_seconds_total", {}, process.cpuSeconds);
    gauge(out, "process_open_fds", "Number of open file descriptors.", process.openFds);
    gauge(out, "process_max_fds", "Maximum number of open file descriptors.", process.maxFds);
    gauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
          process.virtualBytes);
    gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
          process.residentBytes);
    gauge(out, "process_start_time_seconds",
          "Start time of the process since unix epoch in seconds.", process.startTimeSeconds);
}

} // namespace

std::string renderMetrics(const Figures& figures, const Histogram& roundTrip,
                          const HttpFigures* http, const std::optional<ProcessFigures>& process)
{
    Exposition out;
    writeLink(out, figures);
    out.family("wspushd_heartbeat_round_trip_seconds", Type::Histogram,
               "Time from a WebSocket ping the daemon sent to the server's pong.");
    roundTrip.write(out, "wspushd_heartbeat_round_trip_seconds");
    writeMessages(out, figures);
    writeStore(out, figures);
    writeSinks(out, figures);
    if (http != nullptr)
        writeHttp(out, *http);
    if (process)
        writeProcess(out, *process);
    return out.take();
}

} // namespace wspush::metrics
