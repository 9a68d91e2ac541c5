// SPDX-License-Identifier: MIT
#include "wire/proxy_request.hpp"

namespace wspush::wire {

namespace {

// As in the upgrade request: nothing from the configuration may end a line.
void appendField(std::string& out, std::string_view text)
{
    for (const char c : text)
        out.push_back(c == '\r' || c == '\n' || c == '\0' ? ' ' : c);
}

} // namespace

std::string formatConnectRequest(std::string_view authority, std::string_view authorization)
{
    // RFC 9112 3.2: HTTP/1.1 requests carry Host, CONNECT's being the same authority.
    std::string text = "CONNECT ";
    appendField(text, authority);
    text += " HTTP/1.1\r\nHost: ";
    appendField(text, authority);
    text += "\r\n";
    if (!authorization.empty()) {
        text += "Proxy-Authorization: ";
        appendField(text, authorization);
        text += "\r\n";
    }
    text += "\r\n";
    return text;
}

} // namespace wspush::wire
