// SPDX-License-Identifier: MIT
#include "wire/message_reader.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <new>
#include <stdexcept>

namespace wspush::wire {

namespace {

constexpr std::uint16_t protocolError = 1002;
constexpr std::uint16_t invalidData = 1007;
constexpr std::uint16_t internalError = 1011;

// A buffer this large goes after its message: one rare big message does not keep its memory.
// Up to it, one buffer serves every message.
constexpr std::size_t keptCapacity = std::size_t{256} * 1024;

// What the sender stripped from the end of each compressed message (RFC 7692 7.2.2).
constexpr unsigned char deflateTail[] = {0x00, 0x00, 0xff, 0xff};

// zlib's data_type flag: inflate() stopped between two blocks.
constexpr int atBlockBoundary = 128;

} // namespace

MessageReader::MessageReader(Handler& handler, std::size_t maxMessageSize) noexcept
    : parser_(*this), handler_(handler), maxMessageSize_(maxMessageSize)
{
}

MessageReader::~MessageReader()
{
    if (streamReady_)
        inflateEnd(&stream_);
}

void MessageReader::reset(const DeflateParameters& deflate)
{
    parser_.reset();
    parser_.allowCompression(deflate.enabled);
    deflate_ = deflate;
    closeCode_ = 0;
    error_ = nullptr;
    oversized_ = false;
    messageBytes_ = 0;
    message_.clear();
    if (!deflate.enabled)
        return;
    // A window of 2^15 inflates what any server window size made. One stream serves every
    // message, with server_no_context_takeover too: that server starts each message with an
    // empty window and so never refers back past it, and an inflateReset per message would
    // only add a failed link for a server that breaks its word.
    if (streamReady_) {
        inflateReset(&stream_);
    } else {
        stream_ = z_stream{};
        const int result = inflateInit2(&stream_, -MAX_WBITS);
        if (result != Z_OK)
            throw std::runtime_error(std::string("cannot set up inflation: ") + zError(result));
        streamReady_ = true;
    }
    freshStream_ = true;
}

bool MessageReader::feed(std::string_view bytes) noexcept
{
    if (error_ != nullptr)
        return false;
    const bool parsed = parser_.feed(bytes);
    // An inflation failure came first: the parser went on, unheard.
    if (error_ != nullptr)
        return false;
    if (!parsed) {
        fail(protocolError, parser_.error());
        return false;
    }
    return true;
}

void MessageReader::fail(std::uint16_t code, const char* error) noexcept
{
    if (error_ != nullptr)
        return;
    closeCode_ = code;
    error_ = error;
}

void MessageReader::onMessageStart(bool binary, bool compressed) noexcept
{
    binary_ = binary;
    compressed_ = compressed;
    compressedBytes_ = false;
    oversized_ = false;
    messageBytes_ = 0;
    message_.clear();
}

void MessageReader::onMessageData(std::string_view piece, bool last) noexcept
{
    if (error_ != nullptr)
        return;
    if (!compressed_) {
        take(piece.data(), piece.size());
    } else if (!piece.empty() &&
               !inflatePiece(reinterpret_cast<const unsigned char*>(piece.data()), piece.size())) {
        return;
    }
    if (!last)
        return;
    // An empty compressed message leaves the stream alone (its tail alone would start a
    // stored block), as does one that ended its stream with BFINAL and nothing after.
    if (compressed_ && compressedBytes_ && !freshStream_) {
        if (!inflatePiece(deflateTail, sizeof deflateTail))
            return;
        if ((stream_.data_type & atBlockBoundary) == 0 && !freshStream_) {
            fail(invalidData, "compressed message ends inside a deflate block");
            return;
        }
    }
    finishMessage();
}

void MessageReader::onControl(Opcode opcode, std::string_view payload) noexcept
{
    if (error_ == nullptr)
        handler_.onControl(opcode, payload);
}

void MessageReader::take(const char* bytes, std::size_t size) noexcept
{
    messageBytes_ += size;
    if (oversized_)
        return;
    if (messageBytes_ > maxMessageSize_) {
        oversized_ = true;
        std::string().swap(message_);
        return;
    }
    try {
        // Grows by doubling, but never past maxMessageSize: that is all a message may hold.
        // (reserve() on the string itself would double past it.)
        if (message_.size() + size > message_.capacity()) {
            std::string larger;
            larger.reserve(std::min(std::max(message_.capacity() * 2, message_.size() + size),
                                    maxMessageSize_));
            larger.append(message_);
            message_.swap(larger);
        }
        message_.append(bytes, size);
    } catch (const std::bad_alloc&) {
        // No memory for it: measured and dropped like a message over the limit.
        oversized_ = true;
        std::string().swap(message_);
    }
}

bool MessageReader::inflatePiece(const unsigned char* bytes, std::size_t size) noexcept
{
    compressedBytes_ = true;
    while (size > 0) {
        const std::size_t chunk = std::min<std::size_t>(size, std::numeric_limits<uInt>::max());
        stream_.next_in = const_cast<unsigned char*>(bytes);
        stream_.avail_in = static_cast<uInt>(chunk);
        bytes += chunk;
        size -= chunk;
        do {
            if (stream_.avail_in > 0)
                freshStream_ = false;
            stream_.next_out = scratch_;
            stream_.avail_out = sizeof scratch_;
            const int result = inflate(&stream_, Z_SYNC_FLUSH);
            // Over the limit, the scratch buffer only measures what comes.
            take(reinterpret_cast<const char*>(scratch_), sizeof scratch_ - stream_.avail_out);
            if (result == Z_STREAM_END) {
                if (!restartStream())
                    return false;
                continue;
            }
            if (result == Z_BUF_ERROR) // all taken, nothing pending
                break;
            if (result != Z_OK) {
                if (result == Z_MEM_ERROR) {
                    fail(internalError, "no memory to inflate a message");
                } else {
                    std::snprintf(errorText_, sizeof errorText_, "invalid compressed data (%s)",
                                  stream_.msg != nullptr ? stream_.msg : zError(result));
                    fail(invalidData, errorText_);
                }
                return false;
            }
        } while (stream_.avail_in > 0 || stream_.avail_out == 0);
    }
    return true;
}

bool MessageReader::restartStream() noexcept
{
    // A sender that ends a message's stream with BFINAL (RFC 7692 7.2.3.3) starts a new one
    // after it. With context takeover it may still refer to the old window: keep it.
    uInt windowSize = 0;
    const bool keepWindow = !deflate_.serverNoContextTakeover;
    if (keepWindow && inflateGetDictionary(&stream_, scratch_, &windowSize) != Z_OK)
        windowSize = 0;
    inflateReset(&stream_);
    if (windowSize > 0 && inflateSetDictionary(&stream_, scratch_, windowSize) != Z_OK) {
        fail(internalError, "cannot keep the inflation window");
        return false;
    }
    freshStream_ = true;
    return true;
}

void MessageReader::finishMessage() noexcept
{
    if (oversized_) {
        oversized_ = false;
        handler_.onOversized(messageBytes_);
        return;
    }
    handler_.onMessage(message_, binary_);
    if (message_.capacity() > keptCapacity)
        std::string().swap(message_);
}

} // namespace wspush::wire
