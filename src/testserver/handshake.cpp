// SPDX-License-Identifier: MIT
#include "testserver/handshake.hpp"

#include <algorithm>
#include <cctype>

namespace wspush::testserver {

namespace {

// "name:", lower case: how lws spells both its token names and the custom header names it
// stores.
std::string fieldOf(std::string_view name)
{
    std::string field(name);
    std::ranges::transform(field, field.begin(),
                           [](char c) { return static_cast<char>(std::tolower(c)); });
    field.push_back(':');
    return field;
}

// The token lws parses FIELD into, if it knows the header.
std::optional<lws_token_indexes> knownToken(std::string_view field)
{
    // The tokens after these are lws's own storage, not request headers.
    for (int index = 0; index < _WSI_TOKEN_CLIENT_SENT_PROTOCOLS; ++index) {
        const auto token = static_cast<lws_token_indexes>(index);
        const auto* text = reinterpret_cast<const char*>(lws_token_to_string(token));
        if (text != nullptr && field == text) {
            return token;
        }
    }
    return std::nullopt;
}

std::optional<std::string> knownHeader(lws* wsi, lws_token_indexes token)
{
    const int length = lws_hdr_total_length(wsi, token);
    if (length <= 0) {
        return std::nullopt;
    }
    std::string value(static_cast<std::size_t>(length) + 1, '\0');
    if (lws_hdr_copy(wsi, value.data(), length + 1, token) != length) {
        return std::nullopt;
    }
    value.resize(static_cast<std::size_t>(length));
    return value;
}

std::optional<std::string> customHeader(lws* wsi, const std::string& field)
{
    const int nameLength = static_cast<int>(field.size());
    const int length = lws_hdr_custom_length(wsi, field.c_str(), nameLength);
    if (length < 0) {
        return std::nullopt;
    }
    std::string value(static_cast<std::size_t>(length) + 1, '\0');
    if (lws_hdr_custom_copy(wsi, value.data(), length + 1, field.c_str(), nameLength) != length) {
        return std::nullopt;
    }
    value.resize(static_cast<std::size_t>(length));
    return value;
}

} // namespace

Handshake readHandshake(lws* wsi, std::string id, const std::vector<std::string>& headerNames)
{
    Handshake handshake;
    handshake.id = std::move(id);
    for (const std::string& name : headerNames) {
        handshake.headers.push_back(requestHeader(wsi, name));
    }
    handshake.offeredSubprotocol = lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) > 0;
    return handshake;
}

std::optional<std::string> requestHeader(lws* wsi, std::string_view name)
{
    const std::string field = fieldOf(name);
    if (const auto token = knownToken(field)) {
        return knownHeader(wsi, *token);
    }
    return customHeader(wsi, field);
}

std::optional<std::string> urlArgument(lws* wsi, std::string_view name)
{
    for (int index = 0;; ++index) {
        const int length = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, index);
        if (length <= 0) {
            return std::nullopt;
        }
        std::string argument(static_cast<std::size_t>(length) + 1, '\0');
        if (lws_hdr_copy_fragment(wsi, argument.data(), length + 1, WSI_TOKEN_HTTP_URI_ARGS,
                                  index) != length) {
            return std::nullopt;
        }
        argument.resize(static_cast<std::size_t>(length));
        if (argument.size() > name.size() && argument.starts_with(name) &&
            argument[name.size()] == '=') {
            return argument.substr(name.size() + 1);
        }
    }
}

} // namespace wspush::testserver
