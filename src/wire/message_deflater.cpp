// SPDX-License-Identifier: MIT
#include "wire/message_deflater.hpp"

#include <stdexcept>

namespace wspush::wire {

MessageDeflater::~MessageDeflater()
{
    end();
}

void MessageDeflater::end() noexcept
{
    if (initialised_)
        deflateEnd(&stream_);
    initialised_ = false;
    active_ = false;
}

void MessageDeflater::reset(const DeflateParameters& deflate)
{
    end();
    if (!deflate.enabled || deflate.clientMaxWindowBits < 9)
        return;
    stream_ = {};
    // Memory level 8 is zlib's default; the window is what the server allowed.
    if (deflateInit2(&stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -deflate.clientMaxWindowBits, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("cannot set up compression for the link");
    initialised_ = true;
    active_ = true;
    resetEachMessage_ = deflate.clientNoContextTakeover;
}

void MessageDeflater::compress(std::string_view message, std::string& out)
{
    const std::size_t start = out.size();
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
    stream_.avail_in = static_cast<uInt>(message.size());
    do {
        const std::size_t room = deflateBound(&stream_, stream_.avail_in) + 16;
        const std::size_t before = out.size();
        out.resize(before + room);
        stream_.next_out = reinterpret_cast<Bytef*>(out.data() + before);
        stream_.avail_out = static_cast<uInt>(room);
        const int result = deflate(&stream_, Z_SYNC_FLUSH);
        out.resize(out.size() - stream_.avail_out);
        if (result != Z_OK && result != Z_BUF_ERROR)
            throw std::runtime_error("compression failed");
    } while (stream_.avail_in != 0 || stream_.avail_out == 0);
    // 7.2.1: the sync flush's empty stored block is not sent.
    if (out.size() - start >= 4 && out.compare(out.size() - 4, 4, "\0\0\xff\xff", 4) == 0)
        out.resize(out.size() - 4);
    if (resetEachMessage_)
        deflateReset(&stream_);
}

} // namespace wspush::wire
