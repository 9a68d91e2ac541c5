// SPDX-License-Identifier: MIT
#include <chrono>
#include <cstddef>
#include <ctime>
#include <openssl/evp.h>
#include <string>
#include <string_view>

#include <doctest/doctest.h>

#include "wire/proxy_request.hpp"
#include "wire/response_head.hpp"
#include "wire/retry_after.hpp"
#include "wire/upgrade_check.hpp"
#include "wire/upgrade_request.hpp"

using namespace std::chrono_literals;
using namespace wspush;
using namespace wspush::wire;
using Progress = ResponseHead::Progress;

namespace {

// RFC 6455 1.3's example.
constexpr std::string_view sampleKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// A WebSocket text frame "Hi", the first bytes after a 101.
constexpr std::string_view frame = "\x81\x02Hi";
// The start of a TLS ClientHello record, the first bytes after a proxy's 200.
constexpr std::string_view tlsBytes = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

std::string crlf(std::string_view text)
{
    std::string out;
    for (const char c : text) {
        if (c == '\n')
            out += "\r\n";
        else
            out.push_back(c);
    }
    return out;
}

std::string goodHead(std::string_view extra = "")
{
    std::string head = "HTTP/1.1 101 Switching Protocols\n"
                       "Upgrade: websocket\n"
                       "Connection: Upgrade\n"
                       "Sec-WebSocket-Accept: ";
    head += sampleAccept;
    head += "\n";
    head += extra;
    head += "\n";
    return crlf(head);
}

// Feeds all of `bytes` at once.
Progress feedAll(ResponseHead& head, std::string_view bytes, std::size_t& consumed)
{
    return head.feed(bytes, consumed);
}

// Feeds `bytes` in two pieces cut at `cut`; `consumed` is counted from the start of `bytes`.
Progress feedSplit(ResponseHead& head, std::string_view bytes, std::size_t cut,
                   std::size_t& consumed)
{
    std::size_t first = 0;
    Progress progress = head.feed(bytes.substr(0, cut), first);
    consumed = first;
    if (progress != Progress::NeedMore)
        return progress;
    REQUIRE(first == cut);
    std::size_t second = 0;
    progress = head.feed(bytes.substr(cut), second);
    consumed += second;
    return progress;
}

UpgradeRequest plainRequest()
{
    UpgradeRequest request;
    request.target = "/websocket/u1";
    request.host = "push.example.com";
    return request;
}

std::string check(std::string_view bytes, const UpgradeRequest& request, UpgradeResult& result)
{
    ResponseHead head;
    std::size_t consumed = 0;
    REQUIRE(head.feed(bytes, consumed) == Progress::Complete);
    return checkUpgradeResponse(head, request, sampleKey, result);
}

std::string check(std::string_view bytes, const UpgradeRequest& request)
{
    UpgradeResult result;
    return check(bytes, request, result);
}

std::string checkHead(const ResponseHead& head, const UpgradeRequest& request)
{
    UpgradeResult result;
    return checkUpgradeResponse(head, request, sampleKey, result);
}

std::string decodedBase64(std::string_view text)
{
    std::string out(text.size(), '\0');
    const int size = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
    REQUIRE(size >= 0);
    out.resize(static_cast<std::size_t>(size));
    // EVP_DecodeBlock counts the padding's zero bytes too.
    for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i)
        out.pop_back();
    return out;
}

std::string httpDate(std::time_t when, const char* form)
{
    std::tm utc{};
    gmtime_r(&when, &utc);
    char text[64];
    const std::size_t size = std::strftime(text, sizeof text, form, &utc);
    return std::string(text, size);
}

} // namespace

TEST_CASE("upgrade request: the RFC 6455 handshake, then the user's headers in order")
{
    UpgradeRequest request;
    request.target = "/websocket/u1?last=3";
    request.host = "[::1]:8080";
    request.origin = "[::1]:8080";
    request.subprotocol = "wspush.v1";
    request.offerDeflate = true;
    request.headers = {{"Authorization", "Bearer abc"}, {"X-Client", "wspushd"}};
    std::string key;
    const std::string text = formatUpgradeRequest(request, key);

    CHECK(key.size() == 24);
    CHECK(decodedBase64(key).size() == 16);
    std::string expected = "GET /websocket/u1?last=3 HTTP/1.1\r\n"
                           "Host: [::1]:8080\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Key: ";
    expected += key;
    expected += "\r\n"
                "Sec-WebSocket-Version: 13\r\n"
                "Origin: [::1]:8080\r\n"
                "Sec-WebSocket-Protocol: wspush.v1\r\n"
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                "Authorization: Bearer abc\r\n"
                "X-Client: wspushd\r\n"
                "\r\n";
    CHECK(text == expected);

    std::string again;
    formatUpgradeRequest(request, again);
    CHECK(again != key);
}

TEST_CASE("upgrade request: no Origin, subprotocol or extension unless asked for")
{
    std::string key;
    const std::string text = formatUpgradeRequest(plainRequest(), key);
    std::string expected = "GET /websocket/u1 HTTP/1.1\r\n"
                           "Host: push.example.com\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Key: ";
    expected += key;
    expected += "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    CHECK(text == expected);
}

TEST_CASE("upgrade request: a line break in a value cannot add a header")
{
    UpgradeRequest request = plainRequest();
    request.headers = {{"X-Token", "a\r\nEvil: 1"}};
    std::string key;
    const std::string text = formatUpgradeRequest(request, key);
    CHECK(text.find("X-Token: a  Evil: 1\r\n") != std::string::npos);
    CHECK(text.find("\r\nEvil") == std::string::npos);
}

TEST_CASE("upgrade request: an empty target is the root")
{
    UpgradeRequest request = plainRequest();
    request.target.clear();
    std::string key;
    CHECK(formatUpgradeRequest(request, key).starts_with("GET / HTTP/1.1\r\n"));
}

TEST_CASE("accept: RFC 6455's own example")
{
    CHECK(expectedAccept(sampleKey) == sampleAccept);
}

TEST_CASE("CONNECT request: authority form, Host, and Proxy-Authorization when given")
{
    CHECK(formatConnectRequest("push.example.com:443", "") ==
          "CONNECT push.example.com:443 HTTP/1.1\r\nHost: push.example.com:443\r\n\r\n");
    CHECK(formatConnectRequest("[2001:db8::1]:8443", "Basic dXNlcjpwYXNz") ==
          "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n"
          "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n");
}

TEST_CASE("response head: a 101 read whole")
{
    const std::string bytes = goodHead("Sec-WebSocket-Protocol: wspush.v1\n");
    ResponseHead head;
    std::size_t consumed = 0;
    REQUIRE(feedAll(head, bytes, consumed) == Progress::Complete);
    CHECK(consumed == bytes.size());
    CHECK(head.status() == 101);
    CHECK(head.reason() == "Switching Protocols");
    CHECK(head.header("upgrade") == "websocket");
    CHECK(head.header("SEC-WEBSOCKET-ACCEPT") == std::string(sampleAccept));
    CHECK(head.header("Sec-WebSocket-Protocol") == "wspush.v1");
    CHECK(head.header("Sec-WebSocket-Extensions") == std::nullopt);
    CHECK(head.error().empty());

    // Complete once, complete again, and nothing more is taken.
    CHECK(head.feed(frame, consumed) == Progress::Complete);
    CHECK(consumed == 0);
}

TEST_CASE("response head: split at every byte, and byte by byte, with frames behind it")
{
    const std::string head = goodHead("Sec-WebSocket-Extensions: permessage-deflate\n");
    std::string bytes = head;
    bytes += frame;
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
        CAPTURE(cut);
        ResponseHead reader;
        std::size_t consumed = 0;
        REQUIRE(feedSplit(reader, bytes, cut, consumed) == Progress::Complete);
        CHECK(consumed == head.size());
        CHECK(reader.status() == 101);
        CHECK(reader.reason() == "Switching Protocols");
        CHECK(reader.header("Sec-WebSocket-Extensions") == "permessage-deflate");
        CHECK(reader.header("Connection") == "Upgrade");
    }

    ResponseHead reader;
    std::size_t consumed = 0;
    for (std::size_t i = 0; i + 1 < head.size(); ++i) {
        REQUIRE(reader.feed(bytes.substr(i, 1), consumed) == Progress::NeedMore);
        REQUIRE(consumed == 1);
    }
    REQUIRE(reader.feed(bytes.substr(head.size() - 1), consumed) == Progress::Complete);
    CHECK(consumed == 1);
    CHECK(checkHead(reader, plainRequest()) ==
          "the server chose the extension permessage-deflate, which was not offered");
}

TEST_CASE("response head: the frames after a 101 are left to the caller")
{
    const std::string head = goodHead();
    std::string bytes = head;
    bytes += frame;
    bytes += frame;
    ResponseHead reader;
    std::size_t consumed = 0;
    REQUIRE(reader.feed(bytes, consumed) == Progress::Complete);
    CHECK(consumed == head.size());
    CHECK(std::string_view(bytes).substr(consumed) == std::string(frame) + std::string(frame));
}

TEST_CASE("response head: a proxy's 200 to CONNECT, and the TLS bytes behind it")
{
    for (const std::string_view answer :
         {"HTTP/1.1 200 Connection established\r\n\r\n",
          "HTTP/1.0 200 Connection established\r\nProxy-agent: Squid\r\n\r\n",
          "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
          "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", "HTTP/1.1 200\n\n"}) {
        CAPTURE(answer);
        std::string bytes(answer);
        bytes += tlsBytes;
        for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
            ResponseHead reader;
            std::size_t consumed = 0;
            REQUIRE(feedSplit(reader, bytes, cut, consumed) == Progress::Complete);
            CHECK(consumed == answer.size());
            CHECK(reader.status() == 200);
        }
    }
}

TEST_CASE("response head: a proxy's 407 and its body")
{
    const std::string bytes = crlf("HTTP/1.1 407 Proxy Authentication Required\n"
                                   "Proxy-Authenticate: Basic realm=\"proxy\"\n"
                                   "Content-Length: 5\n\nhello");
    ResponseHead head;
    std::size_t consumed = 0;
    REQUIRE(head.feed(bytes, consumed) == Progress::Complete);
    CHECK(consumed == bytes.size() - 5);
    CHECK(head.status() == 407);
    CHECK(head.header("Proxy-Authenticate") == "Basic realm=\"proxy\"");
}

TEST_CASE("response head: 401 with WWW-Authenticate")
{
    const std::string bytes =
        crlf("HTTP/1.1 401 Unauthorized\n"
             "WWW-Authenticate: Bearer realm=\"push\", error=\"invalid_token\"\n"
             "Content-Type: text/plain\n"
             "Content-Length: 12\n\nUnauthorized");
    ResponseHead head;
    std::size_t consumed = 0;
    REQUIRE(head.feed(bytes, consumed) == Progress::Complete);
    CHECK(head.status() == 401);
    CHECK(head.reason() == "Unauthorized");
    CHECK(head.header("www-authenticate") == "Bearer realm=\"push\", error=\"invalid_token\"");
    CHECK(checkHead(head, plainRequest()) ==
          "the server answered HTTP 401 (Unauthorized) instead of upgrading");
}

TEST_CASE("response head: 429 and 503 with Retry-After")
{
    ResponseHead tooMany;
    std::size_t consumed = 0;
    REQUIRE(tooMany.feed(crlf("HTTP/1.1 429 Too Many Requests\nRetry-After: 120 \n\n"), consumed) ==
            Progress::Complete);
    CHECK(tooMany.status() == 429);
    const auto seconds = tooMany.header("Retry-After");
    REQUIRE(seconds);
    CHECK(parseRetryAfter(*seconds, 1h) == 120s);

    const std::string date = httpDate(std::time(nullptr) + 600, "%a, %d %b %Y %H:%M:%S GMT");
    ResponseHead unavailable;
    REQUIRE(unavailable.feed(crlf("HTTP/1.1 503 Service Unavailable\nRetry-After: " + date +
                                  "\nContent-Length: 0\n\n"),
                             consumed) == Progress::Complete);
    CHECK(unavailable.status() == 503);
    const auto when = unavailable.header("Retry-After");
    REQUIRE(when);
    const auto wait = parseRetryAfter(*when, 1h);
    REQUIRE(wait);
    CHECK(*wait > 590s);
    CHECK(*wait <= 601s);
    CHECK(checkHead(unavailable, plainRequest()) ==
          "the server answered HTTP 503 (Service Unavailable) instead of upgrading");
}

TEST_CASE("response head: repeated fields joined, whitespace and folds")
{
    const std::string bytes = crlf("HTTP/1.1 101 OK\n"
                                   "Upgrade: websocket\n"
                                   "X-Many: one\n"
                                   "x-many:two  \n"
                                   "X-MANY:\t three\t\n"
                                   "X-Empty:\n"
                                   "X-Folded: first\n"
                                   "  second\n"
                                   "\n");
    ResponseHead head;
    std::size_t consumed = 0;
    REQUIRE(head.feed(bytes, consumed) == Progress::Complete);
    CHECK(head.header("X-Many") == "one, two, three");
    CHECK(head.header("X-Empty") == "");
    CHECK(head.header("X-Folded") == "first  second");
    CHECK(head.header("X-Missing") == std::nullopt);
}

TEST_CASE("response head: an empty reason phrase")
{
    for (const std::string_view bytes : {"HTTP/1.1 101 \r\n\r\n", "HTTP/1.1 101\r\n\r\n"}) {
        ResponseHead head;
        std::size_t consumed = 0;
        REQUIRE(head.feed(bytes, consumed) == Progress::Complete);
        CHECK(head.status() == 101);
        CHECK(head.reason().empty());
    }
}

TEST_CASE("response head: 16 KiB at most")
{
    const std::string start = "HTTP/1.1 101 Switching Protocols\r\nX-Pad: ";
    const std::string end = "\r\n\r\n";
    std::string exact = start;
    exact.append(ResponseHead::maxHeadBytes - start.size() - end.size(), 'a');
    exact += end;
    REQUIRE(exact.size() == ResponseHead::maxHeadBytes);
    {
        ResponseHead head;
        std::size_t consumed = 0;
        CHECK(head.feed(exact + std::string(frame), consumed) == Progress::Complete);
        CHECK(consumed == exact.size());
    }

    std::string over = start;
    over.append(ResponseHead::maxHeadBytes - start.size() - end.size() + 1, 'a');
    over += end;
    for (const std::size_t cut :
         {std::size_t{0}, std::size_t{100}, ResponseHead::maxHeadBytes, over.size() - 1}) {
        CAPTURE(cut);
        ResponseHead head;
        std::size_t consumed = 0;
        CHECK(feedSplit(head, over, cut, consumed) == Progress::Invalid);
        CHECK(head.error() == "the response head is over 16 KiB");
        CHECK(head.feed("\r\n", consumed) == Progress::Invalid);
    }

    // Endless header lines, each small.
    ResponseHead head;
    std::size_t consumed = 0;
    REQUIRE(head.feed("HTTP/1.1 101 OK\r\n", consumed) == Progress::NeedMore);
    Progress progress = Progress::NeedMore;
    for (int i = 0; i < 2000 && progress == Progress::NeedMore; ++i)
        progress = head.feed("X-Line: some value\r\n", consumed);
    CHECK(progress == Progress::Invalid);
    CHECK(head.error() == "the response head is over 16 KiB");
}

TEST_CASE("response head: garbage is invalid, and stays so")
{
    for (const std::string_view bytes :
         {std::string_view("SSH-2.0-OpenSSH_9.2\r\n"), std::string_view("\x16\x03\x01\x00\x05", 5),
          std::string_view("HTTP/1.1 1010 Huge\r\n\r\n"), std::string_view("HTTP/9.x 101\r\n"),
          std::string_view("HTTP/1.1 101 OK\r\nBad@Name: x\r\n\r\n"),
          std::string_view("HTTP/1.1 101 OK\r\nX: a\rY: b\r\n\r\n"),
          std::string_view("HTTP/1.1 101 OK\rX: a\r\n\r\n"),
          std::string_view("HTTP/1.1 101 OK\r\nX: a\x01z\r\n\r\n"),
          std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n")}) {
        CAPTURE(bytes);
        ResponseHead head;
        std::size_t consumed = 0;
        CHECK(head.feed(bytes, consumed) == Progress::Invalid);
        CHECK(head.error().starts_with("the response head is malformed: "));
        CHECK(head.feed("HTTP/1.1 101 OK\r\n\r\n", consumed) == Progress::Invalid);
    }
}

TEST_CASE("response head: a CR not followed by LF does not end the head")
{
    // http_parser alone would take the frame's first byte for the last LF.
    std::string bytes = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r";
    bytes += frame;
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
        CAPTURE(cut);
        ResponseHead head;
        std::size_t consumed = 0;
        CHECK(feedSplit(head, bytes, cut, consumed) == Progress::Invalid);
        CHECK(head.error() == "the response head is malformed: a CR without LF");
    }

    // A bare LF ends a line (RFC 9112 2.2), and CR LF may be split.
    const std::string lf = "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n";
    ResponseHead head;
    std::size_t consumed = 0;
    CHECK(head.feed(lf + std::string(frame), consumed) == Progress::Complete);
    CHECK(consumed == lf.size());
}

TEST_CASE("response head: nothing fed, nothing decided")
{
    ResponseHead head;
    std::size_t consumed = 7;
    CHECK(head.feed("", consumed) == Progress::NeedMore);
    CHECK(consumed == 0);
}

TEST_CASE("upgrade check: a good 101")
{
    UpgradeResult result;
    result.subprotocol = "stale";
    CHECK(check(goodHead(), plainRequest(), result) == "");
    CHECK(result.subprotocol.empty());
    CHECK(!result.deflate.enabled);

    // Names and the tokens Upgrade and Connection ignore case; Connection is a list.
    const std::string loose = crlf("HTTP/1.1 101 Switching Protocols\n"
                                   "upgrade: WebSocket\n"
                                   "connection: keep-alive, upgrade\n"
                                   "sec-websocket-accept: " +
                                   std::string(sampleAccept) + "\n\n");
    CHECK(check(loose, plainRequest()) == "");
}

TEST_CASE("upgrade check: the subprotocol")
{
    UpgradeRequest request = plainRequest();
    request.subprotocol = "wspush.v1";
    UpgradeResult result;
    CHECK(check(goodHead("Sec-WebSocket-Protocol: wspush.v1\n"), request, result) == "");
    CHECK(result.subprotocol == "wspush.v1");

    // None chosen of one offered: RFC 6455 4.1 allows it, and lws 4.1 took it.
    CHECK(check(goodHead(), request, result) == "");
    CHECK(result.subprotocol.empty());

    CHECK(check(goodHead("Sec-WebSocket-Protocol: x\n"), request) ==
          "the server chose the subprotocol x, which was not offered");
    CHECK(check(goodHead("Sec-WebSocket-Protocol: WSPUSH.V1\n"), request) ==
          "the server chose the subprotocol WSPUSH.V1, which was not offered");
    CHECK(check(goodHead("Sec-WebSocket-Protocol: wspush.v1\nSec-WebSocket-Protocol: wspush.v1\n"),
                request) ==
          "the server chose the subprotocol wspush.v1, wspush.v1, which was not offered");
    CHECK(check(goodHead("Sec-WebSocket-Protocol: x\n"), plainRequest()) ==
          "the server chose the subprotocol x, which was not offered");

    request.subprotocol = "chat, wspush.v2";
    CHECK(check(goodHead("Sec-WebSocket-Protocol: wspush.v2\n"), request, result) == "");
    CHECK(result.subprotocol == "wspush.v2");
}

TEST_CASE("upgrade check: every way a 101 can be wrong")
{
    const UpgradeRequest request = plainRequest();
    const std::string accept = std::string("Sec-WebSocket-Accept: ") + std::string(sampleAccept);
    CHECK(check(crlf("HTTP/1.1 101 Switching Protocols\nConnection: Upgrade\n" + accept + "\n\n"),
                request) == "the server answered without Upgrade: websocket");
    CHECK(check(crlf("HTTP/1.1 101 Switching Protocols\nUpgrade: h2c\nConnection: Upgrade\n" +
                     accept + "\n\n"),
                request) == "the server answered without Upgrade: websocket");
    // The parser takes a space in a name; such a field is just not the one looked for.
    CHECK(check(crlf("HTTP/1.1 101 Switching Protocols\nUpgrade : websocket\n"
                     "Connection: Upgrade\n" +
                     accept + "\n\n"),
                request) == "the server answered without Upgrade: websocket");
    CHECK(check(crlf("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n" + accept + "\n\n"),
                request) == "the server answered without Connection: Upgrade");
    CHECK(check(crlf("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n"
                     "Connection: keep-alive\n" +
                     accept + "\n\n"),
                request) == "the server answered without Connection: Upgrade");
    CHECK(check(crlf("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n"
                     "Connection: Upgrade\n\n"),
                request) == "the server answered without Sec-WebSocket-Accept");
    CHECK(check(crlf("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n"
                     "Connection: Upgrade\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"),
                request) == "the server's Sec-WebSocket-Accept does not match the key");
    CHECK(check(crlf("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n"
                     "Connection: Upgrade\nSec-WebSocket-Accept:\n\n"),
                request) == "the server's Sec-WebSocket-Accept does not match the key");
    CHECK(check(goodHead("Sec-WebSocket-Accept: " + std::string(sampleAccept) + "\n"), request) ==
          "the server's Sec-WebSocket-Accept does not match the key");
    CHECK(check(crlf("HTTP/1.1 200 OK\n\n"), request) ==
          "the server answered HTTP 200 (OK) instead of upgrading");
    CHECK(check(crlf("HTTP/1.1 404\n\n"), request) ==
          "the server answered HTTP 404 instead of upgrading");
    CHECK(check(crlf("HTTP/1.1 500 Bad\x7f\xff\n\n"), request) ==
          "the server answered HTTP 500 (Bad?"
          "?) instead of upgrading");
}

TEST_CASE("upgrade check: extensions")
{
    UpgradeRequest request = plainRequest();
    CHECK(check(goodHead("Sec-WebSocket-Extensions: permessage-deflate\n"), request) ==
          "the server chose the extension permessage-deflate, which was not offered");
    CHECK(check(goodHead("Sec-WebSocket-Extensions: x-webkit-deflate-frame\n"), request) ==
          "the server chose the extension x-webkit-deflate-frame, which was not offered");
    CHECK(check(goodHead("Sec-WebSocket-Extensions: \n"), request) == "");
    CHECK(check(goodHead("Sec-WebSocket-Extensions: ;\n"), request) ==
          "the server's Sec-WebSocket-Extensions cannot be parsed");

    request.offerDeflate = true;
    UpgradeResult result;
    CHECK(check(goodHead(), request, result) == "");
    CHECK(!result.deflate.enabled);
    CHECK(check(goodHead("Sec-WebSocket-Extensions: permessage-deflate; "
                         "server_no_context_takeover; server_max_window_bits=10\n"),
                request, result) == "");
    CHECK(result.deflate == DeflateParameters{true, true, false, 10, 15});
    CHECK(check(goodHead("Sec-WebSocket-Extensions: x\n"), request) ==
          "the server chose the extension x, which was not offered");
    CHECK(
        check(goodHead("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16\n"),
              request) == "the server's permessage-deflate answer has "
                          "server_max_window_bits=16, not 8 to 15");
    CHECK(check(goodHead("Sec-WebSocket-Extensions: permessage-deflate\n"
                         "Sec-WebSocket-Extensions: permessage-deflate\n"),
                request) == "the server chose permessage-deflate twice");
}

TEST_CASE("deflate answer: what RFC 7692 lets a server answer")
{
    struct Case
    {
        std::string_view text;
        DeflateParameters expected;
    };
    const Case cases[] = {
        {"", {}},
        {" , ", {}},
        {"permessage-deflate", {true, false, false, 15, 15}},
        {"Permessage-Deflate", {true, false, false, 15, 15}},
        {"permessage-deflate; server_no_context_takeover", {true, true, false, 15, 15}},
        {"permessage-deflate;client_no_context_takeover", {true, false, true, 15, 15}},
        {"permessage-deflate; server_max_window_bits=8", {true, false, false, 8, 15}},
        {"permessage-deflate; client_max_window_bits=9", {true, false, false, 15, 9}},
        {"permessage-deflate; client_max_window_bits = \"12\"", {true, false, false, 15, 12}},
        {"permessage-deflate ; server_max_window_bits=\"1\\5\" ", {true, false, false, 15, 15}},
        {"permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
         "server_max_window_bits=15; client_max_window_bits=10",
         {true, true, true, 15, 10}},
        {", permessage-deflate,", {true, false, false, 15, 15}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.text);
        std::string why;
        const auto parsed = parseDeflateAnswer(c.text, why);
        REQUIRE(parsed);
        CHECK(*parsed == c.expected);
        CHECK(why.empty());
    }
}

TEST_CASE("deflate answer: what it cannot")
{
    struct Case
    {
        std::string_view text;
        std::string_view why;
    };
    const Case cases[] = {
        {"permessage-deflate; server_max_window_bits=7",
         "the server's permessage-deflate answer has server_max_window_bits=7, not 8 to 15"},
        {"permessage-deflate; server_max_window_bits=16",
         "the server's permessage-deflate answer has server_max_window_bits=16, not 8 to 15"},
        {"permessage-deflate; server_max_window_bits=010",
         "the server's permessage-deflate answer has server_max_window_bits=010, not 8 to 15"},
        {"permessage-deflate; client_max_window_bits",
         "the server's permessage-deflate answer has client_max_window_bits without a value, "
         "not 8 to 15"},
        {"permessage-deflate; server_max_window_bits",
         "the server's permessage-deflate answer has server_max_window_bits without a value, "
         "not 8 to 15"},
        {"permessage-deflate; client_max_window_bits=ten",
         "the server's permessage-deflate answer has client_max_window_bits=ten, not 8 to 15"},
        {"permessage-deflate; server_no_context_takeover=1",
         "the server's permessage-deflate answer has server_no_context_takeover with a value"},
        {"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
         "the server's permessage-deflate answer has server_no_context_takeover twice"},
        {"permessage-deflate; server_max_window_bits=10; server_max_window_bits=12",
         "the server's permessage-deflate answer has server_max_window_bits twice"},
        {"permessage-deflate; x_unknown",
         "the server's permessage-deflate answer has x_unknown, which is not one of RFC 7692's"},
        {"permessage-deflate, permessage-deflate", "the server chose permessage-deflate twice"},
        {"permessage-deflate, x-webkit-deflate-frame",
         "the server chose the extension x-webkit-deflate-frame, which was not offered"},
        {"permessage-deflate; server_max_window_bits=\"10",
         "the server's Sec-WebSocket-Extensions cannot be parsed"},
        {"permessage-deflate; server_max_window_bits=\"1 0\"",
         "the server's Sec-WebSocket-Extensions cannot be parsed"},
        {"permessage-deflate; =10", "the server's Sec-WebSocket-Extensions cannot be parsed"},
        {"permessage-deflate; server_max_window_bits=",
         "the server's Sec-WebSocket-Extensions cannot be parsed"},
        {"permessage-deflate server_no_context_takeover",
         "the server's Sec-WebSocket-Extensions cannot be parsed"},
        {"\"permessage-deflate\"", "the server's Sec-WebSocket-Extensions cannot be parsed"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.text);
        std::string why;
        CHECK(parseDeflateAnswer(c.text, why) == std::nullopt);
        CHECK(why == c.why);
    }
}

TEST_CASE("Retry-After: seconds, capped")
{
    CHECK(parseRetryAfter("0", 1h) == 0s);
    CHECK(parseRetryAfter("120", 1h) == 120s);
    CHECK(parseRetryAfter("3600", 1h) == 1h);
    CHECK(parseRetryAfter("3601", 1h) == 1h);
    CHECK(parseRetryAfter("86400000000", 1h) == 1h);
    CHECK(parseRetryAfter("99999999999999999999999999", 1h) == 1h);
    CHECK(parseRetryAfter("30", 10s) == 10s);
}

TEST_CASE("Retry-After: the three HTTP-date forms")
{
    const std::time_t now = std::time(nullptr);
    for (const char* form :
         {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
        CAPTURE(form);
        const auto ahead = parseRetryAfter(httpDate(now + 300, form), 1h);
        REQUIRE(ahead);
        CHECK(*ahead > 290s);
        CHECK(*ahead <= 301s);
        CHECK(parseRetryAfter(httpDate(now + 7200, form), 1h) == 1h);
        CHECK(parseRetryAfter(httpDate(now - 300, form), 1h) == 0s);
    }
    CHECK(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 1h) == 0s);
    CHECK(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", 1h) == 0s);
    CHECK(parseRetryAfter("Sun Nov  6 08:49:37 1994", 1h) == 0s);
    // Beyond what the system clock can count in nanoseconds.
    CHECK(parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", 1h) == 1h);
    CHECK(parseRetryAfter("Sun Nov  6 08:49:37 5034", 1h) == 1h);
}

TEST_CASE("Retry-After: anything else is unreadable")
{
    const std::string values[] = {"",
                                  "soon",
                                  "-5",
                                  "+5",
                                  "1.5",
                                  "12 ",
                                  " 12",
                                  "0x10",
                                  "Sun, 06 Nov 1994 08:49:37",
                                  "Sun, 06 Nov 1994 08:49:37 GMT trailing",
                                  std::string("12\0", 3)};
    for (const std::string& value : values) {
        CAPTURE(value);
        CHECK(parseRetryAfter(value, 1h) == std::nullopt);
    }
}
