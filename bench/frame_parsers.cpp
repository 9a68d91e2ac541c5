// SPDX-License-Identifier: MIT
// wspushd's frame parser next to wslay's frame API (Debian's libwslay-dev), on the same bytes:
// an in-memory stream of unmasked text frames as a server sends them, 200 B and 4 KiB
// messages, taken in 64 KiB reads as the daemon takes them from its socket.
//
// - wspushd: wire::MessageReader, whole messages into the std::string the daemon hands on
//   (FrameParser reads the frames in place; the payload is copied once, into the message).
// - wslay: wslay_frame_recv (the frame API, not the event API), its recv callback serving the
//   stream from memory, the pieces appended into a std::string message, with the checks the
//   frame API leaves to its caller (masked frames, reserved bits, unknown opcodes, the order of
//   continuation frames): what the daemon would have to write around it.
// - wspushd-frames and wslay-frames: the frames alone, the payload only looked at, not kept.
//
// Times are this thread's CPU time. Prints one line per size and parser, the median of
// --runs runs (taken in turns):
// "frames size=200 parser=wspushd frames_per_s=F mb_per_s=M ns_per_frame=N"
// (MB/s: payload bytes, 10^6), then "ratio size=200 messages=R frames=R" (wspushd over wslay).
// Exits 1 if the parsers disagree on what the stream holds.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <getopt.h>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <time.h>
#include <vector>
#include <wslay/wslay.h>

#include "bench/measure.hpp"
#include "wire/frame_parser.hpp"
#include "wire/message_reader.hpp"

namespace {

using wspush::wire::FrameParser;
using wspush::wire::MessageReader;
using wspush::wire::Opcode;

constexpr const char* usage = "usage: frame_parsers [--runs N] [--stream-kib KIB] [--run-ms MS]\n";
constexpr std::size_t readSize = std::size_t{64} * 1024; // the daemon's read()
constexpr std::size_t sizes[] = {200, 4096};

struct Options
{
    int runs = 5;
    std::size_t streamBytes = std::size_t{1} << 20; // stays in the cache, as a read buffer does
    double seconds = 0.3;                           // per run and parser (--run-ms)
};

// What a parser saw, compared between them; `touched` keeps the work from being optimised
// away.
struct Tally
{
    std::uint64_t messages = 0;
    std::uint64_t bytes = 0;
    std::uint64_t touched = 0;

    // A whole message.
    void take(std::string_view payload) noexcept
    {
        ++messages;
        bytes += payload.size();
        touched += static_cast<unsigned char>(payload[payload.size() / 2]);
    }
    // A piece of a message, looked at and not kept.
    void glance(std::string_view piece, bool last) noexcept
    {
        bytes += piece.size();
        if (!piece.empty())
            touched += static_cast<unsigned char>(piece[0]);
        if (last)
            ++messages;
    }
    bool sameAs(const Tally& other) const noexcept
    {
        return messages == other.messages && bytes == other.bytes;
    }
};

// Messages {"n":K,"pad":"xx…"} of exactly `size` bytes, framed as a server frames them, until
// the stream holds `bytes`.
std::string serverStream(std::size_t size, std::size_t bytes)
{
    std::string stream;
    for (std::uint64_t n = 1; stream.size() < bytes; ++n) {
        std::string message = "{\"n\":";
        message += std::to_string(n);
        message += ",\"pad\":\"";
        message.append(size - message.size() - 2, 'x');
        message += "\"}";
        stream.push_back(static_cast<char>(0x81)); // FIN, text
        if (size < 126) {
            stream.push_back(static_cast<char>(size));
        } else if (size < 65536) {
            stream.push_back(126);
            stream.push_back(static_cast<char>(size >> 8));
            stream.push_back(static_cast<char>(size & 0xff));
        } else {
            stream.push_back(127);
            for (int shift = 56; shift >= 0; shift -= 8)
                stream.push_back(static_cast<char>((size >> shift) & 0xff));
        }
        stream += message;
    }
    return stream;
}

class OurMessages final : private MessageReader::Handler
{
public:
    OurMessages() : reader_(*this, std::size_t{1} << 20) { reader_.reset({}); }

    bool parse(std::string_view stream) noexcept
    {
        for (std::size_t at = 0; at < stream.size(); at += readSize) {
            if (!reader_.feed(stream.substr(at, readSize)))
                return false;
        }
        return true;
    }
    Tally tally;

private:
    void onMessage(std::string& payload, bool) noexcept override { tally.take(payload); }
    void onOversized(std::size_t) noexcept override {}
    void onControl(Opcode, std::string_view) noexcept override {}

    MessageReader reader_;
};

class OurFrames final : private FrameParser::Handler
{
public:
    OurFrames() : parser_(*this) {}

    bool parse(std::string_view stream) noexcept
    {
        for (std::size_t at = 0; at < stream.size(); at += readSize) {
            if (!parser_.feed(stream.substr(at, readSize)))
                return false;
        }
        return true;
    }
    Tally tally;

private:
    void onMessageStart(bool, bool) noexcept override {}
    void onMessageData(std::string_view piece, bool last) noexcept override
    {
        tally.glance(piece, last);
    }
    void onControl(Opcode, std::string_view) noexcept override {}

    FrameParser parser_;
};

// wslay_frame_recv with its recv callback serving `stream` from memory.
class Wslay
{
public:
    explicit Wslay(bool keepMessages) : keepMessages_(keepMessages)
    {
        const wslay_frame_callbacks callbacks{send, receive, mask};
        if (wslay_frame_context_init(&context_, &callbacks, this) != 0)
            throw std::bad_alloc();
    }
    ~Wslay() { wslay_frame_context_free(context_); }
    Wslay(const Wslay&) = delete;
    Wslay& operator=(const Wslay&) = delete;

    bool parse(std::string_view stream) noexcept
    {
        input_ = stream;
        for (;;) {
            wslay_frame_iocb frame{};
            const ssize_t got = wslay_frame_recv(context_, &frame);
            if (got == WSLAY_ERR_WANT_READ) {
                if (input_.empty())
                    return true;
                continue;
            }
            if (got < 0 || !take(frame))
                return false;
        }
    }
    Tally tally;

private:
    static ssize_t receive(std::uint8_t* buffer, std::size_t length, int, void* user)
    {
        auto& self = *static_cast<Wslay*>(user);
        const std::size_t count = std::min(length, self.input_.size());
        std::memcpy(buffer, self.input_.data(), count);
        self.input_.remove_prefix(count);
        return static_cast<ssize_t>(count);
    }
    static ssize_t send(const std::uint8_t*, std::size_t, int, void*) { return -1; }
    static int mask(std::uint8_t*, std::size_t, void*) { return -1; }

    // A piece of a frame; what FrameParser checks, the frame API leaves to its caller.
    bool take(const wslay_frame_iocb& frame)
    {
        if (frameOffset_ == 0) {
            if (frame.mask != 0 || frame.rsv != 0)
                return false;
            const bool control = wslay_is_ctrl_frame(frame.opcode);
            if (control ? frame.opcode > WSLAY_PONG
                        : frame.opcode > WSLAY_BINARY_FRAME ||
                              (frame.opcode == WSLAY_CONTINUATION_FRAME) != inMessage_)
                return false;
            control_ = control;
            if (!control && frame.opcode != WSLAY_CONTINUATION_FRAME)
                message_.clear();
        }
        frameOffset_ += frame.data_length;
        const bool frameDone = frameOffset_ == frame.payload_length;
        const bool messageDone = frameDone && !control_ && frame.fin != 0;
        const std::string_view piece(reinterpret_cast<const char*>(frame.data), frame.data_length);
        if (control_) {
            // Control frames would be kept whole here (<= 125 bytes); the stream has none.
        } else if (keepMessages_) {
            message_.append(piece);
            if (messageDone)
                tally.take(message_);
        } else {
            tally.glance(piece, messageDone);
        }
        if (frameDone) {
            frameOffset_ = 0;
            if (!control_)
                inMessage_ = frame.fin == 0;
        }
        return true;
    }

    wslay_frame_context_ptr context_ = nullptr;
    std::string_view input_;
    bool keepMessages_;
    std::uint64_t frameOffset_ = 0; // payload bytes of the current frame seen so far
    bool control_ = false;
    bool inMessage_ = false;
    std::string message_;
};

struct Figures
{
    double framesPerSecond = 0;
    double mbPerSecond = 0;
    double nsPerFrame = 0;
};

// This thread's CPU time: a machine shared with other work slows the wall clock, not this.
double threadCpuSeconds() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// Parses the stream `passes` times; CPU seconds taken.
template <typename Parser>
double timePasses(Parser& parser, std::string_view stream, int passes)
{
    const double start = threadCpuSeconds();
    for (int pass = 0; pass < passes; ++pass) {
        if (!parser.parse(stream))
            throw std::runtime_error("a parser rejected the stream");
    }
    return threadCpuSeconds() - start;
}

// One run: parses the stream for about `seconds` of CPU; returns frames/s, and the tally of one
// pass in `onePass`.
template <typename Parser>
double measure(Parser& parser, std::string_view stream, double seconds, Tally& onePass)
{
    timePasses(parser, stream, 1); // warms the caches and the message buffer
    onePass = parser.tally;
    // As many passes as take about `seconds`, from how long one took.
    const double one = std::max(timePasses(parser, stream, 1), 1e-6);
    const int passes = std::max(1, static_cast<int>(seconds / one));
    const double took = timePasses(parser, stream, passes);
    return static_cast<double>(onePass.messages) * passes / took;
}

struct Contender
{
    const char* name;
    std::function<double(std::string_view stream, double seconds, Tally& onePass)> run;
    std::vector<double> rates;
    Tally tally;
};

double median(std::vector<double> values)
{
    std::sort(values.begin(), values.end());
    const std::size_t middle = values.size() / 2;
    return values.size() % 2 != 0 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

Options parseOptions(int argc, char** argv)
{
    using wspush::bench::parseNumber;
    Options options;
    const option longOptions[] = {{"runs", required_argument, nullptr, 'r'},
                                  {"stream-kib", required_argument, nullptr, 'k'},
                                  {"run-ms", required_argument, nullptr, 'm'},
                                  {"help", no_argument, nullptr, 'h'},
                                  {nullptr, 0, nullptr, 0}};
    int code = 0;
    while ((code = getopt_long(argc, argv, "", longOptions, nullptr)) != -1) {
        switch (code) {
        case 'r':
            options.runs = static_cast<int>(parseNumber(optarg, "--runs", 1, 99));
            break;
        case 'k':
            options.streamBytes = parseNumber(optarg, "--stream-kib", 64, 1 << 20) * 1024;
            break;
        case 'm':
            options.seconds = static_cast<double>(parseNumber(optarg, "--run-ms", 1, 60000)) / 1000;
            break;
        case 'h':
            std::fputs(usage, stdout);
            std::exit(0);
        default:
            throw std::invalid_argument("unknown option");
        }
    }
    if (optind != argc)
        throw std::invalid_argument("unexpected argument");
    return options;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        const Options options = parseOptions(argc, argv);
        bool agree = true;
        for (const std::size_t size : sizes) {
            const std::string stream = serverStream(size, options.streamBytes);
            Contender contenders[] = {
                {"wspushd",
                 [](std::string_view bytes, double seconds, Tally& tally) {
                     OurMessages parser;
                     return measure(parser, bytes, seconds, tally);
                 },
                 {},
                 {}},
                {"wslay",
                 [](std::string_view bytes, double seconds, Tally& tally) {
                     Wslay parser(true);
                     return measure(parser, bytes, seconds, tally);
                 },
                 {},
                 {}},
                {"wspushd-frames",
                 [](std::string_view bytes, double seconds, Tally& tally) {
                     OurFrames parser;
                     return measure(parser, bytes, seconds, tally);
                 },
                 {},
                 {}},
                {"wslay-frames",
                 [](std::string_view bytes, double seconds, Tally& tally) {
                     Wslay parser(false);
                     return measure(parser, bytes, seconds, tally);
                 },
                 {},
                 {}},
            };
            // In turns, so that a machine getting busier slows them alike.
            for (int run = 0; run < options.runs; ++run) {
                for (Contender& contender : contenders)
                    contender.rates.push_back(
                        contender.run(stream, options.seconds, contender.tally));
            }
            double rates[4];
            for (std::size_t i = 0; i < 4; ++i) {
                const Contender& contender = contenders[i];
                const double rate = median(contender.rates);
                rates[i] = rate;
                std::printf("frames size=%zu parser=%s frames_per_s=%.0f mb_per_s=%.1f "
                            "ns_per_frame=%.1f\n",
                            size, contender.name, rate, rate * static_cast<double>(size) / 1e6,
                            1e9 / rate);
                if (!contender.tally.sameAs(contenders[0].tally)) {
                    std::fprintf(stderr,
                                 "frame_parsers: %s saw %llu messages, %llu bytes; wspushd "
                                 "%llu, %llu\n",
                                 contender.name,
                                 static_cast<unsigned long long>(contender.tally.messages),
                                 static_cast<unsigned long long>(contender.tally.bytes),
                                 static_cast<unsigned long long>(contenders[0].tally.messages),
                                 static_cast<unsigned long long>(contenders[0].tally.bytes));
                    agree = false;
                }
            }
            std::printf("ratio size=%zu messages=%.2f frames=%.2f\n", size, rates[0] / rates[1],
                        rates[2] / rates[3]);
            std::fflush(stdout);
        }
        return agree ? 0 : 1;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "frame_parsers: %s\n%s", error.what(), usage);
        return 2;
    }
}
