// SPDX-License-Identifier: MIT
#include "record/base64.hpp"

#include <libwebsockets.h>

namespace wspush::record {

void appendBase64(std::string_view bytes, std::string& out)
{
    const std::size_t start = out.size();
    // lws wants room for two bytes past the encoded text, or it refuses.
    const std::size_t room = (bytes.size() + 2) / 3 * 4 + 2;
    out.resize(start + room);
    const int written = lws_b64_encode_string(bytes.data(), static_cast<int>(bytes.size()),
                                              out.data() + start, static_cast<int>(room));
    out.resize(start + static_cast<std::size_t>(written < 0 ? 0 : written));
}

std::string decodeBase64(std::string_view text)
{
    // lws stops short unless it has two bytes of room past the decoded bytes.
    const std::size_t room = (text.size() + 3) / 4 * 3 + 2;
    std::string bytes(room, '\0');
    const int decoded = lws_b64_decode_string_len(text.data(), static_cast<int>(text.size()),
                                                  bytes.data(), static_cast<int>(room));
    bytes.resize(static_cast<std::size_t>(decoded < 0 ? 0 : decoded));
    return bytes;
}

} // namespace wspush::record
