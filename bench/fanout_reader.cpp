// SPDX-License-Identifier: MIT
// Connects N subscribers to wspushd's Unix socket and counts the record lines each gets,
// reading 1 MiB at a time under epoll, so that the reader is never what a benchmark measures.
//
// Prints "ready" once the daemon answered every subscriber's status request (so all of them
// are taken on), then, when each got --records lines or nothing arrived for --timeout
// seconds, one line: "done complete=0|1 clients=N lines=L bytes=B seconds=S cpu=C", where
// seconds run from the first record byte to the last, and cpu is this tool's own since "ready".
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <getopt.h>
#include <stdexcept>
#include <string>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

#include "bench/measure.hpp"
#include "bench/subscriber_socket.hpp"
#include "system/errno_error.hpp"
#include "system/unique_fd.hpp"

namespace {

using wspush::system::errnoError;
using wspush::system::UniqueFd;

constexpr const char* usage =
    "usage: fanout_reader --socket PATH --clients N --records COUNT [--timeout SECONDS]\n"
    "  PATH may be @name (abstract namespace)\n";
constexpr std::size_t readSize = 1 << 20;

struct Options
{
    std::string socketPath;
    std::size_t clients = 1;
    std::uint64_t records = 0;
    int timeoutSeconds = 30;
};

// One connection; its first line is the status answer, every later one a record.
struct Subscriber
{
    UniqueFd fd;
    std::uint64_t lines = 0;
    std::uint64_t recordBytes = 0;
    bool finished = false; // out of the epoll set
    bool closed = false;
};

Options parseOptions(int argc, char** argv)
{
    using wspush::bench::parseNumber;
    static const option longOptions[] = {{"socket", required_argument, nullptr, 's'},
                                         {"clients", required_argument, nullptr, 'c'},
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
        case 'c':
            options.clients = parseNumber(optarg, "--clients", 1, 10000);
            break;
        case 'r':
            options.records = parseNumber(optarg, "--records", 0, UINT64_MAX / 2);
            break;
        case 't':
            options.timeoutSeconds = static_cast<int>(parseNumber(optarg, "--timeout", 1, 3600));
            break;
        default:
            throw std::invalid_argument("unknown option");
        }
    }
    if (options.socketPath.empty() || optind != argc)
        throw std::invalid_argument("--socket is required, and nothing else");
    return options;
}

class FanoutReader
{
public:
    // Throws on error.
    explicit FanoutReader(const Options& options) : options_(options), buffer_(readSize)
    {
        epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
        if (!epoll_.isValid())
            throw errnoError(errno, "epoll_create1");
        subscribers_.resize(options.clients);
        for (Subscriber& subscriber : subscribers_)
            subscriber.fd = wspush::bench::connectSubscriber(options.socketPath);
    }

    // Reads until every subscriber has `linesEach` lines, was closed, or nothing arrived
    // for the timeout.
    void readUntil(std::uint64_t linesEach)
    {
        unfinished_ = 0;
        for (std::size_t i = 0; i < subscribers_.size(); ++i) {
            subscribers_[i].finished = subscribers_[i].closed || subscribers_[i].lines >= linesEach;
            if (!subscribers_[i].finished) {
                watch(i);
                ++unfinished_;
            }
        }
        epoll_event events[64];
        while (unfinished_ != 0) {
            const int count = epoll_wait(epoll_.get(), events, 64, options_.timeoutSeconds * 1000);
            if (count < 0 && errno == EINTR)
                continue;
            if (count < 0)
                throw errnoError(errno, "epoll_wait");
            if (count == 0)
                return;
            for (int i = 0; i < count; ++i)
                readFrom(subscribers_[events[i].data.u64], linesEach);
        }
    }

    bool allHave(std::uint64_t linesEach) const
    {
        return std::all_of(subscribers_.begin(), subscribers_.end(),
                           [&](const Subscriber& s) { return s.lines >= linesEach; });
    }

    // What follows is measured from here: CPU time, and the time of the first record.
    void startMeasuring() noexcept { cpuAtStart_ = wspush::bench::ownCpuSeconds(); }

    void report(std::uint64_t linesEach) const
    {
        std::uint64_t lines = 0;
        std::uint64_t bytes = 0;
        for (const Subscriber& subscriber : subscribers_) {
            lines += subscriber.lines - std::min<std::uint64_t>(subscriber.lines, 1);
            bytes += subscriber.recordBytes;
        }
        const double seconds = firstRecordAt_ > 0 ? lastReadAt_ - firstRecordAt_ : 0;
        std::printf("done complete=%d clients=%zu lines=%llu bytes=%llu seconds=%.6f cpu=%.6f\n",
                    allHave(linesEach) ? 1 : 0, subscribers_.size(),
                    static_cast<unsigned long long>(lines), static_cast<unsigned long long>(bytes),
                    seconds, wspush::bench::ownCpuSeconds() - cpuAtStart_);
    }

private:
    // Throws on error.
    void watch(std::size_t index)
    {
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u64 = index;
        if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, subscribers_[index].fd.get(), &event) != 0)
            throw errnoError(errno, "epoll_ctl");
    }

    void readFrom(Subscriber& subscriber, std::uint64_t linesEach)
    {
        const ssize_t size = read(subscriber.fd.get(), buffer_.data(), buffer_.size());
        if (size < 0 && (errno == EINTR || errno == EAGAIN))
            return;
        if (size <= 0) {
            subscriber.closed = true; // the daemon cut it off: counted as incomplete
            finish(subscriber);
            return;
        }
        lastReadAt_ = wspush::bench::monotonicSeconds();
        const char* data = buffer_.data();
        std::size_t length = static_cast<std::size_t>(size);
        if (subscriber.lines == 0) {
            const char* newline = static_cast<const char*>(std::memchr(data, '\n', length));
            if (newline == nullptr)
                return;
            subscriber.lines = 1;
            length -= static_cast<std::size_t>(newline + 1 - data);
            data = newline + 1;
        }
        if (length != 0 && firstRecordAt_ == 0)
            firstRecordAt_ = lastReadAt_;
        subscriber.recordBytes += length;
        subscriber.lines += static_cast<std::uint64_t>(std::count(data, data + length, '\n'));
        if (subscriber.lines >= linesEach)
            finish(subscriber);
    }

    void finish(Subscriber& subscriber)
    {
        if (subscriber.finished)
            return;
        subscriber.finished = true;
        --unfinished_;
        epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, subscriber.fd.get(), nullptr);
    }

    const Options& options_;
    UniqueFd epoll_;
    std::vector<Subscriber> subscribers_;
    std::vector<char> buffer_;
    std::size_t unfinished_ = 0;
    double cpuAtStart_ = 0;
    double firstRecordAt_ = 0;
    double lastReadAt_ = 0;
};

} // namespace

int main(int argc, char** argv)
{
    try {
        const Options options = parseOptions(argc, argv);
        FanoutReader reader(options);
        reader.readUntil(1);
        if (!reader.allHave(1)) {
            std::fputs("fanout_reader: the daemon did not answer every status request\n", stderr);
            return EXIT_FAILURE;
        }
        reader.startMeasuring();
        std::puts("ready");
        std::fflush(stdout);
        reader.readUntil(options.records + 1);
        reader.report(options.records + 1);
        return EXIT_SUCCESS;
    } catch (const std::invalid_argument& error) {
        std::fprintf(stderr, "fanout_reader: %s\n%s", error.what(), usage);
        return 2;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "fanout_reader: %s\n", error.what());
        return EXIT_FAILURE;
    }
}
