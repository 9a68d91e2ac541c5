// SPDX-License-Identifier: MIT
#include "wire/response_head.hpp"

#include <algorithm>
#include <http_parser.h>
#include <strings.h>

namespace wspush::wire {

namespace {

// What on_headers_complete returns to say "no body, and what follows is another protocol":
// http_parser_execute then stops right after the head's last byte, whatever the status and
// the framing headers say.
constexpr int stopAfterHead = 2;

ResponseHead& headOf(http_parser* parser)
{
    return *static_cast<ResponseHead*>(parser->data);
}

bool isOws(char c)
{
    return c == ' ' || c == '\t';
}

bool sameName(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace

ResponseHead::ResponseHead() : parser_(std::make_unique<http_parser>())
{
    http_parser_init(parser_.get(), HTTP_RESPONSE);
}

ResponseHead::~ResponseHead() = default;
ResponseHead::ResponseHead(ResponseHead&&) noexcept = default;
ResponseHead& ResponseHead::operator=(ResponseHead&&) noexcept = default;

ResponseHead::Progress ResponseHead::feed(std::string_view bytes, std::size_t& consumed) noexcept
{
    consumed = 0;
    if (progress_ != Progress::NeedMore || bytes.empty())
        return progress_;

    static const http_parser_settings callbacks = [] {
        http_parser_settings s{};
        http_parser_settings_init(&s);
        s.on_status = &ResponseHead::onStatus;
        s.on_header_field = &ResponseHead::onHeaderField;
        s.on_header_value = &ResponseHead::onHeaderValue;
        s.on_headers_complete = &ResponseHead::onHeadersComplete;
        return s;
    }();
    // The parser's own bound (80 KiB, process-wide) is not ours: it is given no more than
    // what may still belong to the head.
    const std::size_t room = maxHeadBytes - seen_;
    if (room == 0)
        return overLimit();
    const std::size_t offered = std::min(bytes.size(), room);
    parser_->data = this;
    const std::size_t parsed =
        http_parser_execute(parser_.get(), &callbacks, bytes.data(), offered);
    seen_ += parsed;
    consumed = parsed;

    if (hasBareCr(bytes.substr(0, parsed)) || (progress_ == Progress::Complete && pendingCr_)) {
        progress_ = Progress::Invalid;
        error_ = "the response head is malformed: a CR without LF";
    } else if (const auto code = HTTP_PARSER_ERRNO(parser_.get()); code != HPE_OK) {
        progress_ = Progress::Invalid;
        error_ = "the response head is malformed: ";
        error_ += http_errno_description(code);
    } else if (progress_ == Progress::NeedMore && offered < bytes.size()) {
        return overLimit();
    }
    return progress_;
}

// http_parser, built without HTTP_PARSER_STRICT, takes any byte after a CR for the LF: at the
// head's end that byte would be the next protocol's first. RFC 9112 2.2 lets a recipient
// refuse a bare CR.
bool ResponseHead::hasBareCr(std::string_view bytes) noexcept
{
    for (const char c : bytes) {
        if (pendingCr_ && c != '\n')
            return true;
        pendingCr_ = c == '\r';
    }
    return false;
}

ResponseHead::Progress ResponseHead::overLimit() noexcept
{
    progress_ = Progress::Invalid;
    error_ = "the response head is over ";
    error_ += std::to_string(maxHeadBytes / 1024);
    error_ += " KiB";
    return progress_;
}

std::optional<std::string> ResponseHead::header(std::string_view name) const
{
    std::optional<std::string> value;
    for (const auto& [field, text] : fields_) {
        if (!sameName(field, name))
            continue;
        if (value) {
            *value += ", ";
            *value += text;
        } else {
            value = text;
        }
    }
    return value;
}

int ResponseHead::onStatus(http_parser* parser, const char* at, std::size_t length) noexcept
{
    headOf(parser).reason_.append(at, length);
    return 0;
}

int ResponseHead::onHeaderField(http_parser* parser, const char* at, std::size_t length) noexcept
{
    ResponseHead& head = headOf(parser);
    if (head.inValue_ || head.fields_.empty()) {
        head.finishValue();
        head.fields_.emplace_back();
        head.inValue_ = false;
    }
    head.fields_.back().first.append(at, length);
    return 0;
}

int ResponseHead::onHeaderValue(http_parser* parser, const char* at, std::size_t length) noexcept
{
    ResponseHead& head = headOf(parser);
    if (head.fields_.empty())
        head.fields_.emplace_back();
    head.inValue_ = true;
    head.fields_.back().second.append(at, length);
    return 0;
}

int ResponseHead::onHeadersComplete(http_parser* parser) noexcept
{
    ResponseHead& head = headOf(parser);
    head.finishValue();
    head.status_ = parser->status_code;
    head.progress_ = Progress::Complete;
    return stopAfterHead;
}

// The parser drops the whitespace before a value but keeps what trails it (RFC 9110 5.5:
// neither is part of the value).
void ResponseHead::finishValue()
{
    if (!inValue_ || fields_.empty())
        return;
    std::string& value = fields_.back().second;
    while (!value.empty() && isOws(value.back()))
        value.pop_back();
}

} // namespace wspush::wire
