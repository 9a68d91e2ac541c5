// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wspush::wire {

// What the client asks for in its opening handshake (RFC 6455 4.1).
struct UpgradeRequest
{
    std::string target;        // path and query, e.g. "/websocket/u1?last=3"
    std::string host;          // the Host header's value (already bracketed/with port as needed)
    std::string origin;        // "" = no Origin header
    std::string subprotocol;   // "" = none offered; "a, b" offers both
    bool offerDeflate = false; // offer "permessage-deflate; client_max_window_bits"
    std::vector<std::pair<std::string, std::string>> headers; // the user's own, in order
};

// The request text: the request line, Host, Upgrade, Connection, Sec-WebSocket-Key,
// Sec-WebSocket-Version: 13, Origin, Sec-WebSocket-Protocol, Sec-WebSocket-Extensions, then
// the user's headers, and the empty line. `key` gets the Sec-WebSocket-Key sent (16 random
// bytes, base64). A CR, LF or NUL in any field is sent as a space, so that no value can
// end the head or add a header of its own.
std::string formatUpgradeRequest(const UpgradeRequest& request, std::string& key);

// The Sec-WebSocket-Accept a server must answer to `key`:
// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
std::string expectedAccept(std::string_view key);

} // namespace wspush::wire
