// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <string>

#include <openssl/ssl.h>

#include "system/unique_fd.hpp"

namespace wspush::wire {

// A connected byte stream to the server: a TCP socket, with TLS on it for wss://.
class Transport
{
public:
    enum class Status
    {
        Ok,
        WouldBlock, // nothing more now: wait for the fd (writable, for wantsWritable())
        Closed,     // the peer ended the stream
        Failed,     // error() says why
    };

    // Takes both; `ssl` (nullptr for plain TCP) has finished its handshake on `fd`.
    Transport(system::UniqueFd fd, SSL* ssl) noexcept;
    ~Transport();
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    Status read(char* buffer, std::size_t size, std::size_t& count) noexcept;
    Status write(const char* data, std::size_t size, std::size_t& count) noexcept;
    // After WouldBlock: whether the fd must become writable (TLS may need that to read).
    bool wantsWritable() const noexcept { return wantsWritable_; }
    // Bytes OpenSSL decrypted already: poll() will not report them.
    bool hasBuffered() const noexcept { return ssl_ != nullptr && SSL_pending(ssl_) > 0; }

    int fd() const noexcept { return fd_.get(); }
    bool isTls() const noexcept { return ssl_ != nullptr; }
    // "TLSv1.3 TLS_AES_256_GCM_SHA384", "" for plain TCP.
    std::string tlsDescription() const;
    const std::string& error() const noexcept { return error_; }
    // The fatal alert the server sent, "" if none (or plain TCP).
    std::string tlsAlert() const;

private:
    Status tlsStatus(int result) noexcept;

    system::UniqueFd fd_;
    SSL* ssl_;
    bool wantsWritable_ = false;
    std::string error_;
};

} // namespace wspush::wire
