// SPDX-License-Identifier: MIT
#include <cstdio>
#include <getopt.h>
#include <optional>
#include <signal.h>
#include <string>

#include "build_config.hpp"
#include "config/config_error.hpp"
#include "config/loader.hpp"
#include "connection/token.hpp"
#include "daemon/daemon.hpp"
#include "store/verify.hpp"
#include "system/log.hpp"

namespace {

constexpr int exitFailure = 1;
constexpr int exitUsage = 2;
constexpr int exitConfig = 78; // EX_CONFIG

struct Options
{
    std::string configPath = WSPUSH_DEFAULT_CONFIG;
    bool checkOnly = false;
    bool verifyStore = false;
    bool verbose = false;
};

void printUsage(std::FILE* to)
{
    std::fprintf(to,
                 "Usage: wspushd [--config PATH] [--check-config] [--verify-store] [--verbose]\n"
                 "               [--version] [--help]\n"
                 "Keeps a WebSocket push connection alive and hands every message to sinks.\n\n"
                 "  -c, --config PATH   configuration file (default %s)\n"
                 "      --check-config  validate the configuration and exit\n"
                 "      --verify-store  check every record of the store offline; exit 1 on "
                 "damage\n"
                 "  -v, --verbose       log debug details, libwebsockets' included\n"
                 "      --version       print the version and exit\n"
                 "  -h, --help          print this help and exit\n",
                 WSPUSH_DEFAULT_CONFIG);
}

// Returns an exit code when the command line is all there is to do.
std::optional<int> parseArguments(int argc, char** argv, Options& options)
{
    enum
    {
        optCheck = 256,
        optVerifyStore,
        optVersion
    };
    static const option longOptions[] = {
        {"config", required_argument, nullptr, 'c'},
        {"check-config", no_argument, nullptr, optCheck},
        {"verify-store", no_argument, nullptr, optVerifyStore},
        {"verbose", no_argument, nullptr, 'v'},
        {"version", no_argument, nullptr, optVersion},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    for (int opt = 0; (opt = getopt_long(argc, argv, "c:vh", longOptions, nullptr)) != -1;) {
        switch (opt) {
        case 'c':
            options.configPath = optarg;
            break;
        case optCheck:
            options.checkOnly = true;
            break;
        case optVerifyStore:
            options.verifyStore = true;
            break;
        case 'v':
            options.verbose = true;
            break;
        case optVersion:
            std::printf("wspushd %s\n", WSPUSH_VERSION);
            return 0;
        case 'h':
            printUsage(stdout);
            return 0;
        default:
            printUsage(stderr);
            return exitUsage;
        }
    }
    if (optind != argc) {
        std::fprintf(stderr, "wspushd: unexpected argument '%s'\n", argv[optind]);
        printUsage(stderr);
        return exitUsage;
    }
    return std::nullopt;
}

// Throws config::ConfigError, or std::runtime_error for an unreadable token.
wspush::config::Config loadConfig(const std::string& path)
{
    wspush::config::Config config = wspush::config::loadConfigFile(path);
    wspush::connection::readToken(config.server);
    return config;
}

// --verify-store: 0 when the store is sound (or there is none), 1 otherwise.
int verifyStore(const wspush::config::StoreConfig& store)
{
    if (store.path.empty()) {
        std::printf("no store.path is configured: records are kept in memory only\n");
        return 0;
    }
    try {
        return wspush::store::verifyStore(store.path, stdout) ? 0 : exitFailure;
    } catch (const std::exception& error) {
        wspush::log::error(error.what());
        return exitFailure;
    }
}

} // namespace

int main(int argc, char** argv)
{
    using namespace wspush;

    Options options;
    if (const auto done = parseArguments(argc, argv, options))
        return *done;
    log::setVerbose(options.verbose);
    log::routeLwsLogs();
    signal(SIGPIPE, SIG_IGN);

    config::Config config;
    try {
        config = loadConfig(options.configPath);
    } catch (const std::exception& error) {
        log::error(error.what());
        return exitConfig;
    }
    if (options.checkOnly) {
        std::printf("%s: configuration is valid\n", options.configPath.c_str());
        return 0;
    }
    if (options.verifyStore)
        return verifyStore(config.store);

    try {
        daemon::Daemon daemon(options.configPath, std::move(config));
        return daemon.run();
    } catch (const std::exception& error) {
        log::error(error.what());
        return exitFailure;
    }
}
