// SPDX-License-Identifier: MIT
#include "ctl/table.hpp"

#include <algorithm>
#include <cstdio>

#include "ctl/field_text.hpp"

namespace wspush::ctl {

void printTable(const std::vector<std::vector<std::string>>& rows,
                const std::vector<std::size_t>& numeric)
{
    std::vector<std::size_t> widths;
    for (const auto& row : rows) {
        widths.resize(std::max(widths.size(), row.size()), 0);
        for (std::size_t column = 0; column < row.size(); ++column)
            widths[column] = std::max(widths[column], row[column].size());
    }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t column = 0; column < row.size(); ++column) {
            const std::string& cell = row[column];
            const std::string pad(widths[column] - cell.size(), ' ');
            const bool right = std::find(numeric.begin(), numeric.end(), column) != numeric.end();
            const bool last = column + 1 == row.size();
            if (column != 0)
                line += "  ";
            line += right ? pad + cell : (last ? cell : cell + pad);
        }
        std::printf("%s\n", line.c_str());
    }
}

void printCursors(const Json::Value& cursors)
{
    std::vector<std::vector<std::string>> rows = {{"SUBSCRIPTION", "SEQ", "LAG", "CONNECTED"}};
    for (const Json::Value& cursor : cursors) {
        rows.push_back(
            {fieldText(cursor["name"]), fieldText(cursor["seq"]), fieldText(cursor["lag"]),
             cursor["connected"].isBool() && cursor["connected"].asBool() ? "yes" : "no"});
    }
    printTable(rows, {1, 2});
}

std::string sizeText(std::uint64_t bytes)
{
    if (bytes < 1024)
        return std::to_string(bytes) + " bytes";
    const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes) / 1024;
    std::size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(units)) {
        value /= 1024;
        ++unit;
    }
    char text[64];
    std::snprintf(text, sizeof text, "%.1f %s (%llu bytes)", value, units[unit],
                  static_cast<unsigned long long>(bytes));
    return text;
}

} // namespace wspush::ctl
