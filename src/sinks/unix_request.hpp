// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace wspush::sinks {

struct ReplayRequest
{
    std::uint64_t since = 0;
    // The store's epoch the client's seqs belong to ("epoch", or round 1's "run"); empty:
    // the current one.
    std::string epoch;
};

struct StatusRequest
{
};

struct SendRequest
{
    std::string text; // what goes upstream
};

// A durable subscription: the records after the name's cursor, then live.
struct SubscribeRequest
{
    std::string name;
    bool fromFirst = false; // a new name starts at the oldest held record, not the next one
};

// Moves the subscription's cursor to `seq`.
struct AckRequest
{
    std::uint64_t seq = 0;
};

// The named cursors, answered by a `cursors` event.
struct CursorsRequest
{
};

struct DeleteCursorRequest
{
    std::string name;
};

struct InvalidRequest
{
    std::string message;
};

using UnixRequest = std::variant<ReplayRequest, StatusRequest, SendRequest, SubscribeRequest,
                                 AckRequest, CursorsRequest, DeleteCursorRequest, InvalidRequest>;

// One request line from a Unix-socket client (without its '\n').
UnixRequest parseUnixRequest(std::string_view line);

// A subscription name: 1 to 64 of A-Z a-z 0-9 . _ - (it names a cursor in the store, and
// appears in logs and in `wspushctl cursors`).
bool isSubscriptionName(std::string_view name) noexcept;

} // namespace wspush::sinks
