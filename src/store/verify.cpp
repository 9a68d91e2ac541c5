// SPDX-License-Identifier: MIT
#include "store/verify.hpp"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "store/segment.hpp"

namespace wspush::store {

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
            std::fprintf(out, ", MISSING: records %llu to %llu before it",
                         static_cast<unsigned long long>(last + 1),
                         static_cast<unsigned long long>(scan.info.first - 1));
            sound = false;
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
