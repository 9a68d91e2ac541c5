// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace wspush::metrics {

// Reads one HTTP/1.x request head as its bytes arrive, within a fixed bound, and says what
// to answer. Only the request line matters; the header lines are read to their end (so
// that closing after the answer leaves nothing unread) and otherwise ignored.
class RequestReader
{
public:
    // A request line and the headers a scraper sends fit many times over.
    static constexpr std::size_t maxHeadBytes = std::size_t{8} * 1024;

    enum class Verdict
    {
        NeedMore,
        Metrics,    // GET /metrics (a query string is ignored)
        NotFound,   // any other well-formed request
        BadRequest, // not HTTP/1.x, or a head over maxHeadBytes
    };

    // Takes the next bytes; once it has said anything but NeedMore it says it again.
    Verdict feed(std::string_view bytes) noexcept;

private:
    Verdict judge() const noexcept;

    std::string head_;
    Verdict verdict_ = Verdict::NeedMore;
};

// The whole answer for `verdict` (not NeedMore): status line, headers, body. `body` is the
// exposition, used only for Metrics. Every answer closes the connection.
std::string httpResponse(RequestReader::Verdict verdict, std::string_view body);

} // namespace wspush::metrics
