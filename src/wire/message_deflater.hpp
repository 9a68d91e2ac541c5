// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

#include <zlib.h>

#include "wire/deflate_parameters.hpp"

namespace wspush::wire {

// Compresses what the client sends (RFC 7692 7.2.1) within the window and context rules the
// server accepted. Only heartbeats and the local apps' messages go this way: it is not on
// the receive path.
class MessageDeflater
{
public:
    MessageDeflater() = default;
    ~MessageDeflater();
    MessageDeflater(const MessageDeflater&) = delete;
    MessageDeflater& operator=(const MessageDeflater&) = delete;

    // A new connection. Throws on error.
    void reset(const DeflateParameters& deflate);
    // Whether messages go compressed: zlib cannot keep to an 8-bit window, so a server
    // that asks for one gets them uncompressed, as 7.2.3 allows.
    bool isActive() const noexcept { return active_; }
    // Appends `message` compressed, without the 00 00 ff ff tail, to `out`. Throws on error.
    void compress(std::string_view message, std::string& out);

private:
    void end() noexcept;

    z_stream stream_{};
    bool initialised_ = false;
    bool active_ = false;
    bool resetEachMessage_ = false;
};

} // namespace wspush::wire
