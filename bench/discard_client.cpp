// SPDX-License-Identifier: MIT
// The benchmark's baseline: a WebSocket client that does the HTTP upgrade by hand on a plain
// TCP socket, then reads 1 MiB at a time and only counts the messages, so what it measures
// is how fast the bundled server can push.
//
// Prints "ready" once the server's greeting (the first message) arrived, then, when
// --messages more arrived or nothing came for --timeout seconds, one line:
// "done complete=0|1 messages=M bytes=B seconds=S cpu=C", where seconds run from the first
// byte after "ready" to the last, and cpu is this tool's own since "ready".
//
// With --stamped it is also the latency baseline: each message's "t" (the send time the
// bundled server stamps in with `push … stamp`, CLOCK_REALTIME nanoseconds) is taken from
// the time of the read() that completed it, and the done line adds p50_us, p99_us, max_us.
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <vector>

#include "bench/measure.hpp"
#include "system/errno_error.hpp"
#include "system/unique_fd.hpp"

namespace {

using wspush::bench::percentileUs;
using wspush::bench::realtimeNs;

using wspush::system::errnoError;
using wspush::system::UniqueFd;

constexpr const char* usage = "usage: discard_client --port N [--host IPV4] [--path PATH] "
                              "--messages COUNT [--timeout SECONDS] [--stamped]\n";
constexpr std::size_t readSize = 1 << 20;

struct Options
{
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string path = "/websocket/bench";
    std::uint64_t messages = 0;
    int timeoutSeconds = 30;
    bool stamped = false;
};

Options parseOptions(int argc, char** argv)
{
    using wspush::bench::parseNumber;
    static const option longOptions[] = {{"host", required_argument, nullptr, 'h'},
                                         {"port", required_argument, nullptr, 'p'},
                                         {"path", required_argument, nullptr, 'P'},
                                         {"messages", required_argument, nullptr, 'm'},
                                         {"timeout", required_argument, nullptr, 't'},
                                         {"stamped", no_argument, nullptr, 's'},
                                         {nullptr, 0, nullptr, 0}};
    Options options;
    int letter = 0;
    while ((letter = getopt_long(argc, argv, "", longOptions, nullptr)) != -1) {
        switch (letter) {
        case 'h':
            options.host = optarg;
            break;
        case 'p':
            options.port = static_cast<std::uint16_t>(parseNumber(optarg, "--port", 1, 65535));
            break;
        case 'P':
            options.path = optarg;
            break;
        case 'm':
            options.messages = parseNumber(optarg, "--messages", 0, UINT64_MAX / 2);
            break;
        case 't':
            options.timeoutSeconds = static_cast<int>(parseNumber(optarg, "--timeout", 1, 3600));
            break;
        case 's':
            options.stamped = true;
            break;
        default:
            throw std::invalid_argument("unknown option");
        }
    }
    if (options.port == 0 || optind != argc)
        throw std::invalid_argument("--port is required");
    return options;
}

// Counts the data messages in a stream of server frames (never masked), however the reads
// split them. With `stamped`, also takes each text message's latency: `now` minus its "t".
class MessageCounter
{
public:
    explicit MessageCounter(bool stamped = false) : stamped_(stamped) {}

    void consume(const unsigned char* data, std::size_t size, std::int64_t now = 0)
    {
        while (size != 0) {
            if (payloadLeft_ != 0) {
                const std::size_t skip = payloadLeft_ < size ? payloadLeft_ : size;
                if (stamped_ && prefix_.size() < prefixSize) {
                    prefix_.append(reinterpret_cast<const char*>(data),
                                   std::min(skip, prefixSize - prefix_.size()));
                }
                payloadLeft_ -= skip;
                data += skip;
                size -= skip;
                if (payloadLeft_ == 0)
                    takeStamp(now);
                continue;
            }
            header_[headerSize_++] = *data++;
            --size;
            if (headerSize_ == neededHeaderSize())
                takeHeader();
        }
    }

    std::uint64_t messages() const noexcept { return messages_; }
    bool closed() const noexcept { return closed_; }
    // Latencies in nanoseconds, of the stamped messages so far.
    std::vector<std::int64_t>& latencies() noexcept { return latencies_; }

private:
    std::size_t neededHeaderSize() const noexcept
    {
        if (headerSize_ < 2)
            return 2;
        const unsigned length = header_[1] & 0x7fU;
        const std::size_t extended = length == 126 ? 2 : length == 127 ? 8 : 0;
        return 2 + extended + ((header_[1] & 0x80U) != 0 ? 4 : 0);
    }

    // Room for `{"n":K,"t":NS` with K up to 20 digits.
    static constexpr std::size_t prefixSize = 64;

    void takeStamp(std::int64_t now)
    {
        if (!inText_)
            return;
        inText_ = false;
        const std::string_view text(prefix_);
        std::size_t at = text.find("\"t\":");
        if (at == std::string_view::npos)
            return;
        at += 4;
        while (at < text.size() && text[at] == ' ')
            ++at;
        std::int64_t sent = 0;
        for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at)
            sent = sent * 10 + (text[at] - '0');
        latencies_.push_back(now - sent);
    }

    void takeHeader()
    {
        const unsigned opcode = header_[0] & 0x0fU;
        const bool final = (header_[0] & 0x80U) != 0;
        const unsigned length = header_[1] & 0x7fU;
        if (length < 126) {
            payloadLeft_ = length;
        } else {
            payloadLeft_ = 0;
            const std::size_t bytes = length == 126 ? 2 : 8;
            for (std::size_t i = 0; i < bytes; ++i)
                payloadLeft_ = payloadLeft_ << 8 | header_[2 + i];
        }
        if (opcode == 0x8)
            closed_ = true;
        else if (final && opcode < 0x8)
            ++messages_;
        headerSize_ = 0;
        inText_ = stamped_ && opcode == 0x1;
        prefix_.clear();
    }

    unsigned char header_[14]{};
    std::size_t headerSize_ = 0;
    std::uint64_t payloadLeft_ = 0;
    std::uint64_t messages_ = 0;
    bool closed_ = false;
    bool stamped_;
    bool inText_ = false;
    std::string prefix_;
    std::vector<std::int64_t> latencies_;
};

// Throws on error; returns the bytes that came after the upgrade answer.
std::string upgrade(int fd, const Options& options)
{
    const std::string request = "GET " + options.path + " HTTP/1.1\r\nHost: " + options.host + ":" +
                                std::to_string(options.port) +
                                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n";
    if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size()))
        throw errnoError(errno, "write the upgrade request");
    std::string answer;
    char chunk[4096];
    for (;;) {
        const auto end = answer.find("\r\n\r\n");
        if (end != std::string::npos) {
            if (!answer.starts_with("HTTP/1.1 101"))
                throw std::runtime_error("upgrade refused: " + answer.substr(0, answer.find('\r')));
            return answer.substr(end + 4);
        }
        const ssize_t size = read(fd, chunk, sizeof chunk);
        if (size <= 0)
            throw std::runtime_error("the server closed before answering the upgrade");
        answer.append(chunk, static_cast<std::size_t>(size));
    }
}

// Throws on error.
UniqueFd connectTo(const Options& options)
{
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(options.port);
    if (inet_pton(AF_INET, options.host.c_str(), &address.sin_addr) != 1)
        throw std::invalid_argument(options.host + ": not an IPv4 address");
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.isValid())
        throw errnoError(errno, "socket");
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
        throw errnoError(errno, "connect to port " + std::to_string(options.port));
    return fd;
}

struct Transfer
{
    std::uint64_t bytes = 0;
    double firstReadAt = 0;
    double lastReadAt = 0;
};

// Reads and counts until `target` messages, a close frame, EOF or the timeout.
Transfer readUntil(int fd, MessageCounter& counter, std::uint64_t target, int timeoutSeconds,
                   std::vector<unsigned char>& buffer)
{
    Transfer transfer;
    while (counter.messages() < target && !counter.closed()) {
        pollfd waiting{fd, POLLIN, 0};
        if (poll(&waiting, 1, timeoutSeconds * 1000) <= 0)
            break;
        const ssize_t size = read(fd, buffer.data(), buffer.size());
        if (size < 0 && errno == EINTR)
            continue;
        if (size <= 0)
            break;
        const std::int64_t now = realtimeNs();
        transfer.lastReadAt = wspush::bench::monotonicSeconds();
        if (transfer.bytes == 0)
            transfer.firstReadAt = transfer.lastReadAt;
        transfer.bytes += static_cast<std::uint64_t>(size);
        counter.consume(buffer.data(), static_cast<std::size_t>(size), now);
    }
    return transfer;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        const Options options = parseOptions(argc, argv);
        const UniqueFd fd = connectTo(options);
        const std::string early = upgrade(fd.get(), options);
        MessageCounter counter(options.stamped);
        counter.consume(reinterpret_cast<const unsigned char*>(early.data()), early.size());
        std::vector<unsigned char> buffer(readSize);
        readUntil(fd.get(), counter, 1, options.timeoutSeconds, buffer);
        if (counter.messages() < 1) {
            std::fputs("discard_client: no greeting from the server\n", stderr);
            return EXIT_FAILURE;
        }
        const double cpuAtReady = wspush::bench::ownCpuSeconds();
        std::puts("ready");
        std::fflush(stdout);

        const std::uint64_t target = options.messages + 1;
        const std::uint64_t before = counter.messages();
        const Transfer transfer =
            readUntil(fd.get(), counter, target, options.timeoutSeconds, buffer);
        std::printf("done complete=%d messages=%llu bytes=%llu seconds=%.6f cpu=%.6f",
                    counter.messages() >= target ? 1 : 0,
                    static_cast<unsigned long long>(counter.messages() - before),
                    static_cast<unsigned long long>(transfer.bytes),
                    transfer.lastReadAt - transfer.firstReadAt,
                    wspush::bench::ownCpuSeconds() - cpuAtReady);
        if (options.stamped) {
            auto& latencies = counter.latencies();
            std::sort(latencies.begin(), latencies.end());
            std::printf(" stamped=%zu p50_us=%.1f p99_us=%.1f max_us=%.1f", latencies.size(),
                        percentileUs(latencies, 0.5), percentileUs(latencies, 0.99),
                        percentileUs(latencies, 1.0));
        }
        std::printf("\n");
        return EXIT_SUCCESS;
    } catch (const std::invalid_argument& error) {
        std::fprintf(stderr, "discard_client: %s\n%s", error.what(), usage);
        return 2;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "discard_client: %s\n", error.what());
        return EXIT_FAILURE;
    }
}
