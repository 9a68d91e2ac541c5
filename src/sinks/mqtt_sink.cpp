// SPDX-License-Identifier: MIT
#include "sinks/mqtt_sink.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <mosquitto.h>
#include <stdexcept>
#include <unistd.h>

#include <json/reader.h>
#include <json/value.h>
#include <json/writer.h>

#include "connection/json_pointer.hpp"
#include "system/log.hpp"
#include "system/unique_fd.hpp"

namespace wspush::sinks {

namespace {

constexpr auto miscInterval = std::chrono::seconds(1);
constexpr std::size_t maxPasswordSize = 64 * 1024;

std::chrono::microseconds micros(config::Duration duration)
{
    return std::chrono::duration_cast<std::chrono::microseconds>(duration);
}

std::string seconds(config::Duration duration)
{
    const auto ms = duration.count();
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// libmosquitto's error text; MOSQ_ERR_ERRNO and MOSQ_ERR_EAI say "see errno/getaddrinfo".
std::string describe(int code, int error)
{
    if (code == MOSQ_ERR_ERRNO && error != 0)
        return std::strerror(error);
    if (code == MOSQ_ERR_KEEPALIVE)
        return "no answer from the broker within the keepalive";
    return mosquitto_strerror(code);
}

void initLibrary()
{
    static const bool initialised = [] {
        mosquitto_lib_init();
        return true;
    }();
    (void)initialised;
}

} // namespace

MqttSink::MqttSink(const config::MqttSinkConfig& config, event::EventLoop& loop)
    : config_(config), loop_(loop), name_("mqtt " + config.url + " " + config.topic),
      backoff_(config.reconnect), retryTimer_(loop.context(), [this] { connect(); }),
      miscTimer_(loop.context(), [this] { misc(); }),
      stableTimer_(loop.context(), [this] { backoff_.reset(); }),
      dropTimer_(loop.context(), [this] {
          closeSocket();
          retryLater(dropReason_);
      })
{
    initLibrary();
    // Clean session off: the broker keeps the session (QoS 1 and 2 messages it has not
    // acknowledged yet) across a reconnect, and libmosquitto sends them again.
    client_ = mosquitto_new(config_.clientId.c_str(), false, this);
    if (client_ == nullptr)
        throw std::runtime_error(name_ + ": cannot create an MQTT client: " + std::strerror(errno));
    const auto check = [this](int code, const char* what) {
        if (code != MOSQ_ERR_SUCCESS) {
            const int error = errno;
            mosquitto_destroy(client_);
            client_ = nullptr;
            throw std::runtime_error(name_ + ": " + what + ": " + describe(code, error));
        }
    };
    check(mosquitto_int_option(client_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311),
          "cannot choose MQTT 3.1.1");
    check(mosquitto_max_inflight_messages_set(client_, config_.maxInflight),
          "cannot set max_inflight");
    if (config_.secure) {
        const auto orNull = [](const std::string& text) {
            return text.empty() ? nullptr : text.c_str();
        };
        // Without a CA file the system's CAs are trusted.
        check(mosquitto_tls_set(client_, orNull(config_.tls.caFile),
                                config_.tls.caFile.empty() ? "/etc/ssl/certs" : nullptr,
                                orNull(config_.tls.certFile), orNull(config_.tls.keyFile), nullptr),
              "cannot use the TLS files (tls.ca_file, cert_file, key_file)");
        if (!config_.tls.verify) {
            check(mosquitto_tls_opts_set(client_, 0, nullptr, nullptr), "tls.verify");
            check(mosquitto_tls_insecure_set(client_, true), "tls.verify");
        }
    }
    mosquitto_connect_callback_set(client_, onConnect);
    mosquitto_disconnect_callback_set(client_, onDisconnect);
    mosquitto_publish_callback_set(client_, onPublish);
    mosquitto_log_callback_set(client_, onLog);

    miscTimer_.schedule(miscInterval);
    connect();
}

MqttSink::~MqttSink()
{
    if (client_ == nullptr)
        return;
    if (state_ == State::Connected)
        mosquitto_disconnect(client_); // written now if the socket takes it
    watch_.reset();
    mosquitto_destroy(client_);
}

bool MqttSink::readPassword(std::string& password) noexcept
{
    password.clear();
    const system::UniqueFd fd(::open(config_.passwordFile.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.isValid()) {
        retryLater("cannot read password_file " + config_.passwordFile + ": " +
                   std::strerror(errno));
        return false;
    }
    try {
        char buffer[4096];
        for (;;) {
            const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                retryLater("cannot read password_file " + config_.passwordFile + ": " +
                           std::strerror(errno));
                return false;
            }
            if (got == 0)
                break;
            password.append(buffer, static_cast<std::size_t>(got));
            if (password.size() > maxPasswordSize) {
                retryLater("password_file " + config_.passwordFile + " is larger than 64KiB");
                return false;
            }
        }
    } catch (const std::bad_alloc&) {
        return false;
    }
    // An editor's final newline is not part of the password.
    if (password.ends_with('\n'))
        password.pop_back();
    if (password.ends_with('\r'))
        password.pop_back();
    return true;
}

void MqttSink::connect() noexcept
{
    if (state_ != State::Waiting)
        return;
    std::string password;
    if (!config_.passwordFile.empty() && !readPassword(password))
        return;
    mosquitto_username_pw_set(client_,
                              config_.username.empty() ? nullptr : config_.username.c_str(),
                              config_.passwordFile.empty() ? nullptr : password.c_str());
    lastLibraryError_.clear();
    refusal_.clear();
    dropping_ = false;
    const auto keepalive = std::chrono::duration_cast<std::chrono::seconds>(config_.keepalive);
    // Non-blocking: the CONNECT goes out once the socket is connected. A host name is
    // resolved here, blocking the loop for that long; a numeric address is not.
    const int code =
        mosquitto_connect_bind_async(client_, config_.host.c_str(), static_cast<int>(config_.port),
                                     static_cast<int>(keepalive.count()), nullptr);
    if (code != MOSQ_ERR_SUCCESS) {
        const int error = errno;
        std::string why = "cannot connect: " + describe(code, error);
        if (!lastLibraryError_.empty())
            why += " (" + lastLibraryError_ + ")";
        // A socket opened before the failure is closed by libmosquitto on the next try.
        retryLater(why);
        return;
    }
    try {
        watchedFd_ = mosquitto_socket(client_);
        watch_ = std::make_unique<event::FdWatch>(
            loop_, watchedFd_, [this] { readable(); }, [this] { writable(); },
            [this] { socketClosed(); });
    } catch (const std::exception& e) {
        log::error(name_ + ": " + e.what());
        dropReason_ = "cannot watch the socket";
        dropping_ = true;
        mosquitto_disconnect(client_);
        dropTimer_.schedule(std::chrono::microseconds(0));
        return;
    }
    state_ = State::Connecting;
    pump();
}

void MqttSink::onConnect(mosquitto*, void* self, int code)
{
    static_cast<MqttSink*>(self)->connected(code);
}

void MqttSink::connected(int code) noexcept
{
    if (code != 0) {
        // libmosquitto closes the connection next, and that is retried with the backoff.
        refusal_ =
            std::string("the broker refused the connection: ") + mosquitto_connack_string(code);
        return;
    }
    state_ = State::Connected;
    log::notice(name_ + ": connected" +
                (inFlight_.empty() ? ""
                                   : ", " + std::to_string(inFlight_.size()) +
                                         " records not acknowledged yet go again"));
    wasUp_ = true;
    stableTimer_.schedule(micros(config_.reconnect.stableAfter));
    publishQueued();
}

void MqttSink::onDisconnect(mosquitto*, void* self, int code)
{
    auto* sink = static_cast<MqttSink*>(self);
    sink->lost(sink->failure(code, errno));
}

// Why the connection failed or was lost, as one line: the broker's refusal, or
// libmosquitto's error with the reason it logged (OpenSSL's, for a TLS failure).
std::string MqttSink::failure(int code, int error) const
{
    if (!refusal_.empty())
        return refusal_;
    std::string why = (state_ == State::Connected ? "connection lost: " : "cannot connect: ") +
                      describe(code, error);
    if (!lastLibraryError_.empty())
        why += " (" + lastLibraryError_ + ")";
    return why;
}

void MqttSink::onLog(mosquitto*, void* self, int level, const char* text)
{
    // The reason behind a TLS failure is only in libmosquitto's log.
    if ((level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) != 0 && text != nullptr) {
        try {
            static_cast<MqttSink*>(self)->lastLibraryError_ = text;
        } catch (const std::bad_alloc&) {
        }
    }
}

// libmosquitto has closed its socket; the watch on it goes after this callback returns.
void MqttSink::lost(const std::string& why) noexcept
{
    if (dropping_)
        return;
    dropping_ = true;
    state_ = State::Waiting;
    stableTimer_.cancel();
    // QoS 0 messages not yet written were thrown away with the connection: they go again.
    // QoS 1 and 2 ones stay with libmosquitto, which sends them again after the reconnect.
    if (config_.qos == 0) {
        while (!inFlight_.empty() && !inFlight_.back().acknowledged) {
            queued_.push_front(std::move(inFlight_.back().record));
            inFlight_.pop_back();
        }
    }
    try {
        dropReason_ = why;
    } catch (const std::bad_alloc&) {
    }
    dropTimer_.schedule(std::chrono::microseconds(0));
}

void MqttSink::closeSocket() noexcept
{
    watch_.reset();
    watchedFd_ = -1;
}

void MqttSink::retryLater(const std::string& why) noexcept
{
    state_ = State::Waiting;
    const config::Duration delay = backoff_.next(config::Duration{0}, wasUp_);
    log::warning(name_ + ": " + why + "; retrying in " + seconds(delay));
    retryTimer_.schedule(micros(delay));
}

void MqttSink::onPublish(mosquitto*, void* self, int mid)
{
    static_cast<MqttSink*>(self)->acknowledged(mid);
}

// QoS 0: the message is written; QoS 1: PUBACK; QoS 2: PUBCOMP.
void MqttSink::acknowledged(int mid) noexcept
{
    const auto found = std::find_if(inFlight_.begin(), inFlight_.end(), [mid](const auto& entry) {
        return entry.mid == mid && !entry.acknowledged;
    });
    if (found == inFlight_.end()) {
        // Written inside mosquitto_publish(), before it returned the mid.
        if (publishing_)
            earlyAcknowledged_.push_back(mid);
        return;
    }
    found->acknowledged = true;
    while (!inFlight_.empty() && inFlight_.front().acknowledged) {
        handedOn_ = inFlight_.front().record->seq;
        ++counters_.forwarded;
        inFlight_.pop_front();
    }
}

bool MqttSink::wantsMore() const noexcept
{
    return state_ == State::Connected && queued_.size() + inFlight_.size() < config_.maxInflight;
}

void MqttSink::deliver(const std::shared_ptr<const record::Record>& record) noexcept
{
    try {
        queued_.push_back(record);
    } catch (const std::bad_alloc&) {
        ++counters_.dropped;
    }
}

void MqttSink::flush() noexcept
{
    publishQueued();
}

void MqttSink::publishQueued() noexcept
{
    while (state_ == State::Connected && !queued_.empty()) {
        const std::shared_ptr<const record::Record> record = queued_.front();
        std::string topic;
        try {
            topic = expandTopic(config_.topic, *record);
            inFlight_.push_back({0, record, false});
        } catch (const std::bad_alloc&) {
            return;
        }
        queued_.pop_front();
        const bool raw = config_.format == config::MqttSinkConfig::Format::Raw;
        const std::string_view payload =
            raw ? std::string_view(record->payload)
                : std::string_view(record->line).substr(0, record->line.size() - 1);
        int mid = 0;
        publishing_ = true;
        earlyAcknowledged_.clear();
        const int code =
            mosquitto_publish(client_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                              payload.data(), static_cast<int>(config_.qos), config_.retain);
        publishing_ = false;
        InFlight& entry = inFlight_.back();
        entry.mid = mid;
        if (code == MOSQ_ERR_PAYLOAD_SIZE || code == MOSQ_ERR_MALFORMED_UTF8 ||
            code == MOSQ_ERR_OVERSIZE_PACKET || code == MOSQ_ERR_INVAL) {
            // The broker would never take it: skipped, so that it does not block the rest.
            log::warning(name_ + ": record " + std::to_string(record->seq) +
                         " skipped: " + mosquitto_strerror(code) + " (topic " + topic + ")");
            ++counters_.dropped;
            entry.mid = -1;
            acknowledged(-1);
            continue;
        }
        // Otherwise libmosquitto holds it (QoS 1 and 2) or it goes again after the reconnect
        // that a failed write leads to (QoS 0).
        if (std::find(earlyAcknowledged_.begin(), earlyAcknowledged_.end(), mid) !=
            earlyAcknowledged_.end())
            acknowledged(mid);
        if (code != MOSQ_ERR_SUCCESS)
            break;
    }
    pump();
}

void MqttSink::pump() noexcept
{
    if (watch_ && !dropping_ && mosquitto_want_write(client_))
        watch_->wantWritable();
}

void MqttSink::readable() noexcept
{
    if (state_ == State::Waiting || dropping_)
        return;
    const int code = mosquitto_loop_read(client_, 1000);
    if (code != MOSQ_ERR_SUCCESS && !dropping_)
        lost(failure(code, errno));
    pump();
}

void MqttSink::writable() noexcept
{
    if (state_ == State::Waiting || dropping_)
        return;
    const int code = mosquitto_loop_write(client_, 1000);
    if (code != MOSQ_ERR_SUCCESS && !dropping_)
        lost(failure(code, errno));
    pump();
}

// lws saw POLLHUP or POLLERR (a reset) and stopped polling: libmosquitto learns why when it
// reads.
void MqttSink::socketClosed() noexcept
{
    if (state_ == State::Waiting || dropping_)
        return;
    const int code = mosquitto_loop_read(client_, 1000);
    if (!dropping_)
        lost(code == MOSQ_ERR_SUCCESS ? "connection lost: the socket was closed"
                                      : failure(code, errno));
}

// Keepalive pings, a connection that never answered, and QoS retries.
void MqttSink::misc() noexcept
{
    miscTimer_.schedule(miscInterval);
    if (state_ == State::Waiting || dropping_)
        return;
    mosquitto_loop_misc(client_);
    pump();
}

SinkCounters MqttSink::counters() const noexcept
{
    SinkCounters counters = counters_;
    std::uint64_t bytes = 0;
    for (const auto& record : queued_)
        bytes += record->line.size();
    for (const auto& entry : inFlight_)
        bytes += entry.record->line.size();
    counters.queuedBytes = bytes;
    return counters;
}

std::string MqttSink::topicSafe(std::string_view value)
{
    if (value.empty())
        return "_";
    std::string safe(value);
    for (char& c : safe) {
        if (c == '+' || c == '#' || c == '/' || c == '\0')
            c = '_';
    }
    return safe;
}

std::string MqttSink::expandTopic(std::string_view pattern, const record::Record& record)
{
    if (pattern.find('{') == std::string_view::npos)
        return std::string(pattern);
    Json::Value root;
    bool parsed = false;
    if (!record.binary) {
        static const std::unique_ptr<Json::CharReader> reader = [] {
            Json::CharReaderBuilder builder;
            builder["collectComments"] = false;
            return std::unique_ptr<Json::CharReader>(builder.newCharReader());
        }();
        std::string errors;
        parsed = reader->parse(record.payload.data(), record.payload.data() + record.payload.size(),
                               &root, &errors);
    }
    std::string topic;
    std::size_t pos = 0;
    while (pos < pattern.size()) {
        const std::size_t open = pattern.find('{', pos);
        const std::size_t close =
            open == std::string_view::npos ? open : pattern.find('}', open + 1);
        if (close == std::string_view::npos) {
            topic.append(pattern.substr(pos));
            break;
        }
        topic.append(pattern.substr(pos, open - pos));
        const std::string_view pointer = pattern.substr(open + 1, close - open - 1);
        const Json::Value* value = parsed ? connection::resolvePointer(root, pointer) : nullptr;
        if (value == nullptr || value->isNull() || value->isObject() || value->isArray()) {
            topic += '_';
        } else if (value->isString()) {
            topic += topicSafe(value->asString());
        } else if (value->isBool()) {
            topic += value->asBool() ? "true" : "false";
        } else if (value->isInt64()) {
            topic += std::to_string(value->asInt64());
        } else if (value->isUInt64()) {
            topic += std::to_string(value->asUInt64());
        } else {
            Json::StreamWriterBuilder writer;
            writer["indentation"] = "";
            topic += topicSafe(Json::writeString(writer, *value));
        }
        pos = close + 1;
    }
    return topic;
}

} // namespace wspush::sinks
