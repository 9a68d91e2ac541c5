// SPDX-License-Identifier: MIT
#include "connection/proxy_environment.hpp"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <strings.h>

namespace wspush::connection {

namespace {

std::string variable(const char* lower, const char* upper)
{
    for (const char* name : {lower, upper}) {
        if (const char* value = std::getenv(name); value != nullptr && *value != '\0')
            return value;
    }
    return {};
}

std::string_view trim(std::string_view text)
{
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    return text;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// "[::1]:8080" -> "::1" and 8080; "host" -> "host" and 0.
std::string_view splitPort(std::string_view entry, int& port)
{
    port = 0;
    if (entry.starts_with('[')) {
        const auto close = entry.find(']');
        if (close == std::string_view::npos)
            return entry;
        const std::string_view rest = entry.substr(close + 1);
        if (rest.starts_with(':'))
            std::from_chars(rest.data() + 1, rest.data() + rest.size(), port);
        return entry.substr(1, close - 1);
    }
    const auto colon = entry.find(':');
    if (colon == std::string_view::npos || entry.find(':', colon + 1) != std::string_view::npos)
        return entry; // no port, or a bare IPv6 address
    std::from_chars(entry.data() + colon + 1, entry.data() + entry.size(), port);
    return entry.substr(0, colon);
}

} // namespace

ProxyEnvironment ProxyEnvironment::read()
{
    return {variable("http_proxy", "HTTP_PROXY"), variable("https_proxy", "HTTPS_PROXY"),
            variable("no_proxy", "NO_PROXY")};
}

const ProxyEnvironment& ProxyEnvironment::process()
{
    static const ProxyEnvironment environment = [] {
        ProxyEnvironment read = ProxyEnvironment::read();
        unsetenv("http_proxy");
        return read;
    }();
    return environment;
}

bool bypassesProxy(std::string_view noProxy, std::string_view host, int port)
{
    while (!noProxy.empty()) {
        const auto comma = noProxy.find(',');
        int entryPort = 0;
        std::string_view entry = splitPort(trim(noProxy.substr(0, comma)), entryPort);
        noProxy = comma == std::string_view::npos ? std::string_view() : noProxy.substr(comma + 1);
        if (entry == "*")
            return true;
        if (entry.starts_with('.'))
            entry.remove_prefix(1);
        if (entry.empty() || (entryPort != 0 && entryPort != port))
            continue;
        if (equalsIgnoringCase(host, entry))
            return true;
        if (host.size() > entry.size() && host[host.size() - entry.size() - 1] == '.' &&
            equalsIgnoringCase(host.substr(host.size() - entry.size()), entry))
            return true;
    }
    return false;
}

ProxyChoice proxyFor(const ProxyEnvironment& environment, const ServerUrl& url)
{
    ProxyChoice choice;
    choice.source = url.secure ? "https_proxy" : "http_proxy";
    std::string_view value = trim(url.secure ? environment.httpsProxy : environment.httpProxy);
    if (value.empty() || bypassesProxy(environment.noProxy, url.host, url.port))
        return {};
    if (value.ends_with('/'))
        value.remove_suffix(1);
    const auto scheme = value.find("://");
    if (scheme != std::string_view::npos && value.substr(0, scheme) != "http") {
        choice.rejected = "only http:// proxies are supported";
        return choice;
    }
    const std::string_view authority =
        scheme == std::string_view::npos ? value : value.substr(scheme + 3);
    int port = 0;
    const auto at = authority.rfind('@');
    splitPort(at == std::string_view::npos ? authority : authority.substr(at + 1), port);
    if (port <= 0 || port > 65535 || authority.find('/') != std::string_view::npos) {
        choice.rejected = "expected http://[user:pass@]host:port";
        return choice;
    }
    choice.url = "http://" + std::string(authority);
    return choice;
}

} // namespace wspush::connection
