// SPDX-License-Identifier: MIT
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "ctl/commands.hpp"
#include "ctl/field_text.hpp"
#include "ctl/request.hpp"
#include "ctl/table.hpp"

namespace wspush::ctl {

namespace {

constexpr int labelWidth = 17;

void printField(const char* label, const std::string& value)
{
    std::printf("%-*s%s\n", labelWidth, label, value.c_str());
}

void printSinks(const Json::Value& sinks)
{
    std::vector<std::vector<std::string>> rows = {{"SINK", "NAME", "FORWARDED", "DROPPED", "LAG"}};
    for (const Json::Value& sink : sinks)
        rows.push_back({fieldText(sink["type"]), fieldText(sink["name"]),
                        fieldText(sink["forwarded"]), fieldText(sink["dropped"]),
                        fieldText(sink["lag"])});
    // The names left-aligned, the counts right-aligned.
    printTable(rows, {2, 3, 4});
}

// Where the records are kept, how much room they take, which seqs it holds, and the epoch
// those seqs belong to.
void printStore(const Json::Value& store)
{
    const Json::Value& path = store["path"];
    printField("store",
               path.isString() && !path.asString().empty() ? path.asString() : "in memory");
    printField("store size", store["bytes"].isUInt64() ? sizeText(store["bytes"].asUInt64())
                                                       : fieldText(store["bytes"]));
    const Json::Value& first = store["first"];
    const Json::Value& last = store["last"];
    if (first.isUInt64() && first.asUInt64() == 0)
        printField("store seqs", "none");
    else
        printField("store seqs", fieldText(first) + "–" + fieldText(last));
    printField("epoch", fieldText(store["epoch"]));
}

void printStatus(const Json::Value& status)
{
    const std::pair<const char*, const char*> rows[] = {
        {"state", "state"},
        {"server", "server"},
        {"address", "address"},
        {"connected since", "connected_since"},
        {"reconnects", "reconnects"},
        {"received", "received"},
        {"forwarded", "forwarded"},
        {"filtered", "filtered"},
        {"oversized", "oversized"},
        {"last seq", "last_seq"},
        {"duplicates", "duplicates"},
        {"upstream gaps", "upstream_gaps"},
        {"last id", "last_id"},
        {"probes", "probes"},
        {"probe reconnects", "probe_reconnects"},
        {"last probe", "last_probe"},
        {"subscribers", "subscribers"},
    };
    for (const auto& [label, key] : rows) {
        // Fields of features not in use (resume, probes) say nothing.
        if (status[key].isString() && status[key].asString().empty())
            continue;
        printField(label, fieldText(status[key]));
    }
    if (status["store"].isObject()) {
        std::printf("\n");
        printStore(status["store"]);
    }
    if (status["sinks"].isArray() && !status["sinks"].empty()) {
        std::printf("\n");
        printSinks(status["sinks"]);
    }
    if (status["cursors"].isArray() && !status["cursors"].empty()) {
        std::printf("\n");
        printCursors(status["cursors"]);
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
        printStatus(status->fields);
    return 0;
}

} // namespace wspush::ctl
