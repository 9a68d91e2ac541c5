// SPDX-License-Identifier: MIT
// The bundled server's ids, history and resume requests (src/testserver): the parts that need
// no socket.
#include <cstdint>
#include <string>
#include <variant>

#include <doctest/doctest.h>

#include "testserver/control.hpp"
#include "testserver/message_log.hpp"
#include "testserver/payload.hpp"
#include "testserver/resume.hpp"

using namespace wspush::testserver;

namespace {

std::string built(const PushMessage& message)
{
    std::string out;
    appendPushMessage(out, message);
    CHECK(out.size() == pushMessageLength(message));
    return out;
}

std::string withIds(std::uint64_t k, std::uint64_t seq, std::size_t size, bool stamped = false,
                    std::uint64_t stampNs = 0)
{
    PushMessage message = plainPushMessage(k, size, stamped);
    message.stampNs = stampNs;
    message.ids = true;
    message.idPrefix = "m-";
    message.seq = seq;
    return built(message);
}

std::string logged(const MessageLog& log, std::uint64_t k)
{
    return built(log.message(k));
}

template <typename T>
T parsedAs(std::string_view line)
{
    const auto parsed = parseCommand(line);
    REQUIRE(std::holds_alternative<ParsedCommand>(parsed));
    const auto& command = std::get<ParsedCommand>(parsed).command;
    REQUIRE(std::holds_alternative<T>(command));
    return std::get<T>(command);
}

bool rejected(std::string_view line)
{
    return std::holds_alternative<ParseError>(parseCommand(line));
}

} // namespace

TEST_CASE("push messages keep their layout without ids and add id and seq with them")
{
    CHECK(built(plainPushMessage(7, 32, false)) ==
          R"({"n":7,"pad":")" + std::string(16, 'x') + R"("})");
    const std::string message = withIds(12, 3, 64);
    CHECK(message == R"({"id":"m-12","seq":3,"n":12,"pad":")" + std::string(27, 'x') + R"("})");
    CHECK(message.size() == 64);
    const std::string stamped = withIds(5, 5, 100, true, 1'795'818'665'123'456'789);
    CHECK(stamped.starts_with(R"({"id":"m-5","seq":5,"n":5,"t":1795818665123456789,"pad":"x)"));
    CHECK(stamped.size() == 100);
}

TEST_CASE("the ids minimum size leaves room for 10-digit numbers")
{
    const std::size_t minimum = minimumIdsPushSize("m-", false);
    CHECK(minimum == 62);
    CHECK(minimumIdsPushSize("m-", true) == minimum + 24);
    CHECK(withIds(9'999'999'999, 9'999'999'999, minimum).size() == minimum);
    PushSpec spec;
    spec.size = minimum - 1;
    CHECK(idsPushProblem(spec, "m-").has_value());
    spec.size = minimum;
    CHECK_FALSE(idsPushProblem(spec, "m-").has_value());
    spec.stamp = true;
    CHECK(idsPushProblem(spec, "m-").has_value());
}

TEST_CASE("the log numbers messages, keeps the last N, and replays them byte for byte")
{
    MessageLog log("m-", 5);
    CHECK(log.end() == 1);
    CHECK(log.historyCount() == 0);
    CHECK(log.publish(3, 80, true) == 1);
    const std::string second = logged(log, 2);
    CHECK(second.starts_with(R"({"id":"m-2","seq":2,"n":2,"t":)"));
    CHECK(log.publish(4, 80, false) == 4);
    CHECK(log.end() == 8);
    CHECK(log.historyFirst() == 3);
    CHECK(log.historyCount() == 5);
    CHECK(logged(log, 2) == second); // the stamp is the one it was published with

    SUBCASE("resume points")
    {
        CHECK(log.resumePoint("m-5").start == 6);
        CHECK(log.resumePoint("m-5").known);
        CHECK(log.resumePoint("m-2").start == 3); // just before the history: nothing lost
        CHECK(log.resumePoint("m-2").known);
        CHECK(log.resumePoint("m-7").start == 8);
        for (const char* unknown : {"m-1", "m-8", "m-05", "m-", "x-5", "5", ""}) {
            CAPTURE(unknown);
            CHECK_FALSE(log.resumePoint(unknown).known);
            CHECK(log.resumePoint(unknown).start == 3);
        }
    }

    SUBCASE("trimming keeps the history and what clients still need")
    {
        log.trim(1);
        CHECK(log.runs() == 2);
        log.trim(8);
        CHECK(log.runs() == 2); // run 1-3 still holds m-3
        log.publish(1, 80, false);
        log.trim(log.end());
        CHECK(log.runs() == 2); // now m-4 is the oldest of the history
        CHECK(log.historyFirst() == 4);
        log.publish(5, 80, false);
        log.trim(log.end());
        CHECK(log.runs() == 1);
    }
}

TEST_CASE("skip and restart-seq move the sequence, never the ids")
{
    MessageLog log("m-", 100);
    log.publish(2, 80, false);
    log.skip(3);
    log.publish(1, 80, false);
    log.restartSeq(1);
    log.publish(2, 80, false);
    CHECK(log.message(1).seq == 1);
    CHECK(log.message(2).seq == 2);
    CHECK(log.message(3).seq == 6);
    CHECK(log.message(4).seq == 1);
    CHECK(log.message(5).seq == 2);
    CHECK(log.idOf(5) == "m-5");
    CHECK(log.nextSeq() == 3);

    CHECK(parsedAs<SkipCommand>("skip 7").count == 7);
    CHECK(parsedAs<RestartSeqCommand>("restart-seq").seq == 1);
    CHECK(parsedAs<RestartSeqCommand>("restart-seq 0").seq == 0);
    CHECK(parsedAs<RestartSeqCommand>("restart-seq 500").seq == 500);
    parsedAs<HistoryCommand>("history");
    CHECK(rejected("skip"));
    CHECK(rejected("skip 0"));
    CHECK(rejected("skip 9007199254740992"));
    CHECK(rejected("restart-seq 1 2"));
    CHECK(rejected("restart-seq x"));
    CHECK(rejected("history 1"));
}

TEST_CASE("resume modes")
{
    CHECK(parseResumeSource("query:since") == ResumeSource{ResumeSource::Kind::Query, "since"});
    CHECK(parseResumeSource("header:Last-Event-ID") ==
          ResumeSource{ResumeSource::Kind::Header, "Last-Event-ID"});
    CHECK(parseResumeSource("message") == ResumeSource{ResumeSource::Kind::Message, ""});
    for (const char* bad : {"", "query", "query:", "query:a=b", "header:a b", "cookie:x"}) {
        CAPTURE(bad);
        CHECK_FALSE(parseResumeSource(bad).has_value());
    }
}

TEST_CASE("resume requests")
{
    using Request = std::optional<std::optional<std::string>>;
    CHECK(parseResumeMessage(R"({"op":"resume","id":"m-5"})") == Request(std::in_place, "m-5"));
    CHECK(parseResumeMessage(" { \"id\" : \"m-5\" ,\n \"op\" : \"resume\" } ") ==
          Request(std::in_place, "m-5"));
    CHECK(parseResumeMessage(R"({"op":"resume","x":[1,{"y":null}],"id":"a\"\u00e9"})") ==
          Request(std::in_place, "a\"\xc3\xa9"));
    CHECK(parseResumeMessage(R"({"op":"resume","id":"\ud83d\ude00"})") ==
          Request(std::in_place, "\xf0\x9f\x98\x80"));
    // No id yet: a request all the same.
    for (const char* none :
         {R"({"op":"resume"})", R"({"op":"resume","id":null})", R"({"op":"resume","id":""})"}) {
        CAPTURE(none);
        const Request request = parseResumeMessage(none);
        REQUIRE(request.has_value());
        CHECK_FALSE(request->has_value());
    }
    for (const char* other :
         {"", "resume", R"({"sendType":"HEALTH"})", R"({"op":"subscribe","id":"m-1"})",
          R"({"op":"resume","id":5})", R"({"op":"resume","id":"m-1"} x)", R"({"op":"resume",})",
          R"([{"op":"resume"}])", R"({"op":"resume","id":"\ud800"})"}) {
        CAPTURE(other);
        CHECK_FALSE(parseResumeMessage(other).has_value());
    }
}
