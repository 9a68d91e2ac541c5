// SPDX-License-Identifier: MIT
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <getopt.h>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "build_config.hpp"
#include "ctl/commands.hpp"
#include "wspush/protocol.hpp"

namespace {

using namespace wspush::ctl;

constexpr const char* defaultSocket = "/run/wspushd/wspushd.sock";

struct Options
{
    std::string socketPath;
    TailOptions tail;
    bool json = false;
    std::vector<std::string_view> commandOptions; // those given, as "--raw"
    std::vector<std::string> operands;            // the command, then its arguments
};

struct Command
{
    std::string_view name;
    std::array<std::string_view, 4> options; // what it takes beyond --socket
    std::size_t minArguments;
    std::size_t maxArguments;
    int (*run)(const Options& options);
};

void printUsage(std::FILE* to);

int usageError(const std::string& message)
{
    std::fprintf(stderr, "wspushctl: %s\n", message.c_str());
    printUsage(stderr);
    return exitUsage;
}

int tailCommand(const Options& options)
{
    const TailOptions& tail = options.tail;
    if (tail.since && !tail.name.empty())
        return usageError("tail takes --since or --name, not both");
    if (tail.fromFirst && tail.name.empty())
        return usageError("tail --from-first goes with --name");
    if (!tail.name.empty() && !wspush::isSubscriptionName(tail.name))
        return usageError("a subscription name is 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-', "
                          "not '" +
                          tail.name + "'");
    return runTail(options.socketPath, tail);
}

int statusCommand(const Options& options)
{
    return runStatus(options.socketPath, options.json);
}

int sendCommand(const Options& options)
{
    return runSend(options.socketPath, options.operands[1]);
}

// `cursors` lists them; `cursors delete NAME` deletes one.
int cursorsCommand(const Options& options)
{
    const auto& operands = options.operands;
    if (operands.size() == 1)
        return runCursors(options.socketPath, options.json);
    if (operands[1] != "delete")
        return usageError("cursors: unknown subcommand '" + operands[1] + "' (known: delete)");
    if (operands.size() != 3)
        return usageError("cursors delete: give one NAME");
    if (options.json)
        return usageError("cursors delete takes no --json option");
    if (!wspush::isSubscriptionName(operands[2]))
        return usageError("no cursor can be named '" + operands[2] + "'");
    return runDeleteCursor(options.socketPath, operands[2]);
}

constexpr Command commands[] = {
    {"tail", {"--since", "--raw", "--name", "--from-first"}, 0, 0, tailCommand},
    {"status", {"--json"}, 0, 0, statusCommand},
    {"send", {}, 1, 1, sendCommand},
    {"cursors", {"--json"}, 0, 2, cursorsCommand},
};

void printUsage(std::FILE* to)
{
    std::fprintf(to,
                 "Usage: wspushctl [--socket PATH] COMMAND [ARGUMENTS]\n"
                 "Talks to wspushd through its Unix socket.\n\n"
                 "Commands:\n"
                 "  tail [--since SEQ | --name NAME [--from-first]] [--raw]\n"
                 "                        print each record as it arrives, one JSON line each;\n"
                 "                        --since SEQ first prints those the daemon still holds\n"
                 "                        after SEQ; --name NAME first prints those after the\n"
                 "                        cursor NAME, and moves it on as records are written\n"
                 "                        (a new NAME starts at the next record, or with\n"
                 "                        --from-first at the oldest held); --raw prints\n"
                 "                        payloads only\n"
                 "  status [--json]       the connection, the store, the counters and the sinks\n"
                 "  send TEXT|-           send TEXT upstream (- reads it from stdin)\n"
                 "  cursors [--json]      the named subscriptions: seq, lag, connected\n"
                 "  cursors delete NAME   forget the cursor NAME\n\n"
                 "Options:\n"
                 "  -s, --socket PATH  the daemon's socket, @NAME for an abstract one\n"
                 "                     (default $WSPUSH_SOCKET, else %s)\n"
                 "      --version      print the version and exit\n"
                 "  -h, --help         print this help and exit\n",
                 defaultSocket);
}

std::optional<std::uint64_t> parseSeq(std::string_view text)
{
    std::uint64_t seq = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seq);
    if (text.empty() || error != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return seq;
}

// Returns an exit code when the command line is all there is to do.
std::optional<int> parseArguments(int argc, char** argv, Options& options)
{
    enum
    {
        optSince = 256,
        optRaw,
        optJson,
        optName,
        optFromFirst,
        optVersion
    };
    static const option longOptions[] = {
        {"socket", required_argument, nullptr, 's'},
        {"since", required_argument, nullptr, optSince},
        {"raw", no_argument, nullptr, optRaw},
        {"name", required_argument, nullptr, optName},
        {"from-first", no_argument, nullptr, optFromFirst},
        {"json", no_argument, nullptr, optJson},
        {"version", no_argument, nullptr, optVersion},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    const char* fromEnvironment = std::getenv("WSPUSH_SOCKET");
    options.socketPath = fromEnvironment && *fromEnvironment ? fromEnvironment : defaultSocket;
    for (int opt = 0; (opt = getopt_long(argc, argv, "s:h", longOptions, nullptr)) != -1;) {
        switch (opt) {
        case 's':
            options.socketPath = optarg;
            break;
        case optSince:
            options.tail.since = parseSeq(optarg);
            if (!options.tail.since) {
                std::fprintf(stderr, "wspushctl: --since wants a record number, not '%s'\n",
                             optarg);
                return exitUsage;
            }
            options.commandOptions.emplace_back("--since");
            break;
        case optRaw:
            options.tail.raw = true;
            options.commandOptions.emplace_back("--raw");
            break;
        case optName:
            if (*optarg == '\0') {
                std::fprintf(stderr, "wspushctl: --name wants a subscription name\n");
                return exitUsage;
            }
            options.tail.name = optarg;
            options.commandOptions.emplace_back("--name");
            break;
        case optFromFirst:
            options.tail.fromFirst = true;
            options.commandOptions.emplace_back("--from-first");
            break;
        case optJson:
            options.json = true;
            options.commandOptions.emplace_back("--json");
            break;
        case optVersion:
            std::printf("wspushctl %s\n", WSPUSH_VERSION);
            return 0;
        case 'h':
            printUsage(stdout);
            return 0;
        default:
            printUsage(stderr);
            return exitUsage;
        }
    }
    options.operands.assign(argv + optind, argv + argc);
    if (options.operands.empty()) {
        std::fprintf(stderr, "wspushctl: no command given\n");
        printUsage(stderr);
        return exitUsage;
    }
    return std::nullopt;
}

// Whether the options and arguments fit the command; says on stderr what does not.
bool fits(const Command& command, const Options& options)
{
    for (const std::string_view option : options.commandOptions) {
        if (std::find(command.options.begin(), command.options.end(), option) ==
            command.options.end()) {
            std::fprintf(stderr, "wspushctl: %.*s takes no %.*s option\n",
                         static_cast<int>(command.name.size()), command.name.data(),
                         static_cast<int>(option.size()), option.data());
            return false;
        }
    }
    const std::size_t given = options.operands.size() - 1;
    if (given < command.minArguments) {
        std::fprintf(stderr, "wspushctl: %.*s: missing argument\n",
                     static_cast<int>(command.name.size()), command.name.data());
        return false;
    }
    if (given > command.maxArguments) {
        std::fprintf(stderr, "wspushctl: %.*s: unexpected argument '%s'\n",
                     static_cast<int>(command.name.size()), command.name.data(),
                     options.operands[command.maxArguments + 1].c_str());
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char** argv)
{
    // getopt names the program by argv[0] in its messages: the name, not the path run.
    if (argc > 0)
        argv[0] = const_cast<char*>("wspushctl");
    Options options;
    if (const auto done = parseArguments(argc, argv, options))
        return *done;

    const std::string& name = options.operands.front();
    const auto command = std::find_if(std::begin(commands), std::end(commands),
                                      [&](const Command& known) { return known.name == name; });
    if (command == std::end(commands)) {
        std::fprintf(stderr, "wspushctl: unknown command '%s'\n", name.c_str());
        printUsage(stderr);
        return exitUsage;
    }
    if (!fits(*command, options)) {
        printUsage(stderr);
        return exitUsage;
    }
    return command->run(options);
}
