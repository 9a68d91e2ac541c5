// SPDX-License-Identifier: MIT
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "testserver/control.hpp"

namespace wspush::testserver {

struct Options
{
    std::string host = "127.0.0.1";
    int port = 0;                     // 0: the kernel picks one, announced as "listening PORT"
    std::optional<PushSpec> autoPush; // --count given: push to every client from its connect
    bool quiet = false;               // no "heartbeat" lines
    bool help = false;
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
