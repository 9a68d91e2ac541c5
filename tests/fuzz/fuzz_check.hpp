// SPDX-License-Identifier: MIT
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace wspush::fuzz {

// A broken invariant aborts, so that libFuzzer keeps the input as a crash to reproduce.
inline void require(bool holds, std::string_view what)
{
    if (holds)
        return;
    std::fprintf(stderr, "invariant broken: %.*s\n", static_cast<int>(what.size()), what.data());
    std::abort();
}

} // namespace wspush::fuzz
