// SPDX-License-Identifier: MIT
#include "store/verify.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <json/reader.h>

#include "store/checksum_line.hpp"
#include "store/segment.hpp"
#include "store/store.hpp"

namespace wspush::store {

namespace {

using Hole = std::pair<std::uint64_t, std::uint64_t>;

// The seqs the daemon skipped knowingly, as its cursors file lists them: no damage.
std::vector<Hole> knownHoles(const std::string& path)
{
    std::ifstream file(path + "/cursors");
    std::stringstream text;
    text << file.rdbuf();
    const auto content = withoutChecksum(text.str());
    Json::Value root;
    std::istringstream json(content.value_or(""));
    std::string errors;
    std::vector<Hole> holes;
    if (!content || !Json::parseFromStream(Json::CharReaderBuilder(), json, &root, &errors) ||
        !root.isObject() || !root["values"][std::string(Store::holesKey)].isString())
        return holes;
    std::istringstream list(root["values"][std::string(Store::holesKey)].asString());
    for (std::string range; std::getline(list, range, ',');) {
        Hole hole;
        const auto dash = range.find('-');
        if (dash == std::string::npos ||
            std::from_chars(range.data(), range.data() + dash, hole.first).ec != std::errc() ||
            std::from_chars(range.data() + dash + 1, range.data() + range.size(), hole.second).ec !=
                std::errc())
            continue;
        holes.push_back(hole);
    }
    return holes;
}

bool isKnown(const std::vector<Hole>& holes, std::uint64_t from, std::uint64_t to)
{
    return std::any_of(holes.begin(), holes.end(),
                       [&](const Hole& hole) { return hole.first <= from && to <= hole.second; });
}

} // namespace

bool verifyStore(const std::string& path, std::FILE* out)
{
    namespace fs = std::filesystem;
    if (!fs::is_directory(path))
        throw std::runtime_error("store " + path + ": not a directory");
    bool sound = true;
    std::vector<std::pair<std::uint64_t, std::string>> segments;
    for (const auto& entry : fs::directory_iterator(path)) {
        const std::string name = entry.path().filename();
        if (const auto seq = parseSegmentFileName(name)) {
            segments.emplace_back(*seq, name);
        } else if (name.ends_with(setAsideSuffix)) {
            std::fprintf(out, "%s: DAMAGED, set aside (remove it once looked at)\n", name.c_str());
            sound = false;
        }
    }
    std::sort(segments.begin(), segments.end());
    if (!fs::exists(fs::path(path) / "epoch")) {
        std::fprintf(out, "epoch: MISSING\n");
        sound = false;
    }

    const std::vector<Hole> holes = knownHoles(path);
    std::uint64_t last = 0;
    std::uint64_t records = 0;
    for (const auto& [first, name] : segments) {
        SegmentScan scan;
        try {
            scan = scanSegment(path + "/" + name, last);
        } catch (const std::exception& error) {
            std::fprintf(out, "%s: DAMAGED, unreadable: %s\n", name.c_str(), error.what());
            sound = false;
            continue;
        }
        records += scan.records;
        if (scan.records == 0)
            std::fprintf(out, "%s: no records, %llu bytes", name.c_str(),
                         static_cast<unsigned long long>(scan.info.bytes));
        else
            std::fprintf(out, "%s: %llu records, seq %llu to %llu, %llu bytes", name.c_str(),
                         static_cast<unsigned long long>(scan.records),
                         static_cast<unsigned long long>(scan.info.first),
                         static_cast<unsigned long long>(scan.info.last),
                         static_cast<unsigned long long>(scan.info.bytes));
        if (scan.damagedBytes != 0) {
            std::fprintf(out, ", DAMAGED: %llu bytes in %llu place(s)%s",
                         static_cast<unsigned long long>(scan.damagedBytes),
                         static_cast<unsigned long long>(scan.damagedSpans),
                         scan.damagedInside ? "" : " at the end (a torn tail)");
            sound = false;
        }
        if (last != 0 && scan.records != 0 && scan.info.first != last + 1) {
            const bool known = isKnown(holes, last + 1, scan.info.first - 1);
            std::fprintf(out,
                         known ? ", records %llu to %llu skipped (lost before a restart, "
                                 "logged then)"
                               : ", MISSING: records %llu to %llu before it",
                         static_cast<unsigned long long>(last + 1),
                         static_cast<unsigned long long>(scan.info.first - 1));
            sound = sound && known;
        }
        std::fputc('\n', out);
        if (scan.records != 0)
            last = scan.info.last;
    }
    std::fprintf(out, "%s: %zu segment(s), %llu records: %s\n", path.c_str(), segments.size(),
                 static_cast<unsigned long long>(records), sound ? "sound" : "DAMAGED");
    return sound;
}

} // namespace wspush::store
