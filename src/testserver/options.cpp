// SPDX-License-Identifier: MIT
#include "testserver/options.hpp"

#include <getopt.h>

namespace wspush::testserver {

const char* const kUsage =
    "usage: wspush-testserver [--host ADDR] [--port N] [--count N] [--size BYTES]\n"
    "                         [--rate PER_SEC] [--quiet]\n"
    "Serves ws://HOST:PORT/websocket/<id> and takes commands on stdin (push, send, sendhex,\n"
    "binhex, oversize, fragmented, close, reset, refuse, silent, stats, quit).\n"
    "  --host ADDR      address to listen on (default 127.0.0.1)\n"
    "  --port N         port, 0 = any free one (default 0)\n"
    "  --count N        push N messages to each client from its connect on (0 = forever)\n"
    "  --size BYTES     size of each pushed message (default 200)\n"
    "  --rate PER_SEC   pushed messages per second, 0 = as fast as possible (default 1)\n"
    "  --quiet          do not print heartbeat lines\n";

namespace {

template <typename T>
T number(const char* option, const char* text)
{
    T value{};
    if (!parseNumber(text, value)) {
        throw UsageError(std::string("--") + option + ": not a number: " + text);
    }
    return value;
}

} // namespace

Options parseOptions(int argc, char** argv)
{
    static const option kOptions[] = {
        {"host", required_argument, nullptr, 'H'},  {"port", required_argument, nullptr, 'p'},
        {"count", required_argument, nullptr, 'c'}, {"size", required_argument, nullptr, 's'},
        {"rate", required_argument, nullptr, 'r'},  {"quiet", no_argument, nullptr, 'q'},
        {"help", no_argument, nullptr, 'h'},        {nullptr, 0, nullptr, 0},
    };
    Options options;
    PushSpec push;
    bool autoPush = false;
    int opt = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", kOptions, nullptr)) != -1) {
        switch (opt) {
        case 'H':
            options.host = optarg;
            break;
        case 'p':
            options.port = number<int>("port", optarg);
            if (options.port < 0 || options.port > 65535) {
                throw UsageError("--port: must be 0..65535");
            }
            break;
        case 'c':
            push.count = number<std::uint64_t>("count", optarg);
            autoPush = true;
            break;
        case 's':
            push.size = number<std::size_t>("size", optarg);
            break;
        case 'r':
            push.rate = number<double>("rate", optarg);
            break;
        case 'q':
            options.quiet = true;
            break;
        case 'h':
            options.help = true;
            break;
        default:
            throw UsageError("unknown option");
        }
    }
    if (optind < argc) {
        throw UsageError(std::string("unexpected argument: ") + argv[optind]);
    }
    if (auto problem = pushSpecProblem(push)) {
        throw UsageError(*problem);
    }
    if (autoPush) {
        options.autoPush = push;
    }
    return options;
}

} // namespace wspush::testserver
