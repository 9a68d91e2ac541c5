// SPDX-License-Identifier: MIT
#include "wire/upgrade_check.hpp"

#include <strings.h>
#include <utility>
#include <vector>

namespace wspush::wire {

namespace {

constexpr std::string_view deflateName = "permessage-deflate";

bool isOws(char c)
{
    return c == ' ' || c == '\t';
}

// RFC 9110 5.6.2.
bool isTokenChar(char c)
{
    constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           extra.find(c) != std::string_view::npos;
}

bool isToken(std::string_view text)
{
    if (text.empty())
        return false;
    for (const char c : text) {
        if (!isTokenChar(c))
            return false;
    }
    return true;
}

// The server's text in a log line: printable, and short enough to read.
std::string shown(std::string_view text)
{
    constexpr std::size_t longest = 64;
    std::string out;
    for (const char c : text.substr(0, longest))
        out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    if (text.size() > longest)
        out += "...";
    return out;
}

bool sameToken(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trimmed(std::string_view text)
{
    while (!text.empty() && isOws(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && isOws(text.back()))
        text.remove_suffix(1);
    return text;
}

// The elements of a comma-separated list (RFC 9110 5.6.1), trimmed, empty ones skipped.
std::vector<std::string_view> listElements(std::string_view list)
{
    std::vector<std::string_view> elements;
    while (!list.empty()) {
        const auto comma = list.find(',');
        if (const auto element = trimmed(list.substr(0, comma)); !element.empty())
            elements.push_back(element);
        if (comma == std::string_view::npos)
            break;
        list.remove_prefix(comma + 1);
    }
    return elements;
}

struct Extension
{
    std::string name;
    // A parameter without a value has nullopt.
    std::vector<std::pair<std::string, std::optional<std::string>>> parameters;
};

// Reads Sec-WebSocket-Extensions (RFC 6455 9.1): 1#(token *(";" token ["=" (token |
// quoted-string)])), with whitespace around the separators. A quoted value must be a token
// once unescaped. False when the text is not of that form.
class ExtensionReader
{
public:
    explicit ExtensionReader(std::string_view text) : text_(text) {}

    bool read(std::vector<Extension>& extensions)
    {
        while (true) {
            skipOws();
            if (atEnd())
                return true;
            if (peek() == ',') {
                ++at_;
                continue;
            }
            Extension extension;
            if (!readToken(extension.name) || !readParameters(extension))
                return false;
            extensions.push_back(std::move(extension));
            skipOws();
            if (!atEnd() && peek() != ',')
                return false;
        }
    }

private:
    bool readParameters(Extension& extension)
    {
        while (true) {
            skipOws();
            if (atEnd() || peek() != ';')
                return true;
            ++at_;
            skipOws();
            std::string name;
            if (!readToken(name))
                return false;
            skipOws();
            std::optional<std::string> value;
            if (!atEnd() && peek() == '=') {
                ++at_;
                skipOws();
                value.emplace();
                const bool quoted = !atEnd() && peek() == '"';
                if (!(quoted ? readQuoted(*value) : readToken(*value)))
                    return false;
            }
            extension.parameters.emplace_back(std::move(name), std::move(value));
        }
    }

    bool readToken(std::string& token)
    {
        const std::size_t start = at_;
        while (!atEnd() && isTokenChar(peek()))
            ++at_;
        token.assign(text_.substr(start, at_ - start));
        return !token.empty();
    }

    bool readQuoted(std::string& value)
    {
        ++at_; // the opening quote
        while (!atEnd()) {
            const char c = text_[at_++];
            if (c == '"')
                return isToken(value);
            if (c == '\\') {
                if (atEnd())
                    return false;
                value.push_back(text_[at_++]);
            } else {
                value.push_back(c);
            }
        }
        return false;
    }

    void skipOws()
    {
        while (!atEnd() && isOws(peek()))
            ++at_;
    }

    bool atEnd() const { return at_ >= text_.size(); }
    char peek() const { return text_[at_]; }

    std::string_view text_;
    std::size_t at_ = 0;
};

bool readExtensions(std::string_view text, std::vector<Extension>& extensions, std::string& why)
{
    if (ExtensionReader(text).read(extensions))
        return true;
    why = "the server's Sec-WebSocket-Extensions cannot be parsed";
    return false;
}

std::string notOffered(std::string_view what, std::string_view name)
{
    std::string why = "the server chose the ";
    why += what;
    why += ' ';
    why += name;
    why += ", which was not offered";
    return why;
}

// 1*DIGIT without leading zeros, 8 to 15 (RFC 7692 7.1.2.1).
std::optional<int> windowBits(std::string_view value)
{
    if (value.size() == 1 && value[0] >= '8' && value[0] <= '9')
        return value[0] - '0';
    if (value.size() == 2 && value[0] == '1' && value[1] >= '0' && value[1] <= '5')
        return 10 + (value[1] - '0');
    return std::nullopt;
}

std::string badParameter(std::string_view name, std::string_view problem)
{
    std::string why = "the server's permessage-deflate answer has ";
    why += name;
    why += problem;
    return why;
}

bool applyDeflateParameters(const Extension& extension, DeflateParameters& deflate,
                            std::string& why)
{
    static constexpr std::string_view known[] = {
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    };
    bool seen[std::size(known)] = {};
    for (const auto& [name, value] : extension.parameters) {
        std::size_t index = 0;
        while (index < std::size(known) && !sameToken(name, known[index]))
            ++index;
        if (index == std::size(known)) {
            why = badParameter(shown(name), ", which is not one of RFC 7692's");
            return false;
        }
        if (seen[index]) {
            why = badParameter(name, " twice");
            return false;
        }
        seen[index] = true;
        if (index < 2) {
            if (value) {
                why = badParameter(name, " with a value");
                return false;
            }
            if (index == 0)
                deflate.serverNoContextTakeover = true;
            else
                deflate.clientNoContextTakeover = true;
            continue;
        }
        // Without a value it is only an offer's (7.1.2.2), never an answer's.
        const auto bits = value ? windowBits(*value) : std::nullopt;
        if (!bits) {
            std::string problem;
            if (value) {
                problem += '=';
                problem += shown(*value);
            } else {
                problem += " without a value";
            }
            problem += ", not 8 to 15";
            why = badParameter(name, problem);
            return false;
        }
        if (index == 2)
            deflate.serverMaxWindowBits = *bits;
        else
            deflate.clientMaxWindowBits = *bits;
    }
    return true;
}

} // namespace

std::optional<DeflateParameters> parseDeflateAnswer(std::string_view extensions, std::string& why)
{
    std::vector<Extension> chosen;
    if (!readExtensions(extensions, chosen, why))
        return std::nullopt;
    DeflateParameters deflate;
    for (const Extension& extension : chosen) {
        if (!sameToken(extension.name, deflateName)) {
            why = notOffered("extension", shown(extension.name));
            return std::nullopt;
        }
        // One offer, one answer (RFC 6455 9.1): a second would be for an offer not made.
        if (deflate.enabled) {
            why = "the server chose permessage-deflate twice";
            return std::nullopt;
        }
        deflate.enabled = true;
        if (!applyDeflateParameters(extension, deflate, why))
            return std::nullopt;
    }
    return deflate;
}

std::string checkUpgradeResponse(const ResponseHead& head, const UpgradeRequest& request,
                                 std::string_view key, UpgradeResult& result)
{
    if (head.status() != 101) {
        std::string why = "the server answered HTTP ";
        why += std::to_string(head.status());
        if (!head.reason().empty()) {
            why += " (";
            why += shown(head.reason());
            why += ')';
        }
        why += " instead of upgrading";
        return why;
    }

    const auto upgrade = head.header("Upgrade");
    if (!upgrade || !sameToken(trimmed(*upgrade), "websocket"))
        return "the server answered without Upgrade: websocket";

    bool connectionUpgrade = false;
    if (const auto connection = head.header("Connection")) {
        for (const std::string_view option : listElements(*connection))
            connectionUpgrade = connectionUpgrade || sameToken(option, "upgrade");
    }
    if (!connectionUpgrade)
        return "the server answered without Connection: Upgrade";

    const auto accept = head.header("Sec-WebSocket-Accept");
    if (!accept)
        return "the server answered without Sec-WebSocket-Accept";
    if (const std::string expected = expectedAccept(key);
        expected.empty() || trimmed(*accept) != expected)
        return "the server's Sec-WebSocket-Accept does not match the key";

    UpgradeResult agreed;
    if (const auto protocol = head.header("Sec-WebSocket-Protocol")) {
        const std::string_view chosen = trimmed(*protocol);
        bool offered = false;
        for (const std::string_view candidate : listElements(request.subprotocol))
            offered = offered || candidate == chosen;
        if (!chosen.empty() && !offered)
            return notOffered("subprotocol", shown(chosen));
        agreed.subprotocol = chosen;
    }

    if (const auto extensions = head.header("Sec-WebSocket-Extensions")) {
        std::string why;
        if (!request.offerDeflate) {
            std::vector<Extension> chosen;
            if (!readExtensions(*extensions, chosen, why))
                return why;
            if (!chosen.empty())
                return notOffered("extension", shown(chosen.front().name));
        } else if (const auto deflate = parseDeflateAnswer(*extensions, why)) {
            agreed.deflate = *deflate;
        } else {
            return why;
        }
    }

    result = std::move(agreed);
    return {};
}

} // namespace wspush::wire
