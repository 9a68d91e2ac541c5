// SPDX-License-Identifier: MIT
#include "record/json_text.hpp"

#include <vector>

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

class CompactingParser
{
public:
    CompactingParser(std::string_view text, std::string& out) noexcept
        : at_(text.data()), end_(text.data() + text.size()), out_(out)
    {
    }

    bool parse();

private:
    void skipWhitespace() noexcept
    {
        while (at_ < end_ && isJsonWhitespace(*at_))
            ++at_;
    }

    bool consume(char c)
    {
        if (at_ == end_ || *at_ != c)
            return false;
        out_.push_back(c);
        ++at_;
        return true;
    }

    bool parseString();
    bool parseNumber();
    bool parseLiteral(std::string_view literal);
    bool parseScalar();
    bool parseMemberName();

    const char* at_;
    const char* end_;
    std::string& out_;
};

bool CompactingParser::parseString()
{
    const char* start = at_;
    ++at_; // the opening quote
    while (at_ < end_) {
        const char c = *at_;
        if (c == '"') {
            ++at_;
            out_.append(start, at_);
            return true;
        }
        if (static_cast<unsigned char>(c) < 0x20)
            return false;
        if (c == '\\') {
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
        }
        ++at_;
    }
    return false;
}

bool CompactingParser::parseNumber()
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
    out_.append(start, at_);
    return true;
}

bool CompactingParser::parseLiteral(std::string_view literal)
{
    if (static_cast<std::size_t>(end_ - at_) < literal.size() ||
        std::string_view(at_, literal.size()) != literal)
        return false;
    out_.append(literal);
    at_ += literal.size();
    return true;
}

bool CompactingParser::parseScalar()
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

bool CompactingParser::parseMemberName()
{
    skipWhitespace();
    if (at_ == end_ || *at_ != '"' || !parseString())
        return false;
    skipWhitespace();
    return consume(':');
}

bool CompactingParser::parse()
{
    std::vector<char> open; // the containers around the current value: '{' or '['
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
    const std::size_t restoreTo = out.size();
    CompactingParser parser(text, out);
    if (parser.parse())
        return true;
    out.resize(restoreTo);
    return false;
}

void appendJsonString(std::string_view text, std::string& out)
{
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t runStart = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out.append(text.substr(runStart, i - runStart));
        runStart = i + 1;
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
    }
    out.append(text.substr(runStart));
    out.push_back('"');
}

} // namespace wspush::record
