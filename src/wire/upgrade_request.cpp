// SPDX-License-Identifier: MIT
#include "wire/upgrade_request.hpp"

#include <array>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <random>

namespace wspush::wire {

namespace {

constexpr std::string_view acceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const unsigned char* bytes, std::size_t size)
{
    std::string text(4 * ((size + 2) / 3) + 1, '\0');
    const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), bytes,
                                       static_cast<int>(size));
    text.resize(static_cast<std::size_t>(length));
    return text;
}

// The key is a nonce, not a secret (RFC 6455 10.3 is about masking): when OpenSSL cannot
// give randomness, the C++ library's is good enough.
std::string newKey()
{
    std::array<unsigned char, 16> nonce{};
    if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
        std::random_device device;
        for (unsigned char& byte : nonce)
            byte = static_cast<unsigned char>(device());
    }
    return base64(nonce.data(), nonce.size());
}

// A field as it goes on the wire: nothing in it may end the line.
void appendField(std::string& out, std::string_view text)
{
    for (const char c : text)
        out.push_back(c == '\r' || c == '\n' || c == '\0' ? ' ' : c);
}

void appendHeader(std::string& out, std::string_view name, std::string_view value)
{
    appendField(out, name);
    out += ": ";
    appendField(out, value);
    out += "\r\n";
}

} // namespace

std::string formatUpgradeRequest(const UpgradeRequest& request, std::string& key)
{
    key = newKey();
    std::string text = "GET ";
    appendField(text, request.target.empty() ? std::string_view("/") : request.target);
    text += " HTTP/1.1\r\n";
    appendHeader(text, "Host", request.host);
    text += "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n";
    appendHeader(text, "Sec-WebSocket-Key", key);
    text += "Sec-WebSocket-Version: 13\r\n";
    if (!request.origin.empty())
        appendHeader(text, "Origin", request.origin);
    if (!request.subprotocol.empty())
        appendHeader(text, "Sec-WebSocket-Protocol", request.subprotocol);
    if (request.offerDeflate)
        text += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    for (const auto& [name, value] : request.headers)
        appendHeader(text, name, value);
    text += "\r\n";
    return text;
}

std::string expectedAccept(std::string_view key)
{
    std::string input(key);
    input += acceptGuid;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha1(), nullptr) != 1)
        return {};
    return base64(digest, size);
}

} // namespace wspush::wire
