// SPDX-License-Identifier: MIT
#include "store/record_format.hpp"

#include <cstring>
#include <zlib.h>

namespace wspush::store {

namespace {

constexpr std::uint32_t binaryFlag = 1;

template <typename T>
void put(std::string& out, T value)
{
    char bytes[sizeof(T)];
    for (std::size_t i = 0; i < sizeof(T); ++i)
        bytes[i] = static_cast<char>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xff);
    out.append(bytes, sizeof bytes);
}

template <typename T>
T get(const char* at) noexcept
{
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        value |= static_cast<std::uint64_t>(static_cast<unsigned char>(at[i])) << (8 * i);
    return static_cast<T>(value);
}

std::uint32_t checksum(const char* data, std::size_t length) noexcept
{
    uLong crc = crc32(0, nullptr, 0);
    while (length > 0) {
        const auto chunk = static_cast<uInt>(std::min<std::size_t>(length, 1U << 30));
        crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
        data += chunk;
        length -= chunk;
    }
    return static_cast<std::uint32_t>(crc);
}

} // namespace

void appendStored(const record::Record& record, std::string& out)
{
    const std::size_t start = out.size();
    put<std::uint32_t>(out, static_cast<std::uint32_t>(record.payload.size()));
    put<std::uint32_t>(out, 0);
    put<std::uint64_t>(out, record.seq);
    put<std::int64_t>(out, record.receivedUs);
    put<std::uint32_t>(out, record.binary ? binaryFlag : 0);
    out.append(record.payload);
    const std::uint32_t crc = checksum(out.data() + start + 8, out.size() - start - 8);
    for (std::size_t i = 0; i < 4; ++i)
        out[start + 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
}

StoredHeader storedHeader(const char* at) noexcept
{
    return {get<std::uint64_t>(at + 8), get<std::int64_t>(at + 16),
            headerSize + get<std::uint32_t>(at)};
}

namespace {

ParseResult parse(std::string_view bytes, StoredRecord& out, std::uint64_t afterSeq,
                  std::uint64_t reach, bool verify) noexcept
{
    if (bytes.size() < headerSize)
        return ParseResult::Incomplete;
    const auto length = get<std::uint32_t>(bytes.data());
    const auto flags = get<std::uint32_t>(bytes.data() + 24);
    const auto seq = get<std::uint64_t>(bytes.data() + 8);
    if (length > maxStoredPayload || (flags & ~binaryFlag) != 0 || seq <= afterSeq ||
        seq - afterSeq > reach)
        return ParseResult::Damaged;
    if (bytes.size() < headerSize + length)
        return ParseResult::Incomplete;
    if (verify &&
        get<std::uint32_t>(bytes.data() + 4) != checksum(bytes.data() + 8, headerSize - 8 + length))
        return ParseResult::Damaged;
    out.seq = seq;
    out.receivedUs = get<std::int64_t>(bytes.data() + 16);
    out.binary = (flags & binaryFlag) != 0;
    out.payload = bytes.substr(headerSize, length);
    out.size = headerSize + length;
    return ParseResult::Complete;
}

} // namespace

ParseResult parseStored(std::string_view bytes, StoredRecord& out, std::uint64_t afterSeq,
                        std::uint64_t reach) noexcept
{
    return parse(bytes, out, afterSeq, reach, true);
}

ParseResult parseChecked(std::string_view bytes, StoredRecord& out) noexcept
{
    return parse(bytes, out, 0, UINT64_MAX, false);
}

} // namespace wspush::store
