// SPDX-License-Identifier: MIT
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "event/event_loop.hpp"
#include "record/encoder.hpp"
#include "record/record_pool.hpp"
#include "record/timestamp.hpp"
#include "store/reader.hpp"
#include "store/record_format.hpp"
#include "store/segment.hpp"
#include "store/store.hpp"
#include "store/verify.hpp"

using namespace wspush;
namespace fs = std::filesystem;

namespace {

struct TempDir
{
    TempDir()
    {
        char pattern[] = "/tmp/wspush-store-XXXXXX";
        path = mkdtemp(pattern);
    }
    ~TempDir()
    {
        std::error_code ignored;
        fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ignored);
        fs::remove_all(path, ignored);
    }
    fs::path path;
};

std::string slurp(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

void spit(const fs::path& path, const std::string& content)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
}

// Record `seq`'s payload, the same every time it is asked for: every 7th one binary, the
// others JSON that names the record, `size` bytes either way.
std::string payloadFor(std::uint64_t seq, std::size_t size)
{
    if (seq % 7 == 0) {
        std::string bytes(size, '\0');
        for (std::size_t i = 0; i < size; ++i)
            bytes[i] = static_cast<char>((seq * 31 + i * 7) & 0xff);
        return bytes;
    }
    std::string text = "{\"n\":" + std::to_string(seq) + ",\"pad\":\"";
    text.append(size > text.size() + 2 ? size - text.size() - 2 : 0, 'x');
    return text + "\"}";
}

constexpr std::int64_t baseUs = 1'700'000'000'000'000;

std::shared_ptr<const record::Record> recordFor(std::uint64_t seq, std::size_t size,
                                                std::int64_t us = baseUs)
{
    return std::make_shared<const record::Record>(
        record::encodeRecord(seq, us + static_cast<std::int64_t>(seq), payloadFor(seq, size),
                             seq % 7 == 0)
            .record);
}

config::StoreConfig diskConfig(const fs::path& path, std::size_t maxSize = std::size_t{1} << 20)
{
    config::StoreConfig config;
    config.path = path;
    config.maxSize = maxSize;
    config.sync = config::StoreConfig::Sync::None; // the tests are about content, not power loss
    return config;
}

// A store with the loop and the pool it needs, the pool outliving it.
struct Opened
{
    explicit Opened(const config::StoreConfig& config) : store(config, loop, pool) {}
    event::EventLoop loop;
    record::RecordPool pool;
    store::Store store;
};

// Appends `count` records of `size` bytes from store.nextSeq() on, committing every
// `perCommit`, as the daemon does once per loop iteration.
void fill(store::Store& store, std::uint64_t count, std::size_t size, unsigned perCommit = 50,
          std::int64_t us = baseUs)
{
    for (std::uint64_t i = 0; i < count; ++i) {
        store.append(recordFor(store.nextSeq(), size, us));
        if ((i + 1) % perCommit == 0)
            store.commit();
    }
    store.commit();
}

// What a reader returns from `after` on, copied out of the pool's records.
std::vector<record::Record> readAll(store::Store& store, std::uint64_t after)
{
    std::vector<record::Record> records;
    const auto reader = store.reader(after);
    while (auto next = reader->next())
        records.push_back(*next);
    CHECK_FALSE(reader->hasNext());
    return records;
}

// Every record read is byte for byte the one appended, with the line encodeRecord makes.
void checkRecords(const std::vector<record::Record>& records, std::size_t size)
{
    for (const auto& record : records) {
        const auto expected = recordFor(record.seq, size);
        REQUIRE(record.payload == expected->payload);
        REQUIRE(record.line == expected->line);
        REQUIRE(record.binary == expected->binary);
        REQUIRE(record.receivedUs == expected->receivedUs);
    }
}

std::vector<std::uint64_t> seqsOf(const std::vector<record::Record>& records)
{
    std::vector<std::uint64_t> seqs;
    for (const auto& record : records)
        seqs.push_back(record.seq);
    return seqs;
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last)
{
    std::vector<std::uint64_t> seqs;
    for (std::uint64_t seq = first; seq <= last; ++seq)
        seqs.push_back(seq);
    return seqs;
}

// The files in `dir` whose names end in `suffix`, sorted.
std::vector<fs::path> filesEnding(const fs::path& dir, const std::string& suffix)
{
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().filename().string().ends_with(suffix))
            found.push_back(entry.path());
    }
    std::sort(found.begin(), found.end());
    return found;
}

std::vector<fs::path> segmentFiles(const fs::path& dir)
{
    return filesEnding(dir, ".seg");
}

// A segment file's records, in file order: offset, size and seq.
struct Span
{
    std::size_t offset;
    std::size_t size;
    std::uint64_t seq;
};

std::vector<Span> recordSpans(const std::string& bytes)
{
    std::vector<Span> spans;
    std::size_t offset = 0;
    while (offset < bytes.size()) {
        store::StoredRecord stored;
        REQUIRE(store::parseStored(std::string_view(bytes).substr(offset), stored) ==
                store::ParseResult::Complete);
        spans.push_back({offset, stored.size, stored.seq});
        offset += stored.size;
    }
    return spans;
}

// verifyStore's verdict and what it printed.
std::pair<bool, std::string> verify(const fs::path& path)
{
    char* text = nullptr;
    std::size_t length = 0;
    std::FILE* out = open_memstream(&text, &length);
    REQUIRE(out != nullptr);
    bool sound = false;
    try {
        sound = store::verifyStore(path, out);
    } catch (...) {
        std::fclose(out);
        std::free(text);
        throw;
    }
    std::fclose(out);
    std::string printed(text, length);
    std::free(text);
    return {sound, printed};
}

bool anyContains(const std::vector<std::string>& lines, const std::string& text)
{
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
        return line.find(text) != std::string::npos;
    });
}

std::string joined(const std::vector<std::string>& lines)
{
    std::string text;
    for (const auto& line : lines)
        text += line + "\n";
    return text;
}

// The message of what `body` throws, or "" when it throws nothing.
std::string thrownBy(const std::function<void()>& body)
{
    try {
        body();
    } catch (const std::exception& error) {
        return error.what();
    }
    return "";
}

// Copies a store directory, for a damage test to work on a fresh copy each time.
void copyStore(const fs::path& from, const fs::path& to)
{
    fs::remove_all(to);
    fs::copy(from, to, fs::copy_options::recursive);
}

// What the process writes to stderr (the log) while it lives.
class StderrCapture
{
public:
    StderrCapture() : file_(std::tmpfile())
    {
        std::fflush(stderr);
        saved_ = dup(STDERR_FILENO);
        dup2(fileno(file_), STDERR_FILENO);
    }
    ~StderrCapture()
    {
        restore();
        std::fclose(file_);
    }
    std::string text()
    {
        restore();
        std::string content;
        std::rewind(file_);
        char buffer[4096];
        std::size_t got;
        while ((got = std::fread(buffer, 1, sizeof buffer, file_)) > 0)
            content.append(buffer, got);
        return content;
    }

private:
    void restore()
    {
        if (saved_ < 0)
            return;
        std::fflush(stderr);
        dup2(saved_, STDERR_FILENO);
        close(saved_);
        saved_ = -1;
    }
    std::FILE* file_;
    int saved_ = -1;
};

} // namespace

TEST_CASE("records are read back across segments, each line byte-identical to encodeRecord's")
{
    TempDir dir;
    const auto config = diskConfig(dir.path / "store"); // 128 KiB segments
    {
        Opened opened(config);
        CHECK(opened.store.firstSeq() == 0);
        CHECK(opened.store.lastSeq() == 0);
        fill(opened.store, 2000, 300);
        CHECK(opened.store.firstSeq() == 1);
        CHECK(opened.store.lastSeq() == 2000);
        const auto records = readAll(opened.store, 0);
        CHECK(seqsOf(records) == range(1, 2000));
        checkRecords(records, 300);
    }
    const auto segments = segmentFiles(dir.path / "store");
    CHECK(segments.size() >= 4);
    // Each segment is named after its first record and holds whole records that run on.
    std::uint64_t next = 1;
    for (const auto& segment : segments) {
        const auto spans = recordSpans(slurp(segment));
        REQUIRE_FALSE(spans.empty());
        CHECK(segment.filename() == store::segmentFileName(spans.front().seq));
        for (const auto& span : spans)
            CHECK(span.seq == next++);
    }
    CHECK(next == 2001);
    CHECK(verify(dir.path / "store").first);

    // Reopened, memory holds nothing: every record comes from the files.
    Opened opened(config);
    CHECK(opened.store.startupFindings().empty());
    CHECK(opened.store.firstSeq() == 1);
    CHECK(opened.store.nextSeq() == 2001);
    auto records = readAll(opened.store, 0);
    CHECK(seqsOf(records) == range(1, 2000));
    checkRecords(records, 300);
    // From the middle of a segment, and from the start of each segment.
    records = readAll(opened.store, 1234);
    CHECK(seqsOf(records) == range(1235, 2000));
    checkRecords(records, 300);
    for (const auto& segment : segments) {
        const std::uint64_t first = *store::parseSegmentFileName(segment.filename());
        CHECK(seqsOf(readAll(opened.store, first - 1)) == range(first, 2000));
    }
    CHECK(readAll(opened.store, 2000).empty());
    CHECK(readAll(opened.store, 5000).empty());
}

TEST_CASE("a reader lagging past the memory window reads the files, then memory, in order")
{
    TempDir dir;
    Opened opened(diskConfig(dir.path / "store", std::size_t{256} << 20));
    const auto early = opened.store.reader(0);
    fill(opened.store, 12000, 1000, 200); // 12 MB, beyond the 8 MiB kept in memory
    const auto middle = opened.store.reader(5000);
    std::uint64_t expected = 1;
    while (auto record = early->next()) {
        REQUIRE(record->seq == expected++);
        REQUIRE(record->line == recordFor(record->seq, 1000)->line);
        // Live records keep coming while it catches up.
        if (record->seq % 1000 == 0)
            fill(opened.store, 10, 1000);
    }
    CHECK(expected == opened.store.nextSeq());
    CHECK(expected == 12121);
    expected = 5001;
    while (auto record = middle->next())
        REQUIRE(record->seq == expected++);
    CHECK(expected == 12121);
}

TEST_CASE("the memory ring: bounded by max_size, readers skip what it dropped")
{
    config::StoreConfig config; // path ""
    config.maxSize = std::size_t{1} << 20;
    Opened opened(config);
    Opened other(config);
    CHECK(opened.store.epoch().size() == 32);
    CHECK(opened.store.epoch() != other.store.epoch()); // a new one each run

    const auto lagging = opened.store.reader(0);
    fill(opened.store, 20, 500);
    CHECK(lagging->next()->seq == 1);
    fill(opened.store, 5000, 500);
    CHECK(opened.store.bytes() <= config.maxSize);
    CHECK(opened.store.lastSeq() == 5020);
    const std::uint64_t first = opened.store.firstSeq();
    CHECK(first > 100);
    // The lagging reader jumps the gap to the oldest record held, then runs on.
    auto record = lagging->next();
    CHECK(record->seq == first);
    CHECK(lagging->position() == first);
    const auto rest = readAll(opened.store, first);
    CHECK(seqsOf(rest) == range(first + 1, 5020));
    checkRecords(rest, 500);
    CHECK(seqsOf(readAll(opened.store, 0)) == range(first, 5020));
    CHECK(seqsOf(readAll(opened.store, 5010)) == range(5011, 5020));
    CHECK(opened.store.cursors().empty());
}

TEST_CASE("retention by size removes whole oldest segments, never the newest")
{
    TempDir dir;
    const auto config = diskConfig(dir.path / "store"); // 1 MiB, 128 KiB segments
    Opened opened(config);
    fill(opened.store, 4000, 1000);
    CHECK(opened.store.bytes() <= config.maxSize);
    const std::uint64_t first = opened.store.firstSeq();
    CHECK(first > 1000);
    const auto segments = segmentFiles(config.path);
    std::uint64_t onDisk = 0;
    std::uint64_t next = first;
    for (const auto& segment : segments) {
        const std::string bytes = slurp(segment);
        onDisk += bytes.size();
        for (const auto& span : recordSpans(bytes))
            CHECK(span.seq == next++);
    }
    CHECK_FALSE(segments.empty());
    CHECK(onDisk == opened.store.bytes());
    CHECK(next == 4001);
    CHECK(segments.front().filename() == store::segmentFileName(first));
    const auto records = readAll(opened.store, 0);
    CHECK(seqsOf(records) == range(first, 4000));

    // One batch larger than max_size (a fast link's loop turn) is cut into segments too:
    // retention keeps the newest of them, none over its size by more than a record.
    for (int i = 0; i < 1500; ++i)
        opened.store.append(recordFor(opened.store.nextSeq(), 1000));
    opened.store.commit();
    fill(opened.store, 1, 1000);
    CHECK(opened.store.bytes() <= config.maxSize);
    CHECK(opened.store.firstSeq() > 4001);
    for (const auto& segment : segmentFiles(config.path))
        CHECK(fs::file_size(segment) < (std::size_t{128} << 10) + 1100);
    CHECK(seqsOf(readAll(opened.store, 0)) == range(opened.store.firstSeq(), 5501));
}

TEST_CASE("retention by age removes whole segments whose newest record is too old")
{
    TempDir dir;
    auto config = diskConfig(dir.path / "store"); // 128 KiB segments
    config.maxAge = std::chrono::hours(1);
    Opened opened(config);
    const std::int64_t twoHoursAgo = record::nowUs() - std::int64_t{7200} * 1'000'000;
    fill(opened.store, 200, 1000, 50, twoHoursAgo);
    // Every segment is old now, yet the newest stays; readers no longer get the others'
    // records, from the files or from memory.
    CHECK(segmentFiles(config.path).size() == 1);
    const std::uint64_t first = opened.store.firstSeq();
    CHECK(first > 1);
    CHECK(seqsOf(readAll(opened.store, 0)) == range(first, 200));

    fill(opened.store, 500, 1000, 50, record::nowUs());
    // The segment with old and new records in it is kept whole.
    CHECK(segmentFiles(config.path).size() > 2);
    CHECK(opened.store.firstSeq() == first);
    CHECK(seqsOf(readAll(opened.store, 0)) == range(first, 700));

    // Whole segments only: every file left starts at or after the first record held.
    const auto segments = segmentFiles(config.path);
    for (const auto& segment : segments)
        CHECK(*store::parseSegmentFileName(segment.filename()) >= first);
}

TEST_CASE("epoch, seq, cursors and values are kept across a reopen; a new directory gets a new "
          "epoch")
{
    TempDir dir;
    const auto config = diskConfig(dir.path / "store");
    std::string epoch;
    {
        Opened opened(config);
        epoch = opened.store.epoch();
        CHECK(epoch.size() == 32);
        CHECK(epoch.find_first_not_of("0123456789abcdef") == std::string::npos);
        fill(opened.store, 100, 200);
        opened.store.setCursor("sink file /x", 60);
        opened.store.setCursor("reader", 100);
        opened.store.setCursor("gone", 1);
        CHECK(opened.store.removeCursor("gone"));
        CHECK_FALSE(opened.store.removeCursor("never"));
        opened.store.setValue("resume", "id-42 with \"quotes\"");
    }
    CHECK(slurp(fs::path(config.path) / "epoch") == epoch + "\n");
    struct stat status
    {
    };
    REQUIRE(stat(config.path.c_str(), &status) == 0);
    CHECK((status.st_mode & 0777) == 0700);
    {
        Opened opened(config);
        CHECK(opened.store.startupFindings().empty());
        CHECK(opened.store.epoch() == epoch);
        CHECK(opened.store.nextSeq() == 101);
        CHECK(opened.store.cursor("sink file /x") == std::optional<std::uint64_t>(60));
        CHECK(opened.store.cursor("reader") == std::optional<std::uint64_t>(100));
        CHECK_FALSE(opened.store.cursor("gone").has_value());
        CHECK(opened.store.cursors().size() == 2);
        CHECK(opened.store.value("resume") == "id-42 with \"quotes\"");
        CHECK(opened.store.value("other").empty());
        fill(opened.store, 5, 200);
        CHECK(opened.store.lastSeq() == 105);
    }
    {
        Opened opened(config);
        CHECK(opened.store.nextSeq() == 106);
        CHECK(seqsOf(readAll(opened.store, 0)) == range(1, 105));
    }
    Opened other(diskConfig(dir.path / "other"));
    CHECK(other.store.epoch().size() == 32);
    CHECK(other.store.epoch() != epoch);
    CHECK(other.store.nextSeq() == 1);
}

TEST_CASE("a seq is not issued twice even when the segments holding it are gone")
{
    TempDir dir;
    const auto config = diskConfig(dir.path / "store");
    {
        Opened opened(config);
        fill(opened.store, 50, 200);
    }
    for (const auto& segment : segmentFiles(config.path))
        fs::remove(segment);
    Opened opened(config);
    CHECK(opened.store.nextSeq() == 51);
    CHECK(opened.store.firstSeq() == 0);
    fill(opened.store, 1, 200);
    CHECK(seqsOf(readAll(opened.store, 0)) == range(51, 51));
}

TEST_CASE("skipTo: seqs a sink holds and the store lost are not issued again")
{
    TempDir dir;
    const auto config = diskConfig(dir.path / "store");
    {
        Opened opened(config);
        fill(opened.store, 10, 100);
    }
    {
        Opened opened(config);
        opened.store.skipTo(5); // below: nothing changes
        CHECK(opened.store.nextSeq() == 11);
        opened.store.skipTo(21);
        CHECK(opened.store.nextSeq() == 21);
        fill(opened.store, 3, 100);
        // Once records are in memory, it takes no jump: memory holds consecutive seqs.
        opened.store.skipTo(100);
        CHECK(opened.store.nextSeq() == 24);
        auto records = readAll(opened.store, 0);
        CHECK(seqsOf(records) ==
              std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 21, 22, 23});
        checkRecords(records, 100);
        CHECK(seqsOf(readAll(opened.store, 12)) == range(21, 23));
    }
    Opened opened(config);
    CHECK(opened.store.nextSeq() == 24);
    CHECK(seqsOf(readAll(opened.store, 10)) == range(21, 23));
}

TEST_CASE("the lock refuses a second store on the same directory")
{
    TempDir dir;
    const auto config = diskConfig(dir.path / "store");
    {
        Opened first(config);
        fill(first.store, 3, 100);
        event::EventLoop loop;
        record::RecordPool pool;
        const std::string message = thrownBy([&] { store::Store second(config, loop, pool); });
        CHECK(message.find("in use by another wspushd") != std::string::npos);
        CHECK(message.find(config.path + "/lock") != std::string::npos);
        // The refused one changed nothing.
        fill(first.store, 1, 100);
    }
    Opened again(config);
    CHECK(again.store.nextSeq() == 5);
}

TEST_CASE("a torn tail is cut at every offset of the last record; the records before it stay")
{
    TempDir dir;
    const fs::path pristine = dir.path / "pristine";
    const fs::path work = dir.path / "work";
    constexpr std::size_t size = 120;
    {
        Opened opened(diskConfig(pristine));
        fill(opened.store, 30, size, 7);
    }
    // A crash before the cursors file was saved: the cut seq may be issued again.
    fs::remove(pristine / "cursors");
    const fs::path newest = segmentFiles(pristine).back();
    const std::string bytes = slurp(newest);
    const auto spans = recordSpans(bytes);
    REQUIRE(spans.back().seq == 30);
    const std::size_t start = spans.back().offset;

    event::EventLoop loop;
    record::RecordPool pool;
    for (std::size_t offset = start; offset < bytes.size(); ++offset) {
        CAPTURE(offset);
        copyStore(pristine, work);
        const fs::path segment = work / newest.filename();
        fs::resize_file(segment, offset);
        const auto [soundBefore, report] = verify(work);
        CHECK(soundBefore == (offset == start));
        if (offset != start)
            CHECK(report.find("torn tail") != std::string::npos);
        {
            store::Store opened(diskConfig(work), loop, pool);
            CHECK(opened.nextSeq() == 30);
            const auto& findings = opened.startupFindings();
            if (offset == start) {
                CHECK(findings.empty());
            } else {
                REQUIRE(findings.size() == 1);
                CHECK(findings[0].find("torn tail of " + std::to_string(offset - start) +
                                       " bytes") != std::string::npos);
            }
            CHECK(fs::file_size(segment) == start);
            const auto records = readAll(opened, 0);
            REQUIRE(seqsOf(records) == range(1, 29));
            checkRecords(records, size);
            // The next record goes on where the sound ones end.
            opened.append(recordFor(30, size));
            opened.commit();
        }
        CHECK(verify(work).first);
        store::Store reopened(diskConfig(work), loop, pool);
        CHECK(reopened.startupFindings().empty());
        CHECK(seqsOf(readAll(reopened, 0)) == range(1, 30));
    }
}

TEST_CASE("a torn tail that is a new segment's only record removes the segment")
{
    TempDir dir;
    const fs::path pristine = dir.path / "pristine";
    const fs::path work = dir.path / "work";
    {
        Opened opened(diskConfig(pristine));
        // A record larger than a segment fills the first one; the next starts another.
        opened.store.append(recordFor(1, std::size_t{130} << 10));
        opened.store.commit();
        opened.store.append(recordFor(2, 100));
        opened.store.commit();
    }
    fs::remove(pristine / "cursors");
    const auto segments = segmentFiles(pristine);
    REQUIRE(segments.size() == 2);
    const std::string bytes = slurp(segments.back());

    event::EventLoop loop;
    record::RecordPool pool;
    for (std::size_t offset = 0; offset < bytes.size(); ++offset) {
        CAPTURE(offset);
        copyStore(pristine, work);
        fs::resize_file(work / segments.back().filename(), offset);
        store::Store opened(diskConfig(work), loop, pool);
        CHECK(opened.nextSeq() == 2);
        CHECK(segmentFiles(work).size() == 1);
        CHECK(opened.startupFindings().size() == (offset == 0 ? 0 : 1));
        CHECK(seqsOf(readAll(opened, 0)) == range(1, 1));
        opened.append(recordFor(2, 100));
        opened.commit();
        CHECK(seqsOf(readAll(opened, 0)) == range(1, 2));
    }
}

TEST_CASE("random bit flips in a middle segment: it is set aside, every sound record kept")
{
    TempDir dir;
    const fs::path pristine = dir.path / "pristine";
    const fs::path work = dir.path / "work";
    constexpr std::size_t size = 300;
    {
        Opened opened(diskConfig(pristine)); // 128 KiB segments
        fill(opened.store, 1500, size);
    }
    const auto segments = segmentFiles(pristine);
    REQUIRE(segments.size() >= 4);
    const fs::path middle = segments[1];
    const std::string original = slurp(middle);
    const auto spans = recordSpans(original);

    event::EventLoop loop;
    record::RecordPool pool;
    for (unsigned trial = 0; trial < 30; ++trial) {
        CAPTURE(trial);
        std::mt19937_64 random(trial);
        copyStore(pristine, work);
        // Distinct bits, so that no flip undoes another.
        std::set<std::uint64_t> bits;
        const unsigned flips = 1 + static_cast<unsigned>(random() % 8);
        while (bits.size() < flips)
            bits.insert(random() % (original.size() * 8));
        std::string damaged = original;
        std::set<std::uint64_t> hit;
        for (const auto bit : bits) {
            damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
            const auto span = std::find_if(spans.begin(), spans.end(), [&](const Span& s) {
                return bit / 8 >= s.offset && bit / 8 < s.offset + s.size;
            });
            hit.insert(span->seq);
        }
        spit(work / middle.filename(), damaged);
        const std::string hitText = std::to_string(hit.size()) + " record(s) hit";
        CAPTURE(hitText);

        const auto [soundBefore, report] = verify(work);
        CHECK_FALSE(soundBefore);
        CHECK(report.find(middle.filename().string() + ": ") != std::string::npos);
        CHECK(report.find("DAMAGED") != std::string::npos);
        {
            store::Store opened(diskConfig(work), loop, pool);
            const auto& findings = opened.startupFindings();
            const std::string findingsText = joined(findings);
            CAPTURE(findingsText);
            CHECK(anyContains(findings, middle.filename().string() + " was damaged"));
            CHECK(anyContains(findings, "set aside as"));
            CHECK(opened.nextSeq() == 1501);
            // The damaged file is kept as it was, out of the log.
            const fs::path aside = work / (middle.filename().string() + ".damaged");
            CHECK(slurp(aside) == damaged);
            // Exactly the records a flip landed in are gone; the others read back intact.
            std::vector<std::uint64_t> expected;
            for (std::uint64_t seq = 1; seq <= 1500; ++seq) {
                if (!hit.contains(seq))
                    expected.push_back(seq);
            }
            const auto records = readAll(opened, 0);
            CHECK(seqsOf(records) == expected);
            checkRecords(records, size);
            opened.append(recordFor(1501, size));
            opened.commit();
        }
        const auto [soundAfter, reportAfter] = verify(work);
        CHECK_FALSE(soundAfter);
        CHECK(reportAfter.find(".damaged: DAMAGED, set aside") != std::string::npos);
        store::Store reopened(diskConfig(work), loop, pool);
        // Nothing new to set aside; only the gaps are reported again.
        CHECK_FALSE(anyContains(reopened.startupFindings(), "was damaged"));
        CHECK(readAll(reopened, 0).back().seq == 1501);
    }
}

TEST_CASE("a segment damaged again keeps both copies set aside")
{
    TempDir dir;
    const fs::path path = dir.path / "store";
    {
        Opened opened(diskConfig(path));
        fill(opened.store, 1500, 300);
    }
    const fs::path middle = segmentFiles(path)[1];
    const auto spans = recordSpans(slurp(middle));
    // Flips a bit in the middle segment's third record.
    const auto damage = [&] {
        std::string bytes = slurp(middle);
        bytes[spans[2].offset + 40] = static_cast<char>(bytes[spans[2].offset + 40] ^ 4);
        spit(middle, bytes);
        return bytes;
    };
    const std::string first = damage();
    {
        Opened opened(diskConfig(path));
        CHECK(anyContains(opened.store.startupFindings(),
                          "set aside as " + middle.string() + ".damaged,"));
    }
    // The same again (as after a crash between setting it aside and rewriting it).
    const std::string second = damage();
    Opened opened(diskConfig(path));
    CHECK(anyContains(opened.store.startupFindings(),
                      "set aside as " + middle.string() + ".2.damaged,"));
    CHECK(slurp(middle.string() + ".damaged") == first);
    CHECK(slurp(middle.string() + ".2.damaged") == second);
    const auto records = readAll(opened.store, 0);
    CHECK(records.size() == 1498);
    CHECK(records.back().seq == 1500);
    const auto [sound, report] = verify(path);
    CHECK_FALSE(sound);
    CHECK(report.find(middle.filename().string() + ".2.damaged: DAMAGED, set aside") !=
          std::string::npos);
}

TEST_CASE("a segment that cannot be read is set aside; the store opens all the same")
{
    TempDir dir;
    const fs::path path = dir.path / "store";
    {
        Opened opened(diskConfig(path));
        fill(opened.store, 1500, 300);
    }
    // A directory among the segments, named like one: it opens, but does not map.
    const fs::path odd = path / store::segmentFileName(1000);
    fs::create_directory(odd);
    const auto [sound, report] = verify(path);
    CHECK_FALSE(sound);
    CHECK(report.find(odd.filename().string() + ": DAMAGED, unreadable: ") != std::string::npos);

    Opened opened(diskConfig(path));
    CHECK(anyContains(opened.store.startupFindings(), "set aside as " + odd.string()));
    CHECK(fs::is_directory(odd.string() + ".damaged"));
    CHECK(opened.store.nextSeq() == 1501);
    CHECK(readAll(opened.store, 0).size() == 1500);
}

TEST_CASE("a deleted middle segment is a gap, reported; the rest is read")
{
    TempDir dir;
    const fs::path path = dir.path / "store";
    {
        Opened opened(diskConfig(path));
        fill(opened.store, 1500, 300);
    }
    const auto segments = segmentFiles(path);
    REQUIRE(segments.size() >= 4);
    const auto removed = recordSpans(slurp(segments[1]));
    const std::uint64_t gapFirst = removed.front().seq;
    const std::uint64_t gapLast = removed.back().seq;
    fs::remove(segments[1]);

    const auto [sound, report] = verify(path);
    CHECK_FALSE(sound);
    CHECK(report.find("MISSING: records " + std::to_string(gapFirst) + " to " +
                      std::to_string(gapLast)) != std::string::npos);

    Opened opened(diskConfig(path));
    CHECK(anyContains(opened.store.startupFindings(), "records " + std::to_string(gapFirst) +
                                                          " to " + std::to_string(gapLast) +
                                                          " are missing"));
    CHECK(opened.store.nextSeq() == 1501);
    std::vector<std::uint64_t> expected = range(1, gapFirst - 1);
    const auto after = range(gapLast + 1, 1500);
    expected.insert(expected.end(), after.begin(), after.end());
    const auto records = readAll(opened.store, 0);
    CHECK(seqsOf(records) == expected);
    checkRecords(records, 300);
    // A reader inside the gap goes on at its end.
    CHECK(readAll(opened.store, gapFirst + 3).front().seq == gapLast + 1);
}

TEST_CASE("an empty or garbage cursors file is ignored, with a finding")
{
    TempDir dir;
    const auto config = diskConfig(dir.path / "store");
    {
        Opened opened(config);
        fill(opened.store, 10, 100);
        opened.store.setCursor("sink file /x", 5);
    }
    const std::string sound = slurp(fs::path(config.path) / "cursors");
    const auto cursorAt = sound.find("\"sink file /x\":5");
    REQUIRE(cursorAt != std::string::npos);
    // The cursor moved on, the checksum line not.
    std::string tampered = sound;
    tampered[cursorAt + std::string("\"sink file /x\":").size()] = '6';
    for (const std::string& content :
         {std::string(), std::string("garbage\n"), sound.substr(0, sound.size() / 2), tampered,
          std::string("{}\ncrc32 00000000\n")}) {
        CAPTURE(content);
        spit(fs::path(config.path) / "cursors", content);
        Opened opened(config);
        CHECK(anyContains(opened.store.startupFindings(), "the cursors file was damaged"));
        CHECK(opened.store.cursors().empty());
        CHECK(opened.store.nextSeq() == 11);
        CHECK(seqsOf(readAll(opened.store, 0)) == range(1, 10));
    }
}

TEST_CASE("a missing store directory is created 0700; an unusable path throws")
{
    TempDir dir;
    {
        const auto config = diskConfig(dir.path / "new");
        Opened opened(config);
        struct stat status
        {
        };
        REQUIRE(stat(config.path.c_str(), &status) == 0);
        CHECK(S_ISDIR(status.st_mode));
        CHECK((status.st_mode & 0777) == 0700);
        CHECK(fs::exists(config.path + "/epoch"));
    }
    event::EventLoop loop;
    record::RecordPool pool;
    spit(dir.path / "file", "not a directory");
    CHECK(thrownBy([&] {
              store::Store(diskConfig(dir.path / "file"), loop, pool);
          }).find("store " + (dir.path / "file").string()) != std::string::npos);
    CHECK_FALSE(thrownBy([&] {
                    store::Store(diskConfig(dir.path / "file" / "store"), loop, pool);
                }).empty());
    CHECK_THROWS(verify(dir.path / "file"));

    // No permission: a directory with none, tried in a child (that drops to nobody when it
    // runs as root, which permissions do not stop).
    const fs::path locked = dir.path / "locked";
    fs::create_directory(locked);
    fs::permissions(locked, fs::perms::none, fs::perm_options::replace);
    fs::permissions(dir.path, fs::perms::others_exec, fs::perm_options::add);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(2);
        int code = 1;
        for (const fs::path& path : {locked / "store", locked}) {
            try {
                event::EventLoop childLoop;
                record::RecordPool childPool;
                store::Store store(diskConfig(path), childLoop, childPool);
            } catch (const std::system_error& error) {
                code = error.code() == std::errc::permission_denied ? 0 : 3;
                if (code != 0)
                    break;
            }
        }
        _exit(code);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a write that fails part way leaves whole records only, and the rest follows")
{
    TempDir dir;
    const auto config = diskConfig(dir.path / "store"); // 128 KiB segments
    constexpr std::size_t size = 300;
    const auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit saved{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
    {
        Opened opened(config);
        fill(opened.store, 398, size); // 130,544 bytes: the first segment nearly full
        const std::uint64_t before = fs::file_size(segmentFiles(config.path).back());
        StderrCapture log;
        // The file system takes 100 more bytes, then no more: the write of the records that
        // fill the segment stops inside the first of them.
        rlimit limited = saved;
        limited.rlim_cur = before + 100;
        REQUIRE(setrlimit(RLIMIT_FSIZE, &limited) == 0);
        fill(opened.store, 100, size, 25);
        fill(opened.store, 100, size, 25);
        // Readers get every record all the same.
        CHECK(seqsOf(readAll(opened.store, 390)) == range(391, 598));
        REQUIRE(setrlimit(RLIMIT_FSIZE, &saved) == 0);
        fill(opened.store, 10, size);
        const std::string logged = log.text();
        CHECK(logged.find("cannot write: File too large; records wait in memory") !=
              std::string::npos);
        CHECK(logged.find("writing again after") != std::string::npos);
        CHECK(seqsOf(readAll(opened.store, 0)) == range(1, 608));
    }
    setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, oldHandler);
    const auto [sound, report] = verify(config.path);
    CAPTURE(report);
    CHECK(sound);
    Opened opened(config);
    CHECK(opened.store.startupFindings().empty());
    const auto records = readAll(opened.store, 0);
    CHECK(seqsOf(records) == range(1, 608));
    checkRecords(records, size);
}
