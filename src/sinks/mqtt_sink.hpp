// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "connection/backoff.hpp"
#include "event/event_loop.hpp"
#include "event/fd_watch.hpp"
#include "event/timer.hpp"
#include "sinks/sink.hpp"

struct mosquitto;

namespace wspush::sinks {

// Publishes each record to an MQTT broker with libmosquitto, its socket on the daemon's
// loop (no libmosquitto thread). With QoS 1 or 2 a record is handed on when the broker has
// acknowledged it, and at most max_inflight wait for that; with QoS 0 once it is written.
// The session is persistent (clean session off): what the broker had not acknowledged
// when the link dropped is sent again, marked as a duplicate, after the reconnect. While
// the broker is away the sink takes no records; the store keeps them.
class MqttSink final : public Sink
{
public:
    // Throws on error (libmosquitto cannot be set up with these settings).
    MqttSink(const config::MqttSinkConfig& config, event::EventLoop& loop);
    ~MqttSink() override;
    MqttSink(const MqttSink&) = delete;
    MqttSink& operator=(const MqttSink&) = delete;

    void deliver(const std::shared_ptr<const record::Record>& record) noexcept override;
    bool wantsMore() const noexcept override;
    std::uint64_t handedOn() const noexcept override { return handedOn_; }
    void flush() noexcept override;

    SinkCounters counters() const noexcept override;
    const std::string& name() const noexcept override { return name_; }

    // A topic template's value made safe for a topic level: '+', '#', '/' and NUL become
    // '_', and an empty value is "_".
    static std::string topicSafe(std::string_view value);
    // The topic for one record: each {/json/pointer} of `pattern` replaced by that value
    // of the message (a string's text, a number or boolean as JSON writes it), or "_" when
    // the message is not JSON or has no such scalar value.
    static std::string expandTopic(std::string_view pattern, const record::Record& record);

private:
    enum class State
    {
        Waiting,    // for the retry timer
        Connecting, // socket opened, no CONNACK yet
        Connected,
    };

    struct InFlight
    {
        int mid = 0;
        std::shared_ptr<const record::Record> record;
        bool acknowledged = false;
    };

    static void onConnect(mosquitto* client, void* self, int code);
    static void onDisconnect(mosquitto* client, void* self, int code);
    static void onPublish(mosquitto* client, void* self, int mid);
    static void onLog(mosquitto* client, void* self, int level, const char* text);

    void connect() noexcept;
    void connected(int code) noexcept;
    void lost(const std::string& why) noexcept;
    std::string failure(int code, int error) const;
    void closeSocket() noexcept;
    void retryLater(const std::string& why) noexcept;
    void acknowledged(int mid) noexcept;
    void publishQueued() noexcept;
    void pump() noexcept;
    void readable() noexcept;
    void writable() noexcept;
    void socketClosed() noexcept;
    void misc() noexcept;
    bool readPassword(std::string& password) noexcept;

    config::MqttSinkConfig config_;
    event::EventLoop& loop_;
    std::string name_;
    mosquitto* client_ = nullptr;
    std::unique_ptr<event::FdWatch> watch_;
    int watchedFd_ = -1;
    State state_ = State::Waiting;

    std::deque<std::shared_ptr<const record::Record>> queued_; // not published yet
    std::deque<InFlight> inFlight_;                            // published, in seq order
    std::uint64_t handedOn_ = 0;
    SinkCounters counters_;

    connection::Backoff backoff_;
    bool wasUp_ = false;    // a working link was lost and is not back yet
    bool dropping_ = false; // libmosquitto reported a drop; the socket goes after the callback
    std::string dropReason_;
    std::string refusal_;          // the CONNACK's refusal, for the drop that follows it
    std::string lastLibraryError_; // libmosquitto's log: the reason behind a TLS failure
    bool publishing_ = false;      // inside mosquitto_publish()
    std::vector<int> earlyAcknowledged_;

    event::Timer retryTimer_;
    event::Timer miscTimer_;
    event::Timer stableTimer_;
    event::Timer dropTimer_;
};

} // namespace wspush::sinks
