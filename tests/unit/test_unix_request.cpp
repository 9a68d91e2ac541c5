// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "sinks/unix_request.hpp"

using namespace wspush::sinks;

namespace {

std::string invalid(std::string_view line)
{
    const UnixRequest request = parseUnixRequest(line);
    REQUIRE(std::holds_alternative<InvalidRequest>(request));
    return std::get<InvalidRequest>(request).message;
}

template <typename T>
T parsed(std::string_view line)
{
    const UnixRequest request = parseUnixRequest(line);
    REQUIRE(std::holds_alternative<T>(request));
    return std::get<T>(request);
}

const std::string nameRule = "1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'";
const std::string knownOps = "replay, status, send, subscribe, ack, cursors, delete_cursor";

} // namespace

TEST_CASE("replay takes a seq and an optional epoch")
{
    auto request = parsed<ReplayRequest>(R"({"op":"replay","since":42})");
    CHECK(request.since == 42);
    CHECK(request.epoch.empty());

    request = parsed<ReplayRequest>(R"( {"since":0,"op":"replay","epoch":"abc"} )");
    CHECK(request.since == 0);
    CHECK(request.epoch == "abc");

    CHECK(parsed<ReplayRequest>(R"({"op":"replay","since":1,"epoch":null})").epoch.empty());

    request = parsed<ReplayRequest>(R"({"op":"replay","since":18446744073709551615})");
    CHECK(request.since == 18446744073709551615ULL);
}

TEST_CASE("replay: round 1's \"run\" is a synonym of \"epoch\"")
{
    CHECK(parsed<ReplayRequest>(R"({"op":"replay","since":3,"run":"abc"})").epoch == "abc");
    CHECK(parsed<ReplayRequest>(R"({"op":"replay","since":3,"run":"abc","epoch":"abc"})").epoch ==
          "abc");
    CHECK(invalid(R"({"op":"replay","since":3,"run":"abc","epoch":"abd"})") ==
          "replay's \"epoch\" and \"run\" differ");
}

TEST_CASE("status and cursors take nothing")
{
    CHECK(std::holds_alternative<StatusRequest>(parseUnixRequest(R"({"op":"status"})")));
    CHECK(std::holds_alternative<CursorsRequest>(parseUnixRequest(R"({"op":"cursors"})")));
}

TEST_CASE("send: a string goes verbatim, any other value as compact JSON")
{
    CHECK(parsed<SendRequest>(R"({"op":"send","data":"hello \"there\"\n"})").text ==
          "hello \"there\"\n");
    CHECK(parsed<SendRequest>(R"({"op":"send","data":{"b": [1, 2.5, null], "a":"é"}})").text ==
          R"({"a":"é","b":[1,2.5,null]})");
    CHECK(parsed<SendRequest>(R"({"op":"send","data":42})").text == "42");
}

TEST_CASE("subscribe takes a name, and from the first record or the next")
{
    auto request = parsed<SubscribeRequest>(R"({"op":"subscribe","name":"billing-2.eu_west"})");
    CHECK(request.name == "billing-2.eu_west");
    CHECK_FALSE(request.fromFirst);
    CHECK(parsed<SubscribeRequest>(R"({"op":"subscribe","name":"a","from":"first"})").fromFirst);
    CHECK_FALSE(
        parsed<SubscribeRequest>(R"({"op":"subscribe","name":"a","from":"next"})").fromFirst);
    CHECK(parsed<SubscribeRequest>(R"({"op":"subscribe","name":")" + std::string(64, 'x') + R"("})")
              .name.size() == 64);
}

TEST_CASE("subscription names: 1 to 64 of A-Z a-z 0-9 . _ -")
{
    CHECK(isSubscriptionName("a"));
    CHECK(isSubscriptionName("Z9._-"));
    CHECK(isSubscriptionName(std::string(64, 'n')));
    CHECK_FALSE(isSubscriptionName(""));
    CHECK_FALSE(isSubscriptionName(std::string(65, 'n')));
    for (const char* bad : {"a b", "a/b", "a:b", "é", "a\n", "*", "a,b", "ä"})
        CHECK_FALSE(isSubscriptionName(bad));
    CHECK_FALSE(isSubscriptionName(std::string_view("a\0b", 3)));
}

TEST_CASE("ack takes a seq")
{
    CHECK(parsed<AckRequest>(R"({"op":"ack","seq":0})").seq == 0);
    CHECK(parsed<AckRequest>(R"({"seq":51,"op":"ack"})").seq == 51);
}

TEST_CASE("delete_cursor takes a name")
{
    CHECK(parsed<DeleteCursorRequest>(R"({"op":"delete_cursor","name":"old-reader"})").name ==
          "old-reader");
}

TEST_CASE("malformed requests are explained")
{
    CHECK(invalid("") == "request is not JSON");
    CHECK(invalid("not json") == "request is not JSON");
    CHECK(invalid(R"({"op":"status"} trailing)") == "request is not JSON");
    CHECK(invalid(R"({"op":"status",})") == "request is not JSON");
    CHECK(invalid(R"({"op":"status"} // comment)") == "request is not JSON");
    CHECK(invalid(R"({"op":"status","op":"send"})") == "request is not JSON");
    CHECK(invalid("[1,2]") == "a request is a JSON object");
    CHECK(invalid("42") == "a request is a JSON object");
    CHECK(invalid("{}") == "a request needs \"op\": " + knownOps);
    CHECK(invalid(R"({"op":7})") == "a request needs \"op\": " + knownOps);
    CHECK(invalid(R"({"op":"dance"})") == "unknown op 'dance' (known: " + knownOps + ")");
    CHECK(invalid(R"({"op":"replay"})") == "replay needs \"since\": a seq, 0 or more");
    CHECK(invalid(R"({"op":"replay","since":-1})") == "replay needs \"since\": a seq, 0 or more");
    CHECK(invalid(R"({"op":"replay","since":"5"})") == "replay needs \"since\": a seq, 0 or more");
    CHECK(invalid(R"({"op":"replay","since":1.5})") == "replay needs \"since\": a seq, 0 or more");
    CHECK(invalid(R"({"op":"replay","since":1,"run":3})") == "replay's \"run\" must be a string");
    CHECK(invalid(R"({"op":"replay","since":1,"epoch":[]})") ==
          "replay's \"epoch\" must be a string");
    CHECK(invalid(R"({"op":"send"})") == "send needs \"data\"");
}

TEST_CASE("malformed subscribe, ack and delete_cursor requests are explained")
{
    CHECK(invalid(R"({"op":"subscribe"})") == "subscribe needs \"name\": " + nameRule);
    CHECK(invalid(R"({"op":"subscribe","name":7})") == "subscribe needs \"name\": " + nameRule);
    CHECK(invalid(R"({"op":"subscribe","name":""})") == "subscribe's \"name\" must be " + nameRule);
    CHECK(invalid(R"({"op":"subscribe","name":"a b"})") ==
          "subscribe's \"name\" must be " + nameRule);
    CHECK(invalid(R"({"op":"subscribe","name":"../etc"})") ==
          "subscribe's \"name\" must be " + nameRule);
    CHECK(invalid(R"({"op":"subscribe","name":")" + std::string(65, 'x') + R"("})") ==
          "subscribe's \"name\" must be " + nameRule);
    CHECK(invalid(R"({"op":"subscribe","name":"a","from":"last"})") ==
          "subscribe's \"from\" is \"first\" or \"next\"");
    CHECK(invalid(R"({"op":"subscribe","name":"a","from":1})") ==
          "subscribe's \"from\" is \"first\" or \"next\"");
    CHECK(invalid(R"({"op":"ack"})") == "ack needs \"seq\": the last record handled");
    CHECK(invalid(R"({"op":"ack","seq":-1})") == "ack needs \"seq\": the last record handled");
    CHECK(invalid(R"({"op":"ack","seq":"5"})") == "ack needs \"seq\": the last record handled");
    CHECK(invalid(R"({"op":"ack","seq":2.5})") == "ack needs \"seq\": the last record handled");
    CHECK(invalid(R"({"op":"delete_cursor"})") == "delete_cursor needs \"name\": " + nameRule);
    CHECK(invalid(R"({"op":"delete_cursor","name":"x y"})") ==
          "delete_cursor's \"name\" must be " + nameRule);
}
