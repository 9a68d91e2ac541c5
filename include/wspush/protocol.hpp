// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <json/value.h>

namespace wspush {

// A line the daemon wrote for one received message: {"seq":…,"ts":…,"data":…}.
struct Record
{
    // One more per record, unique within the daemon's epoch (see Hello): it goes on across
    // restarts with a store, and starts again at 1 with a new epoch.
    std::uint64_t seq = 0;
    std::string ts; // the UTC receive time, RFC 3339 with microseconds
    // The payload's JSON value, or its text as a JSON string. Of duplicate keys the last
    // one counts. Null, whatever the payload, where jsoncpp cannot hold the value exactly:
    // a number beyond a double (1e400), a lone UTF-16 surrogate escape ("\ud800"), more than
    // 1000 levels of nesting; payloadOf() gives the payload back all the same.
    Json::Value data;
    bool binary = false; // a binary frame: data is its base64
    std::string line;    // as received, without its '\n'
};

// Any other line the daemon writes: {"event":NAME,…}. The names and their fields are
// listed in README.md, "The Unix socket".
struct Event
{
    std::string name;
    Json::Value fields; // the whole object, "event" included
    std::string line;   // as received, without its '\n'
};

using Message = std::variant<Record, Event>;

// The first line the daemon writes to every client: {"event":"hello","epoch":…,"first":…,
// "last":…}. Seqs are unique within an epoch (a store's, or each run's without one); the
// daemon holds the records first..last (0 and 0 when it holds none), and sends every
// record after `last` to this client as it arrives.
struct Hello
{
    std::string epoch;
    std::uint64_t first = 0;
    std::uint64_t last = 0;
};

// The fields of a hello event; nullopt for any other event, or a hello without them.
std::optional<Hello> helloOf(const Event& event);

// Reads one line the daemon wrote (a trailing '\n' is allowed). Returns nullopt and sets
// `error` when the line is neither a record nor an event. A line in the framing the daemon
// writes records in ({"seq":N,"ts":"…","data":…} with "binary":true or not, compact) is a
// record whenever its data is one JSON text, whatever jsoncpp makes of that (see
// Record::data); any other line must be strict JSON (RFC 8259, no duplicate keys).
std::optional<Message> parseLine(std::string_view line, std::string& error);

// The payload as the daemon received it: a string `data` as its text, a binary record's
// bytes, any other value as the JSON text the daemon wrote for it (jsoncpp would sort an
// object's keys), or as compact JSON for a record that parseLine did not make. A string
// with a lone surrogate escape has no UTF-8 text: it is given as the JSON text, quotes and
// all, which is what the daemon received, compacted (its encoder writes no \u escapes
// but \u00XX).
std::string payloadOf(const Record& record);

// Request lines for Subscriber::send(), each one compact JSON object ending in '\n'.

// The held records after `since`, then on live, none twice. `epoch` is the one `since`
// belongs to (Hello::epoch, or round 1's "run" from a status event): when the daemon's is
// another one, it answers with a gap event ("reason":"epoch") and sends all it holds.
std::string replayRequest(std::uint64_t since, const std::string& epoch = {});
// A durable subscription: the records after the cursor kept under `name` in the daemon's
// store, then on live; a name not seen before starts at the next record, or with
// `fromFirst` at the oldest held. Answered by a "subscribed" event ("cursor": the seq it
// resumes after), or "error". Another client subscribing with the same name takes over.
// Throws std::invalid_argument when !isSubscriptionName(name).
std::string subscribeRequest(const std::string& name, bool fromFirst = false);
// 1 to 64 of A-Z a-z 0-9 . _ -
bool isSubscriptionName(std::string_view name) noexcept;
// Moves the subscription's cursor to `seq` (a record this connection was sent): what is not
// acknowledged comes again at the next subscribe. Never moves it back.
std::string ackRequest(std::uint64_t seq);
// Answered by a "cursors" event: {"cursors":[{"name","seq","lag","connected"}…],"last":…}.
std::string cursorsRequest();
// Answered by "cursor_deleted", or "error" (no such cursor, or a client holds it).
// Throws std::invalid_argument when !isSubscriptionName(name).
std::string deleteCursorRequest(const std::string& name);
// Answered by a "status" event.
std::string statusRequest();
// Sends `data` upstream: a string as that text, any other value as its compact JSON.
// Answered by "sent", or by "error" when the daemon does not allow it or is not connected.
std::string sendRequest(const Json::Value& data);

} // namespace wspush
