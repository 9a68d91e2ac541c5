// SPDX-License-Identifier: MIT
#include "wire/frame_writer.hpp"

#include <cassert>
#include <cstring>
#include <openssl/rand.h>
#include <sys/random.h>

namespace wspush::wire {

void MaskKeys::refill() noexcept
{
    if (RAND_bytes(reinterpret_cast<unsigned char*>(keys_), sizeof keys_) != 1 &&
        getrandom(keys_, sizeof keys_, 0) != static_cast<ssize_t>(sizeof keys_)) {
        // No randomness at all: the frames stay valid, only their keys become guessable,
        // which matters to browsers running foreign scripts, not to this daemon.
        for (std::size_t i = 0; i < blockKeys; ++i)
            keys_[i] = keys_[i] * 2654435761u + static_cast<std::uint32_t>(i) + 1;
    }
    used_ = 0;
}

std::uint32_t MaskKeys::next() noexcept
{
    if (used_ == blockKeys)
        refill();
    return keys_[used_++];
}

void appendClientFrame(std::string& out, Opcode opcode, std::string_view payload, MaskKeys& keys)
{
    assert((static_cast<unsigned>(opcode) & 0x8) == 0 || payload.size() <= 125);
    unsigned char header[14];
    std::size_t headerSize = 2;
    header[0] = static_cast<unsigned char>(0x80 | static_cast<unsigned>(opcode));
    const std::uint64_t length = payload.size();
    if (length < 126) {
        header[1] = static_cast<unsigned char>(0x80 | length);
    } else if (length <= 0xffff) {
        header[1] = 0x80 | 126;
        header[2] = static_cast<unsigned char>(length >> 8);
        header[3] = static_cast<unsigned char>(length);
        headerSize = 4;
    } else {
        header[1] = 0x80 | 127;
        for (int i = 0; i < 8; ++i)
            header[2 + i] = static_cast<unsigned char>(length >> (56 - 8 * i));
        headerSize = 10;
    }
    const std::uint32_t key = keys.next();
    std::memcpy(header + headerSize, &key, 4);
    headerSize += 4;

    out.append(reinterpret_cast<const char*>(header), headerSize);
    const std::size_t start = out.size();
    out.append(payload);
    char* masked = out.data() + start;
    const std::size_t size = payload.size();

    // The key's 4 bytes twice, in memory order: 8 payload bytes per XOR.
    unsigned char keyBytes[8];
    std::memcpy(keyBytes, &key, 4);
    std::memcpy(keyBytes + 4, &key, 4);
    std::uint64_t wideKey = 0;
    std::memcpy(&wideKey, keyBytes, 8);
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, masked + i, 8);
        word ^= wideKey;
        std::memcpy(masked + i, &word, 8);
    }
    for (; i < size; ++i)
        masked[i] = static_cast<char>(masked[i] ^ keyBytes[i % 4]);
}

} // namespace wspush::wire
