// SPDX-License-Identifier: MIT
#include "sinks/unix_sink.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <stdexcept>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <systemd/sd-daemon.h>

#include "event/lws_strings.hpp"
#include "record/timestamp.hpp"
#include "sinks/unix_events.hpp"
#include "store/reader.hpp"
#include "system/errno_error.hpp"
#include "system/log.hpp"

namespace wspush::sinks {

namespace {

constexpr const char* clientProtocol = "wspush-unix";
constexpr const char* listenerProtocol = "wspush-unix-listener";
constexpr std::size_t rxBufferSize = std::size_t{64} * 1024;
// How long a new client's records wait for its first request (a replay comes first).
constexpr auto firstLineWait = std::chrono::milliseconds(200);

bool isAbstract(const std::string& path)
{
    return path.starts_with('@');
}

std::string nowText()
{
    std::string text;
    record::appendTimestamp(record::nowUs(), text);
    return text;
}

} // namespace

UnixSink::UnixSink(const config::UnixSinkConfig& config, event::EventLoop& loop, SinkHost& host)
    : config_(config), host_(host), name_("unix " + config.path),
      releaseTimer_(loop.context(), [this] { releaseNewClients(); })
{
    if (!isAbstract(config_.path))
        takeLock();
    listen(loop);
}

UnixSink::~UnixSink()
{
    *alive_ = false;
    // lws would close the clients only later, when this sink is gone: close them now.
    std::vector<lws*> open;
    for (const auto& [id, client] : clients_)
        open.push_back(client->wsi());
    for (lws* wsi : open)
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    lws_vhost_destroy(vhost_);
}

// lws keeps a pointer to the protocol list until a destroyed vhost is freed, later than
// the sink that made it: the list is static.
const lws_protocols* UnixSink::protocols()
{
    // Each connection's user data is one pointer: to its UnixClient.
    constexpr std::size_t perConnection = sizeof(void*);
    static const lws_protocols list[] = {
        {clientProtocol, callback, perConnection, rxBufferSize, 0, nullptr, 0},
        {listenerProtocol, callback, 0, 0, 0, nullptr, 0},
        {nullptr, nullptr, 0, 0, 0, nullptr, 0},
    };
    return list;
}

void UnixSink::takeLock()
{
    const std::string lockPath = config_.path + ".lock";
    lock_.reset(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock_.isValid())
        throw system::errnoError(errno, "cannot open " + lockPath);
    if (flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            throw std::runtime_error(config_.path + " is in use by another wspushd (" + lockPath +
                                     " is locked)");
        throw system::errnoError(errno, "cannot lock " + lockPath);
    }
}

// A listening socket from systemd (wspushd.socket) bound to our path, if there is one.
bool UnixSink::adoptActivatedSocket()
{
    const int count = sd_listen_fds(0);
    std::string address = config_.path;
    if (isAbstract(address))
        address[0] = '\0';
    for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + count; ++fd) {
        if (sd_is_socket_unix(fd, SOCK_STREAM, 1, address.c_str(), address.size()) > 0) {
            activatedFd_ = fd;
            return true;
        }
    }
    return false;
}

void UnixSink::listen(event::EventLoop& loop)
{
    lws_context_creation_info info{};
    info.vhost_name = "unix-sink";
    info.protocols = protocols();
    info.user = this;

    const bool activated = adoptActivatedSocket();
    if (activated) {
        info.port = CONTEXT_PORT_NO_LISTEN;
    } else {
        info.options =
            LWS_SERVER_OPTION_UNIX_SOCK | LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
        info.iface = event::keepForLws(config_.path);
        info.listen_accept_role = "raw-skt";
        info.listen_accept_protocol = clientProtocol;
    }

    log::takeLwsError();
    vhost_ = lws_create_vhost(loop.context(), &info);
    if (vhost_ == nullptr) {
        const std::string detail = log::takeLwsError();
        throw std::runtime_error("cannot listen on " + config_.path +
                                 (detail.empty() ? "" : ": " + detail));
    }

    if (activated) {
        fcntl(activatedFd_, F_SETFL, fcntl(activatedFd_, F_GETFL) | O_NONBLOCK);
        lws_sock_file_fd_type descriptor{};
        descriptor.filefd = activatedFd_;
        if (lws_adopt_descriptor_vhost(vhost_, LWS_ADOPT_RAW_FILE_DESC, descriptor,
                                       listenerProtocol, nullptr) == nullptr)
            throw std::runtime_error("cannot watch the socket systemd passed for " + config_.path);
        log::info("serving " + config_.path + " on the socket systemd passed");
        return;
    }
    if (!isAbstract(config_.path))
        applyPermissions();
}

void UnixSink::applyPermissions() const
{
    if (!config_.group.empty()) {
        errno = 0;
        const group* entry = getgrnam(config_.group.c_str());
        if (entry == nullptr)
            throw std::runtime_error("unix sink " + config_.path + ": group '" + config_.group +
                                     "' does not exist");
        if (chown(config_.path.c_str(), static_cast<uid_t>(-1), entry->gr_gid) != 0)
            throw system::errnoError(errno,
                                     "cannot give " + config_.path + " to group " + config_.group);
    }
    if (chmod(config_.path.c_str(), config_.mode) != 0)
        throw system::errnoError(errno, "cannot set the mode of " + config_.path);
}

void UnixSink::acceptPending() noexcept
{
    for (;;) {
        const int fd = accept4(activatedFd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log::warning(name_ + ": accept: " + std::strerror(errno));
            if (errno != EINTR)
                return;
            continue;
        }
        lws_sock_file_fd_type descriptor{};
        descriptor.sockfd = fd;
        if (lws_adopt_descriptor_vhost(vhost_, LWS_ADOPT_SOCKET, descriptor, clientProtocol,
                                       nullptr) == nullptr)
            ::close(fd);
    }
}

int UnixSink::callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                       std::size_t length)
{
    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT:
    case LWS_CALLBACK_RAW_RX:
    case LWS_CALLBACK_RAW_WRITEABLE:
    case LWS_CALLBACK_RAW_CLOSE:
    case LWS_CALLBACK_RAW_RX_FILE:
        break;
    default:
        return 0; // vhost-level calls may come after this sink is gone
    }
    auto* sink = static_cast<UnixSink*>(lws_vhost_user(lws_get_vhost(wsi)));
    if (sink == nullptr)
        return 0;
    if (reason == LWS_CALLBACK_RAW_RX_FILE) {
        sink->acceptPending();
        return 0;
    }
    return sink->onClientEvent(wsi, reason, static_cast<UnixClient**>(user), in, length);
}

int UnixSink::onClientEvent(lws* wsi, lws_callback_reasons reason, UnixClient** slot, void* in,
                            std::size_t length) noexcept
{
    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT:
        onAccepted(wsi, slot);
        return *slot == nullptr ? -1 : 0;
    case LWS_CALLBACK_RAW_RX:
        if (slot == nullptr || *slot == nullptr)
            return -1;
        try {
            UnixClient& client = **slot;
            client.receive(
                std::string_view(static_cast<const char*>(in), length),
                [&](std::string_view line) { handleRequest(client, line); },
                [&] {
                    Json::Value fields;
                    fields["message"] = "request line longer than 64 KiB, ignored";
                    client.pushEvent(eventLine("error", fields));
                });
        } catch (const std::exception&) {
            return -1;
        }
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE:
        if (slot == nullptr || *slot == nullptr || !(*slot)->flush())
            return -1;
        return 0;
    case LWS_CALLBACK_RAW_CLOSE:
        if (slot != nullptr && *slot != nullptr) {
            onClosed(*slot);
            *slot = nullptr;
        }
        return 0;
    default:
        return 0;
    }
}

void UnixSink::onAccepted(lws* wsi, UnixClient** slot) noexcept
{
    if (slot == nullptr)
        return;
    try {
        const std::uint64_t id = nextClientId_++;
        auto client = std::make_unique<UnixClient>(wsi, id, config_);
        *slot = client.get();
        clients_.emplace(id, std::move(client));
        if (!releaseTimer_.isPending())
            releaseTimer_.schedule(firstLineWait);
        log::debug(name_ + ": a client connected (" + std::to_string(clients_.size()) + " now)");
    } catch (const std::bad_alloc&) {
        *slot = nullptr;
    }
}

// Clients that sent no request line in time get their records from now on.
void UnixSink::releaseNewClients() noexcept
{
    const auto waitUs = std::chrono::duration_cast<std::chrono::microseconds>(firstLineWait);
    const std::int64_t now = lws_now_usecs();
    std::int64_t nextDue = 0;
    for (auto& [id, client] : clients_) {
        if (!client->isHolding())
            continue;
        const std::int64_t due = client->acceptedUs() + waitUs.count();
        if (due <= now)
            client->release();
        else if (nextDue == 0 || due < nextDue)
            nextDue = due;
    }
    if (nextDue != 0)
        releaseTimer_.schedule(std::chrono::microseconds(nextDue - now));
    flush();
}

bool UnixSink::reconfigure(const config::SinkConfig& next) noexcept
{
    const auto* settings = std::get_if<config::UnixSinkConfig>(&next.settings);
    if (settings == nullptr || settings->path != config_.path)
        return false;
    // The same socket: a new one would have lws share the listening socket of the vhost
    // being destroyed, so the settings change in place.
    config_ = *settings;
    for (auto& [id, client] : clients_)
        client->setLimits(config_);
    if (activatedFd_ < 0 && !isAbstract(config_.path)) {
        try {
            applyPermissions();
        } catch (const std::exception& error) {
            log::error(name_ + ": " + error.what());
        }
    }
    return true;
}

void UnixSink::onClosed(UnixClient* client) noexcept
{
    closedClients_.forwarded += client->forwarded();
    closedClients_.dropped += client->dropped();
    clients_.erase(client->id());
    log::debug(name_ + ": a client left (" + std::to_string(clients_.size()) + " now)");
}

void UnixSink::handleRequest(UnixClient& client, std::string_view line) noexcept
{
    try {
        UnixRequest request = parseUnixRequest(line);
        if (auto* replayRequest = std::get_if<ReplayRequest>(&request)) {
            replay(client, *replayRequest);
        } else if (std::holds_alternative<StatusRequest>(request)) {
            sendStatus(client);
        } else if (auto* send = std::get_if<SendRequest>(&request)) {
            sendUpstream(client, std::move(*send));
        } else {
            Json::Value fields;
            fields["message"] = std::get<InvalidRequest>(request).message;
            client.pushEvent(eventLine("error", fields));
        }
    } catch (const std::exception& error) {
        log::warning(name_ + ": a request failed: " + error.what());
    }
}

// A replay reaches back at most `replay` records, read from the store.
void UnixSink::replay(UnixClient& client, const ReplayRequest& request) noexcept
{
    store::Store& store = host_.store();
    const bool otherEpoch = !request.run.empty() && request.run != store.epoch();
    const std::uint64_t since = otherEpoch ? 0 : request.since;
    // Records from the lowest one already queued upwards are on their way.
    const std::uint64_t upper = client.lowestSeq() != 0 ? client.lowestSeq() - 1 : lastSeq_;
    if (upper <= since)
        return;

    const std::uint64_t reach = upper >= config_.replay ? upper - config_.replay + 1 : 1;
    const std::uint64_t first = store.firstSeq();
    const std::uint64_t oldest = std::max(reach, first == 0 ? upper + 1 : first);
    try {
        std::vector<std::shared_ptr<const record::Record>> wanted;
        std::uint64_t from = since + 1;
        if (config_.replay != 0 && from <= upper) {
            const auto reader = store.reader(std::max(since, oldest - 1));
            while (reader->position() < upper) {
                auto record = reader->next();
                if (!record || record->seq > upper)
                    break;
                wanted.push_back(std::move(record));
            }
        }
        const std::uint64_t firstSent = wanted.empty() ? upper + 1 : wanted.front()->seq;
        std::string gapLine;
        if (from < firstSent) {
            Json::Value fields;
            fields["from"] = Json::UInt64(from);
            fields["to"] = Json::UInt64(firstSent - 1);
            gapLine = eventLine("gap", fields);
        }
        client.insertReplayed(std::move(gapLine), wanted);
    } catch (const std::bad_alloc&) {
        log::error(name_ + ": out of memory during a replay");
    }
}

void UnixSink::sendStatus(UnixClient& client) noexcept
{
    try {
        Json::Value status = host_.status();
        status["subscribers"] = Json::UInt64(clients_.size());
        client.pushEvent(eventLine("status", status));
    } catch (const std::exception& error) {
        log::warning(name_ + ": status: " + error.what());
    }
}

void UnixSink::sendUpstream(UnixClient& client, SendRequest&& request) noexcept
{
    const auto refuse = [&client](const std::string& message) {
        Json::Value fields;
        fields["message"] = message;
        client.pushEvent(eventLine("error", fields));
    };
    if (!config_.allowSend) {
        refuse("sending is not allowed on this socket (allow_send: false)");
        return;
    }
    const std::size_t bytes = request.text.size();
    const std::string refused =
        host_.sendUpstream(std::move(request.text), [this, alive = std::weak_ptr<bool>(alive_),
                                                     id = client.id(), bytes](bool written) {
            const auto sinkAlive = alive.lock();
            if (!sinkAlive || !*sinkAlive)
                return;
            const auto found = clients_.find(id);
            if (found == clients_.end())
                return;
            Json::Value fields;
            if (written) {
                fields["bytes"] = Json::UInt64(bytes);
                found->second->pushEvent(eventLine("sent", fields));
            } else {
                fields["message"] = "the link went down before the message was written";
                found->second->pushEvent(eventLine("error", fields));
            }
        });
    if (!refused.empty())
        refuse(refused);
}

void UnixSink::deliver(const std::shared_ptr<const record::Record>& record) noexcept
{
    lastSeq_ = record->seq;
    for (auto& [id, client] : clients_)
        client->pushRecord(record);
}

void UnixSink::flush() noexcept
{
    for (auto& [id, client] : clients_) {
        if (!client->flush())
            lws_set_timeout(client->wsi(), PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
}

void UnixSink::broadcastLinkEvent(const char* name, const char* key,
                                  const std::string& value) noexcept
{
    try {
        Json::Value fields;
        fields[key] = value;
        fields["ts"] = nowText();
        const std::string line = eventLine(name, fields);
        for (auto& [id, client] : clients_)
            client->pushEvent(line);
    } catch (const std::exception&) {
        log::warning(name_ + ": could not tell the clients that the link is " + name);
    }
}

void UnixSink::onLinkUp(const std::string& server) noexcept
{
    broadcastLinkEvent("connected", "server", server);
}

void UnixSink::onLinkDown(const std::string& reason) noexcept
{
    broadcastLinkEvent("disconnected", "reason", reason);
}

SinkCounters UnixSink::counters() const noexcept
{
    SinkCounters total = closedClients_;
    for (const auto& [id, client] : clients_) {
        total.forwarded += client->forwarded();
        total.dropped += client->dropped();
    }
    return total;
}

} // namespace wspush::sinks
