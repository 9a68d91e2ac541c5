// SPDX-License-Identifier: MIT
// A stand-in for logind on a private bus, for the liveness tests: owns
// org.freedesktop.login1 and emits Manager.PrepareForSleep(b) for each line "sleep" or
// "wake" read on stdin; prints "ready" once it owns the name and "sent LINE" per signal.
#include <cstdio>
#include <cstring>
#include <string>

#include <systemd/sd-bus.h>

int main()
{
    sd_bus* bus = nullptr;
    if (int result = sd_bus_open_system(&bus); result < 0) {
        std::fprintf(stderr, "login1-standin: no bus: %s\n", std::strerror(-result));
        return 1;
    }
    if (int result = sd_bus_request_name(bus, "org.freedesktop.login1", 0); result < 0) {
        std::fprintf(stderr, "login1-standin: cannot own the name: %s\n", std::strerror(-result));
        return 1;
    }
    std::printf("ready\n");
    std::fflush(stdout);
    char line[64];
    while (std::fgets(line, sizeof line, stdin) != nullptr) {
        const std::string word(line, std::strcspn(line, "\n"));
        if (word != "sleep" && word != "wake")
            continue;
        const int sleeping = word == "sleep" ? 1 : 0;
        int result = sd_bus_emit_signal(bus, "/org/freedesktop/login1",
                                        "org.freedesktop.login1.Manager", "PrepareForSleep", "b",
                                        sleeping);
        if (result >= 0)
            result = sd_bus_flush(bus);
        if (result < 0) {
            std::fprintf(stderr, "login1-standin: %s\n", std::strerror(-result));
            return 1;
        }
        std::printf("sent %s\n", word.c_str());
        std::fflush(stdout);
    }
    sd_bus_flush_close_unref(bus);
    return 0;
}
