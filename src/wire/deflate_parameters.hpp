// SPDX-License-Identifier: MIT
#pragma once

namespace wspush::wire {

// What the server accepted of our permessage-deflate offer (RFC 7692 7.1). The client never
// compresses what it sends (7.2.3 lets it), so only the server's side shapes inflation.
struct DeflateParameters
{
    bool enabled = false;
    bool serverNoContextTakeover = false;
    bool clientNoContextTakeover = false;
    int serverMaxWindowBits = 15;
    int clientMaxWindowBits = 15;

    bool operator==(const DeflateParameters&) const = default;
};

} // namespace wspush::wire
