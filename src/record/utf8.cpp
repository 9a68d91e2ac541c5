// SPDX-License-Identifier: MIT
#include "record/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace wspush::record {

namespace {

constexpr std::string_view replacementCharacter = "\xEF\xBF\xBD";

// Where the first byte of 0x80 or above is, from `at` on: ASCII is checked 16 bytes at a
// time, 8 times cheaper than byte by byte.
std::size_t skipAscii(std::string_view text, std::size_t at) noexcept
{
    constexpr std::uint64_t highBits = 0x8080808080808080;
    while (text.size() - at >= 16) {
        std::uint64_t words[2];
        std::memcpy(words, text.data() + at, sizeof words);
        if (((words[0] | words[1]) & highBits) != 0)
            break;
        at += 16;
    }
    while (at < text.size() && static_cast<unsigned char>(text[at]) < 0x80)
        ++at;
    return at;
}

// Length of the well-formed sequence starting at `at`, or of the maximal invalid prefix
// there (negated), following Table 3-7 of the Unicode standard.
int sequenceLength(std::string_view text, std::size_t at) noexcept
{
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[at + i]); };
    const std::size_t left = text.size() - at;
    const unsigned char lead = byte(0);
    if (lead < 0x80)
        return 1;

    int need = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        need = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 2;
        if (lead == 0xE0)
            low = 0xA0;
        else if (lead == 0xED)
            high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        need = 3;
        if (lead == 0xF0)
            low = 0x90;
        else if (lead == 0xF4)
            high = 0x8F;
    } else {
        return -1;
    }

    for (int i = 1; i <= need; ++i) {
        if (static_cast<std::size_t>(i) >= left)
            return -i;
        const unsigned char next = byte(i);
        const unsigned char min = i == 1 ? low : 0x80;
        const unsigned char max = i == 1 ? high : 0xBF;
        if (next < min || next > max)
            return -i;
    }
    return need + 1;
}

} // namespace

bool isValidUtf8(std::string_view text) noexcept
{
    for (std::size_t at = skipAscii(text, 0); at < text.size(); at = skipAscii(text, at)) {
        const int length = sequenceLength(text, at);
        if (length < 0)
            return false;
        at += static_cast<std::size_t>(length);
    }
    return true;
}

std::size_t appendSanitizedUtf8(std::string_view text, std::string& out)
{
    std::size_t replaced = 0;
    std::size_t runStart = 0;
    std::size_t at = 0;
    while (at < text.size()) {
        if (static_cast<unsigned char>(text[at]) < 0x80) {
            ++at;
            continue;
        }
        const int length = sequenceLength(text, at);
        if (length > 0) {
            at += static_cast<std::size_t>(length);
            continue;
        }
        out.append(text.substr(runStart, at - runStart));
        out.append(replacementCharacter);
        ++replaced;
        at += static_cast<std::size_t>(-length);
        runStart = at;
    }
    out.append(text.substr(runStart));
    return replaced;
}

} // namespace wspush::record
