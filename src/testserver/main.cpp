// SPDX-License-Identifier: MIT
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "testserver/options.hpp"
#include "testserver/push_server.hpp"

int main(int argc, char** argv)
{
    using namespace wspush::testserver;
    try {
        const Options options = parseOptions(argc, argv);
        if (options.help) {
            std::fputs(kUsage, stdout);
            return EXIT_SUCCESS;
        }
        PushServer server(options);
        server.run();
        return EXIT_SUCCESS;
    } catch (const UsageError& error) {
        std::fprintf(stderr, "wspush-testserver: %s\n%s", error.what(), kUsage);
        return 2;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "wspush-testserver: %s\n", error.what());
        return EXIT_FAILURE;
    }
}
