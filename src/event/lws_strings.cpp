// SPDX-License-Identifier: MIT
#include "event/lws_strings.hpp"

#include <set>

namespace wspush::event {

const char* keepForLws(const std::string& text)
{
    static std::set<std::string> kept;
    return kept.insert(text).first->c_str();
}

} // namespace wspush::event
