// SPDX-License-Identifier: MIT
#include "testserver/resume.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "testserver/control.hpp"

namespace wspush::testserver {

namespace {

constexpr int kMaxDepth = 32;

// Just enough of a JSON reader to find two members of an object, skipping the others.
class JsonReader
{
public:
    explicit JsonReader(std::string_view text) : text_(text) {}

    bool atEnd()
    {
        skipBlanks();
        return at_ == text_.size();
    }

    bool take(char c)
    {
        skipBlanks();
        if (at_ < text_.size() && text_[at_] == c) {
            ++at_;
            return true;
        }
        return false;
    }

    bool peek(char c)
    {
        skipBlanks();
        return at_ < text_.size() && text_[at_] == c;
    }

    std::optional<std::string> string()
    {
        if (!take('"')) {
            return std::nullopt;
        }
        std::string value;
        while (at_ < text_.size()) {
            const char c = text_[at_++];
            if (c == '"') {
                return value;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                return std::nullopt;
            }
            if (c != '\\') {
                value.push_back(c);
                continue;
            }
            if (at_ == text_.size()) {
                return std::nullopt;
            }
            const char escaped = text_[at_++];
            switch (escaped) {
            case '"':
            case '\\':
            case '/':
                value.push_back(escaped);
                break;
            case 'b':
                value.push_back('\b');
                break;
            case 'f':
                value.push_back('\f');
                break;
            case 'n':
                value.push_back('\n');
                break;
            case 'r':
                value.push_back('\r');
                break;
            case 't':
                value.push_back('\t');
                break;
            case 'u':
                if (!unicodeEscape(value)) {
                    return std::nullopt;
                }
                break;
            default:
                return std::nullopt;
            }
        }
        return std::nullopt;
    }

    bool literal(std::string_view word)
    {
        skipBlanks();
        if (text_.substr(at_).starts_with(word)) {
            at_ += word.size();
            return true;
        }
        return false;
    }

    // Any value, read and forgotten.
    bool skipValue(int depth = 0)
    {
        if (depth > kMaxDepth) {
            return false;
        }
        skipBlanks();
        if (peek('"')) {
            return string().has_value();
        }
        if (take('{')) {
            if (take('}')) {
                return true;
            }
            do {
                if (!string() || !take(':') || !skipValue(depth + 1)) {
                    return false;
                }
            } while (take(','));
            return take('}');
        }
        if (take('[')) {
            if (take(']')) {
                return true;
            }
            do {
                if (!skipValue(depth + 1)) {
                    return false;
                }
            } while (take(','));
            return take(']');
        }
        if (literal("true") || literal("false") || literal("null")) {
            return true;
        }
        return number();
    }

private:
    void skipBlanks()
    {
        while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' ||
                                      text_[at_] == '\n' || text_[at_] == '\r')) {
            ++at_;
        }
    }

    bool number()
    {
        const std::size_t start = at_;
        while (at_ < text_.size() &&
               (std::isdigit(static_cast<unsigned char>(text_[at_])) != 0 ||
                std::string_view("+-.eE").find(text_[at_]) != std::string_view::npos)) {
            ++at_;
        }
        return at_ > start;
    }

    std::optional<unsigned> hex4()
    {
        unsigned value = 0;
        if (text_.size() - at_ < 4 || !parseHexWord(text_.substr(at_, 4), value)) {
            return std::nullopt;
        }
        at_ += 4;
        return value;
    }

    static bool parseHexWord(std::string_view digits, unsigned& value)
    {
        const auto [ptr, error] =
            std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
        return error == std::errc() && ptr == digits.data() + digits.size();
    }

    bool unicodeEscape(std::string& out)
    {
        auto unit = hex4();
        if (!unit) {
            return false;
        }
        std::uint32_t code = *unit;
        if (code >= 0xd800 && code < 0xdc00) {
            if (!text_.substr(at_).starts_with("\\u")) {
                return false;
            }
            at_ += 2;
            const auto low = hex4();
            if (!low || *low < 0xdc00 || *low >= 0xe000) {
                return false;
            }
            code = 0x10000 + ((code - 0xd800) << 10) + (*low - 0xdc00);
        } else if (code >= 0xdc00 && code < 0xe000) {
            return false;
        }
        appendUtf8(out, code);
        return true;
    }

    static void appendUtf8(std::string& out, std::uint32_t code)
    {
        if (code < 0x80) {
            out.push_back(static_cast<char>(code));
        } else if (code < 0x800) {
            out.push_back(static_cast<char>(0xc0 | (code >> 6)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
        } else if (code < 0x10000) {
            out.push_back(static_cast<char>(0xe0 | (code >> 12)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
        } else {
            out.push_back(static_cast<char>(0xf0 | (code >> 18)));
            out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
        }
    }

    std::string_view text_;
    std::size_t at_ = 0;
};

} // namespace

std::optional<ResumeSource> parseResumeSource(std::string_view mode)
{
    if (mode == "message") {
        return ResumeSource{ResumeSource::Kind::Message, ""};
    }
    const std::size_t colon = mode.find(':');
    if (colon == std::string_view::npos || colon + 1 == mode.size()) {
        return std::nullopt;
    }
    const std::string_view kind = mode.substr(0, colon);
    const std::string name(mode.substr(colon + 1));
    if (kind == "query" && name.find_first_of("&=#? ") == std::string::npos) {
        return ResumeSource{ResumeSource::Kind::Query, name};
    }
    if (kind == "header" && std::ranges::all_of(name, [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                   std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
        })) {
        return ResumeSource{ResumeSource::Kind::Header, name};
    }
    return std::nullopt;
}

std::optional<std::optional<std::string>> parseResumeMessage(std::string_view text)
{
    JsonReader reader(text);
    if (!reader.take('{')) {
        return std::nullopt;
    }
    bool resume = false;
    std::string id; // "" for absent or null: the same as an empty id
    if (!reader.take('}')) {
        do {
            const auto key = reader.string();
            if (!key || !reader.take(':')) {
                return std::nullopt;
            }
            if (*key == "op") {
                const auto op = reader.string();
                if (!op) {
                    return std::nullopt;
                }
                resume = *op == "resume";
            } else if (*key == "id") {
                if (reader.literal("null")) {
                    id.clear();
                } else if (auto value = reader.string()) {
                    id = *std::move(value);
                } else {
                    return std::nullopt;
                }
            } else if (!reader.skipValue()) {
                return std::nullopt;
            }
        } while (reader.take(','));
        if (!reader.take('}')) {
            return std::nullopt;
        }
    }
    if (!reader.atEnd() || !resume) {
        return std::nullopt;
    }
    std::optional<std::string> named;
    if (!id.empty()) {
        named = std::move(id);
    }
    return std::optional<std::optional<std::string>>(std::in_place, std::move(named));
}

} // namespace wspush::testserver
