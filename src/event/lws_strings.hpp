// SPDX-License-Identifier: MIT
#pragma once

#include <string>

namespace wspush::event {

// A copy of `text` that lives as long as the process. lws keeps pointers to some vhost
// strings (the listening path) until a destroyed vhost is finally freed, which can be
// after the object that created it is gone; the few distinct values a config can name are
// kept once each.
const char* keepForLws(const std::string& text);

} // namespace wspush::event
