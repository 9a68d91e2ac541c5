// SPDX-License-Identifier: MIT
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <libwebsockets.h>

namespace wspush::testserver {

// What the tests get to see of an upgrade request, read while its headers are still there
// (HTTP_CONFIRM_UPGRADE) and printed once the upgrade is done.
struct Handshake
{
    std::string id; // the <id> of /websocket/<id>
    // One per --show-header name, in that order; nullopt when the request had no such header.
    std::vector<std::optional<std::string>> headers;
    // The request listed subprotocols: lws then answers with the one it selected.
    bool offeredSubprotocol = false;
    // With --resume query:NAME or header:NAME: the id the client says it had last; nullopt
    // when it said none.
    std::optional<std::string> resumeId;
};

Handshake readHandshake(lws* wsi, std::string id, const std::vector<std::string>& headerNames);

// A request header's value as received (lws drops the blanks before it), whatever the case of
// NAME; nullopt if absent. Headers lws knows (Authorization, Origin, ...) are parsed into its
// token table, the others kept as custom headers, so both are looked up. A known header that
// came with an empty value reads as absent: lws does not tell the two apart.
std::optional<std::string> requestHeader(lws* wsi, std::string_view name);

// The value of the upgrade URL's query argument NAME (`?NAME=VALUE`, percent-decoded by lws);
// nullopt if there is none.
std::optional<std::string> urlArgument(lws* wsi, std::string_view name);

} // namespace wspush::testserver
