// SPDX-License-Identifier: MIT
#include "connection/json_pointer.hpp"

#include <charconv>
#include <string>

namespace wspush::connection {

namespace {

std::string unescape(std::string_view token)
{
    std::string name;
    for (std::size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '~' && i + 1 < token.size()) {
            name.push_back(token[i + 1] == '1' ? '/' : '~');
            ++i;
        } else {
            name.push_back(token[i]);
        }
    }
    return name;
}

} // namespace

const Json::Value* resolvePointer(const Json::Value& root, std::string_view pointer) noexcept
{
    const Json::Value* value = &root;
    try {
        while (!pointer.empty()) {
            pointer.remove_prefix(1); // the '/'
            const std::size_t end = std::min(pointer.find('/'), pointer.size());
            const std::string token = unescape(pointer.substr(0, end));
            pointer.remove_prefix(end);
            if (value->isObject()) {
                value = value->find(token.data(), token.data() + token.size());
            } else if (value->isArray()) {
                // An index: digits without a leading zero.
                Json::ArrayIndex index = 0;
                const auto [last, error] =
                    std::from_chars(token.data(), token.data() + token.size(), index);
                if (token.empty() || error != std::errc() || last != token.data() + token.size() ||
                    (token.size() > 1 && token[0] == '0') || index >= value->size())
                    return nullptr;
                value = &(*value)[index];
            } else {
                return nullptr;
            }
            if (value == nullptr)
                return nullptr;
        }
        return value;
    } catch (const std::exception&) {
        return nullptr;
    }
}

} // namespace wspush::connection
