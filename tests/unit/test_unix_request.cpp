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

} // namespace

TEST_CASE("replay takes a seq and an optional run")
{
    auto request = parseUnixRequest(R"({"op":"replay","since":42})");
    REQUIRE(std::holds_alternative<ReplayRequest>(request));
    CHECK(std::get<ReplayRequest>(request).since == 42);
    CHECK(std::get<ReplayRequest>(request).run.empty());

    request = parseUnixRequest(R"( {"since":0,"op":"replay","run":"abc"} )");
    REQUIRE(std::holds_alternative<ReplayRequest>(request));
    CHECK(std::get<ReplayRequest>(request).since == 0);
    CHECK(std::get<ReplayRequest>(request).run == "abc");
}

TEST_CASE("status")
{
    CHECK(std::holds_alternative<StatusRequest>(parseUnixRequest(R"({"op":"status"})")));
}

TEST_CASE("send: a string goes verbatim, any other value as compact JSON")
{
    auto request = parseUnixRequest(R"({"op":"send","data":"hello \"there\"\n"})");
    REQUIRE(std::holds_alternative<SendRequest>(request));
    CHECK(std::get<SendRequest>(request).text == "hello \"there\"\n");

    request = parseUnixRequest(R"({"op":"send","data":{"b": [1, 2.5, null], "a":"é"}})");
    REQUIRE(std::holds_alternative<SendRequest>(request));
    CHECK(std::get<SendRequest>(request).text == R"({"a":"é","b":[1,2.5,null]})");

    request = parseUnixRequest(R"({"op":"send","data":42})");
    CHECK(std::get<SendRequest>(request).text == "42");
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
    CHECK(invalid("{}") == "a request needs \"op\": replay, status or send");
    CHECK(invalid(R"({"op":7})") == "a request needs \"op\": replay, status or send");
    CHECK(invalid(R"({"op":"dance"})") == "unknown op 'dance' (known: replay, status, send)");
    CHECK(invalid(R"({"op":"replay"})") == "replay needs \"since\": a seq, 0 or more");
    CHECK(invalid(R"({"op":"replay","since":-1})") == "replay needs \"since\": a seq, 0 or more");
    CHECK(invalid(R"({"op":"replay","since":"5"})") == "replay needs \"since\": a seq, 0 or more");
    CHECK(invalid(R"({"op":"replay","since":1.5})") == "replay needs \"since\": a seq, 0 or more");
    CHECK(invalid(R"({"op":"replay","since":1,"run":3})") == "replay's \"run\" must be a string");
    CHECK(invalid(R"({"op":"send"})") == "send needs \"data\"");
}
