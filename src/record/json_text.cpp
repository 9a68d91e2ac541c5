// SPDX-License-Identifier: MIT
#include "record/json_text.hpp"

#include <cstdint>
#include <cstring>

namespace wspush::record {

namespace {

bool isJsonWhitespace(char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool isDigit(char c) noexcept
{
    return c >= '0' && c <= '9';
}

char closerOf(char container) noexcept
{
    return container == '{' ? '}' : ']';
}

bool isHexDigit(char c) noexcept
{
    return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A byte that ends a run of plain string content: a quote, a backslash or a control
// character.
bool isStringSpecial(char c) noexcept
{
    return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
}

// The first string-special byte in [at, end), or end. Most of a payload is string content,
// so it is scanned 16 bytes at a time, with the compiler's portable vector types (SSE2 on
// x86-64): byte by byte, this scan was most of the encoder's cost.
const char* findStringSpecial(const char* at, const char* end) noexcept
{
    using Chunk = unsigned char __attribute__((vector_size(16)));
    while (end - at >= 16) {
        Chunk chunk;
        std::memcpy(&chunk, at, sizeof chunk);
        const auto special = (chunk == '"') | (chunk == '\\') | (chunk < 0x20);
        std::uint64_t halves[2];
        std::memcpy(halves, &special, sizeof halves);
        if ((halves[0] | halves[1]) != 0)
            break;
        at += 16;
    }
    while (at < end && !isStringSpecial(*at))
        ++at;
    return at;
}

int hexValue(char c) noexcept
{
    if (isDigit(c))
        return c - '0';
    return (c | 0x20) - 'a' + 10; // either case
}

bool isHighSurrogate(std::uint32_t unit) noexcept
{
    return unit >= 0xD800 && unit < 0xDC00;
}

bool isLowSurrogate(std::uint32_t unit) noexcept
{
    return unit >= 0xDC00 && unit < 0xE000;
}

// The UTF-16 code unit of a \uXXXX escape that starts at `at`, or -1 when none does.
std::int32_t unicodeEscapeAt(const char* at, const char* end) noexcept
{
    if (end - at < 6 || at[0] != '\\' || at[1] != 'u')
        return -1;
    std::int32_t unit = 0;
    for (int i = 2; i < 6; ++i) {
        if (!isHexDigit(at[i]))
            return -1;
        unit = unit << 4 | hexValue(at[i]);
    }
    return unit;
}

struct EscapedCodePoint
{
    std::uint32_t codePoint = 0;
    std::ptrdiff_t length = 0; // 6, or 12 for a surrogate pair; 0 when there is none
};

// The code point that the \u escape at `at` stands for, with the escape after it when it
// is a high surrogate; none when it is not a \u escape or a surrogate without its half.
EscapedCodePoint codePointAt(const char* at, const char* end) noexcept
{
    const std::int32_t unit = unicodeEscapeAt(at, end);
    if (unit < 0 || isLowSurrogate(static_cast<std::uint32_t>(unit)))
        return {};
    const auto high = static_cast<std::uint32_t>(unit);
    if (!isHighSurrogate(high))
        return {high, 6};
    const std::int32_t low = unicodeEscapeAt(at + 6, end);
    if (low < 0 || !isLowSurrogate(static_cast<std::uint32_t>(low)))
        return {};
    return {0x10000 + ((high - 0xD800) << 10) + (static_cast<std::uint32_t>(low) - 0xDC00), 12};
}

void appendUtf8(std::uint32_t codePoint, std::string& out)
{
    if (codePoint < 0x80) {
        out.push_back(static_cast<char>(codePoint));
    } else if (codePoint < 0x800) {
        out.push_back(static_cast<char>(0xC0 | codePoint >> 6));
        out.push_back(static_cast<char>(0x80 | (codePoint & 0x3F)));
    } else if (codePoint < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | codePoint >> 12));
        out.push_back(static_cast<char>(0x80 | (codePoint >> 6 & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (codePoint & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | codePoint >> 18));
        out.push_back(static_cast<char>(0x80 | (codePoint >> 12 & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (codePoint >> 6 & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (codePoint & 0x3F)));
    }
}

// The character a one-letter escape stands for, or 0 for a letter that is not one.
char unescaped(char letter) noexcept
{
    switch (letter) {
    case '"':
    case '\\':
    case '/':
        return letter;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return 0;
    }
}

// Writes the compact form to `out`, which has room for the whole text: compacting never
// makes it longer, and writing through a pointer cost a third of appending each token.
class CompactingParser
{
public:
    CompactingParser(std::string_view text, char* out) noexcept
        : at_(text.data()), end_(text.data() + text.size()), out_(out)
    {
    }

    bool parse();
    // Where the compact form ends.
    char* outEnd() const noexcept { return out_; }

private:
    void skipWhitespace() noexcept
    {
        while (at_ < end_ && isJsonWhitespace(*at_))
            ++at_;
    }

    bool consume(char c) noexcept
    {
        if (at_ == end_ || *at_ != c)
            return false;
        *out_++ = c;
        ++at_;
        return true;
    }

    void copyFrom(const char* start) noexcept
    {
        const auto length = static_cast<std::size_t>(at_ - start);
        std::memcpy(out_, start, length);
        out_ += length;
    }

    bool parseString() noexcept;
    bool parseNumber() noexcept;
    bool parseLiteral(std::string_view literal) noexcept;
    bool parseScalar() noexcept;
    bool parseMemberName() noexcept;

    const char* at_;
    const char* end_;
    char* out_;
};

bool CompactingParser::parseString() noexcept
{
    const char* start = at_;
    ++at_; // the opening quote
    for (;;) {
        at_ = findStringSpecial(at_, end_);
        if (at_ == end_ || *at_ != '\\') {
            if (at_ == end_ || *at_ != '"')
                return false; // unterminated, or a raw control character
            ++at_;
            copyFrom(start);
            return true;
        }
        if (++at_ == end_)
            return false;
        switch (*at_) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            break;
        case 'u':
            if (end_ - at_ < 5)
                return false;
            for (int i = 1; i <= 4; ++i) {
                if (!isHexDigit(at_[i]))
                    return false;
            }
            at_ += 4;
            break;
        default:
            return false;
        }
        ++at_;
    }
}

bool CompactingParser::parseNumber() noexcept
{
    const char* start = at_;
    if (at_ < end_ && *at_ == '-')
        ++at_;
    if (at_ == end_ || !isDigit(*at_))
        return false;
    if (*at_ == '0') {
        ++at_;
    } else {
        while (at_ < end_ && isDigit(*at_))
            ++at_;
    }
    if (at_ < end_ && *at_ == '.') {
        ++at_;
        if (at_ == end_ || !isDigit(*at_))
            return false;
        while (at_ < end_ && isDigit(*at_))
            ++at_;
    }
    if (at_ < end_ && (*at_ == 'e' || *at_ == 'E')) {
        ++at_;
        if (at_ < end_ && (*at_ == '+' || *at_ == '-'))
            ++at_;
        if (at_ == end_ || !isDigit(*at_))
            return false;
        while (at_ < end_ && isDigit(*at_))
            ++at_;
    }
    copyFrom(start);
    return true;
}

bool CompactingParser::parseLiteral(std::string_view literal) noexcept
{
    if (static_cast<std::size_t>(end_ - at_) < literal.size() ||
        std::string_view(at_, literal.size()) != literal)
        return false;
    const char* start = at_;
    at_ += literal.size();
    copyFrom(start);
    return true;
}

bool CompactingParser::parseScalar() noexcept
{
    switch (*at_) {
    case '"':
        return parseString();
    case 't':
        return parseLiteral("true");
    case 'f':
        return parseLiteral("false");
    case 'n':
        return parseLiteral("null");
    default:
        return parseNumber();
    }
}

bool CompactingParser::parseMemberName() noexcept
{
    skipWhitespace();
    if (at_ == end_ || *at_ != '"' || !parseString())
        return false;
    skipWhitespace();
    return consume(':');
}

bool CompactingParser::parse()
{
    std::string open; // the containers around the current value: '{' or '['
    for (;;) {
        // A value starts here.
        skipWhitespace();
        if (at_ == end_)
            return false;
        if (*at_ == '{' || *at_ == '[') {
            const char container = *at_;
            consume(container);
            skipWhitespace();
            if (!consume(closerOf(container))) {
                open.push_back(container);
                if (container == '{' && !parseMemberName())
                    return false;
                continue;
            }
        } else if (!parseScalar()) {
            return false;
        }

        // A value ended: close containers until the next element starts.
        for (;;) {
            skipWhitespace();
            if (open.empty())
                return at_ == end_;
            if (consume(',')) {
                if (open.back() == '{' && !parseMemberName())
                    return false;
                break;
            }
            if (!consume(closerOf(open.back())))
                return false;
            open.pop_back();
        }
    }
}

} // namespace

bool appendCompactJson(std::string_view text, std::string& out)
{
    const std::size_t start = out.size();
    out.resize(start + text.size());
    CompactingParser parser(text, out.data() + start);
    if (!parser.parse()) {
        out.resize(start);
        return false;
    }
    out.resize(static_cast<std::size_t>(parser.outEnd() - out.data()));
    return true;
}

void appendJsonString(std::string_view text, std::string& out)
{
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    const char* const end = text.data() + text.size();
    const char* runStart = text.data();
    for (;;) {
        const char* special = findStringSpecial(runStart, end);
        out.append(runStart, special);
        if (special == end)
            break;
        const auto c = static_cast<unsigned char>(*special);
        switch (c) {
        case '"':
            out.append("\\\"");
            break;
        case '\\':
            out.append("\\\\");
            break;
        case '\n':
            out.append("\\n");
            break;
        case '\r':
            out.append("\\r");
            break;
        case '\t':
            out.append("\\t");
            break;
        default:
            out.append("\\u00");
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xF]);
        }
        runStart = special + 1;
    }
    out.push_back('"');
}

bool appendJsonStringText(std::string_view quoted, std::string& out)
{
    if (quoted.size() < 2 || quoted.front() != '"' || quoted.back() != '"')
        return false;
    const std::size_t start = out.size();
    const char* at = quoted.data() + 1;
    const char* const end = quoted.data() + quoted.size() - 1; // the closing quote
    for (;;) {
        const char* special = findStringSpecial(at, end);
        out.append(at, special);
        if (special == end)
            return true;
        if (*special == '\\' && end - special >= 2) {
            if (const char c = unescaped(special[1]); c != 0) {
                out.push_back(c);
                at = special + 2;
                continue;
            }
            if (const EscapedCodePoint escaped = codePointAt(special, end); escaped.length > 0) {
                appendUtf8(escaped.codePoint, out);
                at = special + escaped.length;
                continue;
            }
        }
        // A raw quote or control character, an unknown escape, a lone surrogate.
        out.resize(start);
        return false;
    }
}

bool hasLoneSurrogate(std::string_view json) noexcept
{
    const char* at = json.data();
    const char* const end = json.data() + json.size();
    while (at < end) {
        at = static_cast<const char*>(std::memchr(at, '\\', static_cast<std::size_t>(end - at)));
        if (at == nullptr)
            return false;
        if (end - at < 2)
            return false; // not JSON: no escape
        if (at[1] != 'u') {
            at += 2;
            continue;
        }
        const EscapedCodePoint escaped = codePointAt(at, end);
        if (escaped.length == 0)
            return true;
        at += escaped.length;
    }
    return false;
}

} // namespace wspush::record
