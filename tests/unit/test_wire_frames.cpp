// SPDX-License-Identifier: MIT
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <set>
#include <string>
#include <string_view>
#include <vector>
#include <zlib.h>

#include <doctest/doctest.h>

#include "wire/close_code.hpp"
#include "wire/frame_parser.hpp"
#include "wire/frame_writer.hpp"
#include "wire/message_reader.hpp"

using namespace wspush::wire;
using namespace std::string_literals;

// Every allocation through operator new in this test program, counted: the reader must make
// none per message once its buffer is warm.
namespace {
std::size_t allocations = 0;
std::size_t largestAllocation = 0;
} // namespace

void* operator new(std::size_t size)
{
    ++allocations;
    largestAllocation = std::max(largestAllocation, size);
    if (void* memory = std::malloc(size == 0 ? 1 : size))
        return memory;
    throw std::bad_alloc();
}

// GCC sees free() on what operator new returned once both are inlined: the pair is this one.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* memory) noexcept
{
    std::free(memory);
}

void operator delete(void* memory, std::size_t) noexcept
{
    std::free(memory);
}
#pragma GCC diagnostic pop

namespace {

constexpr unsigned fin = 0x80;
constexpr unsigned rsv1 = 0x40;

// A frame as a server sends it: `first` is the first header byte (FIN, RSV, opcode);
// `lengthForm` 0 for the shortest length encoding, 16 or 64 to force one.
std::string serverFrame(unsigned first, std::string_view payload, int lengthForm = 0)
{
    std::string frame(1, static_cast<char>(first));
    const std::uint64_t length = payload.size();
    if (lengthForm == 0)
        lengthForm = length < 126 ? 7 : length <= 0xffff ? 16 : 64;
    if (lengthForm == 7) {
        frame += static_cast<char>(length);
    } else if (lengthForm == 16) {
        frame += static_cast<char>(126);
        frame += static_cast<char>(length >> 8);
        frame += static_cast<char>(length);
    } else {
        frame += static_cast<char>(127);
        for (int i = 7; i >= 0; --i)
            frame += static_cast<char>(length >> (8 * i));
    }
    return frame + std::string(payload);
}

std::string text(std::string_view payload)
{
    return serverFrame(fin | 0x1, payload);
}

// What a FrameParser reported, with each message's pieces joined.
class ParserRecorder final : public FrameParser::Handler
{
public:
    void onMessageStart(bool binary, bool compressed) noexcept override
    {
        events.push_back(std::string("start ") + (binary ? "binary" : "text") +
                         (compressed ? " compressed" : ""));
        data_.clear();
    }
    void onMessageData(std::string_view piece, bool last) noexcept override
    {
        data_.append(piece);
        if (last)
            events.push_back("message " + data_);
    }
    void onControl(Opcode opcode, std::string_view payload) noexcept override
    {
        events.push_back("control " + std::to_string(static_cast<unsigned>(opcode)) + " " +
                         std::string(payload));
    }

    std::vector<std::string> events;

private:
    std::string data_;
};

struct ParserOutcome
{
    std::vector<std::string> events;
    std::string error;
    bool operator==(const ParserOutcome&) const = default;
};

// Feeds `stream` in pieces ending at `cuts` (then the rest).
ParserOutcome parse(std::string_view stream, const std::vector<std::size_t>& cuts,
                    bool compression = false)
{
    ParserRecorder recorder;
    FrameParser parser(recorder);
    parser.allowCompression(compression);
    std::size_t at = 0;
    bool ok = true;
    for (std::size_t cut : cuts) {
        ok = parser.feed(stream.substr(at, cut - at)) && ok;
        at = cut;
    }
    ok = parser.feed(stream.substr(at)) && ok;
    CHECK(ok == (parser.error() == nullptr));
    return {recorder.events, parser.error() != nullptr ? parser.error() : ""};
}

// The outcome of `stream` fed whole, checked to be the same fed a byte at a time and cut
// in two at every byte.
ParserOutcome parseEverySplit(std::string_view stream, bool compression = false)
{
    ParserOutcome whole = parse(stream, {}, compression);
    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i < stream.size(); ++i)
        bytes.push_back(i);
    CHECK(parse(stream, bytes, compression) == whole);
    for (std::size_t i = 1; i < stream.size(); ++i)
        CHECK(parse(stream, {i}, compression) == whole);
    return whole;
}

std::string parseError(std::string_view stream, bool compression = false)
{
    return parseEverySplit(stream, compression).error;
}

// What a MessageReader reported.
class Messages final : public MessageReader::Handler
{
public:
    void onMessage(std::string& payload, bool binary) noexcept override
    {
        // Sized at once: the tests measure the largest allocation.
        std::string event;
        event.reserve(7 + payload.size());
        event += binary ? "binary " : "text ";
        event += payload;
        events.push_back(std::move(event));
    }
    void onOversized(std::size_t bytes) noexcept override
    {
        events.push_back("oversized " + std::to_string(bytes));
    }
    void onControl(Opcode opcode, std::string_view payload) noexcept override
    {
        events.push_back("control " + std::to_string(static_cast<unsigned>(opcode)) + " " +
                         std::string(payload));
    }

    std::vector<std::string> events;
};

struct ReaderOutcome
{
    std::vector<std::string> events;
    unsigned closeCode = 0;
    std::string error;
    bool operator==(const ReaderOutcome&) const = default;
};

DeflateParameters deflateOn(bool noContextTakeover = false)
{
    DeflateParameters deflate;
    deflate.enabled = true;
    deflate.serverNoContextTakeover = noContextTakeover;
    return deflate;
}

ReaderOutcome read(std::string_view stream, const std::vector<std::size_t>& cuts,
                   const DeflateParameters& deflate, std::size_t maxMessageSize)
{
    Messages messages;
    MessageReader reader(messages, maxMessageSize);
    reader.reset(deflate);
    std::size_t at = 0;
    bool ok = true;
    for (std::size_t cut : cuts) {
        ok = reader.feed(stream.substr(at, cut - at)) && ok;
        at = cut;
    }
    ok = reader.feed(stream.substr(at)) && ok;
    CHECK(ok == (reader.error() == nullptr));
    CHECK(ok == (reader.closeCode() == 0));
    return {messages.events, reader.closeCode(), reader.error() != nullptr ? reader.error() : ""};
}

ReaderOutcome readEverySplit(std::string_view stream, const DeflateParameters& deflate = {},
                             std::size_t maxMessageSize = 1 << 20)
{
    ReaderOutcome whole = read(stream, {}, deflate, maxMessageSize);
    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i < stream.size(); ++i)
        bytes.push_back(i);
    CHECK(read(stream, bytes, deflate, maxMessageSize) == whole);
    for (std::size_t i = 1; i < stream.size(); ++i)
        CHECK(read(stream, {i}, deflate, maxMessageSize) == whole);
    return whole;
}

// A server's compressor (RFC 7692 7.2.1): raw deflate, each message flushed and its
// 00 00 ff ff tail taken off.
class Deflater
{
public:
    explicit Deflater(int windowBits = 15)
    {
        REQUIRE(deflateInit2(&stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -windowBits, 8,
                             Z_DEFAULT_STRATEGY) == Z_OK);
    }
    ~Deflater() { deflateEnd(&stream_); }
    Deflater(const Deflater&) = delete;
    Deflater& operator=(const Deflater&) = delete;

    // With `final`, the message ends its stream with BFINAL and the stream starts again.
    std::string compress(std::string_view message, bool final = false)
    {
        std::string out;
        stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
        stream_.avail_in = static_cast<uInt>(message.size());
        unsigned char buffer[16384];
        do {
            stream_.next_out = buffer;
            stream_.avail_out = sizeof buffer;
            const int result = deflate(&stream_, final ? Z_FINISH : Z_SYNC_FLUSH);
            REQUIRE((result == Z_OK || result == Z_STREAM_END || result == Z_BUF_ERROR));
            out.append(reinterpret_cast<char*>(buffer), sizeof buffer - stream_.avail_out);
        } while (stream_.avail_out == 0);
        if (final) {
            deflateReset(&stream_);
            return out;
        }
        // zlib flushes nothing after a flush: an empty message can be an empty payload.
        if (out.empty())
            return out;
        REQUIRE(out.size() >= 4);
        REQUIRE(out.substr(out.size() - 4) == "\x00\x00\xff\xff"s);
        out.resize(out.size() - 4);
        return out;
    }
    void reset() { deflateReset(&stream_); }

private:
    z_stream stream_{};
};

std::string unmaskedPayload(std::string_view frame, unsigned& first, bool& masked)
{
    REQUIRE(frame.size() >= 2);
    first = static_cast<unsigned char>(frame[0]);
    masked = (static_cast<unsigned char>(frame[1]) & 0x80) != 0;
    std::uint64_t length = static_cast<unsigned char>(frame[1]) & 0x7f;
    std::size_t at = 2;
    if (length == 126) {
        length = (static_cast<unsigned>(static_cast<unsigned char>(frame[2])) << 8) |
                 static_cast<unsigned char>(frame[3]);
        CHECK(length >= 126);
        at = 4;
    } else if (length == 127) {
        length = 0;
        for (int i = 2; i < 10; ++i)
            length = (length << 8) | static_cast<unsigned char>(frame[i]);
        CHECK(length > 0xffff);
        at = 10;
    }
    const std::string_view key = frame.substr(at, 4);
    at += 4;
    REQUIRE(frame.size() == at + length);
    std::string payload(frame.substr(at));
    for (std::size_t i = 0; i < payload.size(); ++i)
        payload[i] = static_cast<char>(payload[i] ^ key[i % 4]);
    return payload;
}

std::string sample(std::size_t size, unsigned seed = 1)
{
    std::string out(size, '\0');
    std::uint32_t state = seed;
    for (char& c : out) {
        state = state * 1664525 + 1013904223;
        c = static_cast<char>(state >> 24);
    }
    return out;
}

} // namespace

TEST_CASE("frames: whole messages, pieces handed on as views into the bytes fed")
{
    const std::string stream =
        text("hello") + serverFrame(fin | 0x2, "\x00\x01"s) + text("") + text(sample(300));
    const ParserOutcome outcome = parseEverySplit(stream);
    CHECK(outcome.error.empty());
    CHECK(outcome.events == std::vector<std::string>{"start text", "message hello", "start binary",
                                                     "message \x00\x01"s, "start text", "message ",
                                                     "start text", "message " + sample(300)});

    class Views final : public FrameParser::Handler
    {
    public:
        void onMessageStart(bool, bool) noexcept override {}
        void onMessageData(std::string_view piece, bool) noexcept override
        {
            inside = inside &&
                     (piece.empty() || (piece.data() >= fed.data() &&
                                        piece.data() + piece.size() <= fed.data() + fed.size()));
        }
        void onControl(Opcode, std::string_view) noexcept override {}
        std::string_view fed;
        bool inside = true;
    } views;
    FrameParser parser(views);
    views.fed = stream;
    CHECK(parser.feed(stream));
    CHECK(views.inside);
}

TEST_CASE("frames: 16-bit and 64-bit lengths, non-minimal ones too")
{
    for (const std::size_t size : {125u, 126u, 200u, 65535u, 65536u, 70000u}) {
        const std::string payload = sample(size, static_cast<unsigned>(size));
        const std::vector<std::string> expected{"start binary", "message " + payload};
        CHECK(parse(serverFrame(fin | 0x2, payload), {}).events == expected);
        CHECK(parse(serverFrame(fin | 0x2, payload, 64), {}).events == expected);
        if (size <= 0xffff)
            CHECK(parse(serverFrame(fin | 0x2, payload, 16), {}).events == expected);
    }
    CHECK(parseEverySplit(serverFrame(fin | 0x1, "short", 16)).events ==
          std::vector<std::string>{"start text", "message short"});
    CHECK(parseEverySplit(serverFrame(fin | 0x1, "short", 64) + text("next")).events ==
          std::vector<std::string>{"start text", "message short", "start text", "message next"});
    // A control frame's length in a longer form is still its length.
    CHECK(parseEverySplit(serverFrame(fin | 0x9, "ping", 16)).events ==
          std::vector<std::string>{"control 9 ping"});

    // A huge frame is fine as long as its bytes come.
    const std::string huge = "\x82\x7f\x00\x00\x01\x00\x00\x00\x00\x00"s + "abc";
    CHECK(parse(huge, {}) == ParserOutcome{{"start binary"}, ""});
    CHECK(parseError("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00"s) ==
          "64-bit length with the top bit set");
    CHECK(parseError("\x82\x7f\xff\xff\xff\xff\xff\xff\xff\xff"s) ==
          "64-bit length with the top bit set");
}

TEST_CASE("frames: control frames between the fragments of a message")
{
    const std::string stream = serverFrame(0x1, "ab") + serverFrame(fin | 0x9, "p") +
                               serverFrame(0x0, "cd") + serverFrame(fin | 0xA, "") +
                               serverFrame(0x0, "") + serverFrame(fin | 0x9, sample(125)) +
                               serverFrame(fin | 0x0, "ef") + serverFrame(fin | 0x8, "\x03\xe8"s);
    const ParserOutcome outcome = parseEverySplit(stream);
    CHECK(outcome.error.empty());
    CHECK(outcome.events == std::vector<std::string>{"start text", "control 9 p", "control 10 ",
                                                     "control 9 " + sample(125), "message abcdef",
                                                     "control 8 \x03\xe8"s});
    // An empty final fragment ends the message.
    CHECK(parseEverySplit(serverFrame(0x2, "xy") + serverFrame(fin | 0x0, "")).events ==
          std::vector<std::string>{"start binary", "message xy"});
}

TEST_CASE("frames: every rule a server's frames break is an error of its own")
{
    CHECK(parseError("\x81\x85\x01\x02\x03\x04hello"s) == "masked frame from the server");
    CHECK(parseError("\x81\x80\x01\x02\x03\x04"s) == "masked frame from the server");
    CHECK(parseError(serverFrame(fin | 0x20 | 0x1, "x")) == "reserved bits set");
    CHECK(parseError(serverFrame(fin | 0x10 | 0x1, "x"), true) == "reserved bits set");
    CHECK(parseError(serverFrame(fin | rsv1 | 0x1, "x")) ==
          "compressed bit without permessage-deflate");
    for (unsigned opcode : {0x3u, 0x4u, 0x5u, 0x6u, 0x7u, 0xBu, 0xCu, 0xDu, 0xEu, 0xFu}) {
        CAPTURE(opcode);
        CHECK(parseError(serverFrame(fin | opcode, "")) == "unknown opcode");
    }
    CHECK(parseError(serverFrame(0x9, "p")) == "fragmented control frame");
    CHECK(parseError(serverFrame(0x8, "")) == "fragmented control frame");
    CHECK(parseError(serverFrame(fin | 0x9, sample(126))) == "control frame longer than 125 bytes");
    CHECK(parseError(serverFrame(fin | 0xA, sample(70000))) ==
          "control frame longer than 125 bytes");
    CHECK(parseError(serverFrame(fin | rsv1 | 0x9, ""), true) ==
          "compressed bit on a control frame");
    CHECK(parseError(serverFrame(fin | 0x0, "x")) == "continuation without a message");
    CHECK(parseError(text("a") + serverFrame(fin | 0x0, "x")) == "continuation without a message");
    CHECK(parseError(serverFrame(0x1, "a") + text("b")) ==
          "data frame inside a fragmented message");
    CHECK(parseError(serverFrame(0x1, "a") + serverFrame(fin | 0x2, "b")) ==
          "data frame inside a fragmented message");
    CHECK(parseError(serverFrame(rsv1 | 0x1, "a") + serverFrame(fin | rsv1 | 0x0, "b"), true) ==
          "compressed bit on a continuation frame");
    CHECK(parseError("\x81\x7f\x80\x00\x00\x00\x00\x00\x00\x05hello"s) ==
          "64-bit length with the top bit set");

    // What came before the violation was reported.
    CHECK(parseEverySplit(text("fine") + serverFrame(fin | 0x3, "")) ==
          ParserOutcome{{"start text", "message fine"}, "unknown opcode"});
}

TEST_CASE("frames: after a violation nothing is parsed until reset()")
{
    ParserRecorder recorder;
    FrameParser parser(recorder);
    CHECK_FALSE(parser.feed("\x83\x00"s));
    CHECK(std::string(parser.error()) == "unknown opcode");
    CHECK_FALSE(parser.feed(text("later")));
    CHECK(recorder.events.empty());
    parser.reset();
    CHECK(parser.error() == nullptr);
    CHECK(parser.feed(text("later")));
    CHECK(recorder.events == std::vector<std::string>{"start text", "message later"});

    // reset() forgets a partial header and a partial message.
    recorder.events.clear();
    CHECK(parser.feed(serverFrame(0x1, "part") + "\x80"));
    parser.reset();
    CHECK(parser.feed(text("new")));
    CHECK(recorder.events == std::vector<std::string>{"start text", "start text", "message new"});
}

TEST_CASE("close codes")
{
    CHECK_FALSE(closeCode("").has_value());
    CHECK_FALSE(closeCode("\x03"s).has_value());
    CHECK(closeCode("\x03\xe8"s) == 1000);
    CHECK(closeCode("\x0f\xa0going"s) == 4000);
    CHECK(closeCode("\xff\xff"s) == 65535);

    for (unsigned code : {1000u, 1001u, 1002u, 1003u, 1007u, 1008u, 1009u, 1010u, 1011u, 1012u,
                          1013u, 1014u, 3000u, 3999u, 4000u, 4999u})
        CHECK(validCloseCode(code));
    for (unsigned code : {0u, 999u, 1004u, 1005u, 1006u, 1015u, 1016u, 2000u, 2999u, 5000u, 65535u})
        CHECK_FALSE(validCloseCode(code));
}

TEST_CASE("client frames are masked and unmask to their payload")
{
    MaskKeys keys;
    for (const std::size_t size :
         {0u, 1u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 125u, 126u, 65535u, 65536u, 70001u}) {
        CAPTURE(size);
        const std::string payload = sample(size, static_cast<unsigned>(size) + 7);
        std::string out = "before";
        appendClientFrame(out, Opcode::Binary, payload, keys);
        REQUIRE(out.starts_with("before"));
        unsigned first = 0;
        bool masked = false;
        CHECK(unmaskedPayload(std::string_view(out).substr(6), first, masked) == payload);
        CHECK(first == (fin | 0x2));
        CHECK(masked);
        if (size >= 8)
            CHECK(std::string_view(out).substr(out.size() - size) != payload);
    }
    for (const Opcode opcode : {Opcode::Text, Opcode::Close, Opcode::Ping, Opcode::Pong}) {
        std::string out;
        appendClientFrame(out, opcode, "wspushd", keys);
        unsigned first = 0;
        bool masked = false;
        CHECK(unmaskedPayload(out, first, masked) == "wspushd");
        CHECK(first == (fin | static_cast<unsigned>(opcode)));
    }
}

TEST_CASE("masking keys differ")
{
    MaskKeys keys;
    std::set<std::uint32_t> seen;
    for (int i = 0; i < 1000; ++i)
        seen.insert(keys.next());
    CHECK(seen.size() >= 999);
    MaskKeys other;
    CHECK(other.next() != keys.next());
}

TEST_CASE("messages: fragments joined, controls passed on")
{
    const std::string stream = serverFrame(0x2, "ab") + serverFrame(fin | 0x9, "p") +
                               serverFrame(0x0, "cd") + serverFrame(fin | 0x0, "ef") +
                               text("whole") + text("") + serverFrame(fin | 0x8, "\x03\xe8"s);
    CHECK(
        readEverySplit(stream) ==
        ReaderOutcome{
            {"control 9 p", "binary abcdef", "text whole", "text ", "control 8 \x03\xe8"s}, 0, ""});
    CHECK(readEverySplit(text("ok") + "\x81\x81\x00\x00\x00\x00x"s) ==
          ReaderOutcome{{"text ok"}, 1002, "masked frame from the server"});
    CHECK(readEverySplit(serverFrame(fin | rsv1 | 0x1, "x")) ==
          ReaderOutcome{{}, 1002, "compressed bit without permessage-deflate"});
}

TEST_CASE("messages: RFC 7692's own examples inflate")
{
    // 7.2.3.1, and 7.2.3.2: the second "Hello" refers back into the first message.
    const std::string hello = "\xf2\x48\xcd\xc9\xc9\x07\x00"s;
    CHECK(readEverySplit(serverFrame(fin | rsv1 | 0x1, hello) +
                             serverFrame(fin | rsv1 | 0x1, "\xf2\x00\x11\x00\x00"s),
                         deflateOn())
              .events == std::vector<std::string>{"text Hello", "text Hello"});
    // 7.2.3.1 fragmented: RSV1 on the first frame only.
    CHECK(readEverySplit(serverFrame(rsv1 | 0x1, "\xf2\x48\xcd"s) + serverFrame(fin | 0x9, "") +
                             serverFrame(fin | 0x0, "\xc9\xc9\x07\x00"s),
                         deflateOn())
              .events == std::vector<std::string>{"control 9 ", "text Hello"});
    // 7.2.3.3: a block with BFINAL, then the 0x00 octet that starts the next stream.
    CHECK(readEverySplit(serverFrame(fin | rsv1 | 0x1, "\xf3\x48\xcd\xc9\xc9\x07\x00\x00"s) +
                             serverFrame(fin | rsv1 | 0x1, hello),
                         deflateOn())
              .events == std::vector<std::string>{"text Hello", "text Hello"});
    // 7.2.3.4: a stored block; 7.2.3.5: two blocks in one message.
    CHECK(readEverySplit(
              serverFrame(fin | rsv1 | 0x2, "\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00"s),
              deflateOn())
              .events == std::vector<std::string>{"binary Hello"});
    CHECK(readEverySplit(serverFrame(fin | rsv1 | 0x1,
                                     "\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00"s),
                         deflateOn())
              .events == std::vector<std::string>{"text Hello"});
    // An empty compressed message, and uncompressed messages among compressed ones.
    CHECK(readEverySplit(serverFrame(fin | rsv1 | 0x1, "") + text("plain") +
                             serverFrame(fin | rsv1 | 0x1, hello) +
                             serverFrame(fin | rsv1 | 0x1, "\x00"s),
                         deflateOn())
              .events == std::vector<std::string>{"text ", "text plain", "text Hello", "text "});
}

TEST_CASE("messages: deflate roundtrip, with and without context takeover")
{
    const std::vector<std::string> texts{
        R"({"event":"price","symbol":"ABC","bid":101.25,"ask":101.5})",
        R"({"event":"price","symbol":"ABC","bid":101.5,"ask":101.75})",
        "",
        R"({"event":"price","symbol":"XYZ","bid":7.0,"ask":7.25})",
        sample(3000, 5),
        std::string(5000, 'a')};
    for (const bool noContextTakeover : {false, true}) {
        CAPTURE(noContextTakeover);
        Deflater deflater;
        std::string stream;
        std::vector<std::string> expected;
        for (const std::string& message : texts) {
            if (noContextTakeover)
                deflater.reset();
            const std::string compressed = deflater.compress(message);
            if (message.size() < 100) {
                stream += serverFrame(fin | rsv1 | 0x1, compressed);
            } else {
                // Fragmented, with a ping between.
                const std::size_t half = compressed.size() / 2;
                stream += serverFrame(rsv1 | 0x1, compressed.substr(0, half)) +
                          serverFrame(fin | 0x9, "hb") +
                          serverFrame(fin | 0x0, compressed.substr(half));
                expected.push_back("control 9 hb");
            }
            expected.push_back("text " + message);
        }
        const ReaderOutcome outcome = readEverySplit(stream, deflateOn(noContextTakeover));
        CHECK(outcome == ReaderOutcome{expected, 0, ""});
    }
}

TEST_CASE("messages: streams ended with BFINAL keep their window")
{
    Deflater deflater;
    std::string stream;
    for (const std::string_view message : {"first message, repeated", "first message, repeated"}) {
        // Without the 0x00 octet RFC 7692 7.2.3.3 asks for: nothing follows the final block.
        stream += serverFrame(fin | rsv1 | 0x1, deflater.compress(message, true));
    }
    stream += serverFrame(fin | rsv1 | 0x1, deflater.compress("then flushed"));
    CHECK(readEverySplit(stream, deflateOn()).events ==
          std::vector<std::string>{"text first message, repeated", "text first message, repeated",
                                   "text then flushed"});
}

TEST_CASE("messages: invalid compressed data fails the link with 1007")
{
    const ReaderOutcome outcome = readEverySplit(
        text("ok") + serverFrame(fin | rsv1 | 0x1, "\xff\xff\xff\xff"s) + text("no"), deflateOn());
    CHECK(outcome.events == std::vector<std::string>{"text ok"});
    CHECK(outcome.closeCode == 1007);
    CHECK(outcome.error.starts_with("invalid compressed data"));

    // A message cut inside a block: the tail does not end it.
    Deflater deflater;
    const std::string compressed = deflater.compress(sample(2000, 3));
    const ReaderOutcome cut = readEverySplit(
        serverFrame(fin | rsv1 | 0x2, compressed.substr(0, compressed.size() / 2)), deflateOn());
    CHECK(cut.events.empty());
    CHECK(cut.closeCode == 1007);
}

TEST_CASE("messages: a compressed bomb is measured, not held")
{
    constexpr std::size_t bombSize = 16'000'000;
    constexpr std::size_t limit = std::size_t{1} << 20;
    Deflater deflater;
    const std::string bomb = deflater.compress(std::string(bombSize, 'x'));
    const std::string after = deflater.compress("after the bomb");
    const std::string stream =
        serverFrame(fin | rsv1 | 0x1, bomb) + serverFrame(fin | rsv1 | 0x1, after);

    Messages messages;
    MessageReader reader(messages, limit);
    reader.reset(deflateOn());
    largestAllocation = 0;
    for (std::size_t at = 0; at < stream.size(); at += 65536)
        REQUIRE(reader.feed(std::string_view(stream).substr(at, 65536)));
    CHECK(messages.events == std::vector<std::string>{"oversized 16000000", "text after the bomb"});
    CHECK(largestAllocation <= limit + 64);

    // Just at the limit it is held; one byte more is not.
    reader.setMaxMessageSize(5000);
    messages.events.clear();
    const std::string atLimit = deflater.compress(std::string(5000, 'y'));
    const std::string overLimit = deflater.compress(std::string(5001, 'y'));
    CHECK(reader.feed(serverFrame(fin | rsv1 | 0x1, atLimit) +
                      serverFrame(fin | rsv1 | 0x1, overLimit)));
    REQUIRE(messages.events.size() == 2);
    CHECK(messages.events[0] == "text " + std::string(5000, 'y'));
    CHECK(messages.events[1] == "oversized 5001");
}

TEST_CASE("messages: an oversized uncompressed message is measured and dropped")
{
    const std::string piece = sample(600'000);
    const std::string stream = serverFrame(0x2, piece) + serverFrame(fin | 0x9, "hb") +
                               serverFrame(0x0, piece) + serverFrame(fin | 0x0, piece) +
                               text("small") + serverFrame(fin | 0x2, sample(1 << 20));
    Messages messages;
    MessageReader reader(messages, 1 << 20);
    reader.reset({});
    largestAllocation = 0;
    for (std::size_t at = 0; at < stream.size(); at += 100'000)
        REQUIRE(reader.feed(std::string_view(stream).substr(at, 100'000)));
    CHECK(largestAllocation <= (std::size_t{1} << 20) + 64);
    REQUIRE(messages.events.size() == 4);
    CHECK(messages.events[0] == "control 9 hb");
    CHECK(messages.events[1] == "oversized 1800000");
    CHECK(messages.events[2] == "text small");
    CHECK(messages.events[3] == "binary " + sample(1 << 20));
}

TEST_CASE("messages: the handler may take the buffer away")
{
    class Taker final : public MessageReader::Handler
    {
    public:
        void onMessage(std::string& payload, bool) noexcept override
        {
            taken.push_back(std::move(payload));
        }
        void onOversized(std::size_t) noexcept override {}
        void onControl(Opcode, std::string_view) noexcept override {}
        std::vector<std::string> taken;
    } taker;
    MessageReader reader(taker, 100);
    reader.reset({});
    CHECK(reader.feed(text("one") + serverFrame(0x1, "tw") + serverFrame(fin | 0x0, "o") +
                      text(sample(100))));
    CHECK(taker.taken == std::vector<std::string>{"one", "two", sample(100)});
}

TEST_CASE("messages: no allocation per message once warm")
{
    constexpr int count = 10'000;
    for (const bool compressed : {false, true}) {
        CAPTURE(compressed);
        Deflater deflater;
        std::string stream;
        for (int i = 0; i < count; ++i) {
            std::string message = sample(200, static_cast<unsigned>(i));
            const std::string start = "{\"n\":" + std::to_string(i) + ",\"pad\":\"";
            message.replace(0, start.size(), start);
            if (compressed)
                stream += serverFrame(fin | rsv1 | 0x1, deflater.compress(message));
            else
                stream += text(message);
        }
        class Counter final : public MessageReader::Handler
        {
        public:
            void onMessage(std::string& payload, bool) noexcept override
            {
                ++messages;
                bytes += payload.size();
            }
            void onOversized(std::size_t) noexcept override {}
            void onControl(Opcode, std::string_view) noexcept override {}
            std::size_t messages = 0;
            std::size_t bytes = 0;
        } counter;
        MessageReader reader(counter, 1 << 20);
        reader.reset(compressed ? deflateOn() : DeflateParameters{});
        // Warm: the first read, cut inside a frame.
        constexpr std::size_t read = 65536;
        REQUIRE(reader.feed(std::string_view(stream).substr(0, read - 5)));
        const std::size_t before = allocations;
        bool ok = true;
        for (std::size_t at = read - 5; at < stream.size(); at += read)
            ok = reader.feed(std::string_view(stream).substr(at, read)) && ok;
        const std::size_t made = allocations - before;
        CHECK(ok);
        CHECK(counter.messages == count);
        CHECK(counter.bytes == std::size_t{200} * count);
        CHECK(made == 0);
    }
}
