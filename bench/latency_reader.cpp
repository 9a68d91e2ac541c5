// SPDX-License-Identifier: MIT
// Reads wspushd's Unix socket as one subscriber and measures, per record, how long its message
// took from the bundled server's send (the "t" the server stamps into each message with
// `push … stamp` or --stamp, CLOCK_REALTIME nanoseconds) to this reader's read() (the same
// clock). The record's "ts" (the daemon's receive time, microseconds) splits that into
// server → daemon and daemon → reader.
//
// Prints "ready" once the daemon answered the status request (so it is taken on), then, as
// they arrive, "event NAME at=NS" for each event line (connected, disconnected, ...), and,
// when --records stamped records arrived or nothing came for --timeout seconds, one line:
//   done complete=0|1 records=N unstamped=U p50_us=.. p99_us=.. max_us=..
//        upstream_p50_us=.. upstream_p99_us=.. first_sent=NS first_received=NS cpu=C
// where upstream_* is server → daemon and cpu is this tool's own CPU since "ready".
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <getopt.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

#include "bench/measure.hpp"
#include "bench/subscriber_socket.hpp"
#include "system/errno_error.hpp"
#include "system/unique_fd.hpp"

namespace {

using wspush::bench::percentileUs;
using wspush::bench::realtimeNs;

using wspush::system::errnoError;
using wspush::system::UniqueFd;

constexpr const char* usage =
    "usage: latency_reader --socket PATH --records COUNT [--timeout SECONDS]\n"
    "  PATH may be @name (abstract namespace)\n";
constexpr std::size_t readSize = 1 << 20;

struct Options
{
    std::string socketPath;
    std::uint64_t records = 0;
    int timeoutSeconds = 30;
};

Options parseOptions(int argc, char** argv)
{
    using wspush::bench::parseNumber;
    static const option longOptions[] = {{"socket", required_argument, nullptr, 's'},
                                         {"records", required_argument, nullptr, 'r'},
                                         {"timeout", required_argument, nullptr, 't'},
                                         {nullptr, 0, nullptr, 0}};
    Options options;
    int letter = 0;
    while ((letter = getopt_long(argc, argv, "", longOptions, nullptr)) != -1) {
        switch (letter) {
        case 's':
            options.socketPath = optarg;
            break;
        case 'r':
            options.records = parseNumber(optarg, "--records", 1, UINT64_MAX / 2);
            break;
        case 't':
            options.timeoutSeconds = static_cast<int>(parseNumber(optarg, "--timeout", 1, 3600));
            break;
        default:
            throw std::invalid_argument("unknown option");
        }
    }
    if (options.socketPath.empty() || options.records == 0 || optind != argc)
        throw std::invalid_argument("--socket and --records are required, and nothing else");
    return options;
}

// The digits after `key` in `line` (blanks before them skipped); -1 when absent.
std::int64_t numberAfter(std::string_view line, std::string_view key) noexcept
{
    std::size_t at = line.find(key);
    if (at == std::string_view::npos)
        return -1;
    at += key.size();
    while (at < line.size() && line[at] == ' ')
        ++at;
    std::int64_t value = 0;
    std::size_t digits = 0;
    for (; at < line.size() && line[at] >= '0' && line[at] <= '9'; ++at, ++digits)
        value = value * 10 + (line[at] - '0');
    return digits == 0 ? -1 : value;
}

// The record's "ts" ("2026-11-28T02:00:00.123456Z") in nanoseconds since the epoch; -1 when
// absent or malformed.
std::int64_t receivedNs(std::string_view line) noexcept
{
    constexpr std::string_view key = "\"ts\":\"";
    const std::size_t at = line.find(key);
    if (at == std::string_view::npos || line.size() < at + key.size() + 27)
        return -1;
    std::tm utc{};
    unsigned micros = 0;
    const std::string text(line.substr(at + key.size(), 27));
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6uZ", &utc.tm_year, &utc.tm_mon,
                    &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &micros) != 7)
        return -1;
    utc.tm_year -= 1900;
    utc.tm_mon -= 1;
    return static_cast<std::int64_t>(timegm(&utc)) * 1'000'000'000 +
           static_cast<std::int64_t>(micros) * 1000;
}

class LatencyReader
{
public:
    // Throws on error.
    explicit LatencyReader(const Options& options)
        : options_(options), fd_(wspush::bench::connectSubscriber(options.socketPath)),
          buffer_(readSize)
    {
        latencies_.reserve(options.records);
        upstream_.reserve(options.records);
    }

    // Reads until the status answer arrived; false if it did not within the timeout.
    bool awaitStatus()
    {
        while (!statusSeen_) {
            if (!readOnce())
                return false;
        }
        return true;
    }

    // Reads until --records stamped records, EOF or the timeout.
    void readRecords()
    {
        while (latencies_.size() < options_.records) {
            if (!readOnce())
                return;
        }
    }

    void report(double cpuAtReady)
    {
        const bool complete = latencies_.size() >= options_.records;
        const std::int64_t firstSent = sentFirst_;
        std::sort(latencies_.begin(), latencies_.end());
        std::sort(upstream_.begin(), upstream_.end());
        std::printf("done complete=%d records=%zu unstamped=%llu p50_us=%.1f p99_us=%.1f "
                    "max_us=%.1f upstream_p50_us=%.1f upstream_p99_us=%.1f first_sent=%lld "
                    "first_received=%lld cpu=%.6f\n",
                    complete ? 1 : 0, latencies_.size(),
                    static_cast<unsigned long long>(unstamped_), percentileUs(latencies_, 0.5),
                    percentileUs(latencies_, 0.99), percentileUs(latencies_, 1.0),
                    percentileUs(upstream_, 0.5), percentileUs(upstream_, 0.99),
                    static_cast<long long>(firstSent), static_cast<long long>(receivedFirst_),
                    wspush::bench::ownCpuSeconds() - cpuAtReady);
    }

private:
    // One poll + read, its lines taken; false on EOF, error or timeout.
    bool readOnce()
    {
        pollfd waiting{fd_.get(), POLLIN, 0};
        const int ready = poll(&waiting, 1, options_.timeoutSeconds * 1000);
        if (ready < 0 && errno == EINTR)
            return true;
        if (ready <= 0)
            return false;
        const ssize_t size = read(fd_.get(), buffer_.data(), buffer_.size());
        const std::int64_t now = realtimeNs();
        if (size < 0 && (errno == EINTR || errno == EAGAIN))
            return true;
        if (size <= 0)
            return false;
        partial_.append(buffer_.data(), static_cast<std::size_t>(size));
        std::size_t start = 0;
        for (std::size_t newline = partial_.find('\n', start); newline != std::string::npos;
             newline = partial_.find('\n', start)) {
            takeLine(std::string_view(partial_).substr(start, newline - start), now);
            start = newline + 1;
        }
        partial_.erase(0, start);
        return true;
    }

    void takeLine(std::string_view line, std::int64_t now)
    {
        if (!statusSeen_ && line.find("\"event\":\"status\"") != std::string_view::npos) {
            statusSeen_ = true;
            return;
        }
        if (!line.starts_with("{\"seq\":")) {
            printEvent(line, now);
            return;
        }
        if (latencies_.size() >= options_.records)
            return;
        const std::int64_t sent = numberAfter(line, "\"t\":");
        if (sent < 0) {
            ++unstamped_;
            return;
        }
        if (latencies_.empty()) {
            sentFirst_ = sent;
            receivedFirst_ = now;
        }
        latencies_.push_back(now - sent);
        const std::int64_t atDaemon = receivedNs(line);
        if (atDaemon >= 0)
            upstream_.push_back(atDaemon - sent);
    }

    static void printEvent(std::string_view line, std::int64_t now)
    {
        constexpr std::string_view key = "\"event\":\"";
        const std::size_t at = line.find(key);
        if (at == std::string_view::npos)
            return;
        const std::size_t begin = at + key.size();
        const std::string_view name = line.substr(begin, line.find('"', begin) - begin);
        std::printf("event %.*s at=%lld\n", static_cast<int>(name.size()), name.data(),
                    static_cast<long long>(now));
        std::fflush(stdout);
    }

    const Options& options_;
    UniqueFd fd_;
    std::vector<char> buffer_;
    std::string partial_;
    bool statusSeen_ = false;
    std::vector<std::int64_t> latencies_;
    std::vector<std::int64_t> upstream_;
    std::uint64_t unstamped_ = 0;
    std::int64_t sentFirst_ = 0;
    std::int64_t receivedFirst_ = 0;
};

} // namespace

int main(int argc, char** argv)
{
    try {
        const Options options = parseOptions(argc, argv);
        LatencyReader reader(options);
        if (!reader.awaitStatus()) {
            std::fputs("latency_reader: the daemon did not answer the status request\n", stderr);
            return EXIT_FAILURE;
        }
        const double cpuAtReady = wspush::bench::ownCpuSeconds();
        std::puts("ready");
        std::fflush(stdout);
        reader.readRecords();
        reader.report(cpuAtReady);
        return EXIT_SUCCESS;
    } catch (const std::invalid_argument& error) {
        std::fprintf(stderr, "latency_reader: %s\n%s", error.what(), usage);
        return 2;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "latency_reader: %s\n", error.what());
        return EXIT_FAILURE;
    }
}
