// SPDX-License-Identifier: MIT
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "event/event_loop.hpp"
#include "record/encoder.hpp"
#include "sinks/file_sink.hpp"

using namespace wspush;
namespace fs = std::filesystem;

namespace {

struct TempDir
{
    TempDir()
    {
        char pattern[] = "/tmp/wspush-file-sink-XXXXXX";
        path = mkdtemp(pattern);
    }
    ~TempDir() { fs::remove_all(path); }
    fs::path path;
};

std::string slurp(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

std::shared_ptr<const record::Record> recordFor(std::uint64_t seq, std::string payload,
                                                bool binary = false)
{
    return std::make_shared<const record::Record>(
        record::encodeRecord(seq, 0, std::move(payload), binary).record);
}

std::string lineFor(std::uint64_t seq, std::string payload)
{
    return recordFor(seq, std::move(payload))->line;
}

} // namespace

TEST_CASE("jsonl lines are appended in order, one write per flush")
{
    TempDir dir;
    event::EventLoop loop;
    config::FileSinkConfig config;
    config.path = dir.path / "messages.jsonl";
    sinks::FileSink sink(config, loop);

    sink.deliver(recordFor(1, R"({"a":1})"));
    sink.deliver(recordFor(2, "text\nwith newline"));
    CHECK(slurp(config.path).empty());
    sink.flush();
    CHECK(slurp(config.path) == lineFor(1, R"({"a":1})") + lineFor(2, "text\nwith newline"));
    CHECK(sink.counters().forwarded == 2);
    CHECK(sink.counters().dropped == 0);
}

TEST_CASE("raw format writes the payload bytes and a newline")
{
    TempDir dir;
    event::EventLoop loop;
    config::FileSinkConfig config;
    config.path = dir.path / "raw.log";
    config.format = config::FileSinkConfig::Format::Raw;
    sinks::FileSink sink(config, loop);

    sink.deliver(recordFor(1, "{ \"a\" : 1 }"));
    sink.deliver(recordFor(2, std::string("\x00\xFF", 2), true));
    sink.flush();
    CHECK(slurp(config.path) == std::string("{ \"a\" : 1 }\n\x00\xFF\n", 15));
}

TEST_CASE("size rotation keeps `keep` old files and cuts between records")
{
    TempDir dir;
    event::EventLoop loop;
    config::FileSinkConfig config;
    config.path = dir.path / "m.jsonl";
    const std::size_t lineSize = lineFor(1, "\"0123456789\"").size();
    config.maxSize = lineSize * 3;
    config.keep = 2;
    sinks::FileSink sink(config, loop);

    for (std::uint64_t seq = 1; seq <= 10; ++seq) {
        sink.deliver(recordFor(seq, "\"0123456789\""));
        if (seq % 4 == 0)
            sink.flush();
    }
    sink.flush();
    CHECK(slurp(config.path) == lineFor(10, "\"0123456789\""));
    CHECK(slurp(config.path + ".1") == lineFor(7, "\"0123456789\"") + lineFor(8, "\"0123456789\"") +
                                           lineFor(9, "\"0123456789\""));
    CHECK(fs::file_size(config.path + ".2") == lineSize * 3);
    CHECK_FALSE(fs::exists(config.path + ".3"));
    CHECK(sink.counters().forwarded == 10);
}

TEST_CASE("a record larger than max_size gets a file of its own")
{
    TempDir dir;
    event::EventLoop loop;
    config::FileSinkConfig config;
    config.path = dir.path / "m.jsonl";
    config.maxSize = 10;
    config.keep = 5;
    sinks::FileSink sink(config, loop);
    sink.deliver(recordFor(1, "\"a long payload that will not fit\""));
    sink.deliver(recordFor(2, "\"another one that is also too long\""));
    sink.flush();
    CHECK(slurp(config.path) == lineFor(2, "\"another one that is also too long\""));
    CHECK(slurp(config.path + ".1") == lineFor(1, "\"a long payload that will not fit\""));
}

TEST_CASE("a full disk holds records up to max_queue, then takes no more until it recovers")
{
    TempDir dir;
    event::EventLoop loop;
    const fs::path link = dir.path / "messages.jsonl";
    fs::create_symlink("/dev/full", link);
    config::FileSinkConfig config;
    config.path = link;
    config.maxQueue = 64 * 1024;
    sinks::FileSink sink(config, loop);

    const std::string payload = "\"" + std::string(1000, 'x') + "\"";
    std::string held;
    std::uint64_t taken = 0;
    while (sink.wantsMore()) {
        sink.deliver(recordFor(++taken, payload));
        held += lineFor(taken, payload);
        sink.flush();
    }
    CHECK(held.size() >= config.maxQueue);
    CHECK(held.size() < config.maxQueue + lineFor(taken, payload).size());
    CHECK(sink.counters().forwarded == 0);
    CHECK(sink.counters().dropped == 0);
    CHECK(sink.handedOn() == 0);

    // The disk works again: the path now leads to a real file.
    fs::remove(link);
    const fs::path real = dir.path / "real.jsonl";
    std::ofstream(real).close();
    fs::create_symlink(real, link);
    sink.flush();
    CHECK(sink.counters().forwarded == taken);
    CHECK(sink.handedOn() == taken);
    CHECK(sink.wantsMore());
    CHECK(slurp(real) == held);
}

TEST_CASE("a restarted file sink cuts a torn last line and says which seq it holds")
{
    TempDir dir;
    event::EventLoop loop;
    config::FileSinkConfig config;
    config.path = dir.path / "messages.jsonl";
    const std::string sound = lineFor(41, "1") + lineFor(42, "2");
    std::ofstream(config.path) << sound << "{\"seq\":43,\"ts\":\"19";
    const sinks::FileSink sink(config, loop);
    CHECK(sink.holdsUpTo() == 42);
    CHECK(slurp(config.path) == sound);
}

TEST_CASE("lines longer than a read: the torn one is cut whole, the last seq still found")
{
    TempDir dir;
    event::EventLoop loop;
    config::FileSinkConfig config;
    config.path = dir.path / "messages.jsonl";
    const std::string big(200 * 1024, 'x');
    const std::string sound = lineFor(7, big) + lineFor(8, big);
    std::ofstream(config.path) << sound << lineFor(9, big).substr(0, 150 * 1024);
    {
        const sinks::FileSink sink(config, loop);
        CHECK(sink.holdsUpTo() == 8);
        CHECK(slurp(config.path) == sound);
    }
    // A file of one torn line is cut to nothing; one of one whole line is kept.
    std::ofstream(config.path) << lineFor(1, big).substr(0, 100 * 1024);
    {
        const sinks::FileSink sink(config, loop);
        CHECK(sink.holdsUpTo() == 0);
        CHECK(slurp(config.path).empty());
    }
    std::ofstream(config.path) << lineFor(3, big);
    const sinks::FileSink sink(config, loop);
    CHECK(sink.holdsUpTo() == 3);
    CHECK(slurp(config.path) == lineFor(3, big));
}

TEST_CASE("reopen follows a file moved away by logrotate")
{
    TempDir dir;
    event::EventLoop loop;
    config::FileSinkConfig config;
    config.path = dir.path / "m.jsonl";
    sinks::FileSink sink(config, loop);
    sink.deliver(recordFor(1, "1"));
    sink.flush();
    fs::rename(config.path, dir.path / "m.jsonl.1");
    sink.deliver(recordFor(2, "2"));
    sink.reopen();
    sink.deliver(recordFor(3, "3"));
    sink.flush();
    CHECK(slurp(dir.path / "m.jsonl.1") == lineFor(1, "1") + lineFor(2, "2"));
    CHECK(slurp(config.path) == lineFor(3, "3"));
}

TEST_CASE("copytruncate: writes continue at the new end")
{
    TempDir dir;
    event::EventLoop loop;
    config::FileSinkConfig config;
    config.path = dir.path / "m.jsonl";
    sinks::FileSink sink(config, loop);
    sink.deliver(recordFor(1, "1"));
    sink.flush();
    fs::resize_file(config.path, 0);
    sink.deliver(recordFor(2, "2"));
    sink.flush();
    CHECK(slurp(config.path) == lineFor(2, "2"));
}

TEST_CASE("a file that cannot be opened at start is an error naming it")
{
    event::EventLoop loop;
    config::FileSinkConfig config;
    config.path = "/nonexistent-dir/m.jsonl";
    CHECK_THROWS_WITH(sinks::FileSink(config, loop),
                      "cannot open /nonexistent-dir/m.jsonl: No such file or directory");
}
