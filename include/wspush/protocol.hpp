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
    std::uint64_t seq = 0; // from 1 in each run of the daemon, one more per record
    std::string ts;        // the UTC receive time, RFC 3339 with microseconds
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

// The held records after `since`, then on live. `run` is the daemon's run id from an
// earlier status event: when the daemon has restarted since, it sends all its new run holds.
std::string replayRequest(std::uint64_t since, const std::string& run = {});
// Answered by a "status" event.
std::string statusRequest();
// Sends `data` upstream: a string as that text, any other value as its compact JSON.
// Answered by "sent", or by "error" when the daemon does not allow it or is not connected.
std::string sendRequest(const Json::Value& data);

} // namespace wspush
