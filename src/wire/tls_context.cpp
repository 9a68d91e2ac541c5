// SPDX-License-Identifier: MIT
#include "wire/tls_context.hpp"

#include <arpa/inet.h>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace wspush::wire {

namespace {

// Where a session keeps the fatal alert its server sent, as value + 1 (0: none).
int alertIndex()
{
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// A refused client certificate shows only as the server's alert: keep it for the log.
void noteAlert(const SSL* ssl, int where, int value)
{
    if ((where & SSL_CB_ALERT) == 0 || (where & SSL_CB_READ) == 0 ||
        std::string_view(SSL_alert_type_string(value)) != "F")
        return;
    SSL_set_ex_data(const_cast<SSL*>(ssl), alertIndex(),
                    reinterpret_cast<void*>(static_cast<std::intptr_t>((value & 0xff) + 1)));
}

bool isAddress(const std::string& host)
{
    unsigned char buffer[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

} // namespace

std::string takeOpenSslError(const char* otherwise)
{
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0)
        return otherwise;
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

TlsContext::TlsContext(const config::TlsConfig& config)
    : context_(SSL_CTX_new(TLS_client_method()), SSL_CTX_free), verify_(config.verify)
{
    SSL_CTX* context = context_.get();
    if (context == nullptr)
        throw std::runtime_error("cannot set up TLS: " + takeOpenSslError());
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_info_callback(context, noteAlert);
    if (!config.caFile.empty()) {
        if (SSL_CTX_load_verify_locations(context, config.caFile.c_str(), nullptr) != 1)
            throw std::runtime_error("cannot use server.tls.ca_file " + config.caFile + ": " +
                                     takeOpenSslError());
    } else if (SSL_CTX_set_default_verify_paths(context) != 1) {
        throw std::runtime_error("cannot load the system's CA store: " + takeOpenSslError());
    }
    if (!config.certFile.empty() &&
        SSL_CTX_use_certificate_chain_file(context, config.certFile.c_str()) != 1)
        throw std::runtime_error("cannot use server.tls.cert_file " + config.certFile + ": " +
                                 takeOpenSslError());
    if (!config.keyFile.empty()) {
        if (SSL_CTX_use_PrivateKey_file(context, config.keyFile.c_str(), SSL_FILETYPE_PEM) != 1)
            throw std::runtime_error("cannot use server.tls.key_file " + config.keyFile + ": " +
                                     takeOpenSslError());
        if (SSL_CTX_check_private_key(context) != 1)
            throw std::runtime_error("server.tls.key_file " + config.keyFile +
                                     " does not match the certificate: " + takeOpenSslError());
    }
    SSL_CTX_set_verify(context, verify_ ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
}

SSL* TlsContext::newSession(const std::string& host) const
{
    SSL* ssl = SSL_new(context_.get());
    if (ssl == nullptr)
        throw std::runtime_error("cannot start TLS: " + takeOpenSslError());
    const bool address = isAddress(host);
    // RFC 6066 3: no SNI for an address literal.
    bool ready = address || SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;
    if (ready && verify_) {
        ready = address ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1
                        : SSL_set1_host(ssl, host.c_str()) == 1;
    }
    if (!ready) {
        SSL_free(ssl);
        throw std::runtime_error("cannot start TLS for " + host + ": " + takeOpenSslError());
    }
    return ssl;
}

std::string TlsContext::receivedAlert(const SSL* ssl)
{
    const auto stored = reinterpret_cast<std::intptr_t>(SSL_get_ex_data(ssl, alertIndex()));
    if (stored == 0)
        return {};
    const int alert = static_cast<int>(stored - 1);
    // OpenSSL 3.0 has no text for this TLS 1.3 alert.
    constexpr int certificateRequired = 116;
    if (alert == certificateRequired)
        return "certificate required";
    const std::string_view text = SSL_alert_desc_string_long(alert);
    return text == "unknown" ? "alert " + std::to_string(alert) : std::string(text);
}

} // namespace wspush::wire
