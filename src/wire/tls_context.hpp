// SPDX-License-Identifier: MIT
#pragma once

#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "config/config.hpp"

namespace wspush::wire {

// OpenSSL's oldest queued error as text, the queue emptied; `otherwise` when there is none.
std::string takeOpenSslError(const char* otherwise = "unknown error");

// The client's TLS settings as one OpenSSL context: the CA store (ca_file or the system's),
// a client certificate, and whether the server's certificate is checked at all.
class TlsContext
{
public:
    // Throws on error, naming the file that could not be used.
    explicit TlsContext(const config::TlsConfig& config);

    // A session for one connection attempt to `host` (a name or an address literal): SNI
    // for a name, and the certificate checked against the name or the address.
    // Throws on error.
    SSL* newSession(const std::string& host) const;

    // The fatal alert the server sent during `ssl`'s handshake, "" if none.
    static std::string receivedAlert(const SSL* ssl);

private:
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context_;
    bool verify_;
};

} // namespace wspush::wire
