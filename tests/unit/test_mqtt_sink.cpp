// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "sinks/mqtt_sink.hpp"

using wspush::record::Record;
using wspush::sinks::MqttSink;

namespace {

Record text(std::string payload)
{
    Record record;
    record.seq = 1;
    record.payload = std::move(payload);
    record.line = "{}\n";
    return record;
}

} // namespace

TEST_CASE("a topic value cannot add levels or wildcards")
{
    CHECK(MqttSink::topicSafe("a/b+c#d") == "a_b_c_d");
    CHECK(MqttSink::topicSafe(std::string_view("x\0y", 3)) == "x_y");
    CHECK(MqttSink::topicSafe("") == "_");
    CHECK(MqttSink::topicSafe("ordinary-value.1") == "ordinary-value.1");
}

TEST_CASE("topic templates take values from the message")
{
    const Record order = text(R"({"type":"order","id":7,"ok":true,"f":1.5,"o":{},"a/b":"s"})");
    CHECK(MqttSink::expandTopic("wspush", order) == "wspush");
    CHECK(MqttSink::expandTopic("wspush/{/type}/{/id}", order) == "wspush/order/7");
    CHECK(MqttSink::expandTopic("{/ok}-{/f}", order) == "true-1.5");
    CHECK(MqttSink::expandTopic("t/{/o}/{/missing}/{/a~1b}", order) == "t/_/_/s");
    CHECK(MqttSink::expandTopic("t/{/type}", text("not json")) == "t/_");
    CHECK(MqttSink::expandTopic("t/{/type}", text(R"({"type":"../+/#"})")) == "t/..____");
    Record binary = text(R"({"type":"x"})");
    binary.binary = true;
    CHECK(MqttSink::expandTopic("t/{/type}", binary) == "t/_");
}
