// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>

#include <libwebsockets.h>

#include "testserver/options.hpp"

namespace wspush::testserver {

// Makes the WebSocket vhost serve wss:// when --tls-cert is given, and require a client
// certificate with --tls-client-ca. The vhost info borrows the strings of `options`.
void applyTls(const Options& options, lws_context_creation_info& vhost) noexcept;

// The answer to LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION. lws passes OpenSSL's
// verdict in `length` and then trusts the callback alone (0 = accept), so a callback that just
// returns 0 would let any certificate in, signed by the CA or not.
int clientCertificateVerdict(std::size_t preverifyOk) noexcept;

} // namespace wspush::testserver
