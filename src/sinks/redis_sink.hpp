// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "connection/backoff.hpp"
#include "event/event_loop.hpp"
#include "event/fd_watch.hpp"
#include "event/timer.hpp"
#include "sinks/sink.hpp"

struct redisAsyncContext;

namespace wspush::sinks {

// Appends each record to a Redis stream with hiredis's async API on the daemon's loop:
// `XADD stream MAXLEN ~ N * seq S ts T data D [binary 1]`, pipelined. A record is handed
// on when Redis answered its XADD. After a reconnect the stream's last entry says which
// records Redis already has, so none is added twice.
class RedisSink final : public Sink
{
public:
    // Throws on error.
    RedisSink(const config::RedisSinkConfig& config, event::EventLoop& loop);
    ~RedisSink() override;
    RedisSink(const RedisSink&) = delete;
    RedisSink& operator=(const RedisSink&) = delete;

    void deliver(const std::shared_ptr<const record::Record>& record) noexcept override;
    bool wantsMore() const noexcept override;
    std::uint64_t handedOn() const noexcept override { return handedOn_; }
    void flush() noexcept override;

    SinkCounters counters() const noexcept override;
    const std::string& name() const noexcept override { return name_; }

private:
    enum class State
    {
        Waiting,    // for the retry timer
        Connecting, // AUTH, SELECT and the last entry asked for
        Connected,
    };

    // hiredis's event hooks and callbacks.
    static void addWrite(void* self);
    static void delWrite(void* self);
    static void noop(void* self);
    static void cleanup(void* self);
    static void onConnect(const redisAsyncContext* context, int status);
    static void onDisconnect(const redisAsyncContext* context, int status);
    static void onAuth(redisAsyncContext* context, void* reply, void* self);
    static void onSelect(redisAsyncContext* context, void* reply, void* self);
    static void onLastEntry(redisAsyncContext* context, void* reply, void* self);
    static void onAdded(redisAsyncContext* context, void* reply, void* self);

    void connect() noexcept;
    void ready(std::uint64_t lastSeq) noexcept;
    void fail(const std::string& why) noexcept;
    void lost(const std::string& why) noexcept;
    void retryLater(const std::string& why) noexcept;
    void added(void* reply) noexcept;
    void send() noexcept;
    void readable() noexcept;
    void writable() noexcept;

    config::RedisSinkConfig config_;
    event::EventLoop& loop_;
    std::string name_;
    redisAsyncContext* context_ = nullptr;
    std::unique_ptr<event::FdWatch> watch_;
    bool wantWrite_ = false;
    State state_ = State::Waiting;
    bool dropping_ = false;
    std::string dropReason_;

    std::deque<std::shared_ptr<const record::Record>> queued_; // not sent yet
    std::deque<std::shared_ptr<const record::Record>> sent_;   // XADD sent, no reply yet
    std::uint64_t handedOn_ = 0;
    SinkCounters counters_;

    connection::Backoff backoff_;
    bool wasUp_ = false;

    event::Timer retryTimer_;
    event::Timer connectTimer_;
    event::Timer stableTimer_;
    event::Timer dropTimer_;
};

} // namespace wspush::sinks
