// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "record/encoder.hpp"
#include "record/json_text.hpp"
#include "record/record_pool.hpp"
#include "record/timestamp.hpp"
#include "record/utf8.hpp"

using namespace wspush::record;

namespace {

// 2026-11-27T22:31:05.123456Z
constexpr std::int64_t sampleUs = 1'795'818'665'123'456;

std::string lineFor(std::string payload, bool binary = false)
{
    return encodeRecord(1042, sampleUs, std::move(payload), binary).record.line;
}

std::string compact(std::string_view text)
{
    std::string out = "prefix";
    if (!appendCompactJson(text, out)) {
        CHECK(out == "prefix");
        return "<text>";
    }
    return out.substr(6);
}

constexpr std::size_t maxSpareBytes = std::size_t{4} * 1024 * 1024;

std::size_t bufferBytes(const Record& record)
{
    return record.payload.capacity() + record.line.capacity();
}

// A record from the pool whose payload and line hold `bytes` in all.
std::shared_ptr<Record> takeHolding(RecordPool& pool, std::size_t bytes)
{
    auto record = pool.take();
    record->payload.reserve(bytes - record->line.capacity());
    REQUIRE(bufferBytes(*record) == bytes);
    return record;
}

} // namespace

TEST_CASE("timestamps are RFC 3339 UTC with microseconds")
{
    std::string out;
    appendTimestamp(sampleUs, out);
    CHECK(out == "2026-11-27T22:31:05.123456Z");
    out.clear();
    appendTimestamp(0, out);
    CHECK(out == "1970-01-01T00:00:00.000000Z");
}

TEST_CASE("a JSON object becomes data as a value, compacted")
{
    CHECK(lineFor(R"({"type": "order",
  "id": 7})") == "{\"seq\":1042,\"ts\":\"2026-11-27T22:31:05.123456Z\","
                 "\"data\":{\"type\":\"order\",\"id\":7}}\n");
}

TEST_CASE("any JSON value at the root is JSON")
{
    CHECK(compact("42") == "42");
    CHECK(compact(R"("x")") == R"("x")");
    CHECK(compact("[1]") == "[1]");
    CHECK(compact("null") == "null");
    CHECK(compact(" \t\r\n true \n") == "true");
    CHECK(compact("-0.5e+10") == "-0.5e+10");
    CHECK(compact("{}") == "{}");
    CHECK(compact("[ ]") == "[]");
    CHECK(compact(R"([ {"a" : [ 1 , 2 ] } , "b c" ])") == R"([{"a":[1,2]},"b c"])");
    CHECK(compact(R"("\u00e9\n\"\\\/")") == R"("\u00e9\n\"\\\/")");
    CHECK(compact("\"日本\"") == "\"日本\"");
}

TEST_CASE("what RFC 8259 does not allow is text")
{
    for (const char* text : {"",
                             " ",
                             "true story",
                             "42 is not JSON",
                             "{\"a\":1,}",
                             "[1,]",
                             "[1 2]",
                             "// c\n1",
                             "/* c */ 1",
                             "{'a':1}",
                             "{a:1}",
                             "01",
                             "1.",
                             ".5",
                             "+1",
                             "1e",
                             "NaN",
                             "Infinity",
                             "tru",
                             "nul",
                             "\"unterminated",
                             "\"tab\there\"",
                             "\"\\x\"",
                             "\"\\u12G4\"",
                             "{\"a\"}",
                             "{\"a\" 1}",
                             "{1:2}",
                             "[",
                             "]",
                             "{",
                             "}",
                             "[1]]",
                             "{}{}",
                             "1 2",
                             "\"a\"\"b\""})
        CHECK_MESSAGE(compact(text) == "<text>", text);
}

TEST_CASE("deep nesting costs no stack")
{
    const std::size_t depth = 200000;
    const std::string deep = std::string(depth, '[') + std::string(depth, ']');
    CHECK(compact(deep) == deep);
    CHECK(compact(deep + "]") == "<text>");
}

TEST_CASE("text that is not JSON is a JSON string, with newlines escaped")
{
    CHECK(lineFor("not json\nsecond line\r\t\"q\" \\ \x01") ==
          "{\"seq\":1042,\"ts\":\"2026-11-27T22:31:05.123456Z\","
          "\"data\":\"not json\\nsecond line\\r\\t\\\"q\\\" \\\\ \\u0001\"}\n");
    CHECK(lineFor("42 is not JSON").find(R"("data":"42 is not JSON")") != std::string::npos);
}

TEST_CASE("a JSON string's text, which a lone surrogate does not have")
{
    const auto text = [](std::string_view quoted) {
        std::string out = "prefix";
        if (!appendJsonStringText(quoted, out)) {
            CHECK(out == "prefix");
            return std::string("<none>");
        }
        return out.substr(6);
    };
    CHECK(text(R"("")") == "");
    CHECK(text(R"("a\"b\\c\/d\b\f\n\r\t")") == "a\"b\\c/d\b\f\n\r\t");
    CHECK(text(R"("\u0041\u00e9\u20AC\ud83d\ude00 é")") == "Aé€😀 é");
    CHECK(text(R"("\u0000")") == std::string(1, '\0'));
    for (const char* lone : {R"("\ud800")", R"("\udc00")", R"("\ud800\u0041")", R"("\ud800x")",
                             R"("\udbff\ud800")", R"("\ude00\ud83d")"}) {
        CAPTURE(lone);
        CHECK(text(lone) == "<none>");
        CHECK(hasLoneSurrogate(lone));
    }
    for (const char* bad :
         {"", "\"", "x", R"("a)", R"("a\")", R"("\x")", R"("\u12")", R"("a"b")", "\"\n\""}) {
        CAPTURE(bad);
        CHECK(text(bad) == "<none>");
    }
    CHECK_FALSE(hasLoneSurrogate(R"({"\\ud800":["\ud83d\ude00","\\\u0041"]})"));
    CHECK(hasLoneSurrogate(R"({"a":["\\\ud800"]})"));
}

TEST_CASE("unicode passes through untouched")
{
    CHECK(lineFor("来自后台的反馈:连接成功").find("\"data\":\"来自后台的反馈:连接成功\"") !=
          std::string::npos);
    CHECK(lineFor(R"({"emoji":"😀"})").find(R"("data":{"emoji":"😀"})") != std::string::npos);
}

TEST_CASE("invalid UTF-8 is replaced by U+FFFD and counted; the payload stays as received")
{
    const std::string payload = "a\xC3\x28z\xFF";
    const auto encoded = encodeRecord(1, sampleUs, payload, false);
    CHECK(encoded.invalidUtf8 == 2);
    CHECK(encoded.record.payload == payload);
    CHECK(encoded.record.line.find("\"data\":\"a\xEF\xBF\xBD(z\xEF\xBF\xBD\"") !=
          std::string::npos);
    // JSON in an invalid frame is not JSON: RFC 8259 text is UTF-8.
    CHECK(encodeRecord(1, sampleUs, "[\"\xFF\"]", false).record.line.find("\"data\":\"[") !=
          std::string::npos);
}

TEST_CASE("binary frames are base64 with binary:true")
{
    CHECK(lineFor(std::string("\x00\x01"
                              "bin",
                              5),
                  true) == "{\"seq\":1042,\"ts\":\"2026-11-27T22:31:05.123456Z\","
                           "\"data\":\"AAFiaW4=\",\"binary\":true}\n");
    CHECK(lineFor("", true).find(R"("data":"","binary":true)") != std::string::npos);
    CHECK(lineFor("{}", true).find(R"("data":"e30=","binary":true)") != std::string::npos);
}

TEST_CASE("a record line never holds a raw newline but its end")
{
    for (const char* payload : {"[1,\n2]", "a\nb", "\n", "{\"k\":\n\"v\"}\n"}) {
        const std::string line = lineFor(payload);
        CHECK(line.find('\n') == line.size() - 1);
    }
}

TEST_CASE("UTF-8 validation follows RFC 3629")
{
    CHECK(isValidUtf8(""));
    CHECK(isValidUtf8("plain ascii"));
    CHECK(isValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
    CHECK_FALSE(isValidUtf8("\xC0\xAF"));         // overlong '/'
    CHECK_FALSE(isValidUtf8("\xE0\x80\xAF"));     // overlong
    CHECK_FALSE(isValidUtf8("\xED\xA0\x80"));     // surrogate
    CHECK_FALSE(isValidUtf8("\xF4\x90\x80\x80")); // above U+10FFFF
    CHECK_FALSE(isValidUtf8("\xE2\x82"));         // truncated
    CHECK_FALSE(isValidUtf8("\x80"));             // lone continuation
}

TEST_CASE("each maximal invalid subpart becomes one U+FFFD")
{
    std::string out;
    CHECK(appendSanitizedUtf8("\xE2\x82"
                              "A\xF0\x9F\x98",
                              out) == 2);
    CHECK(out == "\xEF\xBF\xBD"
                 "A\xEF\xBF\xBD");
    out.clear();
    CHECK(appendSanitizedUtf8("\xC0\xAF", out) == 2);
    CHECK(out == "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("encodeLine on a pooled record writes what encodeRecord writes")
{
    RecordPool pool;
    struct Input
    {
        std::string payload;
        bool binary;
    };
    const Input inputs[] = {
        {R"({"type": "order", "id": 7, "tags": [ "a" , "b" ]})", false},
        {"[1, 2, 3]", false},
        {"not json\nsecond line\r\t\"q\" \\ \x01", false},
        {"来自后台的反馈:连接成功", false},
        {"", false},
        {"a\xC3\x28z\xFF", false},
        {"[\"\xFF\"]", false},
        {std::string("\x00\x01\xFF\n{}", 6), true},
        {"", true},
        {std::string(4096, 'x'), false},
        {std::string(3000, '\x80'), true},
    };
    std::uint64_t seq = 1;
    for (const Input& input : inputs) {
        const auto expected = encodeRecord(seq, sampleUs + 7 * static_cast<std::int64_t>(seq),
                                           input.payload, input.binary);
        const auto record = pool.take();
        record->seq = seq;
        record->receivedUs = sampleUs + 7 * static_cast<std::int64_t>(seq);
        record->binary = input.binary;
        record->payload = input.payload;
        CHECK(encodeLine(*record) == expected.invalidUtf8);
        CHECK(record->line == expected.record.line);
        CHECK(record->payload == expected.record.payload);
        CHECK(record->seq == expected.record.seq);
        CHECK(record->receivedUs == expected.record.receivedUs);
        CHECK(record->binary == expected.record.binary);
        ++seq;
    }
}

TEST_CASE("encodeLine replaces a longer line the record held before")
{
    Record record;
    record.seq = 5;
    record.receivedUs = sampleUs;
    record.line = std::string(10000, 'L') + "\n";
    record.payload = "{}";
    CHECK(encodeLine(record) == 0);
    CHECK(record.line == encodeRecord(5, sampleUs, "{}", false).record.line);
}

TEST_CASE("a pooled record comes back, buffers and all, once every holder let go")
{
    RecordPool pool;
    auto record = pool.take();
    Record* const address = record.get();
    record->payload.assign(5000, 'p');
    const std::size_t payloadCapacity = record->payload.capacity();

    std::shared_ptr<Record> sink = record; // a sink still queues it
    record.reset();
    auto other = pool.take();
    CHECK(other.get() != address);

    std::shared_ptr<Record> secondSink = sink;
    sink.reset();
    auto another = pool.take();
    CHECK(another.get() != address);
    CHECK(another.get() != other.get());

    secondSink.reset();
    auto again = pool.take();
    CHECK(again.get() == address);
    CHECK(again->payload.capacity() == payloadCapacity);
}

TEST_CASE("a record handed out again carries nothing of its previous use")
{
    RecordPool pool;
    Record* address = nullptr;
    {
        auto record = pool.take();
        address = record.get();
        record->seq = 99;
        record->receivedUs = sampleUs;
        record->binary = true;
        record->payload.assign(3000, '\x01');
        encodeLine(*record);
        REQUIRE(record->line.size() > 4000);
    }
    auto record = pool.take();
    REQUIRE(record.get() == address);
    CHECK(record->seq == 0);
    CHECK(record->receivedUs == 0);
    CHECK_FALSE(record->binary);
    CHECK(record->payload.empty());
    CHECK(record->line.empty());
    CHECK(record->payload.capacity() >= 3000);
    CHECK(record->line.capacity() >= 4000);

    record->seq = 1;
    record->receivedUs = sampleUs;
    record->payload = "short";
    CHECK(encodeLine(*record) == 0);
    CHECK(record->line == encodeRecord(1, sampleUs, "short", false).record.line);
}

TEST_CASE("a fresh pool hands out distinct empty records")
{
    RecordPool pool;
    auto first = pool.take();
    auto second = pool.take();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first.get() != second.get());
    for (const auto& record : {first, second}) {
        CHECK(record->seq == 0);
        CHECK(record->receivedUs == 0);
        CHECK_FALSE(record->binary);
        CHECK(record->payload.empty());
        CHECK(record->line.empty());
    }
}

TEST_CASE("the pool keeps spare buffers up to 4 MiB and frees the rest")
{
    RecordPool pool;
    const std::size_t fresh = bufferBytes(*pool.take()); // an empty record's own capacity

    SUBCASE("spares of exactly 4 MiB are all kept")
    {
        auto first = takeHolding(pool, maxSpareBytes / 2);
        auto second = takeHolding(pool, maxSpareBytes / 2);
        Record* const firstAddress = first.get();
        Record* const secondAddress = second.get();
        first.reset();
        second.reset();
        auto a = pool.take();
        auto b = pool.take();
        CHECK(bufferBytes(*a) == maxSpareBytes / 2);
        CHECK(bufferBytes(*b) == maxSpareBytes / 2);
        CHECK(((a.get() == firstAddress && b.get() == secondAddress) ||
               (a.get() == secondAddress && b.get() == firstAddress)));
    }

    SUBCASE("a spare that would pass 4 MiB is freed")
    {
        auto kept = takeHolding(pool, maxSpareBytes / 2);
        auto dropped = takeHolding(pool, maxSpareBytes / 2 + 1);
        Record* const keptAddress = kept.get();
        kept.reset();
        dropped.reset();
        auto a = pool.take();
        auto b = pool.take();
        CHECK(a.get() == keptAddress);
        CHECK(bufferBytes(*a) == maxSpareBytes / 2);
        CHECK(bufferBytes(*b) == fresh);
    }

    SUBCASE("a record whose buffers alone pass 4 MiB is never kept")
    {
        auto huge = takeHolding(pool, maxSpareBytes + 1);
        huge->payload.assign(maxSpareBytes, 'h');
        huge.reset();
        auto next = pool.take();
        CHECK(bufferBytes(*next) == fresh);
        CHECK(next->payload.empty());
    }

    SUBCASE("taking a spare frees room for another")
    {
        auto first = takeHolding(pool, maxSpareBytes / 2 + 1);
        first.reset();
        auto reused = pool.take();
        REQUIRE(bufferBytes(*reused) == maxSpareBytes / 2 + 1);
        auto second = takeHolding(pool, maxSpareBytes / 2 + 1);
        Record* const secondAddress = second.get();
        second.reset(); // the only spare now: fits although reused holds as much
        reused.reset(); // would pass 4 MiB next to second: freed
        auto a = pool.take();
        auto b = pool.take();
        CHECK(a.get() == secondAddress);
        CHECK(bufferBytes(*a) == maxSpareBytes / 2 + 1);
        CHECK(bufferBytes(*b) == fresh);
    }
}
