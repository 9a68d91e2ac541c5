// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// <http_parser.h> is not included here: its enum http_status clashes with libwebsockets'
// one of the same name, and the connection includes both.
struct http_parser;

namespace wspush::wire {

// The status line and header fields of one HTTP/1.x response as its bytes arrive: the
// server's answer to the upgrade, or a proxy's to CONNECT. Only the head is read; whatever
// follows it belongs to the next protocol and is left to the caller.
class ResponseHead
{
public:
    // Far above any upgrade answer; a server that sends more is not one to talk to.
    static constexpr std::size_t maxHeadBytes = std::size_t{16} * 1024;

    enum class Progress
    {
        NeedMore,
        Complete,
        Invalid,
    };

    ResponseHead();
    ~ResponseHead();
    ResponseHead(ResponseHead&&) noexcept;
    ResponseHead& operator=(ResponseHead&&) noexcept;

    // Takes the next bytes. NeedMore: all of them were taken. Complete: the header block
    // ended, and `consumed` says how many of `bytes` belonged to it; the rest (WebSocket
    // frames after a 101, TLS after a proxy's 200) is the caller's. Invalid: a malformed head
    // or one over maxHeadBytes, error() says which. Once it said Complete or Invalid it says
    // so again, taking nothing.
    Progress feed(std::string_view bytes, std::size_t& consumed) noexcept;

    unsigned status() const noexcept { return status_; }
    // The reason phrase, possibly empty.
    const std::string& reason() const noexcept { return reason_; }
    // A field's value (names case-insensitive), repeated fields joined with ", "; nullopt when
    // absent.
    std::optional<std::string> header(std::string_view name) const;
    const std::string& error() const noexcept { return error_; }

private:
    static int onStatus(http_parser* parser, const char* at, std::size_t length) noexcept;
    static int onHeaderField(http_parser* parser, const char* at, std::size_t length) noexcept;
    static int onHeaderValue(http_parser* parser, const char* at, std::size_t length) noexcept;
    static int onHeadersComplete(http_parser* parser) noexcept;

    bool hasBareCr(std::string_view bytes) noexcept;
    Progress overLimit() noexcept;
    void finishValue();

    std::unique_ptr<http_parser> parser_;
    Progress progress_ = Progress::NeedMore;
    std::size_t seen_ = 0;
    unsigned status_ = 0;
    std::string reason_;
    std::vector<std::pair<std::string, std::string>> fields_;
    // The parser hands a name or value over in pieces (at the end of each chunk, and a value
    // again after an obsolete line fold, whose whitespace it keeps): this says which one the
    // next piece continues.
    bool inValue_ = false;
    bool pendingCr_ = false;
    std::string error_;
};

} // namespace wspush::wire
