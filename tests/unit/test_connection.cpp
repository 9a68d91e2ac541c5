// SPDX-License-Identifier: MIT
#include <cstdio>
#include <fcntl.h>
#include <stdexcept>
#include <stdlib.h>
#include <string>
#include <unistd.h>

#include <doctest/doctest.h>
#include <json/reader.h>

#include "connection/backoff.hpp"
#include "connection/json_pointer.hpp"
#include "connection/proxy_environment.hpp"
#include "connection/resume_tracker.hpp"
#include "connection/server_url.hpp"
#include "connection/token.hpp"

using namespace wspush;
using namespace std::chrono_literals;

TEST_CASE("backoff grows from initial_delay by multiplier up to max_delay")
{
    config::ReconnectConfig config;
    config.initialDelay = 1s;
    config.maxDelay = 10s;
    config.multiplier = 2.0;
    config.jitter = 0.0;
    connection::Backoff backoff(config, 1);
    const long expected[] = {1000, 2000, 4000, 8000, 10000, 10000};
    for (long ms : expected)
        CHECK(backoff.next().count() == ms);
    CHECK(backoff.attempts() == 6);
    backoff.reset();
    CHECK(backoff.attempts() == 0);
    CHECK(backoff.next().count() == 1000);
}

TEST_CASE("jitter spreads each delay within +/- jitter and never past max_delay")
{
    config::ReconnectConfig config;
    config.initialDelay = 1s;
    config.maxDelay = 8s;
    config.multiplier = 2.0;
    config.jitter = 0.2;
    long lowest = 1'000'000, highest = 0;
    for (std::uint64_t seed = 0; seed < 2000; ++seed) {
        connection::Backoff backoff(config, seed);
        const long first = backoff.next().count();
        CHECK(first >= 800);
        CHECK(first <= 1200);
        lowest = std::min(lowest, first);
        highest = std::max(highest, first);
        for (int i = 0; i < 6; ++i) {
            const long later = backoff.next().count();
            CHECK(later <= 8000);
        }
        CHECK(backoff.next().count() >= 6400);
    }
    // The spread is really used, so a fleet does not reconnect in step.
    CHECK(lowest < 850);
    CHECK(highest > 1150);
}

TEST_CASE("a wait the server asked for is a floor, spread upwards only")
{
    config::ReconnectConfig config;
    config.initialDelay = 1s;
    config.maxDelay = 8s;
    config.jitter = 0.2;
    for (std::uint64_t seed = 0; seed < 500; ++seed) {
        connection::Backoff backoff(config, seed);
        const long asked = backoff.next(30s).count();
        CHECK(asked >= 30000);
        CHECK(asked <= 36000);
        CHECK(backoff.attempts() == 1);
        // A floor below the backoff's own delay changes nothing.
        const long ordinary = backoff.next(1ms).count();
        CHECK(ordinary >= 1600);
        CHECK(ordinary <= 2400);
    }
}

TEST_CASE("the longest delay is max_delay spread downwards only")
{
    config::ReconnectConfig config;
    config.initialDelay = 1s;
    config.maxDelay = 10s;
    config.jitter = 0.2;
    for (std::uint64_t seed = 0; seed < 500; ++seed) {
        connection::Backoff backoff(config, seed);
        const long longest = backoff.longest().count();
        CHECK(longest >= 8000);
        CHECK(longest <= 10000);
        CHECK(backoff.attempts() == 1);
    }
    config.jitter = 0.0;
    connection::Backoff exact(config, 1);
    CHECK(exact.longest() == 10s);
}

TEST_CASE("server URLs")
{
    const auto plain = connection::parseServerUrl("ws://push.example.com/websocket/7");
    REQUIRE(plain);
    CHECK_FALSE(plain->secure);
    CHECK(plain->host == "push.example.com");
    CHECK(plain->port == 80);
    CHECK(plain->path == "/websocket/7");

    const auto secure = connection::parseServerUrl("wss://u:p@[::1]:8443?x=1#frag");
    REQUIRE(secure);
    CHECK(secure->secure);
    CHECK(secure->userInfo == "u:p");
    CHECK(secure->host == "::1");
    CHECK(secure->port == 8443);
    CHECK(secure->path == "/?x=1");

    CHECK(connection::parseServerUrl("wss://h")->port == 443);
    CHECK(connection::parseServerUrl("wss://h")->path == "/");
    CHECK_FALSE(connection::parseServerUrl("http://h/"));
    CHECK_FALSE(connection::parseServerUrl("ws:///path"));
    CHECK_FALSE(connection::parseServerUrl("ws://h:0/"));
    CHECK_FALSE(connection::parseServerUrl("ws://h:70000/"));
    CHECK_FALSE(connection::parseServerUrl("ws://h:8x/"));
    CHECK_FALSE(connection::parseServerUrl("ws://[::1/"));
}

TEST_CASE("masked URLs hide credentials and the token")
{
    CHECK(connection::maskUrl("wss://user:secret@h:1/ws/${TOKEN}?t=${TOKEN}") ==
          "wss://***@h:1/ws/***?t=***");
    CHECK(connection::maskUrl("ws://h/websocket/42") == "ws://h/websocket/42");
    CHECK(connection::maskUrl("ws://h/a@b") == "ws://h/a@b");
}

TEST_CASE("tokens are read afresh, trimmed, and substituted")
{
    char path[] = "/tmp/wspush-token-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "  abc123 \n", 10) == 10);
    close(fd);

    config::ServerConfig server;
    server.tokenFile = path;
    CHECK(connection::readToken(server) == "abc123");

    std::FILE* rotated = std::fopen(path, "w");
    std::fputs("rotated\n", rotated);
    std::fclose(rotated);
    CHECK(connection::readToken(server) == "rotated");

    unlink(path);
    CHECK_THROWS_WITH_AS(
        connection::readToken(server),
        (std::string("token file ") + path + ": cannot open: No such file or directory").c_str(),
        std::runtime_error);

    CHECK(connection::readToken(config::ServerConfig{}).empty());
    CHECK(connection::substituteToken("a ${TOKEN} b ${TOKEN}", "t") == "a t b t");
    CHECK(connection::usesToken("Bearer ${TOKEN}"));
    CHECK_FALSE(connection::usesToken("Bearer x"));
}

TEST_CASE("systemd credentials come from $CREDENTIALS_DIRECTORY")
{
    config::ServerConfig server;
    server.tokenCredential = "push-token";
    unsetenv("CREDENTIALS_DIRECTORY");
    CHECK_THROWS_AS(connection::readToken(server), std::runtime_error);

    char directory[] = "/tmp/wspush-creds-XXXXXX";
    REQUIRE(mkdtemp(directory) != nullptr);
    const std::string file = std::string(directory) + "/push-token";
    std::FILE* out = std::fopen(file.c_str(), "w");
    std::fputs("from-credential", out);
    std::fclose(out);
    setenv("CREDENTIALS_DIRECTORY", directory, 1);
    CHECK(connection::readToken(server) == "from-credential");
    unlink(file.c_str());
    rmdir(directory);
    unsetenv("CREDENTIALS_DIRECTORY");
}

TEST_CASE("no_proxy entries: names with their subdomains, addresses, ports, *")
{
    using connection::bypassesProxy;
    CHECK(bypassesProxy("*", "push.example.com", 443));
    CHECK(bypassesProxy("example.com", "push.example.com", 443));
    CHECK(bypassesProxy(".example.com", "push.example.com", 443));
    CHECK(bypassesProxy("localhost, Example.COM", "example.com", 80));
    CHECK_FALSE(bypassesProxy("example.com", "badexample.com", 443));
    CHECK_FALSE(bypassesProxy("push.example.com", "example.com", 443));
    CHECK(bypassesProxy("127.0.0.1", "127.0.0.1", 8080));
    CHECK_FALSE(bypassesProxy("127.0.0.1", "127.0.0.10", 8080));
    CHECK(bypassesProxy("example.com:8443", "push.example.com", 8443));
    CHECK_FALSE(bypassesProxy("example.com:8443", "push.example.com", 443));
    CHECK(bypassesProxy("::1", "::1", 80));
    CHECK(bypassesProxy("[::1]:80", "::1", 80));
    CHECK_FALSE(bypassesProxy("", "example.com", 80));
    CHECK_FALSE(bypassesProxy(" , ,", "example.com", 80));
}

TEST_CASE("the proxy for a URL comes from its scheme's variable unless no_proxy exempts it")
{
    connection::ProxyEnvironment environment{"http://web:3128", "proxy.corp:8080/", "internal"};
    const auto plain = connection::parseServerUrl("ws://push.example.com/ws");
    const auto secure = connection::parseServerUrl("wss://push.example.com/ws");
    const auto inside = connection::parseServerUrl("wss://a.internal/ws");
    REQUIRE((plain && secure && inside));
    CHECK(connection::proxyFor(environment, *plain).url == "http://web:3128");
    const auto chosen = connection::proxyFor(environment, *secure);
    CHECK(chosen.url == "http://proxy.corp:8080");
    CHECK(chosen.source == "https_proxy");
    CHECK(connection::proxyFor(environment, *inside).url.empty());

    environment.httpsProxy = "socks5://proxy.corp:1080";
    const auto socks = connection::proxyFor(environment, *secure);
    CHECK(socks.url.empty());
    CHECK(socks.rejected == "only http:// proxies are supported");
    environment.httpsProxy = "http://user:pw@proxy.corp";
    CHECK(connection::proxyFor(environment, *secure).rejected ==
          "expected http://[user:pass@]host:port");
    environment.httpsProxy = "http://user:pw@proxy.corp:3128";
    CHECK(connection::proxyFor(environment, *secure).url == "http://user:pw@proxy.corp:3128");
}

TEST_CASE("maskUrl hides the credentials of proxy URLs too")
{
    CHECK(connection::maskUrl("http://user:pw@proxy:3128") == "http://***@proxy:3128");
    CHECK(connection::maskUrl("http://proxy:3128") == "http://proxy:3128");
}

TEST_CASE("max_delay bounds every delay the backoff chooses, fleet spread included")
{
    config::ReconnectConfig config;
    config.initialDelay = 200ms;
    config.maxDelay = 2s;
    config.jitter = 0.2; // fleet_spread keeps its default, 15 s
    long highest = 0;
    for (std::uint64_t seed = 0; seed < 2000; ++seed) {
        connection::Backoff backoff(config, seed);
        for (int attempt = 0; attempt < 8; ++attempt) {
            const long delay = backoff.next(0ms, true).count();
            CHECK(delay >= 160);
            CHECK(delay <= 2000);
            highest = std::max(highest, delay);
        }
    }
    CHECK(highest > 1950);
}

TEST_CASE("the fleet spread stays uniform under max_delay")
{
    // Without jitter the first retry after a loss is 200 ms plus a uniform share of the
    // 1.8 s left under max_delay: nine buckets of 200 ms get a ninth of the draws each.
    config::ReconnectConfig config;
    config.initialDelay = 200ms;
    config.maxDelay = 2s;
    config.jitter = 0.0;
    config.fleetSpread = 15s;
    constexpr int draws = 18000;
    int buckets[9] = {};
    for (int i = 0; i < draws; ++i) {
        connection::Backoff backoff(config, static_cast<std::uint64_t>(i));
        const long delay = backoff.next(0ms, true).count();
        REQUIRE(delay >= 200);
        REQUIRE(delay <= 2000);
        ++buckets[std::min(8L, (delay - 200) / 200)];
    }
    for (const int count : buckets) {
        CHECK(count > draws / 9 * 85 / 100);
        CHECK(count < draws / 9 * 115 / 100);
    }
}

TEST_CASE("with the defaults a fleet still comes back over fleet_spread")
{
    const config::ReconnectConfig config; // 1 s, max 60 s, jitter 0.2, fleet_spread 15 s
    long lowest = 1'000'000, highest = 0;
    for (std::uint64_t seed = 0; seed < 2000; ++seed) {
        connection::Backoff backoff(config, seed);
        const long delay = backoff.next(0ms, true).count();
        CHECK(delay >= 800);
        CHECK(delay <= 16200);
        lowest = std::min(lowest, delay);
        highest = std::max(highest, delay);
        // Without a lost link there is no fleet spread.
        CHECK(backoff.next().count() <= 2400);
    }
    CHECK(lowest < 1500);
    CHECK(highest > 15000);
}

TEST_CASE("a wait the server asked for is not lengthened by the fleet spread")
{
    config::ReconnectConfig config;
    config.initialDelay = 1s;
    config.maxDelay = 8s;
    config.jitter = 0.2;
    config.fleetSpread = 15s;
    for (std::uint64_t seed = 0; seed < 500; ++seed) {
        connection::Backoff backoff(config, seed);
        const long asked = backoff.next(30s, true).count();
        CHECK(asked >= 30000);
        CHECK(asked <= 36000);
    }
}

TEST_CASE("JSON pointers as RFC 6901 defines them")
{
    Json::Value root;
    Json::Reader().parse(R"({"id":"m-1","a/b":{"m~n":[10,{"x":7}]},"":0})", root);
    using connection::resolvePointer;
    CHECK(resolvePointer(root, "/id")->asString() == "m-1");
    CHECK(resolvePointer(root, "/a~1b/m~0n/0")->asInt() == 10);
    CHECK(resolvePointer(root, "/a~1b/m~0n/1/x")->asInt() == 7);
    CHECK(resolvePointer(root, "/")->asInt() == 0);
    CHECK(resolvePointer(root, "") == &root);
    CHECK(resolvePointer(root, "/missing") == nullptr);
    CHECK(resolvePointer(root, "/a~1b/m~0n/2") == nullptr);
    CHECK(resolvePointer(root, "/a~1b/m~0n/01") == nullptr);
    CHECK(resolvePointer(root, "/a~1b/m~0n/-") == nullptr);
    CHECK(resolvePointer(root, "/id/0") == nullptr);
}

TEST_CASE("resume: ids as strings or integers, duplicates within the window dropped")
{
    config::ResumeConfig config;
    config.id = "/id";
    config.dedup = 3;
    connection::ResumeTracker tracker(config);
    CHECK(tracker.inspect(R"({"id":"a"})", false).id == "a");
    CHECK(tracker.inspect(R"({"id":42})", false).id == "42");
    CHECK(tracker.inspect(R"({"id":"a"})", false).duplicate);
    CHECK_FALSE(tracker.inspect(R"({"id":"b"})", false).duplicate);
    CHECK_FALSE(tracker.inspect(R"({"id":"c"})", false).duplicate);
    // "a" was the oldest of the window of 3: evicted, so it counts as new again.
    CHECK_FALSE(tracker.inspect(R"({"id":"a"})", false).duplicate);
    // Neither JSON nor a string/integer id: forwarded, no id.
    CHECK_FALSE(tracker.inspect("not json", false).id);
    CHECK_FALSE(tracker.inspect(R"({"id":1.5})", false).id);
    CHECK_FALSE(tracker.inspect(R"({"id":"a"})", true).duplicate); // binary frames
    CHECK(tracker.fieldsOf(R"({"id":"z"})").id == "z");
}

TEST_CASE("resume: a jump or a restart of the server's sequence is a gap")
{
    config::ResumeConfig config;
    config.sequence = "/seq";
    connection::ResumeTracker tracker(config);
    CHECK_FALSE(tracker.inspect(R"({"seq":5})", false).gap);
    CHECK_FALSE(tracker.inspect(R"({"seq":6})", false).gap);
    const auto jump = tracker.inspect(R"({"seq":9})", false).gap;
    REQUIRE(jump);
    CHECK((jump->expected == 7 && jump->got == 9));
    const auto restart = tracker.inspect(R"({"seq":1})", false).gap;
    REQUIRE(restart);
    CHECK((restart->expected == 10 && restart->got == 1));
    CHECK(tracker.lastSequence() == 1);
    // Kept across a restart of the daemon.
    connection::ResumeTracker restarted(config);
    restarted.setLastSequence(1);
    CHECK_FALSE(restarted.inspect(R"({"seq":2})", false).gap);
}
