// SPDX-License-Identifier: MIT
#include "store/checksum_line.hpp"

#include <cstdio>
#include <zlib.h>

namespace wspush::store {

std::string withChecksum(const std::string& content)
{
    char line[32];
    std::snprintf(line, sizeof line, "crc32 %08lx\n",
                  crc32(0, reinterpret_cast<const Bytef*>(content.data()),
                        static_cast<uInt>(content.size())));
    return content + line;
}

std::optional<std::string> withoutChecksum(const std::string& file)
{
    constexpr std::size_t lineSize = 15; // "crc32 xxxxxxxx\n"
    if (file.size() < lineSize)
        return std::nullopt;
    const std::size_t lineStart = file.size() - lineSize;
    std::string content = file.substr(0, lineStart);
    if (withChecksum(content) != file)
        return std::nullopt;
    return content;
}

} // namespace wspush::store
