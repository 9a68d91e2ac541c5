// SPDX-License-Identifier: MIT
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "testserver/control.hpp"
#include "testserver/resume.hpp"

namespace wspush::testserver {

struct Options
{
    std::string host = "127.0.0.1";
    int port = 0;                     // 0: the kernel picks one, announced as "listening PORT"
    std::optional<PushSpec> autoPush; // --count given: push to every client from its connect
    bool quiet = false;               // no "heartbeat" lines
    bool help = false;

    // wss:// instead of ws:// when both are set (PEM files).
    std::string tlsCert;
    std::string tlsKey;
    // When set, a client must present a certificate signed by this CA (PEM file).
    std::string tlsClientCa;
    // The WebSocket subprotocol accepted and selected; clients asking for none are accepted too.
    // When set, each upgrade prints "subprotocol NAME|-".
    std::string subprotocol;
    // Request headers printed as "header NAME VALUE|-" for each upgrade, in this order.
    std::vector<std::string> showHeaders;
    // Accept permessage-deflate when a client offers it; lws then compresses the frames it
    // writes (not the batched push frames, which stay uncompressed, as the extension allows).
    bool deflate = false;

    // --ids: every pushed message carries "id" and "seq", is published once for all clients
    // (connected or not) and kept in a history clients can resume from. --id-prefix,
    // --history and --resume turn it on too.
    bool ids = false;
    std::string idPrefix = "m-";
    std::uint64_t history = 10000; // messages kept to resume from
    ResumeSource resume;           // where a client's last id comes from; Kind::None: nowhere
    unsigned resumeWaitMs = 1000;  // --resume message: how long pushes wait for it
};

// A bad command line; what() says what is wrong.
class UsageError : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

// Throws UsageError.
Options parseOptions(int argc, char** argv);

extern const char* const kUsage;

} // namespace wspush::testserver
