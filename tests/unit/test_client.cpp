// SPDX-License-Identifier: MIT
#include <cstddef>
#include <filesystem>
#include <stdlib.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <system_error>
#include <thread>
#include <unistd.h>

#include <doctest/doctest.h>

#include "record/base64.hpp"
#include "record/encoder.hpp"
#include "wspush/protocol.hpp"
#include "wspush/subscriber.hpp"

using namespace wspush;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// 2026-11-27T22:31:05.123456Z
constexpr std::int64_t sampleUs = 1'795'818'665'123'456;

constexpr std::string_view sampleLine = R"({"seq":1042,"ts":"2026-11-27T22:31:05.123456Z",)"
                                        R"("data":{"type":"order","id":7,"price":1.50}})";

Message parsed(std::string_view line)
{
    std::string error;
    auto message = parseLine(line, error);
    REQUIRE_MESSAGE(message, error);
    CHECK(error.empty());
    return std::move(*message);
}

Record parsedRecord(std::string_view line)
{
    Message message = parsed(line);
    REQUIRE(std::holds_alternative<Record>(message));
    return std::get<Record>(std::move(message));
}

std::string recordLine(std::uint64_t seq, const std::string& data = R"({"n":1})")
{
    return R"({"seq":)" + std::to_string(seq) + R"(,"ts":"2026-11-27T22:31:05.123456Z","data":)" +
           data + "}\n";
}

void writeAll(int fd, std::string_view text)
{
    while (!text.empty()) {
        const ssize_t written = ::write(fd, text.data(), text.size());
        REQUIRE(written > 0);
        text.remove_prefix(static_cast<std::size_t>(written));
    }
}

std::string readSome(int fd)
{
    std::string text(4096, '\0');
    const ssize_t got = ::read(fd, text.data(), text.size());
    REQUIRE(got >= 0);
    text.resize(static_cast<std::size_t>(got));
    return text;
}

struct TempDir
{
    TempDir()
    {
        char pattern[] = "/tmp/wspush-client-XXXXXX";
        path = mkdtemp(pattern);
    }
    ~TempDir() { fs::remove_all(path); }
    fs::path path;
};

// Plays the daemon's side of the socket: listens on a path or an "@NAME".
class FakeDaemon
{
public:
    explicit FakeDaemon(std::string path) : path_(std::move(path))
    {
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        const bool abstract = path_.starts_with('@');
        const std::string name = abstract ? path_.substr(1) : path_;
        name.copy(address.sun_path + (abstract ? 1 : 0), name.size());
        const auto length =
            static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + 1);
        listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(listener_ >= 0);
        REQUIRE(::bind(listener_, reinterpret_cast<const sockaddr*>(&address), length) == 0);
        REQUIRE(::listen(listener_, 4) == 0);
    }
    FakeDaemon(const FakeDaemon&) = delete;
    FakeDaemon& operator=(const FakeDaemon&) = delete;
    ~FakeDaemon()
    {
        if (peer_ >= 0)
            ::close(peer_);
        ::close(listener_);
    }

    const std::string& path() const { return path_; }

    // The daemon's end of the connection a Subscriber made.
    int accept()
    {
        peer_ = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        REQUIRE(peer_ >= 0);
        return peer_;
    }

    void hangUp()
    {
        ::close(peer_);
        peer_ = -1;
    }

private:
    std::string path_;
    int listener_ = -1;
    int peer_ = -1;
};

std::uint64_t seqOf(const std::optional<Message>& message)
{
    REQUIRE(message);
    REQUIRE(std::holds_alternative<Record>(*message));
    return std::get<Record>(*message).seq;
}

std::string connectError(const std::string& path)
{
    try {
        Subscriber subscriber(path);
    } catch (const std::system_error& error) {
        return error.what();
    }
    return "connected";
}

} // namespace

TEST_CASE("a record with an object keeps its line, and its payload as the daemon wrote it")
{
    const Record record = parsedRecord(std::string(sampleLine) + "\n");
    CHECK(record.seq == 1042);
    CHECK(record.ts == "2026-11-27T22:31:05.123456Z");
    CHECK(record.data["type"].asString() == "order");
    CHECK(record.data["id"].asInt() == 7);
    CHECK_FALSE(record.binary);
    CHECK(record.line == sampleLine);
    CHECK(payloadOf(record) == R"({"type":"order","id":7,"price":1.50})");
}

TEST_CASE("a record's data of any JSON kind")
{
    CHECK(payloadOf(parsedRecord(recordLine(1, R"("text with \"quotes\"\n")"))) ==
          "text with \"quotes\"\n");
    CHECK(payloadOf(parsedRecord(recordLine(1, "\"日本\""))) == "日本");
    CHECK(payloadOf(parsedRecord(recordLine(1, "[1,2.50,-0]"))) == "[1,2.50,-0]");
    CHECK(payloadOf(parsedRecord(recordLine(1, "42"))) == "42");
    CHECK(payloadOf(parsedRecord(recordLine(1, "null"))) == "null");
    CHECK(parsedRecord(recordLine(18446744073709551615ULL)).seq == 18446744073709551615ULL);
}

TEST_CASE("a binary record's payload is its bytes")
{
    const Record record = parsedRecord(
        R"({"seq":3,"ts":"2026-11-27T22:31:05.123456Z","data":"AAEC/w==","binary":true})");
    CHECK(record.binary);
    CHECK(payloadOf(record) == std::string("\x00\x01\x02\xff", 4));
    const std::pair<const char*, const char*> padded[] = {
        {"", ""}, {"YQ==", "a"}, {"YWI=", "ab"}, {"YWJj", "abc"}, {"YWJjZA==", "abcd"}};
    for (const auto& [base64, bytes] : padded) {
        Record small = record;
        small.data = base64;
        CHECK(payloadOf(small) == bytes);
    }
}

TEST_CASE("a record built by hand has its data as compact JSON")
{
    Record record;
    record.data["b"] = 1;
    record.data["a"] = Json::Value(Json::arrayValue);
    record.data["a"].append("x y");
    CHECK(payloadOf(record) == R"({"a":["x y"],"b":1})");
}

TEST_CASE("events carry their name and fields")
{
    const std::string line = R"({"event":"gap","from":5,"to":9})";
    const Message message = parsed(line + "\n");
    REQUIRE(std::holds_alternative<Event>(message));
    const Event& event = std::get<Event>(message);
    CHECK(event.name == "gap");
    CHECK(event.fields["from"].asUInt64() == 5);
    CHECK(event.fields["to"].asUInt64() == 9);
    CHECK(event.fields["event"].asString() == "gap");
    CHECK(event.line == line);

    const Event status = std::get<Event>(parsed(R"({"event":"status","run":"r1","sinks":[]})"));
    CHECK(status.name == "status");
    CHECK(status.fields["run"].asString() == "r1");
}

TEST_CASE("lines that are neither records nor events are errors")
{
    const std::pair<const char*, const char*> cases[] = {
        {"", "not JSON: Line 1, Column 1: "},
        {"not json", "not JSON: "},
        {R"({"seq":1,"ts":"t","data":1} x)", "not JSON: "},
        {R"({"seq":1,"seq":2,"ts":"t","data":1})", "not JSON: "},
        {R"({"seq":1,"ts":"t","data":1,})", "not JSON: "},
        {"[1]", "not a JSON object"},
        {"42", "not a JSON object"},
        {"{}", "neither a record"},
        {R"({"event":5})", "neither a record"},
        {R"({"seq":"1","ts":"t","data":1})", "a record whose seq"},
        {R"({"seq":-1,"ts":"t","data":1})", "a record whose seq"},
        {R"({"seq":1.5,"ts":"t","data":1})", "a record whose seq"},
        {R"({"seq":1,"data":1})", "a record without a ts"},
        {R"({"seq":1,"ts":"t"})", "a record without data"},
        {R"({"seq":1,"ts":"t","data":"AA==","binary":1})", "a record whose binary"},
        {R"({"seq":1,"ts":"t","data":[1],"binary":true})", "a binary record whose data"},
    };
    for (const auto& [line, expected] : cases) {
        const std::string shown = line;
        CAPTURE(shown);
        std::string error;
        CHECK_FALSE(parseLine(line, error));
        CHECK(error.starts_with(expected));
        CHECK(error.find('\n') == std::string::npos);
    }
}

TEST_CASE("a line the daemon wrote is a record, whatever jsoncpp makes of its data")
{
    struct Case
    {
        std::string payload;
        std::string data;     // what the daemon wrote for it
        std::string expected; // what payloadOf gives back
        bool readable;        // whether jsoncpp holds it in Record::data
    };
    const std::string deep = std::string(1500, '[') + std::string(1500, ']');
    const std::string shallow = std::string(900, '[') + std::string(900, ']');
    const Case cases[] = {
        {R"({"a":1, "a":2})", R"({"a":1,"a":2})", R"({"a":1,"a":2})", true},
        {R"("\ud800")", R"("\ud800")", R"("\ud800")", false},
        {R"("\udc00")", R"("\udc00")", R"("\udc00")", false},
        {R"("\ud800\u0041")", R"("\ud800\u0041")", R"("\ud800\u0041")", false},
        {R"({"k":["\uDBFF"]})", R"({"k":["\uDBFF"]})", R"({"k":["\uDBFF"]})", false},
        {R"("\ud83d\ude00 caf\u00e9\/\u0000")", R"("\ud83d\ude00 caf\u00e9\/\u0000")",
         std::string("😀 café/\0", 12), true},
        {"1e400", "1e400", "1e400", false},
        {"[ -1E400 ]", "[-1E400]", "[-1E400]", false},
        {deep, deep, deep, false},
        {shallow, shallow, shallow, true},
        {"1e400 is big", R"("1e400 is big")", "1e400 is big", true},
    };
    for (const Case& c : cases) {
        CAPTURE(c.payload);
        const auto encoded = record::encodeRecord(77, sampleUs, c.payload, false).record;
        REQUIRE(encoded.line ==
                R"({"seq":77,"ts":"2026-11-27T22:31:05.123456Z","data":)" + c.data + "}\n");
        const Record record = parsedRecord(encoded.line);
        CHECK(record.seq == 77);
        CHECK(record.ts == "2026-11-27T22:31:05.123456Z");
        CHECK_FALSE(record.binary);
        CHECK(record.line + '\n' == encoded.line);
        CHECK(payloadOf(record) == c.expected);
        CHECK(record.data.isNull() != c.readable);
    }
}

TEST_CASE("what jsoncpp reads of such data")
{
    CHECK(parsedRecord(recordLine(1, R"({"a":1,"a":[2]})")).data["a"][0].asInt() == 2);
    CHECK(parsedRecord(recordLine(1, R"("\ud83d\ude00\u00e9")")).data.asString() == "😀é");
    CHECK(
        parsedRecord(recordLine(1, std::string(900, '[') + std::string(900, ']'))).data.isArray());
}

TEST_CASE("a binary record the daemon wrote gives its bytes back")
{
    const std::string bytes = std::string("\x00\x01\xfe\xff", 4) + R"(","binary":true})";
    for (const std::string& payload : {bytes, std::string(), std::string("{\"a\":1}")}) {
        CAPTURE(payload);
        const auto encoded = record::encodeRecord(5, sampleUs, payload, true).record;
        const Record record = parsedRecord(encoded.line);
        CHECK(record.seq == 5);
        CHECK(record.binary);
        std::string base64;
        record::appendBase64(payload, base64);
        CHECK(record.data.asString() == base64);
        CHECK(payloadOf(record) == payload);
    }
}

TEST_CASE("a line that is not in the daemon's framing is read strictly")
{
    const std::pair<std::string, const char*> cases[] = {
        {R"({"seq":1,"ts":"t","data":{"a":1,"a":2},"binary":true})", "not JSON: "},
        {R"({"seq":1,"ts":"t","data":"\ud800" })", "not JSON: "},
        {R"({"seq":1,"ts":"t","data":1e400,"x":1})", "not JSON: "},
        {R"({"seq":18446744073709551616,"ts":"t","data":1})", "a record whose seq"},
        {R"({"ts":"t","seq":1,"data":)" + std::string(1500, '[') + std::string(1500, ']') + "}",
         "not readable here: "},
    };
    for (const auto& [line, expected] : cases) {
        const std::string& shown = line;
        CAPTURE(shown);
        std::string error;
        CHECK_FALSE(parseLine(line, error));
        CHECK(error.starts_with(expected));
    }
    // A record in another framing is still one, with its data read as before.
    const Record reordered = parsedRecord(R"({"ts":"t","data":{"b":[1, 2.50]},"seq":4})");
    CHECK(reordered.seq == 4);
    CHECK(payloadOf(reordered) == R"({"b":[1, 2.50]})");
    CHECK(parsedRecord(R"({"seq":2,"ts":"t\"","data":"x"})").ts == "t\"");
}

TEST_CASE("requests are one compact line each")
{
    CHECK(replayRequest(0) == "{\"op\":\"replay\",\"since\":0}\n");
    CHECK(replayRequest(18446744073709551615ULL, "4f2a") ==
          "{\"epoch\":\"4f2a\",\"op\":\"replay\",\"since\":18446744073709551615}\n");
    CHECK(statusRequest() == "{\"op\":\"status\"}\n");
    CHECK(sendRequest(Json::Value("héllo \"you\"\n\x01")) ==
          "{\"data\":\"héllo \\\"you\\\"\\n\\u0001\",\"op\":\"send\"}\n");
    Json::Value object;
    object["ids"].append(1);
    object["ids"].append(true);
    CHECK(sendRequest(object) == "{\"data\":{\"ids\":[1,true]},\"op\":\"send\"}\n");
}

TEST_CASE("subscription requests")
{
    CHECK(subscribeRequest("billing-1") == "{\"name\":\"billing-1\",\"op\":\"subscribe\"}\n");
    CHECK(subscribeRequest("a.b_c", true) ==
          "{\"from\":\"first\",\"name\":\"a.b_c\",\"op\":\"subscribe\"}\n");
    CHECK(ackRequest(51) == "{\"op\":\"ack\",\"seq\":51}\n");
    CHECK(ackRequest(18446744073709551615ULL) == "{\"op\":\"ack\",\"seq\":18446744073709551615}\n");
    CHECK(cursorsRequest() == "{\"op\":\"cursors\"}\n");
    CHECK(deleteCursorRequest("old") == "{\"name\":\"old\",\"op\":\"delete_cursor\"}\n");
}

TEST_CASE("subscription names are checked before they are sent")
{
    CHECK(isSubscriptionName("Z-9._a"));
    CHECK(isSubscriptionName(std::string(64, 'n')));
    CHECK_FALSE(isSubscriptionName(""));
    CHECK_FALSE(isSubscriptionName(std::string(65, 'n')));
    CHECK_FALSE(isSubscriptionName("a b"));
    CHECK_FALSE(isSubscriptionName("a/b"));
    CHECK_FALSE(isSubscriptionName("é"));
    CHECK_THROWS_AS(subscribeRequest("a b"), std::invalid_argument);
    CHECK_THROWS_AS(subscribeRequest(""), std::invalid_argument);
    CHECK_THROWS_AS(deleteCursorRequest("x\ny"), std::invalid_argument);
}

TEST_CASE("a hello event gives the epoch and the held range")
{
    std::string error;
    auto message = parseLine(
        R"({"event":"hello","epoch":"0123456789abcdef0123456789abcdef","first":3,"last":90})",
        error);
    REQUIRE(message);
    const auto hello = helloOf(std::get<Event>(*message));
    REQUIRE(hello);
    CHECK(hello->epoch == "0123456789abcdef0123456789abcdef");
    CHECK(hello->first == 3);
    CHECK(hello->last == 90);

    message = parseLine(R"({"event":"hello","epoch":"e","first":0,"last":0})", error);
    REQUIRE(message);
    CHECK(helloOf(std::get<Event>(*message))->last == 0);

    for (const char* other : {R"({"event":"status","epoch":"e","first":0,"last":0})",
                              R"({"event":"hello","epoch":7,"first":0,"last":0})",
                              R"({"event":"hello","epoch":"e","first":-1,"last":0})",
                              R"({"event":"hello","epoch":"e","first":0})"}) {
        message = parseLine(other, error);
        REQUIRE(message);
        CHECK_FALSE(helloOf(std::get<Event>(*message)));
    }
}

TEST_CASE("a subscriber reads lines split across reads, and many in one read")
{
    TempDir dir;
    FakeDaemon daemon((dir.path / "wspushd.sock").string());
    Subscriber subscriber(daemon.path());
    const int peer = daemon.accept();

    const std::string line = recordLine(1);
    writeAll(peer, line.substr(0, 10));
    CHECK_FALSE(subscriber.next(20ms));
    writeAll(peer, line.substr(10, 20));
    CHECK_FALSE(subscriber.next(0ms));
    writeAll(peer, line.substr(30));
    CHECK(seqOf(subscriber.next(1s)) == 1);

    std::string many;
    for (std::uint64_t seq = 2; seq <= 300; ++seq)
        many += recordLine(seq);
    many += R"({"event":"dropped","count":4})"
            "\n";
    writeAll(peer, many);
    for (std::uint64_t seq = 2; seq <= 300; ++seq)
        REQUIRE(seqOf(subscriber.next(1s)) == seq);
    const auto dropped = subscriber.next(1s);
    REQUIRE(dropped);
    CHECK(std::get<Event>(*dropped).name == "dropped");
    CHECK_FALSE(subscriber.next(0ms));
}

TEST_CASE("a line longer than a read arrives whole")
{
    TempDir dir;
    FakeDaemon daemon((dir.path / "wspushd.sock").string());
    Subscriber subscriber(daemon.path());
    const int peer = daemon.accept();

    const std::string text(std::size_t{300} * 1024, 'x');
    std::thread writer([&] { writeAll(peer, recordLine(1, '"' + text + '"') + recordLine(2)); });
    const auto first = subscriber.next(5s);
    const auto second = subscriber.next(5s);
    writer.join();
    REQUIRE(first);
    CHECK(payloadOf(std::get<Record>(*first)) == text);
    CHECK(seqOf(second) == 2);
}

TEST_CASE("requests reach the daemon")
{
    TempDir dir;
    FakeDaemon daemon((dir.path / "wspushd.sock").string());
    Subscriber subscriber(daemon.path());
    const int peer = daemon.accept();
    subscriber.send(statusRequest());
    CHECK(readSome(peer) == "{\"op\":\"status\"}\n");
}

TEST_CASE("a malformed line is reported and the next one read")
{
    TempDir dir;
    FakeDaemon daemon((dir.path / "wspushd.sock").string());
    Subscriber subscriber(daemon.path());
    writeAll(daemon.accept(), "garbage\n" + recordLine(7));
    CHECK_THROWS_AS(subscriber.next(1s), MalformedLine);
    CHECK(seqOf(subscriber.next(1s)) == 7);
}

TEST_CASE("the daemon hanging up is Disconnected, after the lines it sent")
{
    TempDir dir;
    FakeDaemon daemon((dir.path / "wspushd.sock").string());
    Subscriber subscriber(daemon.path());
    writeAll(daemon.accept(), recordLine(1) + R"({"seq":2,"ts":)");
    daemon.hangUp();
    CHECK(seqOf(subscriber.next(1s)) == 1);
    CHECK_THROWS_WITH_AS(subscriber.next(1s), "connection closed by the daemon", Disconnected);
    CHECK_THROWS_AS(subscriber.send(statusRequest()), Disconnected);
}

TEST_CASE("a moved subscriber keeps what it had read")
{
    TempDir dir;
    FakeDaemon daemon((dir.path / "wspushd.sock").string());
    Subscriber first(daemon.path());
    writeAll(daemon.accept(), recordLine(1) + recordLine(2));
    CHECK(seqOf(first.next(1s)) == 1);
    Subscriber second = std::move(first);
    CHECK(seqOf(second.next(1s)) == 2);
    CHECK(second.fd() >= 0);
}

TEST_CASE("abstract socket names")
{
    const std::string name = "@wspush-test-client-" + std::to_string(::getpid());
    {
        FakeDaemon daemon(name);
        Subscriber subscriber(name);
        writeAll(daemon.accept(), recordLine(5));
        CHECK(seqOf(subscriber.next(1s)) == 5);
    }
    CHECK(connectError(name) == "cannot connect to " + name + ": Connection refused");
}

TEST_CASE("a failed connect names the path and why")
{
    TempDir dir;
    const std::string missing = (dir.path / "missing.sock").string();
    CHECK(connectError(missing) == "cannot connect to " + missing + ": No such file or directory");
    const std::string tooLong = "/tmp/" + std::string(200, 'x');
    CHECK(connectError(tooLong) == "cannot connect to " + tooLong + ": File name too long");
    try {
        Subscriber subscriber(missing);
    } catch (const std::system_error& error) {
        CHECK(error.code() == std::errc::no_such_file_or_directory);
    }
}
