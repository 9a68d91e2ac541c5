// SPDX-License-Identifier: MIT
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "wire/deflate_parameters.hpp"
#include "wire/response_head.hpp"
#include "wire/upgrade_request.hpp"

namespace wspush::wire {

// What the server agreed to in its 101.
struct UpgradeResult
{
    std::string subprotocol; // "" when it chose none
    DeflateParameters deflate;
};

// Checks a complete response to `request` (sent with `key`) as RFC 6455 4.1 asks of a client.
// Returns "" and fills `result` when the link may be used; otherwise why not, as a phrase a
// log line can carry ("the server's Sec-WebSocket-Accept does not match the key"). A server
// that answers no subprotocol to one offered is accepted (4.1 fails only on one not offered,
// and lws did the same), so the caller learns it from `result.subprotocol`.
std::string checkUpgradeResponse(const ResponseHead& head, const UpgradeRequest& request,
                                 std::string_view key, UpgradeResult& result);

// The permessage-deflate the server accepted in its Sec-WebSocket-Extensions value, checked
// against RFC 7692 7.1 for an offer of "permessage-deflate; client_max_window_bits":
// server_no_context_takeover, client_no_context_takeover, server_max_window_bits and
// client_max_window_bits (8 to 15) at most once each, and nothing else; no other extension.
// `enabled` is false when the value names none. nullopt, and `why`, when it cannot be
// accepted.
std::optional<DeflateParameters> parseDeflateAnswer(std::string_view extensions, std::string& why);

} // namespace wspush::wire
