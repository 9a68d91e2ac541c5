// SPDX-License-Identifier: MIT
#include "testserver/tls.hpp"

namespace wspush::testserver {

void applyTls(const Options& options, lws_context_creation_info& vhost) noexcept
{
    if (options.tlsCert.empty()) {
        return;
    }
    vhost.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    vhost.ssl_cert_filepath = options.tlsCert.c_str();
    vhost.ssl_private_key_filepath = options.tlsKey.c_str();
    if (!options.tlsClientCa.empty()) {
        vhost.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
        vhost.ssl_ca_filepath = options.tlsClientCa.c_str();
    }
}

int clientCertificateVerdict(std::size_t preverifyOk) noexcept
{
    return preverifyOk != 0 ? 0 : 1;
}

} // namespace wspush::testserver
