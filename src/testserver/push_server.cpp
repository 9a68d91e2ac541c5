// SPDX-License-Identifier: MIT
#include "testserver/push_server.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

#include "testserver/payload.hpp"
#include "testserver/tls.hpp"

namespace wspush::testserver {

namespace {

constexpr std::string_view kGreeting = "来自后台的反馈:连接成功";
constexpr std::string_view kHeartbeat = R"({"sendType":"HEALTH"})";
constexpr std::string_view kHeartbeatReply = "SUCCESS";
constexpr std::string_view kPathPrefix = "/websocket/";

// Pacing granularity: rates above 100/s release several messages per tick.
constexpr std::chrono::milliseconds kTick{10};
// The largest single send(); lws would otherwise cut writes to its 4 KiB service buffer.
constexpr std::size_t kTxPacketSize = std::size_t{256} * 1024;
// How long lws lets an accepted connection sit without a request. It also bounds how long a
// connection accepted while silent waits for its upgrade answer, so make it practically forever.
constexpr unsigned kHandshakeIdleSeconds = 24 * 3600;

PushServer& serverOf(lws* wsi)
{
    return *static_cast<PushServer*>(lws_context_user(lws_get_context(wsi)));
}

// The <id> of "/websocket/<id>", if that is the path.
std::optional<std::string> clientIdOf(lws* wsi)
{
    const int length = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI);
    if (length <= 0) {
        return std::nullopt;
    }
    std::string path(static_cast<std::size_t>(length) + 1, '\0');
    if (lws_hdr_copy(wsi, path.data(), length + 1, WSI_TOKEN_GET_URI) != length) {
        return std::nullopt;
    }
    path.resize(static_cast<std::size_t>(length));
    if (!path.starts_with(kPathPrefix) || path.size() == kPathPrefix.size() ||
        path.find('/', kPathPrefix.size()) != std::string::npos) {
        return std::nullopt;
    }
    return path.substr(kPathPrefix.size());
}

// Answers an upgrade request with an error status. lws has not parsed the request's HTTP
// version when it asks to confirm an upgrade, so its header helpers would answer "HTTP/1.0",
// which strict clients reject; the answer is written whole instead. False if that failed.
bool rejectUpgrade(lws* wsi, std::string_view status, std::string_view extraHeader,
                   std::string_view body)
{
    std::string response(LWS_PRE, '\0');
    response.append("HTTP/1.1 ").append(status).append("\r\n");
    response.append("content-type: text/plain\r\n");
    response.append("content-length: ").append(std::to_string(body.size())).append("\r\n");
    response.append("connection: close\r\n");
    response.append(extraHeader).append("\r\n");
    response.append(body);
    return lws_write(wsi, reinterpret_cast<unsigned char*>(response.data()) + LWS_PRE,
                     response.size() - LWS_PRE, LWS_WRITE_HTTP) >= 0;
}

const lws_extension kExtensions[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate, "permessage-deflate"},
    {nullptr, nullptr, nullptr},
};

// "date+N" is the HTTP-date N seconds from now; anything else is sent as it is.
std::string retryAfterValue(const std::string& spec)
{
    unsigned seconds = 0;
    if (!spec.starts_with("date+") || !parseNumber(std::string_view(spec).substr(5), seconds)) {
        return spec;
    }
    const std::time_t when = std::time(nullptr) + seconds;
    std::tm date{};
    gmtime_r(&when, &date);
    char text[64];
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &date);
    return text;
}

// Makes the peer see a connection reset. lws shuts a server connection down with a FIN before
// it closes the socket, so SO_LINGER {1, 0} alone would only turn a later close into the RST;
// disconnecting the socket (connect to AF_UNSPEC) sends the RST at once.
void sendReset(lws* wsi)
{
    const int fd = lws_get_socket_fd(wsi);
    const linger abortive{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
    sockaddr unspecified{};
    unspecified.sa_family = AF_UNSPEC;
    if (connect(fd, &unspecified, sizeof unspecified) != 0) {
        std::fprintf(stderr, "wspush-testserver: reset: %s\n", std::strerror(errno));
    }
}

void adoptDescriptor(lws_vhost* vhost, int fd, const char* protocol)
{
    lws_sock_file_fd_type descriptor{};
    descriptor.filefd = fd;
    if (lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, descriptor, protocol, nullptr) ==
        nullptr) {
        throw std::runtime_error("cannot watch file descriptor " + std::to_string(fd));
    }
}

} // namespace

PushServer::PushServer(const Options& options) : options_(options), events_(options.quiet)
{
    if (options_.ids) {
        log_ = std::make_unique<MessageLog>(options_.idPrefix, options_.history);
    }
    // stdout may be a pipe whose reader is gone; that must not kill the server.
    std::signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR | LLL_WARN, nullptr);

    // Clients asking for no subprotocol get protocols[0] as well, and lws echoes its name only to
    // those that asked for it, so naming it after --subprotocol is all selection takes.
    webSocketProtocols_[0].name =
        options_.subprotocol.empty() ? "wspush" : options_.subprotocol.c_str();
    webSocketProtocols_[0].callback = &PushServer::onWebSocketEvent;
    webSocketProtocols_[0].tx_packet_size = kTxPacketSize;
    loopProtocols_[0].name = "wspush-loop";
    loopProtocols_[0].callback = &PushServer::onLoopEvent;

    lws_context_creation_info contextInfo{};
    contextInfo.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (!options_.tlsCert.empty()) {
        contextInfo.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    }
    contextInfo.user = this;
    context_.reset(lws_create_context(&contextInfo));
    if (!context_) {
        throw std::runtime_error("cannot create the libwebsockets context");
    }

    lws_context_creation_info loopInfo{};
    loopInfo.vhost_name = "loop";
    loopInfo.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    loopInfo.protocols = loopProtocols_.data();
    lws_vhost* loopVhost = lws_create_vhost(context_.get(), &loopInfo);
    if (loopVhost == nullptr) {
        throw std::runtime_error("cannot create the loop vhost");
    }

    lws_context_creation_info webSocketInfo{};
    webSocketInfo.vhost_name = "websocket";
    webSocketInfo.iface = options_.host.c_str();
    webSocketInfo.port = options_.port;
    webSocketInfo.protocols = webSocketProtocols_.data();
    webSocketInfo.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    webSocketInfo.retry_and_idle_policy = &noIdleTimeouts_;
    webSocketInfo.timeout_secs_ah_idle = kHandshakeIdleSeconds;
    if (options_.deflate) {
        webSocketInfo.extensions = kExtensions;
    }
    applyTls(options_, webSocketInfo);
    webSocketVhost_ = lws_create_vhost(context_.get(), &webSocketInfo);
    if (webSocketVhost_ == nullptr) {
        throw std::runtime_error("cannot listen on " + options_.host + " port " +
                                 std::to_string(options_.port) +
                                 (options_.tlsCert.empty() ? "" : " (or load the TLS files)"));
    }

    adoptDescriptor(loopVhost, STDIN_FILENO, loopProtocols_[0].name);
    adoptDescriptor(loopVhost, signals_.fd(), loopProtocols_[0].name);
    signals_.disown();
    adoptDescriptor(loopVhost, ticker_.fd(), loopProtocols_[0].name);
    ticker_.disown();
}

PushServer::~PushServer()
{
    // The context's teardown closes every connection; nobody reads the events after quit.
    clients_.clear();
    upgrading_.clear();
    context_.reset();
}

void PushServer::run()
{
    events_.listening(lws_get_vhost_listen_port(webSocketVhost_));
    while (running_ && lws_service(context_.get(), 0) >= 0) {
    }
}

int PushServer::onWebSocketEvent(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* in,
                                 std::size_t length) noexcept
{
    try {
        return serverOf(wsi).dispatchWebSocket(wsi, reason, in, length);
    } catch (const std::exception& error) {
        // Nothing may unwind into lws; the connection concerned is dropped instead.
        std::fprintf(stderr, "wspush-testserver: %s\n", error.what());
        return -1;
    }
}

int PushServer::dispatchWebSocket(lws* wsi, lws_callback_reasons reason, void* in,
                                  std::size_t length)
{
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
        return clientCertificateVerdict(length);
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        onAccepted(wsi);
        return 0;
    case LWS_CALLBACK_HTTP:
        return onHttpRequest(wsi);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return onUpgradeRequest(wsi);
    case LWS_CALLBACK_ESTABLISHED:
        onEstablished(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        onReceive(wsi, static_cast<const char*>(in), length);
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        onPeerClose(static_cast<const unsigned char*>(in), length);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return onWriteable(wsi);
    case LWS_CALLBACK_CLOSED:
        onClosed(wsi);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        onDestroyed(wsi);
        return 0;
    case LWS_CALLBACK_TIMER:
        onResumeWaitOver(wsi);
        return 0;
    default:
        return 0;
    }
}

int PushServer::onLoopEvent(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* /*in*/,
                            std::size_t /*length*/) noexcept
{
    try {
        switch (reason) {
        case LWS_CALLBACK_RAW_RX_FILE:
            serverOf(wsi).onReadable(lws_get_socket_fd(wsi));
            return 0;
        case LWS_CALLBACK_RAW_CLOSE_FILE:
            serverOf(wsi).onHangUp(lws_get_socket_fd(wsi));
            return 0;
        default:
            return 0;
        }
    } catch (const std::exception& error) {
        // Without its commands and its pacer the server is of no use.
        std::fprintf(stderr, "wspush-testserver: %s\n", error.what());
        serverOf(wsi).running_ = false;
        return 0;
    }
}

void PushServer::onAccepted(lws* wsi)
{
    upgrading_.emplace(wsi, Handshake{});
    if (silent_) {
        // Never read, so the upgrade request is never answered while silent.
        lws_rx_flow_control(wsi, 0);
    }
}

int PushServer::onHttpRequest(lws* wsi)
{
    if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, nullptr) != 0) {
        return -1;
    }
    return lws_http_transaction_completed(wsi) != 0 ? -1 : 0;
}

int PushServer::onUpgradeRequest(lws* wsi)
{
    // > 0: answered here, lws completes the transaction; < 0: hang up.
    auto id = clientIdOf(wsi);
    if (!id) {
        return rejectUpgrade(wsi, "404 Not Found", "", "use /websocket/<id>\n") ? 1 : -1;
    }
    if (refusing_) {
        std::string headers;
        if (!refusing_->retryAfter.empty()) {
            headers += "retry-after: " + retryAfterValue(refusing_->retryAfter) + "\r\n";
        }
        if (refusing_->status == 401) {
            headers += "www-authenticate: Bearer error=\"invalid_token\"\r\n";
        }
        return rejectUpgrade(wsi, std::to_string(refusing_->status) + " " + refusing_->reason,
                             headers, refusing_->reason + "\n")
                   ? 1
                   : -1;
    }
    Handshake handshake = readHandshake(wsi, std::move(*id), options_.showHeaders);
    if (options_.resume.kind == ResumeSource::Kind::Query) {
        handshake.resumeId = urlArgument(wsi, options_.resume.name);
    } else if (options_.resume.kind == ResumeSource::Kind::Header) {
        handshake.resumeId = requestHeader(wsi, options_.resume.name);
    }
    upgrading_[wsi] = std::move(handshake);
    return 0;
}

void PushServer::onEstablished(lws* wsi)
{
    auto upgraded = upgrading_.extract(wsi);
    Handshake handshake = upgraded ? std::move(upgraded.mapped()) : Handshake{};
    reportHandshake(wsi, handshake);
    Client& client =
        *clients_.emplace(wsi, std::make_unique<Client>(wsi, std::move(handshake.id), log_.get()))
             .first->second;
    events_.connected(client.id());
    client.queueFrame(kGreeting, LWS_WRITE_TEXT);
    switch (options_.resume.kind) {
    case ResumeSource::Kind::Query:
    case ResumeSource::Kind::Header:
        resume(client, handshake.resumeId);
        break;
    case ResumeSource::Kind::Message:
        if (options_.resumeWaitMs == 0) {
            events_.live(client.id());
        } else {
            client.hold(true);
            lws_set_timer_usecs(wsi, lws_usec_t{options_.resumeWaitMs} * LWS_US_PER_MS);
        }
        break;
    case ResumeSource::Kind::None:
        break;
    }
    if (options_.autoPush) {
        startAutoPush(client);
    }
    if (silent_) {
        lws_rx_flow_control(wsi, 0);
    }
}

void PushServer::reportHandshake(lws* wsi, const Handshake& handshake)
{
    for (std::size_t i = 0; i < options_.showHeaders.size(); ++i) {
        events_.header(options_.showHeaders[i],
                       i < handshake.headers.size() ? handshake.headers[i] : std::nullopt);
    }
    if (!options_.subprotocol.empty()) {
        const lws_protocols* selected = lws_get_protocol(wsi);
        events_.subprotocol(handshake.offeredSubprotocol && selected != nullptr
                                ? std::optional<std::string_view>(selected->name)
                                : std::nullopt);
    }
}

void PushServer::onReceive(lws* wsi, const char* data, std::size_t length)
{
    const auto found = clients_.find(wsi);
    if (found == clients_.end()) {
        return;
    }
    Client& client = *found->second;
    const auto message = client.receive(data, length, lws_frame_is_binary(wsi) != 0,
                                        lws_is_final_fragment(wsi) != 0);
    if (!message) {
        return;
    }
    if (options_.resume.kind == ResumeSource::Kind::Message && !message->binary) {
        if (const auto request = parseResumeMessage(message->data)) {
            lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
            resume(client, *request);
            return;
        }
        if (client.holding()) {
            // Its first text message is something else: it has no id to give.
            lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
            resume(client, std::nullopt);
        }
    }
    if (!message->binary && message->data == kHeartbeat) {
        events_.heartbeat(++heartbeats_);
        client.queueFrame(kHeartbeatReply, LWS_WRITE_TEXT);
        return;
    }
    ++received_;
    if (message->binary) {
        events_.receivedBinary(message->data);
    } else {
        events_.received(message->data);
    }
}

void PushServer::onPeerClose(const unsigned char* payload, std::size_t length)
{
    events_.closed(length >= 2 ? (unsigned{payload[0]} << 8) | payload[1] : 0);
}

int PushServer::onWriteable(lws* wsi)
{
    const auto found = clients_.find(wsi);
    if (found == clients_.end() || silent_) {
        return 0;
    }
    const Client::WriteResult result = found->second->write();
    pushed_ += result.pushed;
    return result.hangUp ? -1 : 0;
}

void PushServer::onClosed(lws* wsi)
{
    auto closed = clients_.extract(wsi);
    if (!closed) {
        return;
    }
    events_.disconnected();
    closed.mapped()->abandonPushes();
}

void PushServer::onDestroyed(lws* wsi)
{
    upgrading_.erase(wsi);
}

void PushServer::onResumeWaitOver(lws* wsi)
{
    const auto found = clients_.find(wsi);
    if (found != clients_.end() && found->second->holding()) {
        resume(*found->second, std::nullopt);
    }
}

void PushServer::resume(Client& client, const std::optional<std::string>& id)
{
    if (!id || id->empty()) {
        client.hold(false);
        events_.live(client.id());
        return;
    }
    const MessageLog::ResumePoint point = log_->resumePoint(*id);
    if (!point.known) {
        events_.unknownId(client.id(), *id,
                          log_->historyCount() == 0
                              ? std::nullopt
                              : std::optional<std::string>(log_->idOf(point.start)));
    }
    events_.resumed(client.id(), *id, client.resume(point.start, log_->end()));
}

void PushServer::onReadable(int fd)
{
    if (fd == STDIN_FILENO) {
        readStdin();
    } else if (fd == signals_.fd()) {
        signals_.drain();
        running_ = false;
    } else if (fd == ticker_.fd()) {
        ticker_.drain();
        onTick();
    }
}

void PushServer::onHangUp(int fd)
{
    // A pipe whose writer is gone reports a hang-up without being readable once more.
    if (fd == STDIN_FILENO) {
        endOfInput();
    }
}

void PushServer::readStdin()
{
    char buffer[64 * 1024];
    const ssize_t count = read(STDIN_FILENO, buffer, sizeof buffer);
    if (count < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (count <= 0) {
        endOfInput();
        return;
    }
    stdinBuffer_.append(buffer, static_cast<std::size_t>(count));
    std::size_t start = 0;
    for (std::size_t newline = stdinBuffer_.find('\n'); running_ && newline != std::string::npos;
         newline = stdinBuffer_.find('\n', start)) {
        handleLine(std::string_view(stdinBuffer_).substr(start, newline - start));
        start = newline + 1;
    }
    stdinBuffer_.erase(0, start);
}

void PushServer::endOfInput()
{
    // The last line may lack its newline. Not once stopped: lws reports the hang-up of stdin
    // again while the context is torn down.
    if (running_ && !stdinBuffer_.empty()) {
        handleLine(stdinBuffer_);
    }
    running_ = false;
}

void PushServer::onTick()
{
    const auto now = PushJob::Clock::now();
    const auto advance = [&](const std::shared_ptr<PushJob>& job) {
        if (job->advance(now, silent_)) {
            release(job);
        }
    };
    // Copies: a publishing job may finish, and leave its queue, while it is advanced.
    if (!pushQueue_.empty()) {
        const auto front = pushQueue_.front();
        advance(front);
    }
    std::ranges::for_each(std::vector(autoPushes_), advance);
    updateTicker();
}

void PushServer::handleLine(std::string_view line)
{
    auto parsed = parseCommand(line);
    if (const auto* error = std::get_if<ParseError>(&parsed)) {
        events_.error(error->message);
        return;
    }
    const auto& command = std::get<ParsedCommand>(parsed);
    if (const auto problem = refusal(command.command)) {
        events_.error(command.verb + ": " + *problem);
        return;
    }
    std::visit([this](const auto& what) { execute(what); }, command.command);
    events_.ok(command.verb);
    // Only now, so that "ok push" comes before the "pushed 0" of a push without clients.
    startNextPush();
}

std::optional<std::string> PushServer::refusal(const Command& command) const
{
    if (const auto* push = std::get_if<PushCommand>(&command)) {
        return log_ ? idsPushProblem(push->spec, log_->idPrefix()) : std::nullopt;
    }
    const bool needsIds = std::holds_alternative<SkipCommand>(command) ||
                          std::holds_alternative<RestartSeqCommand>(command) ||
                          std::holds_alternative<HistoryCommand>(command);
    if (needsIds && !log_) {
        return "needs --ids";
    }
    if (const auto* skip = std::get_if<SkipCommand>(&command);
        skip != nullptr && skip->count > kMaxSeq - log_->nextSeq()) {
        return "the next seq would pass " + std::to_string(kMaxSeq);
    }
    return std::nullopt;
}

void PushServer::execute(const PushCommand& command)
{
    if (log_) {
        pushQueue_.push_back(
            std::make_shared<PushJob>(command.spec, [this](PushJob& job) { onPushFinished(job); }));
        return;
    }
    std::vector<lws*> targets;
    for (const auto& [wsi, client] : clients_) {
        targets.push_back(wsi);
    }
    auto job = makeJob(command.spec, std::move(targets));
    for (const auto& [wsi, client] : clients_) {
        client->queuePush(job);
    }
    pushQueue_.push_back(std::move(job));
}

void PushServer::execute(const SendCommand& command)
{
    for (const auto& [wsi, client] : clients_) {
        client->queueFrame(command.payload, command.binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    }
}

void PushServer::execute(const OversizeCommand& command)
{
    const std::string payload = paddedJson("oversize", command.bytes);
    for (const auto& [wsi, client] : clients_) {
        client->queueFrame(payload, LWS_WRITE_TEXT);
    }
}

void PushServer::execute(const PingFloodCommand& command)
{
    static constexpr char kPing[] = {'\x89', 4, 'p', 'i', 'n', 'g'};
    std::string frames;
    frames.reserve(command.count * sizeof kPing);
    for (std::size_t i = 0; i < command.count; ++i) {
        frames.append(kPing, sizeof kPing);
    }
    for (const auto& [wsi, client] : clients_) {
        client->queueFrame(frames, LWS_WRITE_RAW);
    }
}

void PushServer::execute(const FragmentedCommand& command)
{
    const std::string payload = paddedJson("fragmented", command.bytes);
    for (const auto& [wsi, client] : clients_) {
        client->queueFragmented(payload, command.parts);
    }
}

void PushServer::execute(const CloseCommand& command)
{
    for (const auto& [wsi, client] : clients_) {
        client->queueClose(command.code, command.reason);
    }
}

void PushServer::execute(const ResetCommand& /*command*/)
{
    std::vector<lws*> connections;
    for (const auto& [wsi, client] : clients_) {
        connections.push_back(wsi);
    }
    for (const auto& [wsi, handshake] : upgrading_) {
        connections.push_back(wsi);
    }
    for (lws* wsi : connections) {
        sendReset(wsi);
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    }
}

void PushServer::execute(const RefuseCommand& command)
{
    refusing_ = command.on ? std::optional<RefuseCommand>(command) : std::nullopt;
}

void PushServer::execute(const SilentCommand& command)
{
    silent_ = command.on;
    // From outside the connections' own callbacks, so the change has to apply at once.
    const int rx = (silent_ ? 0 : 1) | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW;
    for (const auto& [wsi, client] : clients_) {
        lws_rx_flow_control(wsi, rx);
        if (!silent_) {
            lws_callback_on_writable(wsi);
        }
    }
    for (const auto& [wsi, handshake] : upgrading_) {
        lws_rx_flow_control(wsi, rx);
    }
}

void PushServer::execute(const StatsCommand& /*command*/)
{
    events_.stats({clients_.size(), heartbeats_, received_, pushed_});
}

void PushServer::execute(const SkipCommand& command)
{
    log_->skip(command.count);
}

void PushServer::execute(const RestartSeqCommand& command)
{
    log_->restartSeq(command.seq);
}

void PushServer::execute(const HistoryCommand& /*command*/)
{
    const bool empty = log_->historyCount() == 0;
    events_.history(empty ? std::nullopt : std::optional(log_->idOf(log_->historyFirst())),
                    empty ? std::nullopt : std::optional(log_->idOf(log_->end() - 1)),
                    log_->historyCount());
}

void PushServer::execute(const QuitCommand& /*command*/)
{
    running_ = false;
}

std::shared_ptr<PushJob> PushServer::makeJob(const PushSpec& spec, std::vector<lws*> targets)
{
    return std::make_shared<PushJob>(spec, std::move(targets), messageNumbers_,
                                     [this](PushJob& job) { onPushFinished(job); });
}

void PushServer::startAutoPush(Client& client)
{
    if (log_) {
        // One stream for everyone, from the first connect on, connected or not.
        if (autoPublisherStarted_) {
            return;
        }
        autoPublisherStarted_ = true;
        const auto job = std::make_shared<PushJob>(
            *options_.autoPush, [this](PushJob& finished) { onPushFinished(finished); });
        autoPushes_.push_back(job);
        job->activate(PushJob::Clock::now());
        publishDue(job);
        updateTicker();
        return;
    }
    const auto job = makeJob(*options_.autoPush, {client.wsi()});
    autoPushes_.push_back(job);
    client.queuePush(job);
    job->activate(PushJob::Clock::now());
    updateTicker();
}

void PushServer::startNextPush()
{
    if (pushQueue_.empty() || pushQueue_.front()->active()) {
        return;
    }
    // Held here: a job without clients left finishes inside activate() and leaves the queue.
    const auto job = pushQueue_.front();
    job->activate(PushJob::Clock::now());
    release(job);
    updateTicker();
}

void PushServer::onPushFinished(PushJob& job)
{
    events_.pushed(job.sent());
    if (!pushQueue_.empty() && pushQueue_.front().get() == &job) {
        pushQueue_.pop_front();
        startNextPush();
    } else {
        std::erase_if(autoPushes_, [&job](const auto& running) { return running.get() == &job; });
    }
    updateTicker();
}

void PushServer::wakeTargets(const PushJob& job)
{
    for (lws* wsi : job.targets()) {
        if (clients_.contains(wsi)) {
            lws_callback_on_writable(wsi);
        }
    }
}

void PushServer::release(const std::shared_ptr<PushJob>& job)
{
    if (job->publishing()) {
        publishDue(job);
    } else {
        wakeTargets(*job);
    }
}

void PushServer::publishDue(const std::shared_ptr<PushJob>& job)
{
    const std::uint64_t count = job->takeDue();
    if (count > 0) {
        const PushSpec& spec = job->spec();
        const std::uint64_t first = log_->publish(count, spec.size, spec.stamp);
        for (const auto& [wsi, client] : clients_) {
            client->queuePublished(first, first + count);
        }
        trimLog();
    }
    job->finishIfAllTaken();
}

void PushServer::trimLog()
{
    std::uint64_t keep = log_->end();
    for (const auto& [wsi, client] : clients_) {
        keep = std::min(keep, client->oldestPublished().value_or(keep));
    }
    log_->trim(keep);
}

void PushServer::updateTicker()
{
    const auto pacing = [](const std::shared_ptr<PushJob>& job) { return job->pacing(); };
    const bool needed = (!pushQueue_.empty() && pacing(pushQueue_.front())) ||
                        std::ranges::any_of(autoPushes_, pacing);
    if (needed && !ticker_.running()) {
        ticker_.start(kTick);
    } else if (!needed && ticker_.running()) {
        ticker_.stop();
    }
}

} // namespace wspush::testserver
