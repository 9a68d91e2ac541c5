// SPDX-License-Identifier: MIT
#include "wire/transport.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>

#include <openssl/err.h>

#include "wire/tls_context.hpp"

namespace wspush::wire {

Transport::Transport(system::UniqueFd fd, SSL* ssl) noexcept : fd_(std::move(fd)), ssl_(ssl) {}

Transport::~Transport()
{
    if (ssl_ != nullptr)
        SSL_free(ssl_);
}

Transport::Status Transport::read(char* buffer, std::size_t size, std::size_t& count) noexcept
{
    count = 0;
    wantsWritable_ = false;
    if (ssl_ != nullptr) {
        const int result = SSL_read_ex(ssl_, buffer, size, &count) == 1 ? 1 : 0;
        return result == 1 ? Status::Ok : tlsStatus(result);
    }
    const ssize_t got = ::recv(fd_.get(), buffer, size, 0);
    if (got > 0) {
        count = static_cast<std::size_t>(got);
        return Status::Ok;
    }
    if (got == 0)
        return Status::Closed;
    if (errno == EAGAIN || errno == EINTR)
        return Status::WouldBlock;
    error_ = std::strerror(errno);
    return Status::Failed;
}

Transport::Status Transport::write(const char* data, std::size_t size, std::size_t& count) noexcept
{
    count = 0;
    wantsWritable_ = false;
    if (ssl_ != nullptr) {
        const int result = SSL_write_ex(ssl_, data, size, &count) == 1 ? 1 : 0;
        return result == 1 ? Status::Ok : tlsStatus(result);
    }
    const ssize_t sent = ::send(fd_.get(), data, size, MSG_NOSIGNAL);
    if (sent >= 0) {
        count = static_cast<std::size_t>(sent);
        return Status::Ok;
    }
    if (errno == EAGAIN || errno == EINTR) {
        wantsWritable_ = true;
        return Status::WouldBlock;
    }
    error_ = std::strerror(errno);
    return Status::Failed;
}

Transport::Status Transport::tlsStatus(int result) noexcept
{
    switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_WANT_READ:
        return Status::WouldBlock;
    case SSL_ERROR_WANT_WRITE:
        wantsWritable_ = true;
        return Status::WouldBlock;
    case SSL_ERROR_ZERO_RETURN:
        return Status::Closed;
    case SSL_ERROR_SYSCALL: {
        const int error = errno;
        ERR_clear_error();
        if (error == 0)
            return Status::Closed;
        error_ = std::strerror(error);
        return Status::Failed;
    }
    default: {
        char text[256];
        ERR_error_string_n(ERR_get_error(), text, sizeof text);
        ERR_clear_error();
        error_ = text;
        return Status::Failed;
    }
    }
}

std::string Transport::tlsAlert() const
{
    if (ssl_ == nullptr)
        return {};
    // A server that refuses our certificate sends its alert and hangs up; a write may fail
    // on the reset before OpenSSL read the alert. Peeking makes it read what came.
    if (std::string alert = TlsContext::receivedAlert(ssl_); !alert.empty())
        return alert;
    char byte = 0;
    ERR_set_mark();
    SSL_peek(ssl_, &byte, 1);
    ERR_pop_to_mark();
    return TlsContext::receivedAlert(ssl_);
}

std::string Transport::tlsDescription() const
{
    if (ssl_ == nullptr)
        return {};
    std::string text = SSL_get_version(ssl_);
    text += ' ';
    text += SSL_get_cipher_name(ssl_);
    return text;
}

} // namespace wspush::wire
