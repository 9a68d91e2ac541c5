// SPDX-License-Identifier: MIT
#include "testserver/options.hpp"

#include <algorithm>
#include <cctype>
#include <getopt.h>
#include <string_view>

namespace wspush::testserver {

const char* const kUsage =
    "usage: wspush-testserver [--host ADDR] [--port N] [--count N] [--size BYTES]\n"
    "                         [--rate PER_SEC] [--stamp] [--quiet]\n"
    "                         [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]\n"
    "                         [--subprotocol NAME]\n"
    "                         [--show-header NAME]... [--deflate]\n"
    "                         [--ids] [--id-prefix PREFIX] [--history N]\n"
    "                         [--resume query:NAME|header:NAME|message] [--resume-wait MS]\n"
    "Serves ws://HOST:PORT/websocket/<id> (wss:// with --tls-cert) and takes commands on\n"
    "stdin (push, send, sendhex, binhex, oversize, fragmented, close, pingflood, reset,\n"
    "refuse, silent, stats, skip, restart-seq, history, quit).\n"
    "  --host ADDR      address to listen on, IPv4 or IPv6 (default 127.0.0.1)\n"
    "  --port N         port, 0 = any free one (default 0)\n"
    "  --count N        push N messages to each client from its connect on (0 = forever)\n"
    "  --size BYTES     size of each pushed message (default 200)\n"
    "  --rate PER_SEC   pushed messages per second, 0 = as fast as possible (default 1)\n"
    "  --stamp          put each pushed message's send time in it (\"t\", ns, CLOCK_REALTIME)\n"
    "  --quiet          do not print heartbeat lines\n"
    "  --tls-cert FILE  serve wss:// with this PEM certificate (needs --tls-key)\n"
    "  --tls-key FILE   the PEM private key of --tls-cert\n"
    "  --tls-client-ca FILE\n"
    "                   require a client certificate signed by this PEM CA\n"
    "  --subprotocol NAME\n"
    "                   accept and select this WebSocket subprotocol; print \"subprotocol\"\n"
    "                   lines\n"
    "  --show-header NAME\n"
    "                   print \"header NAME VALUE\" for each upgrade (repeatable)\n"
    "  --deflate        accept permessage-deflate from clients that offer it\n"
    "  --ids            give each pushed message an \"id\" and a \"seq\"; publish it once,\n"
    "                   to the clients connected or to none, and keep a history\n"
    "  --id-prefix PREFIX\n"
    "                   ids are PREFIX followed by the message number (default m-; implies\n"
    "                   --ids)\n"
    "  --history N      messages kept to resume from (default 10000; implies --ids)\n"
    "  --resume MODE    where a reconnecting client's last id is: query:NAME (?NAME=ID),\n"
    "                   header:NAME, or message ({\"op\":\"resume\",\"id\":ID} first);\n"
    "                   implies --ids\n"
    "  --resume-wait MS with --resume message: how long pushes wait for it (default 1000)\n";

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

// Characters an id prefix may hold: none needs escaping in JSON or in a URL query.
bool isIdPrefix(std::string_view text)
{
    return std::ranges::all_of(text, [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' ||
               c == '.' || c == '~' || c == ':';
    });
}

// RFC 9110 token characters, which header names and subprotocol names are made of.
bool isToken(std::string_view text)
{
    static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
    return !text.empty() && std::ranges::all_of(text, [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
               kSymbols.find(c) != std::string_view::npos;
    });
}

} // namespace

Options parseOptions(int argc, char** argv)
{
    static const option kOptions[] = {
        {"host", required_argument, nullptr, 'H'},
        {"port", required_argument, nullptr, 'p'},
        {"count", required_argument, nullptr, 'c'},
        {"size", required_argument, nullptr, 's'},
        {"rate", required_argument, nullptr, 'r'},
        {"stamp", no_argument, nullptr, 'T'},
        {"quiet", no_argument, nullptr, 'q'},
        {"help", no_argument, nullptr, 'h'},
        {"tls-cert", required_argument, nullptr, 'C'},
        {"tls-key", required_argument, nullptr, 'K'},
        {"tls-client-ca", required_argument, nullptr, 'A'},
        {"subprotocol", required_argument, nullptr, 'P'},
        {"show-header", required_argument, nullptr, 'S'},
        {"deflate", no_argument, nullptr, 'D'},
        {"ids", no_argument, nullptr, 'I'},
        {"id-prefix", required_argument, nullptr, 'X'},
        {"history", required_argument, nullptr, 'Y'},
        {"resume", required_argument, nullptr, 'R'},
        {"resume-wait", required_argument, nullptr, 'W'},
        {nullptr, 0, nullptr, 0},
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
        case 'T':
            push.stamp = true;
            break;
        case 'q':
            options.quiet = true;
            break;
        case 'h':
            options.help = true;
            break;
        case 'C':
            options.tlsCert = optarg;
            break;
        case 'K':
            options.tlsKey = optarg;
            break;
        case 'A':
            options.tlsClientCa = optarg;
            break;
        case 'P':
            options.subprotocol = optarg;
            if (!isToken(options.subprotocol)) {
                throw UsageError("--subprotocol: not a protocol name: " + options.subprotocol);
            }
            break;
        case 'S':
            if (!isToken(optarg)) {
                throw UsageError(std::string("--show-header: not a header name: ") + optarg);
            }
            options.showHeaders.emplace_back(optarg);
            break;
        case 'D':
            options.deflate = true;
            break;
        case 'I':
            options.ids = true;
            break;
        case 'X':
            options.idPrefix = optarg;
            options.ids = true;
            if (options.idPrefix.size() > 64 || !isIdPrefix(options.idPrefix)) {
                throw UsageError("--id-prefix: up to 64 of A-Z a-z 0-9 - _ . ~ :");
            }
            break;
        case 'Y':
            options.history = number<std::uint64_t>("history", optarg);
            options.ids = true;
            break;
        case 'R': {
            auto source = parseResumeSource(optarg);
            if (!source) {
                throw UsageError(std::string("--resume: not query:NAME, header:NAME or message: ") +
                                 optarg);
            }
            options.resume = *std::move(source);
            options.ids = true;
            break;
        }
        case 'W':
            options.resumeWaitMs = number<unsigned>("resume-wait", optarg);
            if (options.resumeWaitMs > 3'600'000) {
                throw UsageError("--resume-wait: at most 3600000 ms");
            }
            break;
        default:
            throw UsageError("unknown option");
        }
    }
    if (optind < argc) {
        throw UsageError(std::string("unexpected argument: ") + argv[optind]);
    }
    if (options.tlsCert.empty() != options.tlsKey.empty()) {
        throw UsageError("--tls-cert and --tls-key go together");
    }
    if (!options.tlsClientCa.empty() && options.tlsCert.empty()) {
        throw UsageError("--tls-client-ca needs --tls-cert and --tls-key");
    }
    if (auto problem = pushSpecProblem(push)) {
        throw UsageError(*problem);
    }
    if (autoPush && options.ids) {
        if (auto problem = idsPushProblem(push, options.idPrefix)) {
            throw UsageError("--ids: " + *problem);
        }
        if (push.count == 0 && push.rate == 0) {
            throw UsageError("--ids: --count 0 needs a --rate above 0");
        }
    }
    if (autoPush) {
        options.autoPush = push;
    }
    return options;
}

} // namespace wspush::testserver
