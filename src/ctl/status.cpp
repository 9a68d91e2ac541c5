// SPDX-License-Identifier: MIT
#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "ctl/commands.hpp"
#include "ctl/field_text.hpp"
#include "ctl/request.hpp"

namespace wspush::ctl {

namespace {

void printSinks(const Json::Value& sinks)
{
    std::vector<std::vector<std::string>> rows = {{"SINK", "NAME", "FORWARDED", "DROPPED"}};
    for (const Json::Value& sink : sinks)
        rows.push_back({fieldText(sink["type"]), fieldText(sink["name"]),
                        fieldText(sink["forwarded"]), fieldText(sink["dropped"])});
    std::vector<std::size_t> widths(rows.front().size(), 0);
    for (const auto& row : rows) {
        for (std::size_t column = 0; column < row.size(); ++column)
            widths[column] = std::max(widths[column], row[column].size());
    }
    for (const auto& row : rows) {
        // The names left-aligned, the counts right-aligned.
        std::printf("%-*s  %-*s  %*s  %*s\n", static_cast<int>(widths[0]), row[0].c_str(),
                    static_cast<int>(widths[1]), row[1].c_str(), static_cast<int>(widths[2]),
                    row[2].c_str(), static_cast<int>(widths[3]), row[3].c_str());
    }
}

void printTable(const Json::Value& status)
{
    const std::pair<const char*, const char*> rows[] = {
        {"state", "state"},
        {"server", "server"},
        {"connected since", "connected_since"},
        {"reconnects", "reconnects"},
        {"received", "received"},
        {"forwarded", "forwarded"},
        {"filtered", "filtered"},
        {"oversized", "oversized"},
        {"last seq", "last_seq"},
        {"subscribers", "subscribers"},
    };
    for (const auto& [label, key] : rows)
        std::printf("%-17s%s\n", label, fieldText(status[key]).c_str());
    if (status["sinks"].isArray() && !status["sinks"].empty()) {
        std::printf("\n");
        printSinks(status["sinks"]);
    }
}

} // namespace

int runStatus(const std::string& socketPath, bool json)
{
    std::optional<Subscriber> subscriber = connectOrWarn(socketPath);
    if (!subscriber)
        return exitFailure;
    const std::optional<Event> status = request(*subscriber, statusRequest(), "status");
    if (!status)
        return exitFailure;
    if (json)
        std::printf("%s\n", status->line.c_str());
    else
        printTable(status->fields);
    return 0;
}

} // namespace wspush::ctl
