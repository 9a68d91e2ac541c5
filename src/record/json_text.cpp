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

} // namespace wspush::record
