// SPDX-License-Identifier: MIT
#include "sinks/redis_sink.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <string_view>
#include <vector>

#include "record/timestamp.hpp"
#include "system/log.hpp"
#include "system/read_all.hpp"
#include "system/unique_fd.hpp"

namespace wspush::sinks {

namespace {

// XADDs sent and not answered yet.
constexpr std::size_t maxPipelined = 1000;
constexpr auto connectTimeout = std::chrono::seconds(10);

std::chrono::microseconds micros(config::Duration duration)
{
    return std::chrono::duration_cast<std::chrono::microseconds>(duration);
}

std::string seconds(config::Duration duration)
{
    const auto ms = duration.count();
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

const redisReply* asReply(void* reply)
{
    return static_cast<const redisReply*>(reply);
}

std::string errorOf(const redisReply* reply)
{
    if (reply == nullptr)
        return "no reply";
    return std::string(reply->str, reply->len);
}

// The pieces of a record's jsonl line ({"seq":N,"ts":"T","data":D[,"binary":true]}\n):
// the ts text and the data as JSON text (for a binary record, the base64 without quotes).
struct LinePieces
{
    std::string_view ts;
    std::string_view data;
};

LinePieces piecesOf(const record::Record& record)
{
    std::string_view line = record.line;
    LinePieces pieces;
    constexpr std::string_view tsKey = "\"ts\":\"";
    constexpr std::string_view dataKey = "\",\"data\":";
    const auto ts = line.find(tsKey);
    const auto data = line.find(dataKey);
    if (ts == std::string_view::npos || data == std::string_view::npos)
        return pieces;
    pieces.ts = line.substr(ts + tsKey.size(), data - ts - tsKey.size());
    std::string_view rest = line.substr(data + dataKey.size());
    constexpr std::string_view binaryEnd = ",\"binary\":true}\n";
    if (record.binary && rest.ends_with(binaryEnd)) {
        rest.remove_suffix(binaryEnd.size());
        if (rest.size() >= 2)
            rest = rest.substr(1, rest.size() - 2);
    } else if (rest.ends_with("}\n")) {
        rest.remove_suffix(2);
    }
    pieces.data = rest;
    return pieces;
}

} // namespace

RedisSink::RedisSink(const config::RedisSinkConfig& config, event::EventLoop& loop)
    : config_(config), loop_(loop), name_("redis " + config.url + " " + config.stream),
      backoff_(config.reconnect), retryTimer_(loop.context(), [this] { connect(); }),
      connectTimer_(loop.context(),
                    [this] {
                        if (state_ != State::Connected && context_ != nullptr)
                            fail("no answer within " + std::to_string(connectTimeout.count()) +
                                 " s");
                    }),
      stableTimer_(loop.context(), [this] { backoff_.reset(); }),
      dropTimer_(loop.context(), [this] {
          watch_.reset();
          retryLater(dropReason_);
      })
{
    connect();
}

RedisSink::~RedisSink()
{
    if (context_ != nullptr) {
        redisAsyncContext* context = context_;
        context->data = nullptr; // no callbacks into a sink being destroyed
        context->ev.data = nullptr;
        context_ = nullptr;
        redisAsyncFree(context);
    }
    watch_.reset();
}

void RedisSink::connect() noexcept
{
    if (state_ != State::Waiting)
        return;
    std::string password;
    if (!config_.passwordFile.empty()) {
        const system::UniqueFd fd(::open(config_.passwordFile.c_str(), O_RDONLY | O_CLOEXEC));
        try {
            if (!fd.isValid())
                throw std::system_error(errno, std::generic_category(),
                                        "cannot open " + config_.passwordFile);
            password = system::readAll(fd.get(), config_.passwordFile);
        } catch (const std::exception& e) {
            retryLater(std::string("password_file: ") + e.what());
            return;
        }
        if (password.ends_with('\n'))
            password.pop_back();
        if (password.ends_with('\r'))
            password.pop_back();
    }
    // Non-blocking; a host name is resolved here, which blocks (a numeric address not).
    redisAsyncContext* context =
        config_.unixPath.empty()
            ? redisAsyncConnect(config_.host.c_str(), static_cast<int>(config_.port))
            : redisAsyncConnectUnix(config_.unixPath.c_str());
    if (context == nullptr) {
        retryLater("cannot connect: out of memory");
        return;
    }
    if (context->err != 0) {
        const std::string why = std::string("cannot connect: ") + context->errstr;
        redisAsyncFree(context);
        retryLater(why);
        return;
    }
    context_ = context;
    context->data = this;
    context->ev.data = this;
    context->ev.addRead = noop;
    context->ev.delRead = noop;
    context->ev.addWrite = addWrite;
    context->ev.delWrite = delWrite;
    context->ev.cleanup = cleanup;
    redisAsyncSetConnectCallback(context, onConnect);
    redisAsyncSetDisconnectCallback(context, onDisconnect);
    try {
        watch_ = std::make_unique<event::FdWatch>(
            loop_, context->c.fd, [this] { readable(); }, [this] { writable(); },
            [this] { readable(); });
    } catch (const std::exception& e) {
        fail(std::string("cannot watch the socket: ") + e.what());
        return;
    }
    state_ = State::Connecting;
    dropping_ = false;
    connectTimer_.schedule(connectTimeout);
    // Pipelined behind the connect: hiredis writes them once the socket is connected.
    if (!password.empty()) {
        const char* argv[] = {"AUTH", password.c_str()};
        const std::size_t lengths[] = {4, password.size()};
        redisAsyncCommandArgv(context, onAuth, this, 2, argv, lengths);
    }
    if (config_.db != 0) {
        const std::string db = std::to_string(config_.db);
        const char* argv[] = {"SELECT", db.c_str()};
        const std::size_t lengths[] = {6, db.size()};
        redisAsyncCommandArgv(context, onSelect, this, 2, argv, lengths);
    }
    const char* argv[] = {"XREVRANGE", config_.stream.c_str(), "+", "-", "COUNT", "1"};
    const std::size_t lengths[] = {9, config_.stream.size(), 1, 1, 5, 1};
    redisAsyncCommandArgv(context, onLastEntry, this, 6, argv, lengths);
    wantWrite_ = true;
    if (watch_)
        watch_->wantWritable();
}

void RedisSink::addWrite(void* self)
{
    auto* sink = static_cast<RedisSink*>(self);
    if (sink == nullptr)
        return;
    sink->wantWrite_ = true;
    if (sink->watch_)
        sink->watch_->wantWritable();
}

void RedisSink::delWrite(void* self)
{
    if (self != nullptr)
        static_cast<RedisSink*>(self)->wantWrite_ = false;
}

void RedisSink::noop(void*) {}

// hiredis frees the context after this: forget it, and drop the watch outside any callback.
void RedisSink::cleanup(void* self)
{
    auto* sink = static_cast<RedisSink*>(self);
    if (sink == nullptr)
        return;
    sink->context_ = nullptr;
    sink->wantWrite_ = false;
    if (!sink->dropping_)
        sink->lost("connection closed");
}

void RedisSink::onConnect(const redisAsyncContext* context, int status)
{
    auto* sink = static_cast<RedisSink*>(context->data);
    if (sink != nullptr && status != REDIS_OK)
        sink->lost(std::string("cannot connect: ") + context->errstr);
}

void RedisSink::onDisconnect(const redisAsyncContext* context, int status)
{
    auto* sink = static_cast<RedisSink*>(context->data);
    if (sink != nullptr)
        sink->lost(status == REDIS_OK || context->errstr[0] == '\0'
                       ? std::string("connection closed")
                       : std::string("connection lost: ") + context->errstr);
}

void RedisSink::onAuth(redisAsyncContext*, void* reply, void* self)
{
    const redisReply* answer = asReply(reply);
    if (answer != nullptr && answer->type == REDIS_REPLY_ERROR)
        static_cast<RedisSink*>(self)->fail("AUTH failed: " + errorOf(answer));
}

void RedisSink::onSelect(redisAsyncContext*, void* reply, void* self)
{
    const redisReply* answer = asReply(reply);
    if (answer != nullptr && answer->type == REDIS_REPLY_ERROR)
        static_cast<RedisSink*>(self)->fail("SELECT failed: " + errorOf(answer));
}

// The stream's newest entry: [[id, [field, value, ...]]], or [] for no stream.
void RedisSink::onLastEntry(redisAsyncContext*, void* reply, void* self)
{
    auto* sink = static_cast<RedisSink*>(self);
    const redisReply* answer = asReply(reply);
    if (answer == nullptr || sink->dropping_)
        return;
    if (answer->type == REDIS_REPLY_ERROR) {
        sink->fail("XREVRANGE " + sink->config_.stream + " failed: " + errorOf(answer));
        return;
    }
    std::uint64_t lastSeq = 0;
    if (answer->type == REDIS_REPLY_ARRAY && answer->elements == 1) {
        const redisReply* entry = answer->element[0];
        if (entry->type == REDIS_REPLY_ARRAY && entry->elements == 2 &&
            entry->element[1]->type == REDIS_REPLY_ARRAY) {
            const redisReply* fields = entry->element[1];
            for (std::size_t i = 0; i + 1 < fields->elements; i += 2) {
                const std::string_view name(fields->element[i]->str, fields->element[i]->len);
                const redisReply* value = fields->element[i + 1];
                if (name == "seq" && value->type == REDIS_REPLY_STRING)
                    std::from_chars(value->str, value->str + value->len, lastSeq);
            }
        }
    }
    sink->ready(lastSeq);
}

void RedisSink::ready(std::uint64_t lastSeq) noexcept
{
    connectTimer_.cancel();
    state_ = State::Connected;
    // What Redis already has (added before the link dropped, the answer lost with it) is
    // not added again.
    std::uint64_t skipped = 0;
    while (!queued_.empty() && queued_.front()->seq <= lastSeq) {
        handedOn_ = queued_.front()->seq;
        ++counters_.forwarded;
        ++skipped;
        queued_.pop_front();
    }
    log::notice(name_ + ": connected" +
                (skipped == 0
                     ? ""
                     : ", " + std::to_string(skipped) + " records sent before were added already"));
    wasUp_ = true;
    stableTimer_.schedule(micros(config_.reconnect.stableAfter));
    send();
}

// Gives up this connection (from a callback or a timer): hiredis closes it, and the
// disconnect callback or the cleanup hook schedules the retry.
void RedisSink::fail(const std::string& why) noexcept
{
    if (dropping_)
        return;
    lost(why);
    if (context_ != nullptr)
        redisAsyncDisconnect(context_);
}

void RedisSink::lost(const std::string& why) noexcept
{
    if (dropping_)
        return;
    dropping_ = true;
    state_ = State::Waiting;
    connectTimer_.cancel();
    stableTimer_.cancel();
    // Unanswered XADDs go again after the reconnect, unless the stream has them by then.
    while (!sent_.empty()) {
        queued_.push_front(std::move(sent_.back()));
        sent_.pop_back();
    }
    try {
        dropReason_ = why;
    } catch (const std::bad_alloc&) {
    }
    dropTimer_.schedule(std::chrono::microseconds(0));
}

void RedisSink::retryLater(const std::string& why) noexcept
{
    state_ = State::Waiting;
    if (context_ != nullptr) {
        // Not freed by hiredis yet (a disconnect still writing): free it now.
        redisAsyncContext* context = context_;
        context->data = nullptr;
        context->ev.data = nullptr;
        context_ = nullptr;
        redisAsyncFree(context);
        watch_.reset();
    }
    const config::Duration delay = backoff_.next(config::Duration{0}, wasUp_);
    log::warning(name_ + ": " + why + "; retrying in " + seconds(delay));
    retryTimer_.schedule(micros(delay));
}

void RedisSink::onAdded(redisAsyncContext*, void* reply, void* self)
{
    static_cast<RedisSink*>(self)->added(reply);
}

void RedisSink::added(void* reply) noexcept
{
    const redisReply* answer = asReply(reply);
    if (answer == nullptr || dropping_ || sent_.empty())
        return; // the connection is going: lost() puts sent_ back
    if (answer->type == REDIS_REPLY_ERROR) {
        // OOM, a key of another type, a read-only replica: retried, never skipped.
        fail("XADD " + config_.stream + " failed: " + errorOf(answer));
        return;
    }
    handedOn_ = sent_.front()->seq;
    ++counters_.forwarded;
    sent_.pop_front();
}

bool RedisSink::wantsMore() const noexcept
{
    return state_ == State::Connected && queued_.size() + sent_.size() < maxPipelined;
}

void RedisSink::deliver(const std::shared_ptr<const record::Record>& record) noexcept
{
    try {
        queued_.push_back(record);
    } catch (const std::bad_alloc&) {
        ++counters_.dropped;
    }
}

void RedisSink::flush() noexcept
{
    send();
}

void RedisSink::send() noexcept
{
    if (state_ != State::Connected || context_ == nullptr || dropping_)
        return;
    const std::string maxLen = std::to_string(config_.maxLen);
    while (!queued_.empty() && sent_.size() < maxPipelined) {
        const std::shared_ptr<const record::Record>& record = queued_.front();
        const LinePieces pieces = piecesOf(*record);
        const std::string seq = std::to_string(record->seq);
        std::vector<const char*> argv;
        std::vector<std::size_t> lengths;
        const auto add = [&argv, &lengths](std::string_view piece) {
            argv.push_back(piece.data());
            lengths.push_back(piece.size());
        };
        try {
            add("XADD");
            add(config_.stream);
            if (config_.maxLen != 0) {
                add("MAXLEN");
                add("~");
                add(maxLen);
            }
            add("*");
            add("seq");
            add(seq);
            add("ts");
            add(pieces.ts);
            add("data");
            add(pieces.data);
            if (record->binary) {
                add("binary");
                add("1");
            }
            sent_.push_back(record);
        } catch (const std::bad_alloc&) {
            return;
        }
        queued_.pop_front();
        if (redisAsyncCommandArgv(context_, onAdded, this, static_cast<int>(argv.size()),
                                  argv.data(), lengths.data()) != REDIS_OK) {
            fail("cannot queue XADD");
            return;
        }
    }
}

void RedisSink::readable() noexcept
{
    if (context_ != nullptr)
        redisAsyncHandleRead(context_);
}

void RedisSink::writable() noexcept
{
    if (context_ != nullptr && wantWrite_)
        redisAsyncHandleWrite(context_);
}

SinkCounters RedisSink::counters() const noexcept
{
    SinkCounters counters = counters_;
    std::uint64_t bytes = 0;
    for (const auto& record : queued_)
        bytes += record->line.size();
    for (const auto& record : sent_)
        bytes += record->line.size();
    counters.queuedBytes = bytes;
    return counters;
}

} // namespace wspush::sinks
