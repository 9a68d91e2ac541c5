// SPDX-License-Identifier: MIT
#include "sinks/unix_sink.hpp"

#include <algorithm>
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
// Named subscriptions' cursors in the store; sinks' are "sink NAME".
constexpr std::string_view cursorPrefix = "subscriber ";

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
      // A sink without a cursor is given the records after the newest one.
      lastSeq_(host.store().lastSeq()),
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
        if (slot == nullptr || *slot == nullptr || !(*slot)->flush(lastSeq_))
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
        // The held range: what a replay may ask for; every record after `last` comes live.
        const store::Store& store = host_.store();
        const std::uint64_t first = store.firstSeq();
        Json::Value hello;
        hello["epoch"] = store.epoch();
        hello["first"] = Json::UInt64(first == 0 || lastSeq_ == 0 ? 0 : first);
        hello["last"] = Json::UInt64(first == 0 ? 0 : lastSeq_);
        client->pushEvent(eventLine("hello", hello));
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
    const auto held = subscribers_.find(client->subscription());
    if (held != subscribers_.end() && held->second == client->id())
        subscribers_.erase(held);
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
        } else if (auto* subscription = std::get_if<SubscribeRequest>(&request)) {
            subscribe(client, *subscription);
        } else if (auto* acknowledgement = std::get_if<AckRequest>(&request)) {
            ack(client, *acknowledgement);
        } else if (std::holds_alternative<CursorsRequest>(request)) {
            sendCursors(client);
        } else if (auto* deletion = std::get_if<DeleteCursorRequest>(&request)) {
            deleteCursor(client, *deletion);
        } else {
            refuse(client, std::get<InvalidRequest>(request).message);
        }
    } catch (const std::exception& error) {
        log::warning(name_ + ": a request failed: " + error.what());
    }
}

void UnixSink::refuse(UnixClient& client, const std::string& message) noexcept
{
    try {
        Json::Value fields;
        fields["message"] = message;
        client.pushEvent(eventLine("error", fields));
    } catch (const std::exception&) {
    }
}

// A replay reaches back at most `replay` records from the newest, read from the store as
// the client's socket drains; a record this connection was already sent is not sent again.
void UnixSink::replay(UnixClient& client, const ReplayRequest& request) noexcept
{
    if (!client.subscription().empty()) {
        refuse(client, "this connection is subscribed as '" + client.subscription() +
                           "': a replay is for readers without a name");
        return;
    }
    store::Store& store = host_.store();
    const bool otherEpoch = !request.epoch.empty() && request.epoch != store.epoch();
    const std::uint64_t upper = lastSeq_;
    const std::uint64_t since = otherEpoch ? 0 : std::min(request.since, upper);
    // The oldest record a replay reaches.
    const std::uint64_t reach = config_.replay >= upper ? 1 : upper - config_.replay + 1;
    std::uint64_t after = std::max(since, reach - 1);
    if (config_.replay == 0)
        after = upper;
    // Records already queued for it are on their way: the replay does not leave them out.
    if (const std::uint64_t queued = client.firstUnsent(); queued != 0)
        after = std::min(after, queued - 1);
    try {
        client.catchUp(store.reader(after), true);
        Json::Value fields;
        if (otherEpoch) {
            // Its seqs are from another store: all that is held comes, from the oldest.
            fields["reason"] = "epoch";
            fields["epoch"] = store.epoch();
            client.pushEvent(eventLine("gap", fields));
        } else if (since < after && since < upper) {
            fields["from"] = Json::UInt64(since + 1);
            fields["to"] = Json::UInt64(after);
            client.pushEvent(eventLine("gap", fields));
        }
    } catch (const std::exception& error) {
        log::error(name_ + ": a replay failed: " + error.what());
    }
}

void UnixSink::subscribe(UnixClient& client, const SubscribeRequest& request) noexcept
{
    if (client.isClosing())
        return;
    try {
        store::Store& store = host_.store();
        const std::string cursorName = std::string(cursorPrefix) + request.name;
        if (!client.subscription().empty() && client.subscription() != request.name) {
            const auto held = subscribers_.find(client.subscription());
            if (held != subscribers_.end() && held->second == client.id())
                subscribers_.erase(held);
        }
        const auto holder = subscribers_.find(request.name);
        if (holder != subscribers_.end() && holder->second != client.id()) {
            const auto other = clients_.find(holder->second);
            if (other != clients_.end()) {
                other->second->cutOff("subscription '" + request.name +
                                          "' taken over by another client",
                                      "taken_over");
            }
        }
        subscribers_[request.name] = client.id();

        std::uint64_t after = lastSeq_; // a new name starts at the next record
        if (const auto cursor = store.cursor(cursorName)) {
            after = std::min(*cursor, lastSeq_);
        } else {
            if (request.fromFirst && store.firstSeq() != 0)
                after = std::min(store.firstSeq() - 1, lastSeq_);
            store.setCursor(cursorName, after);
        }
        client.subscribe(request.name);
        client.catchUp(store.reader(after), false);
        Json::Value fields;
        fields["name"] = request.name;
        fields["cursor"] = Json::UInt64(after);
        client.pushEvent(eventLine("subscribed", fields));
        log::debug(name_ + ": client " + std::to_string(client.id()) + " subscribed as '" +
                   request.name + "' after record " + std::to_string(after));
    } catch (const std::exception& error) {
        log::error(name_ + ": a subscription failed: " + error.what());
    }
}

void UnixSink::ack(UnixClient& client, const AckRequest& request) noexcept
{
    const std::string& name = client.subscription();
    if (name.empty()) {
        refuse(client, "ack needs a subscription on this connection: subscribe first");
        return;
    }
    const auto holder = subscribers_.find(name);
    if (holder == subscribers_.end() || holder->second != client.id())
        return; // taken over: the new holder's acks count
    store::Store& store = host_.store();
    const std::string cursorName = std::string(cursorPrefix) + name;
    const std::uint64_t cursor = store.cursor(cursorName).value_or(0);
    if (request.seq <= cursor)
        return; // never backwards
    if (request.seq > client.ackLimit()) {
        refuse(client, "ack " + std::to_string(request.seq) +
                           " is past the last record sent to this subscription (" +
                           std::to_string(client.ackLimit()) + ")");
        return;
    }
    store.setCursor(cursorName, request.seq);
}

Json::Value UnixSink::cursorList() const
{
    store::Store& store = host_.store();
    Json::Value list(Json::arrayValue);
    for (const auto& [key, seq] : store.cursors()) {
        if (!key.starts_with(cursorPrefix))
            continue;
        const std::string name = key.substr(cursorPrefix.size());
        Json::Value entry(Json::objectValue);
        entry["name"] = name;
        entry["seq"] = Json::UInt64(seq);
        entry["lag"] = Json::UInt64(store.lastSeq() - std::min(seq, store.lastSeq()));
        entry["connected"] = subscribers_.contains(name);
        list.append(entry);
    }
    return list;
}

void UnixSink::sendCursors(UnixClient& client) noexcept
{
    try {
        Json::Value fields;
        fields["cursors"] = cursorList();
        fields["last"] = Json::UInt64(host_.store().lastSeq());
        client.pushEvent(eventLine("cursors", fields));
    } catch (const std::exception& error) {
        log::warning(name_ + ": cursors: " + error.what());
    }
}

void UnixSink::deleteCursor(UnixClient& client, const DeleteCursorRequest& request) noexcept
{
    if (subscribers_.contains(request.name)) {
        refuse(client, "subscription '" + request.name + "' is in use by a connected client");
        return;
    }
    if (!host_.store().removeCursor(std::string(cursorPrefix) + request.name)) {
        refuse(client, "no cursor named '" + request.name + "'");
        return;
    }
    log::info(name_ + ": cursor '" + request.name + "' deleted");
    try {
        Json::Value fields;
        fields["name"] = request.name;
        client.pushEvent(eventLine("cursor_deleted", fields));
    } catch (const std::exception&) {
    }
}

void UnixSink::sendStatus(UnixClient& client) noexcept
{
    try {
        Json::Value status = host_.status();
        status["subscribers"] = Json::UInt64(clients_.size());
        status["cursors"] = cursorList();
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

bool UnixSink::isBehind() const noexcept
{
    bool behind = false;
    for (const auto& [id, client] : clients_)
        behind = client->isBehind() || behind; // each one notes since when
    return behind;
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
        if (!client->flush(lastSeq_))
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

// Every client is told: the server skipped (or started again), the daemon's seqs did not.
void UnixSink::onUpstreamGap(std::int64_t expected, std::int64_t got) noexcept
{
    try {
        Json::Value fields;
        fields["upstream"] = true;
        fields["expected"] = Json::Int64(expected);
        fields["got"] = Json::Int64(got);
        const std::string line = eventLine("gap", fields);
        for (auto& [id, client] : clients_)
            client->pushEvent(line);
    } catch (const std::exception&) {
        log::warning(name_ + ": could not tell the clients of a gap upstream");
    }
}

SinkCounters UnixSink::counters() const noexcept
{
    SinkCounters total = closedClients_;
    total.queuedBytes = 0; // a gauge: only the clients here now
    for (const auto& [id, client] : clients_) {
        total.forwarded += client->forwarded();
        total.dropped += client->dropped();
        total.queuedBytes += client->queuedBytes();
    }
    return total;
}

} // namespace wspush::sinks
