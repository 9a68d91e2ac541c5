// SPDX-License-Identifier: MIT
#include "metrics/process_figures.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "system/unique_fd.hpp"

namespace wspush::metrics {

namespace {

// A small /proc file whole; empty on failure.
std::string readSmallFile(const char* path)
{
    const system::UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
    if (!fd.isValid())
        return {};
    std::string text;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n > 0)
            text.append(buffer, static_cast<std::size_t>(n));
        else if (n == 0 || errno != EINTR)
            return text;
    }
}

std::optional<std::uint64_t> number(std::string_view text)
{
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

// When the process started (Unix seconds), from its start in ticks after boot. Not from
// /proc/stat's btime: the units' ProcSubset=pid hides that file. Taken once, so that the
// clocks' read-out jitter does not make a constant wobble.
double startTime(std::uint64_t startTicks, double ticksPerSecond)
{
    static const double start = [&] {
        timespec boot{};
        timespec real{};
        clock_gettime(CLOCK_BOOTTIME, &boot);
        clock_gettime(CLOCK_REALTIME, &real);
        const double sinceBoot =
            static_cast<double>(boot.tv_sec) + static_cast<double>(boot.tv_nsec) / 1e9;
        const double now =
            static_cast<double>(real.tv_sec) + static_cast<double>(real.tv_nsec) / 1e9;
        // Whole ticks: the same value whatever the moment of the first scrape.
        return std::round((now - sinceBoot) * ticksPerSecond) / ticksPerSecond +
               static_cast<double>(startTicks) / ticksPerSecond;
    }();
    return start;
}

std::uint64_t countOpenFds()
{
    DIR* directory = opendir("/proc/self/fd");
    if (directory == nullptr)
        return 0;
    std::uint64_t count = 0;
    while (const dirent* entry = readdir(directory)) {
        if (entry->d_name[0] != '.')
            ++count;
    }
    closedir(directory);
    return count > 0 ? count - 1 : 0; // not the one opendir() holds
}

} // namespace

std::optional<ProcessFigures> readProcessFigures() noexcept
{
    try {
        // proc(5): the fields after the command's closing parenthesis, from field 3 (state).
        const std::string stat = readSmallFile("/proc/self/stat");
        const auto close = stat.rfind(')');
        if (close == std::string::npos)
            return std::nullopt;
        std::string_view rest = std::string_view(stat).substr(close + 2);
        std::uint64_t fields[25] = {};
        for (int field = 3; field <= 24 && !rest.empty(); ++field) {
            const auto space = rest.find(' ');
            const std::string_view text = rest.substr(0, space);
            fields[field] = number(text).value_or(0);
            rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
        }
        const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
        const auto pageSize = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));

        ProcessFigures figures;
        figures.cpuSeconds = static_cast<double>(fields[14] + fields[15]) / ticks;
        figures.startTimeSeconds = startTime(fields[22], ticks);
        figures.virtualBytes = fields[23];
        figures.residentBytes = fields[24] * pageSize;
        figures.openFds = countOpenFds();
        rlimit limit{};
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0)
            figures.maxFds = limit.rlim_cur;
        return figures;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

} // namespace wspush::metrics
