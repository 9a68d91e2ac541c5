// SPDX-License-Identifier: MIT
#include "wire/connector.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "event/fd_watch.hpp"
#include "system/log.hpp"
#include "wire/proxy_request.hpp"
#include "wire/response_head.hpp"

namespace wspush::wire {

namespace {

using std::chrono::milliseconds;

// RFC 8305 5: the recommended Connection Attempt Delay.
constexpr auto attemptDelay = milliseconds(250);

// How far an attempt got, so that the reason given when all fail is the most telling one.
enum Progress
{
    tcpProgress = 0,
    tunnelProgress = 1,
    tlsProgress = 2,
};

std::string tlsFailure(SSL* ssl)
{
    if (const std::string alert = TlsContext::receivedAlert(ssl); !alert.empty())
        return "the server refused the TLS handshake: " + alert;
    if (const long verified = SSL_get_verify_result(ssl); verified != X509_V_OK)
        return std::string("TLS: ") + X509_verify_cert_error_string(verified);
    std::string reason = "the TLS handshake failed: ";
    reason += takeOpenSslError("the server hung up");
    return reason;
}

} // namespace

struct Connector::Attempt
{
    Address address;
    system::UniqueFd fd;
    SSL* ssl = nullptr;
    std::unique_ptr<event::FdWatch> watch;
    enum class Phase
    {
        Connecting,
        Tunnel,
        Tls,
        Over,
    } phase = Phase::Connecting;
    std::string tunnelRequest;
    std::size_t tunnelSent = 0;
    ResponseHead tunnelHead;
    bool hungUp = false; // lws stopped polling the fd: POLLHUP or POLLERR

    ~Attempt()
    {
        if (fd.isValid())
            ::shutdown(fd.get(), SHUT_RDWR); // the watch's copy may outlive this
        watch.reset();
        if (ssl != nullptr)
            SSL_free(ssl);
    }
};

Connector::Connector(event::EventLoop& loop, Resolver& resolver)
    : loop_(loop), resolver_(resolver),
      nextAttemptTimer_(loop.context(), [this] { startNext(); }),
      reapTimer_(loop.context(), [this] { retired_.clear(); })
{
}

Connector::~Connector()
{
    cancel();
}

void Connector::connect(const Route& route, const TlsContext* tls, Callback callback)
{
    cancel();
    route_ = route;
    tls_ = tls;
    callback_ = std::move(callback);
    bestError_.clear();
    bestProgress_ = -1;
    resolving_ = true;
    log::debug("resolving " + route_.host);
    resolver_.resolve(route_.host, route_.port,
                      [this](std::vector<Address> addresses, const std::string& error) {
                          onResolved(std::move(addresses), error);
                      });
}

void Connector::cancel() noexcept
{
    if (resolving_)
        resolver_.cancel();
    resolving_ = false;
    nextAttemptTimer_.cancel();
    untried_.clear();
    for (auto& attempt : running_)
        retire(std::move(attempt));
    running_.clear();
    callback_ = nullptr;
}

void Connector::onResolved(std::vector<Address> addresses, const std::string& error) noexcept
{
    resolving_ = false;
    if (addresses.empty()) {
        bestError_ = error;
        bestProgress_ = tcpProgress;
        finishIfLost();
        return;
    }
    untried_ = std::move(addresses);
    // Taken from the back.
    std::reverse(untried_.begin(), untried_.end());
    startNext();
}

void Connector::startNext() noexcept
{
    if (untried_.empty())
        return;
    auto attempt = std::make_unique<Attempt>();
    attempt->address = untried_.back();
    untried_.pop_back();
    Attempt& started = *attempt;
    const std::string where = attempt->address.textWithPort();
    attempt->fd.reset(::socket(attempt->address.family(),
                               SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
    const int one = 1;
    if (!attempt->fd.isValid() ||
        setsockopt(attempt->fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        (::connect(attempt->fd.get(), reinterpret_cast<const sockaddr*>(&attempt->address.storage),
                   attempt->address.length) != 0 &&
         errno != EINPROGRESS)) {
        running_.push_back(std::move(attempt));
        fail(started, "cannot connect to " + where + ": " + std::strerror(errno), tcpProgress);
        return;
    }
    try {
        attempt->watch = std::make_unique<event::FdWatch>(
            loop_, attempt->fd.get(), [this, &started] { step(started); },
            [this, &started] { step(started); },
            [this, &started] {
                started.hungUp = true;
                step(started);
            });
    } catch (const std::exception& error) {
        running_.push_back(std::move(attempt));
        fail(started, error.what(), tcpProgress);
        return;
    }
    log::debug("trying " + where);
    attempt->watch->wantWritable();
    running_.push_back(std::move(attempt));
    if (!untried_.empty())
        nextAttemptTimer_.schedule(attemptDelay);
}

void Connector::step(Attempt& attempt) noexcept
{
    switch (attempt.phase) {
    case Attempt::Phase::Connecting:
        onConnected(attempt);
        break;
    case Attempt::Phase::Tunnel:
        onTunnelReadable(attempt);
        break;
    case Attempt::Phase::Tls:
        continueTls(attempt);
        break;
    case Attempt::Phase::Over:
        break;
    }
}

void Connector::onConnected(Attempt& attempt) noexcept
{
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(attempt.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0)
        error = errno;
    if (error == 0 && attempt.hungUp)
        error = ECONNRESET;
    if (error != 0) {
        fail(attempt,
             "cannot connect to " + attempt.address.textWithPort() + ": " + std::strerror(error),
             tcpProgress);
        return;
    }
    if (!route_.tunnelTo.empty()) {
        attempt.phase = Attempt::Phase::Tunnel;
        attempt.tunnelRequest = formatConnectRequest(route_.tunnelTo, route_.proxyAuthorization);
        const ssize_t sent = ::send(attempt.fd.get(), attempt.tunnelRequest.data(),
                                    attempt.tunnelRequest.size(), MSG_NOSIGNAL);
        // A few hundred bytes into a fresh socket's empty buffer: all or an error.
        if (sent != static_cast<ssize_t>(attempt.tunnelRequest.size()))
            fail(attempt, "cannot talk to the proxy at " + attempt.address.textWithPort(),
                 tunnelProgress);
        return;
    }
    startTls(attempt);
}

void Connector::onTunnelReadable(Attempt& attempt) noexcept
{
    // Byte by byte is not needed: the server says nothing before our first bytes, so all
    // the proxy sends before them is its answer.
    char buffer[4096];
    const ssize_t got = ::recv(attempt.fd.get(), buffer, sizeof buffer, 0);
    if (got < 0 && (errno == EAGAIN || errno == EINTR) && !attempt.hungUp)
        return;
    if (got <= 0) {
        fail(attempt, "the proxy at " + attempt.address.textWithPort() + " closed the connection",
             tunnelProgress);
        return;
    }
    std::size_t consumed = 0;
    switch (attempt.tunnelHead.feed({buffer, static_cast<std::size_t>(got)}, consumed)) {
    case ResponseHead::Progress::NeedMore:
        return;
    case ResponseHead::Progress::Invalid:
        fail(attempt, "the proxy's answer is not HTTP: " + attempt.tunnelHead.error(),
             tunnelProgress);
        return;
    case ResponseHead::Progress::Complete:
        break;
    }
    const unsigned status = attempt.tunnelHead.status();
    if (status < 200 || status > 299) {
        fail(attempt,
             "the proxy answered HTTP " + std::to_string(status) + " (" +
                 attempt.tunnelHead.reason() + ") to CONNECT " + route_.tunnelTo,
             tunnelProgress);
        return;
    }
    if (consumed != static_cast<std::size_t>(got)) {
        fail(attempt, "the proxy sent more than its answer to CONNECT", tunnelProgress);
        return;
    }
    log::debug("tunnel to " + route_.tunnelTo + " open through " + attempt.address.textWithPort());
    startTls(attempt);
}

void Connector::startTls(Attempt& attempt) noexcept
{
    if (route_.tlsHost.empty() || tls_ == nullptr) {
        win(attempt);
        return;
    }
    try {
        attempt.ssl = tls_->newSession(route_.tlsHost);
    } catch (const std::exception& error) {
        fail(attempt, error.what(), tlsProgress);
        return;
    }
    SSL_set_fd(attempt.ssl, attempt.fd.get());
    attempt.phase = Attempt::Phase::Tls;
    continueTls(attempt);
}

void Connector::continueTls(Attempt& attempt) noexcept
{
    ERR_clear_error();
    const int result = SSL_connect(attempt.ssl);
    if (result == 1) {
        win(attempt);
        return;
    }
    const int error = SSL_get_error(attempt.ssl, result);
    if (!attempt.hungUp && error == SSL_ERROR_WANT_READ)
        return;
    if (!attempt.hungUp && error == SSL_ERROR_WANT_WRITE) {
        attempt.watch->wantWritable();
        return;
    }
    fail(attempt, tlsFailure(attempt.ssl), tlsProgress);
}

void Connector::fail(Attempt& attempt, std::string error, int progress) noexcept
{
    log::debug(error);
    if (progress >= bestProgress_) {
        bestProgress_ = progress;
        bestError_ = std::move(error);
    }
    attempt.phase = Attempt::Phase::Over;
    for (auto& running : running_) {
        if (running.get() == &attempt) {
            retire(std::move(running));
            std::erase(running_, nullptr);
            break;
        }
    }
    // RFC 8305 5: a failure starts the next attempt at once.
    if (!untried_.empty()) {
        nextAttemptTimer_.cancel();
        startNext();
        return;
    }
    finishIfLost();
}

void Connector::win(Attempt& attempt) noexcept
{
    attempt.phase = Attempt::Phase::Over;
    auto transport = std::make_unique<Transport>(std::move(attempt.fd),
                                                 std::exchange(attempt.ssl, nullptr));
    const Address address = attempt.address;
    auto callback = std::move(callback_);
    cancel();
    if (callback)
        callback(std::move(transport), address, {});
}

void Connector::retire(std::unique_ptr<Attempt> attempt) noexcept
{
    if (attempt == nullptr)
        return;
    attempt->phase = Attempt::Phase::Over;
    try {
        retired_.push_back(std::move(attempt));
    } catch (const std::bad_alloc&) {
        return; // freed here, at some risk, rather than kept
    }
    reapTimer_.schedule(std::chrono::microseconds(1));
}

void Connector::finishIfLost() noexcept
{
    if (resolving_ || !running_.empty() || !untried_.empty() || !callback_)
        return;
    auto callback = std::move(callback_);
    callback_ = nullptr;
    callback(nullptr, Address{}, bestError_.empty() ? "no address to connect to" : bestError_);
}

} // namespace wspush::wire
