// SPDX-License-Identifier: MIT
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "config/config_error.hpp"
#include "config/loader.hpp"

using namespace std::chrono_literals;
using namespace wspush::config;

namespace {

// Only the required key; cases about other settings append to it from line 3 on.
constexpr const char* minimal = "server:\n  url: ws://push.example.com/ws\n";

std::string errorOf(const std::string& yaml)
{
    try {
        parseConfig(yaml, "test.yaml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "no error";
}

std::string errorWith(const std::string& yaml)
{
    return errorOf(std::string(minimal) + yaml);
}

Config parseWith(const std::string& yaml)
{
    return parseConfig(std::string(minimal) + yaml, "test.yaml");
}

// A fresh directory under the system temporary directory, removed again at scope exit.
class TempDir
{
public:
    TempDir()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "wspushd-test-XXXXXX");
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string file(const std::string& name, const std::string& content) const
    {
        std::string path = path_ / name;
        std::ofstream(path) << content;
        return path;
    }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// The shipped example, found from this file's path as the compiler saw it; meson builds
// with paths relative to the build directory, where `meson test` runs.
std::string exampleConfig()
{
    return std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "config" / "wspushd.yaml";
}

} // namespace

TEST_CASE("a minimal config gets every default")
{
    const Config config = parseConfig(minimal, "test.yaml");
    ServerConfig server;
    server.url = "ws://push.example.com/ws";
    CHECK(config.server == server);
    CHECK(config.heartbeat == HeartbeatConfig{});
    CHECK(config.heartbeat.message == R"({"sendType":"HEALTH"})");
    CHECK(config.reconnect == ReconnectConfig{});
    CHECK(config.filter.drop.empty());
    CHECK(config.sinks.empty());
}

TEST_CASE("every key is read into the structs")
{
    setenv("WSPUSH_TEST_USER", "u42", 1);
    const Config config = parseConfig(R"(server:
  url: wss://push.example.com:8443/websocket/${WSPUSH_TEST_USER}?token=${TOKEN}
  headers:
    Authorization: "Bearer ${TOKEN}"
    X-User: "id ${WSPUSH_TEST_USER}"
  token_credential: push-token
  subprotocol: push.v1
  tls:
    ca_file: /etc/ssl/ca.pem
    cert_file: /etc/wspushd/client.pem
    key_file: /etc/wspushd/client.key
    verify: false
  proxy: http://user:secret@proxy.lan:3128
  max_message_size: 64KiB
  compression: true
heartbeat:
  message: ping
  interval: 5m
  ping_interval: 1500ms
  timeout: 10s
reconnect:
  initial_delay: 250ms
  max_delay: 2m
  multiplier: 1.5
  jitter: 0
  max_attempts: 12
  stable_after: 1h
  fleet_spread: 3s
filter:
  drop: [SUCCESS, "来自后台的反馈:连接成功"]
sinks:
  - type: journal
    priority: warning
    identifier: push
  - type: syslog
    facility: local3
    identifier: push-syslog
    priority: 2
  - type: unix
    path: "@wspushd"
    mode: "0600"
    group: adm
    max_queue: 64KiB
    policy: drop
    replay: 0
    allow_send: true
  - type: file
    path: /var/log/push.raw
    format: raw
    fsync: interval
    fsync_interval: 5s
    max_size: 10MB
    keep: 1000
    max_queue: 1MiB
)",
                                      "full.yaml");

    const ServerConfig& server = config.server;
    CHECK(server.url == "wss://push.example.com:8443/websocket/u42?token=${TOKEN}");
    REQUIRE(server.headers.size() == 2);
    CHECK(server.headers[0] ==
          std::pair<std::string, std::string>("Authorization", "Bearer ${TOKEN}"));
    CHECK(server.headers[1] == std::pair<std::string, std::string>("X-User", "id u42"));
    CHECK(server.tokenFile.empty());
    CHECK(server.tokenCredential == "push-token");
    CHECK(server.subprotocol == "push.v1");
    CHECK(server.tls == TlsConfig{"/etc/ssl/ca.pem", "/etc/wspushd/client.pem",
                                  "/etc/wspushd/client.key", false});
    CHECK(server.proxy == "http://user:secret@proxy.lan:3128");
    CHECK(server.maxMessageSize == 65536);
    CHECK(server.compression);

    CHECK(config.heartbeat == HeartbeatConfig{"ping", 5min, 1500ms, 10s});
    CHECK(config.reconnect == ReconnectConfig{250ms, 2min, 1.5, 0.0, 12, 1h, 3s});
    CHECK(config.filter.drop == std::vector<std::string>{"SUCCESS", "来自后台的反馈:连接成功"});

    REQUIRE(config.sinks.size() == 4);
    CHECK(config.sinks[0] == SinkConfig{"journal", JournalSinkConfig{LOG_WARNING, "push"},
                                        Location{"full.yaml", 32, 5}});
    CHECK(config.sinks[1] == SinkConfig{"syslog",
                                        SyslogSinkConfig{LOG_LOCAL3, "push-syslog", LOG_CRIT},
                                        Location{"full.yaml", 35, 5}});
    CHECK(config.sinks[2] == SinkConfig{"unix",
                                        UnixSinkConfig{"@wspushd", 0600, "adm", 65536,
                                                       UnixSinkConfig::Policy::Drop, 0, true},
                                        Location{"full.yaml", 39, 5}});
    CHECK(config.sinks[3] ==
          SinkConfig{"file",
                     FileSinkConfig{"/var/log/push.raw", FileSinkConfig::Format::Raw,
                                    FileSinkConfig::Fsync::Interval, 5s, 10000000, 1000, 1048576},
                     Location{"full.yaml", 47, 5}});
}

TEST_CASE("sinks get their defaults")
{
    const Config config = parseWith(R"(sinks:
  - type: journal
  - {type: syslog}
  - type: unix
  - type: file
)");
    REQUIRE(config.sinks.size() == 4);
    CHECK(config.sinks[0].settings == SinkSettings{JournalSinkConfig{}});
    CHECK(config.sinks[1].settings == SinkSettings{SyslogSinkConfig{}});
    CHECK(config.sinks[1].location == Location{"test.yaml", 5, 5});
    CHECK(config.sinks[2].settings == SinkSettings{UnixSinkConfig{}});
    CHECK(config.sinks[3].settings == SinkSettings{FileSinkConfig{}});
    CHECK(std::get<SyslogSinkConfig>(config.sinks[1].settings).facility == LOG_DAEMON);
}

TEST_CASE("empty sections, lists and values that may be empty")
{
    const Config config = parseWith("heartbeat:\nreconnect: {}\nfilter:\n  drop: []\nsinks:\n");
    CHECK(config.heartbeat == HeartbeatConfig{});
    CHECK(config.reconnect == ReconnectConfig{});
    CHECK(config.filter.drop.empty());
    CHECK(config.sinks.empty());
    CHECK(parseWith("sinks: []\n").sinks.empty());

    const Config blank = parseWith(R"(  token_file: ""
  headers: {}
  proxy: ""
  subprotocol: ""
  tls: {ca_file: "", cert_file: "", key_file: ""}
heartbeat: {message: "", interval: 0s, ping_interval: 0s, timeout: 0s}
)");
    CHECK(blank.server.headers.empty());
    CHECK(blank.heartbeat == HeartbeatConfig{"", 0s, 0s, 0s});
}

TEST_CASE("a zero ping_interval or timeout lifts the ordering rule")
{
    CHECK(parseWith("heartbeat: {ping_interval: 0s, timeout: 5s}\n").heartbeat.timeout == 5s);
    CHECK(parseWith("heartbeat: {ping_interval: 90s, timeout: 0s}\n").heartbeat.pingInterval ==
          90s);
}

TEST_CASE("accepted spellings")
{
    CHECK(parseConfig("server: {url: 'ws://[::1]:8080'}", "t").server.url == "ws://[::1]:8080");
    CHECK(parseConfig("server: {url: 'wss://h?x=1'}", "t").server.url == "wss://h?x=1");
    CHECK(parseWith("  tls: {verify: True}\n").server.tls.verify);
    CHECK_FALSE(parseWith("  tls: {verify: FALSE}\n").server.tls.verify);
    CHECK(parseWith("  proxy: http://proxy:3128\n").server.proxy == "http://proxy:3128");
    CHECK(parseWith("  proxy: http://[fd00::1]:3128/\n").server.proxy == "http://[fd00::1]:3128/");
    CHECK(parseWith("  token_file: /etc/wspushd/token\n").server.tokenFile == "/etc/wspushd/token");
    CHECK(parseWith("reconnect: {multiplier: 3, max_attempts: 4294967295}\n").reconnect ==
          ReconnectConfig{1s, 60s, 3.0, 0.2, 4294967295u, 30s});
    CHECK(std::get<JournalSinkConfig>(
              parseWith("sinks: [{type: journal, priority: 0}]\n").sinks[0].settings)
              .priority == LOG_EMERG);
    CHECK(
        std::get<UnixSinkConfig>(parseWith("sinks: [{type: unix, mode: 660}]\n").sinks[0].settings)
            .mode == 0660);
    // The same path in sinks of different types does not collide.
    CHECK(parseWith("sinks: [{type: file, path: /x}, {type: unix, path: /x}]\n").sinks.size() == 2);
}

TEST_CASE("the shipped example config loads")
{
    setenv("USER_ID", "1001", 1);
    const std::string path = exampleConfig();
    CAPTURE(path);
    const Config config = loadConfigFile(path);
    // It shows every default, so apart from the URL it must read as no config at all.
    ServerConfig server;
    server.url = "wss://push.example.com/websocket/1001";
    CHECK(config.server == server);
    CHECK(config.heartbeat == HeartbeatConfig{});
    CHECK(config.reconnect == ReconnectConfig{});
    CHECK(config.filter.drop == std::vector<std::string>{"SUCCESS", "来自后台的反馈:连接成功"});
    REQUIRE(config.sinks.size() == 1);
    CHECK(config.sinks[0].type == "file");
    CHECK(config.sinks[0].settings == SinkSettings{FileSinkConfig{}});
}

TEST_CASE("the document")
{
    CHECK(errorOf("") == "test.yaml:1:1: server.url is required");
    CHECK(errorOf("# nothing but a comment\n") == "test.yaml:1:1: server.url is required");
    CHECK(errorOf("heartbeat: {interval: 1s}\n") == "test.yaml:1:1: server.url is required");
    CHECK(errorOf("just text") ==
          "test.yaml:1:1: the document root must be a mapping of sections, got 'just text'");
    CHECK(errorOf("- a\n- b\n") ==
          "test.yaml:1:1: the document root must be a mapping of sections, got a list");
    CHECK(errorWith("---\nserver: {}\n") == "test.yaml:4:1: only one YAML document is allowed");
    CHECK(errorOf("server:\n  url: [ws://h\nheartbeat: {}\n") ==
          "test.yaml:3:10: end of sequence flow not found");
    CHECK(errorOf("server:\n\turl: ws://h\n") == "test.yaml:2:5: illegal map value");
    CHECK(errorWith("servers: {}\n") == "test.yaml:3:1: unknown key 'servers'");
    CHECK(errorWith("server: {}\n") == "test.yaml:3:1: duplicate key 'server'");
    CHECK(errorWith("[a]: 1\n") == "test.yaml:3:1: expected a key name, got a list");
    CHECK(errorWith("heartbeat: 5\n") == "test.yaml:3:12: heartbeat: expected a mapping, got '5'");
}

TEST_CASE("loadConfigFile reads a file and reports why it cannot")
{
    const TempDir dir;
    const std::string good = dir.file("good.yaml", minimal);
    CHECK(loadConfigFile(good).server.url == "ws://push.example.com/ws");

    const std::string bad = dir.file("bad.yaml", std::string(minimal) + "bogus: 1\n");
    CHECK_THROWS_WITH_AS(loadConfigFile(bad), (bad + ":3:1: unknown key 'bogus'").c_str(),
                         ConfigError);

    const std::string missing = (dir.path() / "missing.yaml").string();
    CHECK_THROWS_WITH_AS(loadConfigFile(missing),
                         (missing + ":1:1: cannot read file: No such file or directory").c_str(),
                         ConfigError);

    // A directory opens but does not read, the way a file without read permission fails.
    const std::string directory = dir.path().string();
    CHECK_THROWS_WITH_AS(loadConfigFile(directory),
                         (directory + ":1:1: cannot read file: Is a directory").c_str(),
                         ConfigError);

    const std::string secret = dir.file("secret.yaml", minimal);
    REQUIRE(chmod(secret.c_str(), 0) == 0);
    // Root reads files whatever their mode; the directory case above stands in for it then.
    if (access(secret.c_str(), R_OK) != 0) {
        CHECK_THROWS_WITH_AS(loadConfigFile(secret),
                             (secret + ":1:1: cannot read file: Permission denied").c_str(),
                             ConfigError);
    }
}

TEST_CASE("server.url")
{
    setenv("WSPUSH_TEST_USER", "u42", 1);
    unsetenv("WSPUSH_TEST_UNSET");
    CHECK(errorOf("server:\nheartbeat: {}\n") == "test.yaml:1:1: server.url is required");
    CHECK(errorOf("heartbeat: {}\nserver:\n  proxy: ''\n") ==
          "test.yaml:3:3: server.url is required");
    CHECK(errorOf("server: {url: http://h/}") ==
          "test.yaml:1:15: server.url: must be a ws:// or wss:// URL, got 'http://h/'");
    CHECK(errorOf("server: {url: ''}") ==
          "test.yaml:1:15: server.url: must be a ws:// or wss:// URL, got ''");
    CHECK(errorOf("server: {url: 'ws:///websocket'}") ==
          "test.yaml:1:15: server.url: expected a host and optional port after the scheme, got "
          "'ws:///websocket'");
    CHECK(errorOf("server: {url: 'wss://h:0/'}") ==
          "test.yaml:1:15: server.url: expected a host and optional port after the scheme, got "
          "'wss://h:0/'");
    CHECK(errorOf("server: {url: 'ws://h:99999'}") ==
          "test.yaml:1:15: server.url: expected a host and optional port after the scheme, got "
          "'ws://h:99999'");
    CHECK(errorOf("server: {url: 'ws://h:'}") ==
          "test.yaml:1:15: server.url: expected a host and optional port after the scheme, got "
          "'ws://h:'");
    CHECK(errorOf("server: {url: 'ws://user:secret@/x'}") ==
          "test.yaml:1:15: server.url: expected a host and optional port after the scheme, got "
          "'ws://***@/x'");
    CHECK(errorOf("server: {url: 'http://user:secret@h/'}") ==
          "test.yaml:1:15: server.url: must be a ws:// or wss:// URL, got 'http://***@h/'");
    CHECK(errorOf("server: {url: 'ws://h/a b'}") ==
          "test.yaml:1:15: server.url: must not contain spaces or control characters");
    CHECK(errorOf("server: {url: [ws://h]}") ==
          "test.yaml:1:15: server.url: expected a string, got a list");
    CHECK(errorOf("server: {url: 'ws://h/${WSPUSH_TEST_UNSET}'}") ==
          "test.yaml:1:15: server.url: environment variable 'WSPUSH_TEST_UNSET' is not set");
    CHECK(errorOf("server: {url: 'ws://h/${WSPUSH_TEST_USER'}") ==
          "test.yaml:1:15: server.url: malformed variable reference at '${', expected ${NAME}");
    CHECK(errorOf("server: {url: 'ws://h/${1X}'}") ==
          "test.yaml:1:15: server.url: malformed variable reference at '${1X}', expected ${NAME}");
    CHECK(parseConfig("server: {url: 'ws://${WSPUSH_TEST_USER}.example/${TOKEN}/$x', "
                      "token_file: /etc/wspushd/token}",
                      "t")
              .server.url == "ws://u42.example/${TOKEN}/$x");
}

TEST_CASE("without a token source ${TOKEN} is the environment variable")
{
    setenv("TOKEN", "from-env", 1);
    const Config config = parseConfig(
        "server: {url: 'ws://h/?t=${TOKEN}', headers: {Authorization: 'Bearer ${TOKEN}'}}", "t");
    CHECK(config.server.url == "ws://h/?t=from-env");
    CHECK(config.server.headers.at(0).second == "Bearer from-env");
    // An empty token_file is no source either.
    CHECK(parseConfig("server: {url: 'ws://h/${TOKEN}', token_file: ''}", "t").server.url ==
          "ws://h/from-env");
    unsetenv("TOKEN");
    CHECK(errorOf("server: {headers: {Authorization: 'Bearer ${TOKEN}'}, url: 'ws://h/'}") ==
          "test.yaml:1:35: server.headers.Authorization: environment variable 'TOKEN' is not set, "
          "and "
          "neither is server.token_file or server.token_credential");
}

TEST_CASE("server settings")
{
    unsetenv("WSPUSH_TEST_UNSET");
    setenv("WSPUSH_TEST_NEWLINE", "a\r\nX-Injected: 1", 1);
    CHECK(errorWith("  bogus: 1\n") == "test.yaml:3:3: unknown key 'bogus' in 'server'");
    CHECK(errorWith("  url: ws://other/\n") == "test.yaml:3:3: duplicate key 'url' in 'server'");
    CHECK(errorWith("  headers: [a]\n") ==
          "test.yaml:3:12: server.headers: expected a mapping, got a list");
    CHECK(errorWith("  headers: {\"Bad Name\": x}\n") ==
          "test.yaml:3:13: server.headers: invalid header name 'Bad Name'");
    CHECK(errorWith("  headers: {X-A: 1, x-a: 2}\n") ==
          "test.yaml:3:21: server.headers: header 'x-a' is set twice");
    CHECK(errorWith("  headers: {X-A: {b: 1}}\n") ==
          "test.yaml:3:18: server.headers.X-A: expected a string, got a mapping");
    CHECK(errorWith("  headers: {X-A: '${WSPUSH_TEST_UNSET}'}\n") ==
          "test.yaml:3:18: server.headers.X-A: environment variable 'WSPUSH_TEST_UNSET' is not "
          "set");
    CHECK(errorWith("  headers: {X-A: '${WSPUSH_TEST_NEWLINE}'}\n") ==
          "test.yaml:3:18: server.headers.X-A: must not contain control characters");
    CHECK(errorWith("  token_file: token\n") ==
          "test.yaml:3:15: server.token_file: must be an absolute path, got 'token'");
    CHECK(errorWith("  token_file: /etc/wspushd/token\n  token_credential: push\n") ==
          "test.yaml:4:21: server.token_credential: cannot be used together with "
          "server.token_file; set only one");
    CHECK(errorWith("  token_credential: a/b\n") ==
          "test.yaml:3:21: server.token_credential: must be a credential name without '/', got "
          "'a/b'");
    CHECK(errorWith("  subprotocol: 'a b'\n") ==
          "test.yaml:3:16: server.subprotocol: must be a protocol name made of HTTP token "
          "characters, got 'a b'");
    CHECK(errorWith("  tls: {verify: yes}\n") ==
          "test.yaml:3:17: server.tls.verify: expected true or false, got 'yes'");
    CHECK(errorWith("  tls: {verify: 'true'}\n") ==
          "test.yaml:3:17: server.tls.verify: expected true or false, got the string 'true'");
    CHECK(errorWith("  tls:\n    verify:\n") ==
          "test.yaml:4:5: server.tls.verify: expected true or false, got nothing");
    CHECK(errorWith("  tls: {ca_file: ca.pem}\n") ==
          "test.yaml:3:18: server.tls.ca_file: must be an absolute path, got 'ca.pem'");
    CHECK(errorWith("  tls: {key_file: /k.pem}\n") ==
          "test.yaml:3:19: server.tls.key_file: needs server.tls.cert_file as well");
    CHECK(errorWith("  tls: {bogus: 1}\n") == "test.yaml:3:9: unknown key 'bogus' in 'server.tls'");
    for (const char* proxy : {"socks5://h:1080", "http://h", "http://h:0", "http://user@h:3128",
                              "http://:pw@h:3128", "h:3128"}) {
        CAPTURE(proxy);
        CHECK(errorWith(std::string("  proxy: '") + proxy + "'\n") ==
              "test.yaml:3:10: server.proxy: expected \"\" or http://[user:pass@]host:port");
    }
    CHECK(errorWith("  compression: yes\n") ==
          "test.yaml:3:16: server.compression: expected true or false, got 'yes'");
    CHECK(errorWith("  max_message_size: 0\n") ==
          "test.yaml:3:21: server.max_message_size: must be between 1B and 1GiB, got '0'");
    CHECK(errorWith("  max_message_size: 1025MiB\n") ==
          "test.yaml:3:21: server.max_message_size: must be between 1B and 1GiB, got '1025MiB'");
    CHECK(errorWith("  max_message_size: lots\n") ==
          "test.yaml:3:21: server.max_message_size: expected a size such as 4MiB, got 'lots'");
    CHECK(errorWith("  max_message_size: 1GiB\n") == "no error");
}

TEST_CASE("heartbeat settings")
{
    CHECK(errorWith("heartbeat:\n  interval: abc\n") ==
          "test.yaml:4:13: heartbeat.interval: expected a duration such as 30s, got 'abc'");
    CHECK(errorWith("heartbeat:\n  interval: 30\n") ==
          "test.yaml:4:13: heartbeat.interval: expected a duration such as 30s, got '30'");
    CHECK(errorWith("heartbeat:\n  interval: -1s\n") ==
          "test.yaml:4:13: heartbeat.interval: expected a duration such as 30s, got '-1s'");
    CHECK(errorWith("heartbeat:\n  message: {\"sendType\":\"HEALTH\"}\n") ==
          "test.yaml:4:12: heartbeat.message: expected a string (quote JSON text: "
          "'{\"sendType\":\"HEALTH\"}'), got a mapping");
    CHECK(errorWith("heartbeat:\n  ping_interval: 20s\n  timeout: 20s\n") ==
          "test.yaml:5:12: heartbeat.timeout (20s) must be longer than heartbeat.ping_interval "
          "(20s): on an idle link the pong to each ping is all that arrives, so a shorter "
          "timeout would drop healthy links");
    CHECK(errorWith("heartbeat:\n  beat: 1s\n") ==
          "test.yaml:4:3: unknown key 'beat' in 'heartbeat'");
}

TEST_CASE("a default never makes a key the user wrote invalid")
{
    // ping_interval follows timeout: a third of it, at most 20 s.
    const auto shortTimeout = parseWith("heartbeat: {interval: 2s, timeout: 10s}\n").heartbeat;
    CHECK(shortTimeout.timeout == 10s);
    CHECK(shortTimeout.pingInterval == 3333ms);
    CHECK(parseWith("heartbeat: {timeout: 1500ms}\n").heartbeat.pingInterval == 500ms);
    CHECK(parseWith("heartbeat: {timeout: 5m}\n").heartbeat.pingInterval == 20s);
    // timeout follows ping_interval: three of them, at least 60 s.
    CHECK(parseWith("heartbeat: {ping_interval: 90s}\n").heartbeat.timeout == 270s);
    CHECK(parseWith("heartbeat: {ping_interval: 5s}\n").heartbeat.timeout == 60s);
    // max_delay follows initial_delay.
    const auto slowStart = parseWith("reconnect: {initial_delay: 2h}\n").reconnect;
    CHECK(slowStart.initialDelay == 2h);
    CHECK(slowStart.maxDelay == 2h);
    CHECK(parseWith("reconnect: {initial_delay: 200ms}\n").reconnect.maxDelay == 60s);
    // Two values the user set that conflict are still an error.
    CHECK(errorWith("heartbeat:\n  ping_interval: 90s\n  timeout: 60s\n") ==
          "test.yaml:5:12: heartbeat.timeout (1m) must be longer than heartbeat.ping_interval "
          "(90s): on an idle link the pong to each ping is all that arrives, so a shorter "
          "timeout would drop healthy links");
}

TEST_CASE("heartbeat.probe_timeout")
{
    CHECK(parseWith("").heartbeat.probeTimeout == 2s);
    CHECK(parseWith("heartbeat: {probe_timeout: 500ms}\n").heartbeat.probeTimeout == 500ms);
    CHECK(parseWith("heartbeat: {probe_timeout: 0s}\n").heartbeat.probeTimeout == 0s);
    CHECK(errorWith("heartbeat:\n  probe_timeout: soon\n") ==
          "test.yaml:4:18: heartbeat.probe_timeout: expected a duration such as 30s, got 'soon'");
}

TEST_CASE("resume settings")
{
    const auto resume = parseWith("resume:\n  id: /meta/id\n  initial: '0'\n"
                                  "  message: '{\"op\":\"resume\",\"id\":\"${LAST_ID}\"}'\n"
                                  "  dedup: 10\n  sequence: /seq\n  reconnect_on_gap: true\n")
                            .resume;
    CHECK(resume.id == "/meta/id");
    CHECK(resume.initial == "0");
    CHECK(resume.message == R"({"op":"resume","id":"${LAST_ID}"})");
    CHECK(resume.dedup == 10);
    CHECK(resume.sequence == "/seq");
    CHECK(resume.reconnectOnGap);
    CHECK(parseWith("").resume == ResumeConfig{});
    CHECK(errorWith("resume:\n  id: id\n") ==
          "test.yaml:4:7: resume.id: expected \"\" or a JSON pointer such as /id or /meta/seq "
          "(RFC 6901), got 'id'");
    CHECK(errorWith("resume:\n  id: /a~2\n").find("JSON pointer") != std::string::npos);
    CHECK(errorWith("resume:\n  reconnect_on_gap: true\n") ==
          "test.yaml:4:21: resume.reconnect_on_gap: needs resume.sequence: a gap is a jump in "
          "that sequence");
    CHECK(errorWith("resume:\n  dedup: -1\n").find("resume.dedup") != std::string::npos);
    // ${LAST_ID} is never taken from the environment.
    setenv("LAST_ID", "from-env", 1);
    CHECK(parseConfig("server: {url: 'ws://h/?since=${LAST_ID}'}", "t").server.url ==
          "ws://h/?since=${LAST_ID}");
    unsetenv("LAST_ID");
}

TEST_CASE("reconnect settings")
{
    CHECK(errorWith("reconnect:\n  initial_delay: 0s\n") ==
          "test.yaml:4:18: reconnect.initial_delay: must be greater than 0, got '0s'");
    CHECK(errorWith("reconnect:\n  initial_delay: 2s\n  max_delay: 1500ms\n") ==
          "test.yaml:5:14: reconnect.max_delay (1500ms) must not be shorter than "
          "reconnect.initial_delay (2s)");
    CHECK(errorWith("reconnect:\n  multiplier: 0.5\n") ==
          "test.yaml:4:15: reconnect.multiplier: must be at least 1.0, got '0.5'");
    CHECK(errorWith("reconnect:\n  multiplier: fast\n") ==
          "test.yaml:4:15: reconnect.multiplier: expected a number, got 'fast'");
    CHECK(errorWith("reconnect:\n  multiplier: '2'\n") ==
          "test.yaml:4:15: reconnect.multiplier: expected a number, got the string '2'");
    CHECK(errorWith("reconnect:\n  multiplier: .inf\n") ==
          "test.yaml:4:15: reconnect.multiplier: expected a number, got '.inf'");
    CHECK(errorWith("reconnect:\n  jitter: 1\n") ==
          "test.yaml:4:11: reconnect.jitter: must be at least 0 and less than 1, got '1'");
    CHECK(errorWith("reconnect:\n  jitter: -0.1\n") ==
          "test.yaml:4:11: reconnect.jitter: must be at least 0 and less than 1, got '-0.1'");
    CHECK(errorWith("reconnect:\n  max_attempts: -1\n") ==
          "test.yaml:4:17: reconnect.max_attempts: must be between 0 and 4294967295, got '-1'");
    CHECK(errorWith("reconnect:\n  max_attempts: 4294967296\n") ==
          "test.yaml:4:17: reconnect.max_attempts: must be between 0 and 4294967295, got "
          "'4294967296'");
    CHECK(errorWith("reconnect:\n  max_attempts: 99999999999999999999999\n") ==
          "test.yaml:4:17: reconnect.max_attempts: must be between 0 and 4294967295, got "
          "'99999999999999999999999'");
    CHECK(errorWith("reconnect:\n  max_attempts: 1.5\n") ==
          "test.yaml:4:17: reconnect.max_attempts: expected an integer, got '1.5'");
    CHECK(errorWith("reconnect:\n  max_attempts: yes\n") ==
          "test.yaml:4:17: reconnect.max_attempts: expected an integer, got 'yes'");
    CHECK(errorWith("reconnect:\n  max_attempts: '5'\n") ==
          "test.yaml:4:17: reconnect.max_attempts: expected an integer, got the string '5'");
    CHECK(errorWith("reconnect:\n  fleet_spread: -1s\n") ==
          "test.yaml:4:17: reconnect.fleet_spread: expected a duration such as 30s, got '-1s'");
    CHECK(errorWith("reconnect:\n  stable_after: soon\n") ==
          "test.yaml:4:17: reconnect.stable_after: expected a duration such as 30s, got 'soon'");
}

TEST_CASE("reconnect.close_codes")
{
    CHECK(parseWith("").reconnect.closeCodes ==
          std::vector<CloseCodeWait>{{1008, 1008, 60s}, {1013, 1013, 30s}});
    CHECK(
        parseWith("reconnect:\n  close_codes: {4000-4099: 5m, 1013: 10s}\n").reconnect.closeCodes ==
        std::vector<CloseCodeWait>{{4000, 4099, 5min}, {1013, 1013, 10s}});
    CHECK(parseWith("reconnect:\n  close_codes: {}\n").reconnect.closeCodes.empty());
    const std::string rule = "must be a close code from 1000 to 4999, or a range such as 4000-4099";
    CHECK(errorWith("reconnect:\n  close_codes: {999: 1s}\n") ==
          "test.yaml:4:17: reconnect.close_codes: " + rule + ", got '999'");
    CHECK(errorWith("reconnect:\n  close_codes: {4100-4000: 1s}\n") ==
          "test.yaml:4:17: reconnect.close_codes: " + rule + ", got '4100-4000'");
    CHECK(errorWith("reconnect:\n  close_codes: {4000-: 1s}\n") ==
          "test.yaml:4:17: reconnect.close_codes: " + rule + ", got '4000-'");
    CHECK(errorWith("reconnect:\n  close_codes: {5000: 1s}\n") ==
          "test.yaml:4:17: reconnect.close_codes: " + rule + ", got '5000'");
    CHECK(errorWith("reconnect:\n  close_codes: {1013: soon}\n") ==
          "test.yaml:4:23: reconnect.close_codes.1013: expected a duration such as 30s, got "
          "'soon'");
    CHECK(errorWith("reconnect:\n  close_codes: [1013]\n") ==
          "test.yaml:4:16: reconnect.close_codes: expected a mapping, got a list");
}

TEST_CASE("filter settings")
{
    CHECK(errorWith("filter:\n  drop: SUCCESS\n") ==
          "test.yaml:4:9: filter.drop: expected a list, got 'SUCCESS'");
    CHECK(errorWith("filter:\n  drop:\n    - SUCCESS\n    - {a: 1}\n") ==
          "test.yaml:6:7: filter.drop[1]: expected a string, got a mapping");
    CHECK(errorWith("filter:\n  keep: []\n") == "test.yaml:4:3: unknown key 'keep' in 'filter'");
}

TEST_CASE("sink list and types")
{
    CHECK(errorWith("sinks: {type: file}\n") ==
          "test.yaml:3:8: sinks: expected a list, got a mapping");
    CHECK(errorWith("sinks:\n  - file\n") ==
          "test.yaml:4:5: sinks[0]: expected a mapping, got 'file'");
    CHECK(errorWith("sinks:\n  - type: file\n  - path: /x\n") ==
          "test.yaml:5:5: sinks[1].type is required");
    CHECK(errorWith("sinks:\n  - type: kafka\n") ==
          "test.yaml:4:11: sinks[0].type: expected one of journal, syslog, unix, file, mqtt, "
          "redis, exec, got 'kafka'");
    CHECK(errorWith("sinks:\n  - type: file\n    mode: '0600'\n") ==
          "test.yaml:5:5: unknown key 'mode' in 'sinks[0]'");
    CHECK(errorWith("sinks:\n  - type: file\n    type: file\n") ==
          "test.yaml:5:5: duplicate key 'type' in 'sinks[0]'");
    CHECK(errorWith("sinks:\n  - type: file\n    path: /a\n  - type: file\n    path: /a\n") ==
          "test.yaml:7:11: sinks[1].path: '/a' is already used by sinks[0]");
    CHECK(errorWith("sinks:\n  - type: file\n  - type: file\n") ==
          "test.yaml:5:5: sinks[1].path: '/var/lib/wspushd/messages.jsonl' is already used by "
          "sinks[0]");
    CHECK(errorWith(
              "sinks:\n  - type: unix\n  - type: unix\n    path: /run/wspushd/wspushd.sock\n") ==
          "test.yaml:6:11: sinks[1].path: '/run/wspushd/wspushd.sock' is already used by "
          "sinks[0]");
}

TEST_CASE("journal and syslog sink settings")
{
    CHECK(errorWith("sinks:\n  - {type: journal, priority: loud}\n") ==
          "test.yaml:4:31: sinks[0].priority: expected 0-7 or one of emerg, alert, crit, err, "
          "warning, notice, info, debug, got 'loud'");
    CHECK(errorWith("sinks:\n  - {type: journal, priority: 8}\n") ==
          "test.yaml:4:31: sinks[0].priority: expected 0-7 or one of emerg, alert, crit, err, "
          "warning, notice, info, debug, got '8'");
    CHECK(errorWith("sinks:\n  - {type: journal, identifier: ''}\n") ==
          "test.yaml:4:33: sinks[0].identifier: must not be empty");
    CHECK(errorWith("sinks:\n  - {type: journal, facility: daemon}\n") ==
          "test.yaml:4:21: unknown key 'facility' in 'sinks[0]'");
    CHECK(errorWith("sinks:\n  - {type: syslog, facility: kern}\n") ==
          "test.yaml:4:30: sinks[0].facility: expected one of daemon, user, local0, local1, "
          "local2, local3, local4, local5, local6, local7, got 'kern'");
    CHECK(errorWith("sinks:\n  - {type: syslog, priority: -1}\n") ==
          "test.yaml:4:30: sinks[0].priority: expected 0-7 or one of emerg, alert, crit, err, "
          "warning, notice, info, debug, got '-1'");
}

TEST_CASE("unix sink settings")
{
    CHECK(errorWith("sinks:\n  - {type: unix, path: wspushd.sock}\n") ==
          "test.yaml:4:24: sinks[0].path: must be an absolute path or @name for the abstract "
          "namespace, got 'wspushd.sock'");
    CHECK(errorWith("sinks:\n  - {type: unix, path: '@'}\n") ==
          "test.yaml:4:24: sinks[0].path: must be an absolute path or @name for the abstract "
          "namespace, got '@'");
    const std::string longPath = "/" + std::string(107, 'a');
    CHECK(errorWith("sinks:\n  - {type: unix, path: " + longPath + "}\n") ==
          "test.yaml:4:24: sinks[0].path: must be at most 107 bytes long, got '" +
              longPath.substr(0, 77) + "...'");
    CHECK(errorWith("sinks:\n  - {type: unix, path: '@" + std::string(107, 'a') + "'}\n") ==
          "no error");
    CHECK(errorWith("sinks:\n  - {type: unix, mode: '0888'}\n") ==
          "test.yaml:4:24: sinks[0].mode: expected an octal mode such as \"0660\", got the string "
          "'0888'");
    CHECK(errorWith("sinks:\n  - {type: unix, mode: 17777}\n") ==
          "test.yaml:4:24: sinks[0].mode: expected an octal mode such as \"0660\", got '17777'");
    CHECK(errorWith("sinks:\n  - {type: unix, max_queue: 1KiB}\n") ==
          "test.yaml:4:29: sinks[0].max_queue: must be at least 64KiB, got '1KiB'");
    CHECK(errorWith("sinks:\n  - {type: unix, policy: block}\n") ==
          "test.yaml:4:26: sinks[0].policy: expected one of disconnect, drop, got 'block'");
    CHECK(errorWith("sinks:\n  - {type: unix, replay: -1}\n") ==
          "test.yaml:4:26: sinks[0].replay: must be between 0 and 18446744073709551615, got "
          "'-1'");
    CHECK(errorWith("sinks:\n  - {type: unix, allow_send: 1}\n") ==
          "test.yaml:4:30: sinks[0].allow_send: expected true or false, got '1'");
    CHECK(errorWith("sinks:\n  - {type: unix, group: [a]}\n") ==
          "test.yaml:4:25: sinks[0].group: expected a string, got a list");
}

TEST_CASE("file sink settings")
{
    CHECK(errorWith("sinks:\n  - {type: file, path: messages.jsonl}\n") ==
          "test.yaml:4:24: sinks[0].path: must be an absolute path, got 'messages.jsonl'");
    CHECK(errorWith("sinks:\n  - {type: file, format: json}\n") ==
          "test.yaml:4:26: sinks[0].format: expected one of jsonl, raw, got 'json'");
    CHECK(errorWith("sinks:\n  - {type: file, fsync: sometimes}\n") ==
          "test.yaml:4:25: sinks[0].fsync: expected one of none, always, interval, got "
          "'sometimes'");
    CHECK(errorWith("sinks:\n  - {type: file, fsync_interval: 0ms}\n") ==
          "test.yaml:4:34: sinks[0].fsync_interval: must be greater than 0, got '0ms'");
    CHECK(errorWith("sinks:\n  - {type: file, max_size: big}\n") ==
          "test.yaml:4:28: sinks[0].max_size: expected a size such as 4MiB, got 'big'");
    CHECK(errorWith("sinks:\n  - {type: file, keep: 0}\n") ==
          "test.yaml:4:24: sinks[0].keep: must be between 1 and 1000, got '0'");
    CHECK(errorWith("sinks:\n  - {type: file, keep: 1001}\n") ==
          "test.yaml:4:24: sinks[0].keep: must be between 1 and 1000, got '1001'");
    CHECK(errorWith("sinks:\n  - {type: file, max_queue: 65535}\n") ==
          "test.yaml:4:29: sinks[0].max_queue: must be at least 64KiB, got '65535'");
    CHECK(errorWith("sinks:\n  - {type: file, replay: 5}\n") ==
          "test.yaml:4:18: unknown key 'replay' in 'sinks[0]'");
}

TEST_CASE("credentials in the URL are accepted and kept for the connection")
{
    const Config config =
        parseConfig("server: {url: 'wss://user:p%40ss@push.example.com:8443/ws'}", "test.yaml");
    CHECK(config.server.url == "wss://user:p%40ss@push.example.com:8443/ws");
}

TEST_CASE("metrics: off by default, every key read")
{
    CHECK(parseWith("").metrics == MetricsConfig{});
    CHECK(MetricsConfig{}.listen.empty());
    CHECK(MetricsConfig{}.textfile.empty());
    CHECK(MetricsConfig{}.interval == 15s);
    const Config config = parseWith("metrics:\n  listen: 127.0.0.1:9464\n"
                                    "  textfile: /var/lib/node-exporter/wspushd.prom\n"
                                    "  interval: 250ms\n");
    CHECK(config.metrics.listen == "127.0.0.1:9464");
    CHECK(config.metrics.textfile == "/var/lib/node-exporter/wspushd.prom");
    CHECK(config.metrics.interval == 250ms);
    CHECK(parseWith("metrics:\n  listen: \"[::1]:9464\"\n").metrics.listen == "[::1]:9464");
    CHECK(parseWith("metrics:\n  listen: \":9464\"\n").metrics.listen == ":9464");
    CHECK(parseWith("metrics:\n  listen: unix:/run/wspushd/metrics.sock\n").metrics.listen ==
          "unix:/run/wspushd/metrics.sock");
    CHECK(parseWith("metrics:\n  listen: \"\"\n  textfile: \"\"\n").metrics == MetricsConfig{});
}

TEST_CASE("metrics: unknown keys, wrong types and bad values are PATH:LINE:COLUMN errors")
{
    CHECK(errorWith("metrics:\n  listen: 127.0.0.1:9464\n  port: 9464\n") ==
          "test.yaml:5:3: unknown key 'port' in 'metrics'");
    CHECK(errorWith("metrics: 9464\n") ==
          "test.yaml:3:10: metrics: expected a mapping, got '9464'");
    CHECK(errorWith("metrics:\n  listen: [127.0.0.1, 9464]\n") ==
          "test.yaml:4:11: metrics.listen: expected a string, got a list");
    CHECK(errorWith("metrics:\n  listen: localhost:9464\n") ==
          "test.yaml:4:11: metrics.listen: 'localhost' is not a numeric IPv4 address (names are "
          "not resolved), got 'localhost:9464'");
    CHECK(errorWith("metrics:\n  listen: \"::1:9464\"\n") ==
          "test.yaml:4:11: metrics.listen: an IPv6 address goes in brackets: [::1]:PORT, got "
          "'::1:9464'");
    CHECK(errorWith("metrics:\n  listen: 127.0.0.1:99999\n") ==
          "test.yaml:4:11: metrics.listen: the port must be a number from 0 to 65535, got "
          "'127.0.0.1:99999'");
    CHECK(errorWith("metrics:\n  listen: 9464\n") ==
          "test.yaml:4:11: metrics.listen: expected ADDRESS:PORT, [IPv6]:PORT, :PORT or "
          "unix:/path, got '9464'");
    CHECK(errorWith("metrics:\n  listen: unix:run/metrics.sock\n") ==
          "test.yaml:4:11: metrics.listen: expected unix: followed by an absolute path or @name, "
          "got 'unix:run/metrics.sock'");
    CHECK(errorWith("metrics:\n  listen: unix:/" + std::string(120, 'a') + "\n")
              .starts_with("test.yaml:4:11: metrics.listen: the socket path is longer than 107 "
                           "bytes"));
    CHECK(errorWith("metrics:\n  textfile: wspushd.prom\n") ==
          "test.yaml:4:13: metrics.textfile: must be an absolute path, got 'wspushd.prom'");
    CHECK(errorWith("metrics:\n  textfile: /var/lib/node-exporter/\n") ==
          "test.yaml:4:13: metrics.textfile: must be a file's path, got '/var/lib/node-exporter/'");
    CHECK(errorWith("metrics:\n  interval: 15\n") ==
          "test.yaml:4:13: metrics.interval: expected a duration such as 30s, got '15'");
    CHECK(errorWith("metrics:\n  interval: 10ms\n") ==
          "test.yaml:4:13: metrics.interval: must be at least 100ms, got '10ms'");
}

TEST_CASE("metrics: the shipped example config shows the defaults")
{
    setenv("USER_ID", "1001", 1);
    CHECK(loadConfigFile(exampleConfig()).metrics == MetricsConfig{});
}

TEST_CASE("mqtt sink settings")
{
    const Config defaults = parseWith("sinks:\n  - type: mqtt\n");
    const auto& plain = std::get<MqttSinkConfig>(defaults.sinks.at(0).settings);
    CHECK(plain.host == "127.0.0.1");
    CHECK(plain.port == 1883);
    CHECK_FALSE(plain.secure);
    CHECK(plain.topic == "wspush");
    CHECK(plain.qos == 1);
    CHECK(plain.clientId == "wspushd");
    CHECK(plain.maxInflight == 20);
    CHECK(plain.reconnect == ReconnectConfig{});

    setenv("WSPUSH_TEST_SITE", "edge1", 1);
    const Config config = parseWith(R"(reconnect:
  initial_delay: 250ms
sinks:
  - type: mqtt
    url: mqtts://[::1]:8884/
    tls: {ca_file: /etc/ca.pem, verify: false}
    topic: wspush/{/type}/{/a~1b}
    qos: 2
    retain: true
    client_id: wspushd-${WSPUSH_TEST_SITE}
    username: pusher
    password_file: /etc/wspushd/mqtt-password
    format: raw
    max_inflight: 5
    keepalive: 10s
)");
    const auto& mqtt = std::get<MqttSinkConfig>(config.sinks.at(0).settings);
    CHECK(mqtt.host == "::1");
    CHECK(mqtt.port == 8884);
    CHECK(mqtt.secure);
    CHECK(mqtt.tls.caFile == "/etc/ca.pem");
    CHECK_FALSE(mqtt.tls.verify);
    CHECK(mqtt.topic == "wspush/{/type}/{/a~1b}");
    CHECK(mqtt.qos == 2);
    CHECK(mqtt.retain);
    CHECK(mqtt.clientId == "wspushd-edge1");
    CHECK(mqtt.passwordFile == "/etc/wspushd/mqtt-password");
    CHECK(mqtt.format == MqttSinkConfig::Format::Raw);
    CHECK(mqtt.maxInflight == 5);
    CHECK(mqtt.keepalive == 10s);
    CHECK(mqtt.reconnect.initialDelay == 250ms);

    CHECK(errorWith("sinks:\n  - {type: mqtt, url: 'http://x'}\n") ==
          "test.yaml:4:23: sinks[0].url: must be an mqtt:// or mqtts:// URL, got 'http://x'");
    CHECK(errorWith("sinks:\n  - {type: mqtt, url: 'mqtt://u:p@x'}\n") ==
          "test.yaml:4:23: sinks[0].url: credentials go in username and password_file, not in "
          "the URL");
    CHECK(errorWith("sinks:\n  - {type: mqtt, topic: 'a/+/b'}\n") ==
          "test.yaml:4:25: sinks[0].topic: a topic to publish to cannot hold the wildcard '+', "
          "got 'a/+/b'");
    CHECK(errorWith("sinks:\n  - {type: mqtt, topic: 'a/{type}'}\n") ==
          "test.yaml:4:25: sinks[0].topic: expected a JSON pointer such as {/type} (RFC 6901) in "
          "the topic, got '{type}'");
    CHECK(errorWith("sinks:\n  - {type: mqtt, topic: 'a/{/type'}\n") ==
          "test.yaml:4:25: sinks[0].topic: unbalanced '{' or '}' in 'a/{/type'; a piece of the "
          "message is written {/json/pointer}");
    CHECK(errorWith("sinks:\n  - {type: mqtt, qos: 3}\n") ==
          "test.yaml:4:23: sinks[0].qos: must be between 0 and 2, got '3'");
    CHECK(errorWith("sinks:\n  - {type: mqtt, tls: {verify: false}}\n") ==
          "test.yaml:4:23: sinks[0].tls: needs an mqtts:// url");
    CHECK(errorWith("sinks:\n  - {type: mqtt, password_file: /p}\n") ==
          "test.yaml:4:33: sinks[0].password_file: needs a username as well");
}

TEST_CASE("exec sink settings")
{
    const Config defaults = parseWith("sinks:\n  - {type: exec, command: [on-push]}\n");
    const auto& each = std::get<ExecSinkConfig>(defaults.sinks.at(0).settings);
    CHECK(each.command == std::vector<std::string>{"on-push"});
    CHECK(each.mode == ExecSinkConfig::Mode::Each);
    CHECK(each.input == ExecSinkConfig::Input::Jsonl);
    CHECK(each.concurrency == 1);
    CHECK(each.timeout == 30s);
    CHECK(each.retry == 3);
    CHECK(each.environment.empty());

    const Config set = parseWith("sinks:\n"
                                 "  - type: exec\n"
                                 "    command: [/usr/local/bin/on-push, --quiet, '$HOME']\n"
                                 "    input: raw\n"
                                 "    concurrency: 4\n"
                                 "    timeout: 0s\n"
                                 "    retry: 0\n"
                                 "    environment: {A: '1', B_2: x y}\n"
                                 "  - {type: exec, command: [/bin/cat], mode: stream}\n");
    const auto& custom = std::get<ExecSinkConfig>(set.sinks.at(0).settings);
    CHECK(custom.command == std::vector<std::string>{"/usr/local/bin/on-push", "--quiet", "$HOME"});
    CHECK(custom.input == ExecSinkConfig::Input::Raw);
    CHECK(custom.concurrency == 4);
    CHECK(custom.timeout == 0s);
    CHECK(custom.retry == 0);
    CHECK(custom.environment ==
          std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B_2", "x y"}});
    CHECK(std::get<ExecSinkConfig>(set.sinks.at(1).settings).mode == ExecSinkConfig::Mode::Stream);

    CHECK(errorWith("sinks:\n  - {type: exec}\n") == "test.yaml:4:5: sinks[0].command is required");
    CHECK(errorWith("sinks:\n  - {type: exec, command: []}\n") ==
          "test.yaml:4:27: sinks[0].command: must list the program and its arguments, such as "
          "[/usr/local/bin/on-push]");
    CHECK(errorWith("sinks:\n  - {type: exec, command: /bin/true}\n") ==
          "test.yaml:4:27: sinks[0].command: expected a list, got '/bin/true'");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [bin/on-push]}\n") ==
          "test.yaml:4:28: sinks[0].command[0]: must be an absolute path or a name looked up in "
          "PATH, got 'bin/on-push'");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [/bin/x, [a]]}\n") ==
          "test.yaml:4:36: sinks[0].command[1]: expected a string, got a list");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [x], mode: batch}\n") ==
          "test.yaml:4:38: sinks[0].mode: expected one of each, stream, got 'batch'");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [x], input: json}\n") ==
          "test.yaml:4:39: sinks[0].input: expected one of jsonl, raw, none, got 'json'");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [x], mode: stream, input: none}\n") ==
          "test.yaml:4:53: sinks[0].input: mode: stream feeds records to the command's stdin: "
          "jsonl or raw");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [x], concurrency: 0}\n") ==
          "test.yaml:4:45: sinks[0].concurrency: must be between 1 and 256, got '0'");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [x], retry: 101}\n") ==
          "test.yaml:4:39: sinks[0].retry: must be between 0 and 100, got '101'");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [x], timeout: soon}\n") ==
          "test.yaml:4:41: sinks[0].timeout: expected a duration such as 30s, got 'soon'");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [x], mode: stream, timeout: 5s}\n") ==
          "test.yaml:4:55: sinks[0].timeout: applies to mode: each only (a stream command is "
          "restarted whenever it exits)");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [x], environment: {WSPUSH_SEQ: '1'}}\n") ==
          "test.yaml:4:46: sinks[0].environment: 'WSPUSH_SEQ' is set by the daemon; WSPUSH_* names "
          "are reserved");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [x], environment: {'A=B': '1'}}\n") ==
          "test.yaml:4:46: sinks[0].environment: invalid variable name 'A=B'");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [x], environment: [A]}\n") ==
          "test.yaml:4:45: sinks[0].environment: expected a mapping, got a list");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [x], shell: true}\n") ==
          "test.yaml:4:32: unknown key 'shell' in 'sinks[0]'");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [x, 'a b']}\n"
                    "  - {type: exec, command: [x, 'a b'], mode: stream}\n") ==
          "test.yaml:5:27: sinks[1].command: the same command as sinks[0]; each exec sink keeps "
          "its place under its command");
    CHECK(errorWith("sinks:\n  - {type: exec, command: [x, a, b]}\n"
                    "  - {type: exec, command: [x, 'a b']}\n") == "no error");
}

TEST_CASE("redis sink settings")
{
    const Config defaults = parseWith("sinks:\n  - type: redis\n");
    const auto& plain = std::get<RedisSinkConfig>(defaults.sinks.at(0).settings);
    CHECK(plain.host == "127.0.0.1");
    CHECK(plain.port == 6379);
    CHECK(plain.db == 0);
    CHECK(plain.unixPath.empty());
    CHECK(plain.stream == "wspush");
    CHECK(plain.maxLen == 100000);

    const Config config = parseWith(R"(reconnect:
  max_delay: 5s
sinks:
  - type: redis
    url: redis://[::1]:6380/4
    stream: pushed
    max_len: 0
    password_file: /etc/wspushd/redis-password
  - type: redis
    url: unix:/run/redis/redis.sock?db=2
)");
    const auto& tcp = std::get<RedisSinkConfig>(config.sinks.at(0).settings);
    CHECK(tcp.host == "::1");
    CHECK(tcp.port == 6380);
    CHECK(tcp.db == 4);
    CHECK(tcp.stream == "pushed");
    CHECK(tcp.maxLen == 0);
    CHECK(tcp.passwordFile == "/etc/wspushd/redis-password");
    CHECK(tcp.reconnect.maxDelay == 5s);
    const auto& local = std::get<RedisSinkConfig>(config.sinks.at(1).settings);
    CHECK(local.unixPath == "/run/redis/redis.sock");
    CHECK(local.db == 2);

    CHECK(errorWith("sinks:\n  - {type: redis, url: 'http://x'}\n") ==
          "test.yaml:4:24: sinks[0].url: must be a redis:// URL or unix:/path, got 'http://x'");
    CHECK(errorWith("sinks:\n  - {type: redis, url: 'redis://x/db'}\n") ==
          "test.yaml:4:24: sinks[0].url: the database must be a number from 0 to 1000, got 'db'");
    CHECK(errorWith("sinks:\n  - {type: redis, url: 'unix:relative'}\n") ==
          "test.yaml:4:24: sinks[0].url: expected unix:/absolute/path[?db=N], got 'unix:relative'");
    CHECK(errorWith("sinks:\n  - {type: redis, stream: ''}\n") ==
          "test.yaml:4:27: sinks[0].stream: must not be empty");
}
