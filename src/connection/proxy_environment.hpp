// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

#include "connection/server_url.hpp"

namespace wspush::connection {

// The proxy variables of the environment, as curl and most tools read them.
struct ProxyEnvironment
{
    std::string httpProxy;  // http_proxy, else HTTP_PROXY: for ws://
    std::string httpsProxy; // https_proxy, else HTTPS_PROXY: for wss://
    std::string noProxy;    // no_proxy, else NO_PROXY

    static ProxyEnvironment read();
    // Read once per process. Takes http_proxy out of the environment: lws reads it for
    // every vhost it creates (each fd watch has one), whatever the scheme and no_proxy say.
    static const ProxyEnvironment& process();
};

// Where the proxy for `url` comes from ("" and "" to connect directly): the URL as
// http://[user:pass@]host:port, and the variable's name. An unusable value is `rejected`
// with why, and the link goes direct.
struct ProxyChoice
{
    std::string url;
    std::string source;
    std::string rejected;
};
ProxyChoice proxyFor(const ProxyEnvironment& environment, const ServerUrl& url);

// Whether no_proxy exempts host:port: "*" matches all; a name matches itself and its
// subdomains (a leading dot is optional); an address matches itself; ":PORT" narrows an
// entry to that port.
bool bypassesProxy(std::string_view noProxy, std::string_view host, int port);

} // namespace wspush::connection
