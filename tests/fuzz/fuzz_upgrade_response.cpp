// SPDX-License-Identifier: MIT
// The upgrade's reading side on any bytes a server or proxy may send. The input's first byte
// chooses what the request offered (bit 0: permessage-deflate, bit 1: the subprotocol
// wspush.v1, bit 2: "chat, wspush.v1") and the second seeds the split points; the rest is
// the answer. Fed at those points, ResponseHead must reach the same verdict, keep the same
// head (and leave the same bytes behind it) as when fed whole; what the checks accept must be
// within what was offered.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "wire/proxy_request.hpp"
#include "wire/response_head.hpp"
#include "wire/retry_after.hpp"
#include "wire/upgrade_check.hpp"
#include "wire/upgrade_request.hpp"

using wspush::fuzz::require;
namespace wire = wspush::wire;
using Progress = wire::ResponseHead::Progress;

namespace {

// RFC 6455 1.3's key: the seed corpus's good answers carry its accept value.
constexpr std::string_view key = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr auto longestWait = std::chrono::hours(1);

constexpr std::string_view namesLookedAt[] = {
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Retry-After",
    "WWW-Authenticate",
    "Content-Length",
};

struct Fed
{
    wire::ResponseHead head;
    Progress progress = Progress::NeedMore;
    std::size_t consumed = 0;
};

Fed feedWhole(std::string_view bytes)
{
    Fed fed;
    fed.progress = fed.head.feed(bytes, fed.consumed);
    return fed;
}

Fed feedInPieces(std::string_view bytes, std::uint32_t seed)
{
    Fed fed;
    const std::size_t longest = (seed & 0x80) != 0 ? 8 : 600;
    std::uint32_t state = seed * 2654435761U + 1;
    std::size_t at = 0;
    while (fed.progress == Progress::NeedMore && at < bytes.size()) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        const std::size_t piece = 1 + state % longest;
        std::size_t consumed = 0;
        fed.progress = fed.head.feed(bytes.substr(at, piece), consumed);
        require(consumed <= piece, "a feed takes no more than it was given");
        if (fed.progress == Progress::NeedMore)
            require(consumed == std::min(piece, bytes.size() - at), "NeedMore takes it all");
        fed.consumed += consumed;
        at += std::min(piece, bytes.size() - at);
    }
    return fed;
}

void requireSameHead(const wire::ResponseHead& a, const wire::ResponseHead& b)
{
    require(a.status() == b.status(), "the same status in pieces as whole");
    require(a.reason() == b.reason(), "the same reason phrase in pieces as whole");
    for (const std::string_view name : namesLookedAt)
        require(a.header(name) == b.header(name), "the same fields in pieces as whole");
}

void checkDeflate(const wire::DeflateParameters& deflate)
{
    require(deflate.serverMaxWindowBits >= 8 && deflate.serverMaxWindowBits <= 15,
            "server_max_window_bits is 8 to 15");
    require(deflate.clientMaxWindowBits >= 8 && deflate.clientMaxWindowBits <= 15,
            "client_max_window_bits is 8 to 15");
    require(deflate.enabled || deflate == wire::DeflateParameters{},
            "no parameters without the extension");
}

void checkDeflateAnswer(std::string_view text)
{
    std::string why;
    if (const auto deflate = wire::parseDeflateAnswer(text, why)) {
        require(why.empty(), "an accepted answer has no complaint");
        checkDeflate(*deflate);
    } else {
        require(!why.empty(), "a refused answer says why");
    }
}

std::string check(const wire::ResponseHead& head, const wire::UpgradeRequest& request,
                  wire::UpgradeResult& result)
{
    std::string why = wire::checkUpgradeResponse(head, request, key, result);
    if (!why.empty())
        return why;
    require(head.status() == 101, "only a 101 passes");
    require(head.header("Sec-WebSocket-Accept").has_value(),
            "only an answer with its accept passes");
    const std::string& chosen = result.subprotocol;
    require(chosen.empty() || chosen == "wspush.v1" ||
                (chosen == "chat" && request.subprotocol == "chat, wspush.v1"),
            "only an offered subprotocol is chosen");
    require(chosen.empty() || !request.subprotocol.empty(), "no subprotocol unless offered");
    require(request.offerDeflate || !result.deflate.enabled, "only an offered extension is chosen");
    checkDeflate(result.deflate);
    return why;
}

// Every line of a request ends in CRLF and no field can add one.
void checkLines(const std::string& text, std::size_t lines)
{
    std::size_t found = 0;
    for (std::size_t at = 0; at < text.size(); ++at) {
        if (text[at] == '\n') {
            require(at > 0 && text[at - 1] == '\r', "a line ends in CRLF");
            ++found;
        } else if (text[at] == '\r') {
            require(at + 1 < text.size() && text[at + 1] == '\n', "CR only before LF");
        }
    }
    require(found == lines && text.ends_with("\r\n\r\n"), "a request has its own lines only");
}

} // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the entry point libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 2)
        return 0;
    const std::uint8_t options = data[0];
    const std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);

    wire::UpgradeRequest request;
    request.target = "/websocket/u1";
    request.host = "push.example.com";
    request.offerDeflate = (options & 1) != 0;
    if ((options & 4) != 0)
        request.subprotocol = "chat, wspush.v1";
    else if ((options & 2) != 0)
        request.subprotocol = "wspush.v1";

    const Fed whole = feedWhole(bytes);
    const Fed pieces = feedInPieces(bytes, data[1] | (static_cast<std::uint32_t>(size) << 8));
    require(whole.progress == pieces.progress, "the same verdict in pieces as whole");
    require(whole.consumed <= bytes.size(), "no more taken than given");

    switch (whole.progress) {
    case Progress::NeedMore:
        require(whole.consumed == bytes.size() && pieces.consumed == bytes.size(),
                "an unfinished head takes every byte");
        require(bytes.size() <= wire::ResponseHead::maxHeadBytes, "an unfinished head is small");
        break;
    case Progress::Invalid:
        require(!whole.head.error().empty(), "an invalid head says why");
        require(whole.head.error() == pieces.head.error(), "the same complaint in pieces as whole");
        break;
    case Progress::Complete: {
        require(whole.consumed == pieces.consumed, "the head ends at the same byte in pieces");
        require(whole.consumed > 0 && whole.consumed <= wire::ResponseHead::maxHeadBytes,
                "a head is 1 byte to 16 KiB");
        require(bytes[whole.consumed - 1] == '\n', "a head ends with its empty line");
        require(whole.head.status() <= 999, "a status has three digits");
        requireSameHead(whole.head, pieces.head);

        // The head alone is the same head: nothing after it was needed.
        const Fed alone = feedWhole(bytes.substr(0, whole.consumed));
        require(alone.progress == Progress::Complete && alone.consumed == whole.consumed,
                "the head alone is complete");
        requireSameHead(whole.head, alone.head);

        wire::UpgradeResult first;
        wire::UpgradeResult second;
        const std::string why = check(whole.head, request, first);
        require(why == check(pieces.head, request, second), "the same check in pieces");
        require(!why.empty() ||
                    (first.subprotocol == second.subprotocol && first.deflate == second.deflate),
                "the same result in pieces");
        if (const auto extensions = whole.head.header("Sec-WebSocket-Extensions"))
            checkDeflateAnswer(*extensions);
        if (const auto retryAfter = whole.head.header("Retry-After")) {
            if (const auto wait = wire::parseRetryAfter(*retryAfter, longestWait))
                require(wait->count() >= 0 && *wait <= longestWait, "a wait within bounds");
        }
        break;
    }
    }

    // The same readers on the raw bytes, as if they were a field's value.
    checkDeflateAnswer(bytes);
    if (const auto wait = wire::parseRetryAfter(std::string(bytes), longestWait))
        require(wait->count() >= 0 && *wait <= longestWait, "a wait within bounds");

    // Nothing a configuration holds can add a line to what is sent.
    checkLines(wire::formatConnectRequest(bytes, bytes), bytes.empty() ? 3 : 4);
    request.headers = {{"X-Fuzz", std::string(bytes)}};
    std::string sentKey;
    checkLines(wire::formatUpgradeRequest(request, sentKey),
               8 + (request.subprotocol.empty() ? 0 : 1) + (request.offerDeflate ? 1 : 0));
    require(sentKey.size() == 24, "a key is 16 bytes in base64");
    return 0;
}
