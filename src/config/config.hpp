// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace wspush::config {

using Duration = std::chrono::milliseconds;

struct TlsConfig
{
    std::string caFile;
    std::string certFile;
    std::string keyFile;
    bool verify = true;

    bool operator==(const TlsConfig&) const = default;
};

struct ServerConfig
{
    // ${VAR} from the environment is already expanded; ${TOKEN} is kept literally and
    // replaced by the token at every connect attempt.
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string tokenFile;
    std::string tokenCredential;
    std::string subprotocol;
    TlsConfig tls;
    std::string proxy;
    std::size_t maxMessageSize = std::size_t{1024} * 1024;
    bool compression = false; // offer permessage-deflate

    bool operator==(const ServerConfig&) const = default;
};

struct HeartbeatConfig
{
    std::string message = R"({"sendType":"HEALTH"})";
    Duration interval = std::chrono::seconds(30);
    Duration pingInterval = std::chrono::seconds(20);
    Duration timeout = std::chrono::seconds(60);
    // After a resume or a network change: no answer to a ping this long, reconnect; 0: no
    // probes.
    Duration probeTimeout = std::chrono::seconds(2);

    bool operator==(const HeartbeatConfig&) const = default;
};

// Server close codes FIRST..LAST mean "do not come back soon": the next attempt waits at
// least `wait`.
struct CloseCodeWait
{
    unsigned first = 0;
    unsigned last = 0;
    Duration wait{0};

    bool operator==(const CloseCodeWait&) const = default;
};

struct ReconnectConfig
{
    Duration initialDelay = std::chrono::seconds(1);
    Duration maxDelay = std::chrono::seconds(60);
    double multiplier = 2.0;
    double jitter = 0.2;
    unsigned maxAttempts = 0;
    // The backoff starts again from initialDelay once a link has stayed up this long.
    Duration stableAfter = std::chrono::seconds(30);
    // Added, as a random share, to each retry after a working link is lost until it is back.
    Duration fleetSpread = std::chrono::seconds(15);
    // 1008 policy violation, 1013 try again later.
    std::vector<CloseCodeWait> closeCodes{{1008, 1008, std::chrono::seconds(60)},
                                          {1013, 1013, std::chrono::seconds(30)}};

    bool operator==(const ReconnectConfig&) const = default;
};

struct FilterConfig
{
    std::vector<std::string> drop;

    bool operator==(const FilterConfig&) const = default;
};

// Where a value came from, for messages about it after parsing.
struct Location
{
    std::string path;
    int line = 0;
    int column = 0;

    bool operator==(const Location&) const = default;
};

struct JournalSinkConfig
{
    int priority = 6; // LOG_INFO
    std::string identifier = "wspushd";
    std::size_t maxQueue = std::size_t{4} * 1024 * 1024; // held while journald does not take

    bool operator==(const JournalSinkConfig&) const = default;
};

struct SyslogSinkConfig
{
    int facility = 3 << 3; // LOG_DAEMON, already shifted as syslog(3) wants it
    std::string identifier = "wspushd";
    int priority = 6;
    std::string socket = "/dev/log";
    std::size_t maxQueue = std::size_t{4} * 1024 * 1024; // held while syslogd does not take

    bool operator==(const SyslogSinkConfig&) const = default;
};

struct UnixSinkConfig
{
    std::string path = "/run/wspushd/wspushd.sock";
    unsigned mode = 0660;
    std::string group;
    std::size_t maxQueue = std::size_t{4} * 1024 * 1024;
    enum class Policy
    {
        Disconnect,
        Drop
    } policy = Policy::Disconnect;
    std::size_t replay = 1000;
    bool allowSend = false;

    bool operator==(const UnixSinkConfig&) const = default;
};

struct FileSinkConfig
{
    std::string path = "/var/lib/wspushd/messages.jsonl";
    enum class Format
    {
        Jsonl,
        Raw
    } format = Format::Jsonl;
    enum class Fsync
    {
        None,
        Always,
        Interval
    } fsync = Fsync::None;
    Duration fsyncInterval = std::chrono::seconds(1);
    std::size_t maxSize = 0; // 0: never rotate
    unsigned keep = 5;
    std::size_t maxQueue =
        std::size_t{4} * 1024 * 1024; // bytes held while the file cannot be written

    bool operator==(const FileSinkConfig&) const = default;
};

// Publishes each record to an MQTT broker (libmosquitto).
struct MqttSinkConfig
{
    std::string url = "mqtt://127.0.0.1:1883"; // as written, for the sink's name
    std::string host = "127.0.0.1";            // from the URL; [] taken off an IPv6 address
    unsigned port = 1883;
    bool secure = false; // mqtts://
    TlsConfig tls;
    // Literal text with {/json/pointer} pieces, each replaced by that value of the message.
    std::string topic = "wspush";
    unsigned qos = 1;
    bool retain = false;
    std::string clientId = "wspushd"; // ${NAME} already expanded
    std::string username;
    std::string passwordFile; // read at every connect
    enum class Format
    {
        Jsonl,
        Raw
    } format = Format::Jsonl;
    // Published, not acknowledged yet. MQTT 3.1.1 does not tell a client the broker's
    // limit: Mosquitto's max_inflight_messages is 20 by default, and a QoS 2 message
    // beyond it makes the broker drop the connection.
    unsigned maxInflight = 20;
    Duration keepalive = std::chrono::seconds(30);
    // The daemon's reconnect settings, copied in by the loader: the broker is retried
    // by the same rules as the push link.
    ReconnectConfig reconnect;

    bool operator==(const MqttSinkConfig&) const = default;
};

// A command run for each record, or one long-running command fed a line per record.
struct ExecSinkConfig
{
    // argv, no shell: [0] is an absolute path, or a name looked up in PATH at start.
    std::vector<std::string> command;
    enum class Mode
    {
        Each,  // a process per record
        Stream // one process, a line per record on its stdin, restarted when it exits
    } mode = Mode::Each;
    enum class Input
    {
        Jsonl,
        Raw,
        None
    } input = Input::Jsonl;
    // Each mode only: processes at once, the limit of one run, and runs after a failed one.
    unsigned concurrency = 1;
    Duration timeout = std::chrono::seconds(30); // 0: none
    unsigned retry = 3;
    std::vector<std::pair<std::string, std::string>> environment; // besides WSPUSH_*

    bool operator==(const ExecSinkConfig&) const = default;
};

// Appends each record to a Redis stream (hiredis): XADD with MAXLEN ~.
struct RedisSinkConfig
{
    std::string url = "redis://127.0.0.1:6379/0"; // as written, for the sink's name
    std::string host = "127.0.0.1";               // redis://; [] taken off an IPv6 address
    unsigned port = 6379;
    unsigned db = 0;
    std::string unixPath; // unix:/path; then host and port are unused
    std::string stream = "wspush";
    std::size_t maxLen = 100000; // MAXLEN ~; 0: no trimming
    std::string passwordFile;    // AUTH with its content, read at every connect
    // The daemon's reconnect settings, copied in by the loader.
    ReconnectConfig reconnect;

    bool operator==(const RedisSinkConfig&) const = default;
};

using SinkSettings = std::variant<JournalSinkConfig, SyslogSinkConfig, UnixSinkConfig,
                                  FileSinkConfig, MqttSinkConfig, RedisSinkConfig, ExecSinkConfig>;

struct SinkConfig
{
    std::string type; // the `type:` as written
    SinkSettings settings;
    Location location; // of the sink's mapping, for setup errors

    bool operator==(const SinkConfig&) const = default;
};

// Asking the server for what was missed, and dropping what comes twice.
struct ResumeConfig
{
    std::string id;           // JSON pointer to each message's id; "": off
    std::string initial;      // ${LAST_ID} before any id was seen
    std::string message;      // sent right after each open, before the heartbeat
    std::size_t dedup = 1024; // ids remembered
    std::string sequence;     // JSON pointer to an integer that grows by 1 per message
    bool reconnectOnGap = false;

    bool operator==(const ResumeConfig&) const = default;
};

struct StoreConfig
{
    std::string path; // "": a ring in memory
    // Unset: 1GiB on disk, 16MiB in memory.
    std::size_t maxSize = 0;
    Duration maxAge{0}; // 0: no age limit
    enum class Sync
    {
        Always,
        Interval,
        None
    } sync = Sync::Interval;
    Duration syncInterval = std::chrono::seconds(1);

    bool operator==(const StoreConfig&) const = default;

    std::size_t effectiveMaxSize() const noexcept
    {
        if (maxSize != 0)
            return maxSize;
        return path.empty() ? std::size_t{16} << 20 : std::size_t{1} << 30;
    }
};

// The Prometheus endpoint and the node_exporter textfile; both off by default.
struct MetricsConfig
{
    // "": off; "ADDR:PORT" (a numeric IPv4 address), "[ADDR]:PORT" (IPv6), ":PORT" (every
    // address), "unix:/path" or "unix:@name" (the abstract namespace).
    std::string listen;
    std::string textfile; // "": off; an absolute path, replaced whole every `interval`
    Duration interval = std::chrono::seconds(15);

    bool operator==(const MetricsConfig&) const = default;
};

struct Config
{
    ServerConfig server;
    HeartbeatConfig heartbeat;
    ReconnectConfig reconnect;
    FilterConfig filter;
    ResumeConfig resume;
    StoreConfig store;
    std::vector<SinkConfig> sinks;
    MetricsConfig metrics;
};

} // namespace wspush::config
