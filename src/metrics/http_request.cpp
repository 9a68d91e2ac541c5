// SPDX-License-Identifier: MIT
#include "metrics/http_request.hpp"

#include <algorithm>

namespace wspush::metrics {

namespace {

bool isMethod(std::string_view text)
{
    return !text.empty() && std::all_of(text.begin(), text.end(),
                                        [](char c) { return (c >= 'A' && c <= 'Z') || c == '-'; });
}

std::string answer(std::string_view status, std::string_view contentType, std::string_view body)
{
    std::string text = "HTTP/1.1 ";
    text += status;
    text += "\r\nContent-Type: ";
    text += contentType;
    text += "\r\nContent-Length: " + std::to_string(body.size());
    text += "\r\nConnection: close\r\n\r\n";
    text += body;
    return text;
}

} // namespace

RequestReader::Verdict RequestReader::feed(std::string_view bytes) noexcept
{
    if (verdict_ != Verdict::NeedMore)
        return verdict_;
    // The blank line may straddle the previous bytes and these.
    const std::size_t searchFrom = head_.size() >= 2 ? head_.size() - 2 : 0;
    const std::size_t room = maxHeadBytes - head_.size();
    head_.append(bytes.substr(0, room));
    const std::string_view head(head_);
    std::size_t end = std::string_view::npos;
    for (std::size_t at = head.find('\n', searchFrom); at != std::string_view::npos;
         at = head.find('\n', at + 1)) {
        // "\n\n" or "\n\r\n": an empty line ends the head.
        if (at + 1 < head.size() && head[at + 1] == '\n') {
            end = at + 2;
            break;
        }
        if (at + 2 < head.size() && head[at + 1] == '\r' && head[at + 2] == '\n') {
            end = at + 3;
            break;
        }
    }
    if (end != std::string_view::npos)
        verdict_ = judge();
    else if (bytes.size() > room || head_.size() == maxHeadBytes)
        verdict_ = Verdict::BadRequest;
    if (verdict_ != Verdict::NeedMore)
        std::string().swap(head_);
    return verdict_;
}

// "METHOD SP TARGET SP HTTP/1.x", each part non-empty, single spaces.
RequestReader::Verdict RequestReader::judge() const noexcept
{
    std::string_view line(head_);
    line = line.substr(0, line.find('\n'));
    if (line.ends_with('\r'))
        line.remove_suffix(1);
    const auto first = line.find(' ');
    const auto second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos)
        return Verdict::BadRequest;
    const std::string_view method = line.substr(0, first);
    const std::string_view target = line.substr(first + 1, second - first - 1);
    const std::string_view version = line.substr(second + 1);
    if (!isMethod(method) || target.empty() || target.find(' ') != std::string_view::npos ||
        (version != "HTTP/1.1" && version != "HTTP/1.0"))
        return Verdict::BadRequest;
    const std::string_view path = target.substr(0, target.find('?'));
    return method == "GET" && path == "/metrics" ? Verdict::Metrics : Verdict::NotFound;
}

std::string httpResponse(RequestReader::Verdict verdict, std::string_view body)
{
    constexpr std::string_view plain = "text/plain; charset=utf-8";
    switch (verdict) {
    case RequestReader::Verdict::Metrics:
        return answer("200 OK", "text/plain; version=0.0.4; charset=utf-8", body);
    case RequestReader::Verdict::NotFound:
        return answer("404 Not Found", plain, "not found: the metrics are at GET /metrics\n");
    case RequestReader::Verdict::BadRequest:
    case RequestReader::Verdict::NeedMore:
        break;
    }
    return answer("400 Bad Request", plain, "bad request\n");
}

} // namespace wspush::metrics
