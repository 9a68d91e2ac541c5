// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <json/value.h>

namespace wspush::ctl {

// Prints rows in columns two spaces apart, the first row a header: text columns
// left-aligned, those whose index is in `numeric` right-aligned.
void printTable(const std::vector<std::vector<std::string>>& rows,
                const std::vector<std::size_t>& numeric);

// The subscriptions of a `cursors` event or a status: NAME SEQ LAG CONNECTED.
void printCursors(const Json::Value& cursors);

// "512 bytes", "1.5 MiB (1572864 bytes)".
std::string sizeText(std::uint64_t bytes);

} // namespace wspush::ctl
