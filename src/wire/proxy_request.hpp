// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

namespace wspush::wire {

// The CONNECT request for `authority` (host:port, an IPv6 host in brackets) through an HTTP
// proxy (RFC 9110 9.3.6), with Proxy-Authorization when `authorization` is not empty
// (e.g. "Basic dXNlcjpwYXNz"). The proxy's answer is read with ResponseHead; after a 2xx,
// what follows is the tunnel.
std::string formatConnectRequest(std::string_view authority, std::string_view authorization);

} // namespace wspush::wire
