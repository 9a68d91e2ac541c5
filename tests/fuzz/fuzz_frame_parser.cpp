// SPDX-License-Identifier: MIT
// The frame layer on any bytes a server could send. The input's first byte chooses
// permessage-deflate (bit 0) and server_no_context_takeover (bit 1); with the second byte it
// seeds where the stream is cut; the rest is the stream. Fed whole and fed in pieces, the
// reader must report the same messages, controls and failure; no message is over the limit,
// no oversized one within it, no control payload over 125 bytes; a failure is 1002 or 1007
// with a reason, and a 1002 is the parser's own verdict on the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "wire/frame_parser.hpp"
#include "wire/message_reader.hpp"

using wspush::fuzz::require;
namespace wire = wspush::wire;

namespace {

constexpr std::size_t maxMessageSize = 4096;

class Recorder final : public wire::MessageReader::Handler
{
public:
    void onMessage(std::string& payload, bool binary) noexcept override
    {
        require(payload.size() <= maxMessageSize, "a message handed on is within the limit");
        events.push_back((binary ? "binary " : "text ") + payload);
    }
    void onOversized(std::size_t bytes) noexcept override
    {
        require(bytes > maxMessageSize, "an oversized message is over the limit");
        events.push_back("oversized " + std::to_string(bytes));
    }
    void onControl(wire::Opcode opcode, std::string_view payload) noexcept override
    {
        require(payload.size() <= 125, "a control payload is at most 125 bytes");
        require(opcode == wire::Opcode::Close || opcode == wire::Opcode::Ping ||
                    opcode == wire::Opcode::Pong,
                "a control frame is close, ping or pong");
        events.push_back("control " + std::to_string(static_cast<unsigned>(opcode)) + " " +
                         std::string(payload));
    }

    std::vector<std::string> events;
};

struct Outcome
{
    std::vector<std::string> events;
    unsigned closeCode = 0;
    std::string error;
    bool operator==(const Outcome&) const = default;
};

// Pieces of 1 to `longest` bytes from a small generator seeded by the input.
class Cuts
{
public:
    Cuts(std::uint32_t seed, std::size_t longest) : state_(seed | 1), longest_(longest) {}
    std::size_t next() noexcept
    {
        state_ = state_ * 1664525 + 1013904223;
        return 1 + (state_ >> 8) % longest_;
    }

private:
    std::uint32_t state_;
    std::size_t longest_;
};

Outcome finish(const wire::MessageReader& reader, bool ok, Recorder& recorder)
{
    require(ok == (reader.error() == nullptr), "feed() fails exactly when there is an error");
    require(ok == (reader.closeCode() == 0), "a close code exactly on failure");
    if (!ok)
        require(reader.closeCode() == 1002 || reader.closeCode() == 1007 ||
                    reader.closeCode() == 1011,
                "a failure is 1002, 1007 or 1011");
    return {std::move(recorder.events), reader.closeCode(),
            reader.error() != nullptr ? reader.error() : ""};
}

// The parser alone: pieces are views into the bytes fed.
class Views final : public wire::FrameParser::Handler
{
public:
    void onMessageStart(bool, bool) noexcept override {}
    void onMessageData(std::string_view piece, bool) noexcept override
    {
        require(piece.empty() || (piece.data() >= fed.data() &&
                                  piece.data() + piece.size() <= fed.data() + fed.size()),
                "a message piece is a view into the bytes fed");
    }
    void onControl(wire::Opcode, std::string_view payload) noexcept override
    {
        require(payload.size() <= 125, "a control payload is at most 125 bytes");
    }
    std::string_view fed;
};

} // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the entry point libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 2)
        return 0;
    wire::DeflateParameters deflate;
    deflate.enabled = (data[0] & 1) != 0;
    deflate.serverNoContextTakeover = (data[0] & 2) != 0;
    const std::uint32_t seed = (std::uint32_t{data[0]} << 8) | data[1];
    const std::size_t longest = 1 + (data[1] % 4 == 0 ? 1 : data[1]);
    const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

    // Whole, through a reader that earlier inputs used: reset() must forget them.
    static Recorder wholeRecorder;
    static wire::MessageReader wholeReader(wholeRecorder, maxMessageSize);
    wholeReader.reset(deflate);
    wholeRecorder.events.clear();
    const Outcome whole = finish(wholeReader, wholeReader.feed(stream), wholeRecorder);

    Recorder recorder;
    wire::MessageReader reader(recorder, maxMessageSize);
    reader.reset(deflate);
    Cuts cuts(seed, longest);
    bool ok = true;
    for (std::size_t at = 0; at < stream.size();) {
        const std::size_t piece = cuts.next();
        ok = reader.feed(stream.substr(at, piece)) && ok;
        at += piece;
    }
    require(finish(reader, ok, recorder) == whole, "fed in pieces, the same as fed whole");

    Views views;
    wire::FrameParser parser(views);
    parser.allowCompression(deflate.enabled);
    views.fed = stream;
    const bool parsed = parser.feed(stream);
    if (whole.closeCode == 0)
        require(parsed, "the parser takes what the reader takes");
    if (whole.closeCode == 1002)
        require(!parsed && whole.error == parser.error(), "a 1002 is the parser's verdict");
    return 0;
}
