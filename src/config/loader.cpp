// SPDX-License-Identifier: MIT
#include "config/loader.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>
#include <strings.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config/config_error.hpp"
#include "config/listen_address.hpp"
#include "config/units.hpp"
#include "system/unique_fd.hpp"

namespace wspush::config {

namespace {

Location locationOf(const std::string& file, const YAML::Mark& mark)
{
    // yaml-cpp counts from 0, and has -1 for a node with no place in the text.
    if (mark.line < 0) {
        return {file, 1, 1};
    }
    return {file, mark.line + 1, mark.column + 1};
}

// A value as shown in a message; a long one (a whole file read as one scalar) is cut short.
std::string quoted(std::string_view text)
{
    constexpr std::size_t maxShown = 80;
    if (text.size() > maxShown) {
        return "'" + std::string(text.substr(0, maxShown - 3)) + "...'";
    }
    return "'" + std::string(text) + "'";
}

std::string formatDuration(Duration duration)
{
    constexpr Duration::rep msPerMinute = 60'000;
    constexpr Duration::rep msPerHour = 60 * msPerMinute;
    const Duration::rep ms = duration.count();
    if (ms != 0 && ms % msPerHour == 0) {
        return std::to_string(ms / msPerHour) + "h";
    }
    if (ms != 0 && ms % msPerMinute == 0) {
        return std::to_string(ms / msPerMinute) + "m";
    }
    if (ms % 1000 == 0) {
        return std::to_string(ms / 1000) + "s";
    }
    return std::to_string(ms) + "ms";
}

bool isDigits(std::string_view text)
{
    return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

// RFC 9110 token characters, as header names must be.
bool isToken(std::string_view text)
{
    constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
    if (text.empty()) {
        return false;
    }
    for (const char c : text) {
        const bool alnum =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && extra.find(c) == std::string_view::npos) {
            return false;
        }
    }
    return true;
}

bool hasControlCharacters(std::string_view text)
{
    return std::any_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

// "host[:port]", the host possibly a bracketed IPv6 address, the port 1-65535.
bool isHostPort(std::string_view authority, bool portRequired)
{
    std::string_view host = authority;
    std::optional<std::string_view> port;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return false;
        }
        host = authority.substr(1, close - 1);
        const std::string_view rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (!rest.starts_with(':')) {
                return false;
            }
            port = rest.substr(1);
        }
    } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty() || host.find_first_of("@/?#[] ") != std::string_view::npos) {
        return false;
    }
    if (!port) {
        return !portRequired;
    }
    unsigned number = 0;
    const auto [end, error] = std::from_chars(port->data(), port->data() + port->size(), number);
    return isDigits(*port) && error == std::errc() && number >= 1 && number <= 65535;
}

// http://[user:pass@]host:port, as libwebsockets takes for CONNECT proxying.
bool isHttpProxy(std::string_view proxy)
{
    if (!proxy.starts_with("http://")) {
        return false;
    }
    proxy.remove_prefix(7);
    if (proxy.ends_with('/')) {
        proxy.remove_suffix(1);
    }
    if (const auto at = proxy.rfind('@'); at != std::string_view::npos) {
        const std::string_view credentials = proxy.substr(0, at);
        const auto colon = credentials.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            return false;
        }
        proxy.remove_prefix(at + 1);
    }
    return isHostPort(proxy, true);
}

// One YAML value and the dotted key path that leads to it, so that every message can name
// both the place in the file and the setting.
class Value
{
public:
    Value(const YAML::Node& node, std::string path, const std::string& file,
          const YAML::Mark& keyMark)
        : node_(node), path_(std::move(path)), file_(&file),
          // An empty value has no text to point at; its key is the better place.
          mark_(node_.IsNull() ? keyMark : node_.Mark())
    {
    }

    const YAML::Node& node() const { return node_; }
    const std::string& path() const { return path_; }
    const std::string& file() const { return *file_; }
    Location location() const { return locationOf(*file_, mark_); }

    [[noreturn]] void fail(const std::string& message) const
    {
        throw ConfigError(location(), path_.empty() ? message : path_ + ": " + message);
    }

    [[noreturn]] void expected(std::string_view what) const
    {
        fail("expected " + std::string(what) + ", got " + describe());
    }

    [[noreturn]] void outOfRange(std::string_view rule) const
    {
        fail("must be " + std::string(rule) + ", got " + quoted(node_.Scalar()));
    }

    std::string describe() const
    {
        if (node_.IsNull()) {
            return "nothing";
        }
        if (node_.IsMap()) {
            return "a mapping";
        }
        if (node_.IsSequence()) {
            return "a list";
        }
        return isPlain() ? quoted(node_.Scalar()) : "the string " + quoted(node_.Scalar());
    }

    std::string string() const
    {
        if (!node_.IsScalar()) {
            expected("a string");
        }
        return node_.Scalar();
    }

    std::string nonEmptyString() const
    {
        std::string text = string();
        if (text.empty()) {
            fail("must not be empty");
        }
        return text;
    }

    // Only YAML 1.2 booleans: "yes", "on" or a quoted "true" are typos more often than not.
    bool boolean() const
    {
        if (isPlain()) {
            const std::string& text = node_.Scalar();
            if (text == "true" || text == "True" || text == "TRUE") {
                return true;
            }
            if (text == "false" || text == "False" || text == "FALSE") {
                return false;
            }
        }
        expected("true or false");
    }

    std::uint64_t integer(std::uint64_t min, std::uint64_t max) const
    {
        const std::string_view text = isPlain() ? node_.Scalar() : std::string_view();
        const bool negative = text.starts_with('-');
        const std::string_view digits = negative ? text.substr(1) : text;
        if (!isDigits(digits)) {
            expected("an integer");
        }
        std::uint64_t number = 0;
        const auto [end, error] =
            std::from_chars(digits.data(), digits.data() + digits.size(), number);
        if (negative || error != std::errc() || number < min || number > max) {
            outOfRange("between " + std::to_string(min) + " and " + std::to_string(max));
        }
        return number;
    }

    double number() const
    {
        const std::string_view text = isPlain() ? node_.Scalar() : std::string_view();
        double number = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
        if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
            !std::isfinite(number)) {
            expected("a number");
        }
        return number;
    }

    Duration duration() const
    {
        const auto duration = node_.IsScalar() ? parseDuration(node_.Scalar()) : std::nullopt;
        if (!duration) {
            expected("a duration such as 30s");
        }
        return *duration;
    }

    std::size_t size() const
    {
        const auto size = node_.IsScalar() ? parseSize(node_.Scalar()) : std::nullopt;
        if (!size) {
            expected("a size such as 4MiB");
        }
        return *size;
    }

    unsigned mode() const
    {
        const auto mode = node_.IsScalar() ? parseMode(node_.Scalar()) : std::nullopt;
        if (!mode) {
            expected("an octal mode such as \"0660\"");
        }
        return *mode;
    }

    std::string absolutePath() const
    {
        std::string path = string();
        if (!path.starts_with('/')) {
            outOfRange("an absolute path");
        }
        return path;
    }

    // For optional files: "" means none.
    std::string absolutePathOrEmpty() const { return string().empty() ? "" : absolutePath(); }

    template <typename T>
    T oneOf(std::initializer_list<std::pair<std::string_view, T>> choices) const
    {
        if (node_.IsScalar()) {
            for (const auto& [name, value] : choices) {
                if (name == node_.Scalar()) {
                    return value;
                }
            }
        }
        std::string names;
        for (const auto& choice : choices) {
            names += (names.empty() ? "" : ", ") + std::string(choice.first);
        }
        expected("one of " + names);
    }

    // The items of a list; an empty value is an empty list.
    std::vector<Value> items() const
    {
        if (!node_.IsNull() && !node_.IsSequence()) {
            expected("a list");
        }
        std::vector<Value> items;
        for (std::size_t i = 0; i < node_.size(); ++i) {
            items.emplace_back(node_[i], path_ + "[" + std::to_string(i) + "]", *file_, mark_);
        }
        return items;
    }

private:
    // Written without quotes or tag, so that `true` and `5` keep their YAML types.
    bool isPlain() const { return node_.IsScalar() && node_.Tag() == "?"; }

    YAML::Node node_;
    std::string path_;
    const std::string* file_;
    YAML::Mark mark_;
};

struct Entry
{
    std::string name;
    Value key;   // for messages about the key itself
    Value value; // path: the section's path plus the name
};

// A mapping of settings; an empty value is an empty mapping. Keys must be plain names and
// appear once, so that a repeated key does not silently win over the first.
class Section
{
public:
    explicit Section(const Value& self) : self_(self)
    {
        const YAML::Node& node = self.node();
        if (!node.IsNull() && !node.IsMap()) {
            self.expected("a mapping");
        }
        for (auto it = node.begin(); it != node.end(); ++it) {
            const Value key(it->first, self.path(), self.file(), it->first.Mark());
            if (!it->first.IsScalar()) {
                key.expected("a key name");
            }
            std::string name = it->first.Scalar();
            if (find(name)) {
                throw ConfigError(key.location(), "duplicate key " + quoted(name) + where());
            }
            std::string path = self.path().empty() ? name : self.path() + "." + name;
            Value value(it->second, std::move(path), self.file(), it->first.Mark());
            entries_.push_back({std::move(name), key, std::move(value)});
        }
    }

    // Rejects keys outside `known`: a misspelt setting must not be silently ignored.
    void allowOnly(std::initializer_list<std::string_view> known) const
    {
        for (const Entry& entry : entries_) {
            if (std::find(known.begin(), known.end(), entry.name) == known.end()) {
                throw ConfigError(entry.key.location(),
                                  "unknown key " + quoted(entry.name) + where());
            }
        }
    }

    std::optional<Value> get(std::string_view name) const
    {
        const Entry* entry = find(name);
        return entry ? std::optional<Value>(entry->value) : std::nullopt;
    }

    const Value& self() const { return self_; }
    const std::vector<Entry>& entries() const { return entries_; }

private:
    const Entry* find(std::string_view name) const
    {
        for (const Entry& entry : entries_) {
            if (entry.name == name) {
                return &entry;
            }
        }
        return nullptr;
    }

    std::string where() const { return self_.path().empty() ? "" : " in " + quoted(self_.path()); }

    Value self_;
    std::vector<Entry> entries_;
};

// ${NAME} comes from the environment. With a token source (`keepToken`), ${TOKEN} stays for
// the connection to fill in afresh at every connect attempt; without one it is the
// environment variable like any other, so that it is never silently empty. ${LAST_ID} is
// reserved: the connection fills it in with the last message id it has.
std::string expandEnvironment(const Value& value, bool keepToken)
{
    const std::string text = value.string();
    std::string out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t start = text.find("${", pos);
        out.append(text, pos, start == std::string::npos ? std::string::npos : start - pos);
        if (start == std::string::npos) {
            break;
        }
        const std::size_t end = text.find('}', start + 2);
        const std::string name =
            end == std::string::npos ? std::string() : text.substr(start + 2, end - start - 2);
        const bool valid =
            !name.empty() && !isDigits(name.substr(0, 1)) &&
            name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
        if (!valid) {
            value.fail("malformed variable reference at " +
                       quoted(text.substr(start, end == std::string::npos ? 2 : end - start + 1)) +
                       ", expected ${NAME}");
        }
        if (name == "TOKEN" && keepToken) {
            out += "${TOKEN}";
        } else if (name == "LAST_ID") {
            out += "${LAST_ID}";
        } else if (const char* env = std::getenv(name.c_str())) {
            out += env;
        } else if (name == "TOKEN") {
            value.fail("environment variable 'TOKEN' is not set, and neither is "
                       "server.token_file or server.token_credential");
        } else {
            value.fail("environment variable " + quoted(name) + " is not set");
        }
        pos = end + 1;
    }
    return out;
}

// The URL as a message may show it: credentials before the host become "***".
std::string withoutCredentials(std::string_view url)
{
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) {
        return std::string(url);
    }
    const std::size_t start = scheme + 3;
    const std::size_t end = std::min(url.find_first_of("/?#", start), url.size());
    const auto at = url.substr(0, end).rfind('@');
    if (at == std::string_view::npos || at < start) {
        return std::string(url);
    }
    return std::string(url.substr(0, start)) + "***" + std::string(url.substr(at));
}

std::string parseUrl(const Value& value, bool keepToken)
{
    std::string url = expandEnvironment(value, keepToken);
    if (hasControlCharacters(url) || url.find(' ') != std::string::npos) {
        value.fail("must not contain spaces or control characters");
    }
    const std::string shown = quoted(withoutCredentials(value.node().Scalar()));
    std::string_view rest = url;
    if (rest.starts_with("ws://")) {
        rest.remove_prefix(5);
    } else if (rest.starts_with("wss://")) {
        rest.remove_prefix(6);
    } else {
        value.fail("must be a ws:// or wss:// URL, got " + shown);
    }
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        authority.remove_prefix(at + 1); // user:password, sent as Basic credentials
    }
    if (!isHostPort(authority, false)) {
        value.fail("expected a host and optional port after the scheme, got " + shown);
    }
    return url;
}

std::vector<std::pair<std::string, std::string>> parseHeaders(const Value& value, bool keepToken)
{
    const Section section(value);
    std::vector<std::pair<std::string, std::string>> headers;
    for (const Entry& entry : section.entries()) {
        if (!isToken(entry.name)) {
            entry.key.fail("invalid header name " + quoted(entry.name));
        }
        // HTTP header names ignore case, so "Authorization" and "authorization" collide.
        for (const auto& header : headers) {
            if (strcasecmp(header.first.c_str(), entry.name.c_str()) == 0) {
                entry.key.fail("header " + quoted(entry.name) + " is set twice");
            }
        }
        std::string text = expandEnvironment(entry.value, keepToken);
        if (hasControlCharacters(text)) {
            entry.value.fail("must not contain control characters");
        }
        headers.emplace_back(entry.name, std::move(text));
    }
    return headers;
}

TlsConfig parseTls(const Value& value)
{
    const Section section(value);
    section.allowOnly({"ca_file", "cert_file", "key_file", "verify"});
    TlsConfig tls;
    if (auto v = section.get("ca_file")) {
        tls.caFile = v->absolutePathOrEmpty();
    }
    if (auto v = section.get("cert_file")) {
        tls.certFile = v->absolutePathOrEmpty();
    }
    if (auto v = section.get("key_file")) {
        tls.keyFile = v->absolutePathOrEmpty();
        if (!tls.keyFile.empty() && tls.certFile.empty()) {
            v->fail("needs server.tls.cert_file as well");
        }
    }
    if (auto v = section.get("verify")) {
        tls.verify = v->boolean();
    }
    return tls;
}

ServerConfig parseServer(const Section& section)
{
    section.allowOnly({"url", "headers", "token_file", "token_credential", "subprotocol", "tls",
                       "proxy", "max_message_size", "compression"});
    ServerConfig server;
    if (auto v = section.get("token_file")) {
        server.tokenFile = v->absolutePathOrEmpty();
    }
    if (auto v = section.get("token_credential")) {
        server.tokenCredential = v->string();
        if (server.tokenCredential.find('/') != std::string::npos) {
            v->outOfRange("a credential name without '/'");
        }
        if (!server.tokenCredential.empty() && !server.tokenFile.empty()) {
            v->fail("cannot be used together with server.token_file; set only one");
        }
    }
    const bool keepToken = !server.tokenFile.empty() || !server.tokenCredential.empty();
    if (auto v = section.get("url")) {
        server.url = parseUrl(*v, keepToken);
    } else {
        throw ConfigError(section.self().location(), "server.url is required");
    }
    if (auto v = section.get("headers")) {
        server.headers = parseHeaders(*v, keepToken);
    }
    if (auto v = section.get("subprotocol")) {
        server.subprotocol = v->string();
        if (!server.subprotocol.empty() && !isToken(server.subprotocol)) {
            v->outOfRange("a protocol name made of HTTP token characters");
        }
    }
    if (auto v = section.get("tls")) {
        server.tls = parseTls(*v);
    }
    if (auto v = section.get("proxy")) {
        server.proxy = v->string();
        // Not echoed back: the value may hold a password.
        if (!server.proxy.empty() && !isHttpProxy(server.proxy)) {
            v->fail("expected \"\" or http://[user:pass@]host:port");
        }
    }
    if (auto v = section.get("max_message_size")) {
        server.maxMessageSize = v->size();
        if (server.maxMessageSize < 1 || server.maxMessageSize > (std::size_t{1} << 30)) {
            v->outOfRange("between 1B and 1GiB");
        }
    }
    if (auto v = section.get("compression")) {
        server.compression = v->boolean();
    }
    return server;
}

HeartbeatConfig parseHeartbeat(const Section& section)
{
    section.allowOnly({"message", "interval", "ping_interval", "timeout", "probe_timeout"});
    HeartbeatConfig heartbeat;
    if (auto v = section.get("message")) {
        // Unquoted JSON is a YAML mapping; say so rather than just "expected a string".
        if (v->node().IsMap() || v->node().IsSequence()) {
            v->expected("a string (quote JSON text: '{\"sendType\":\"HEALTH\"}')");
        }
        heartbeat.message = v->string();
    }
    if (auto v = section.get("interval")) {
        heartbeat.interval = v->duration();
    }
    if (auto v = section.get("probe_timeout")) {
        heartbeat.probeTimeout = v->duration();
    }
    const auto pingInterval = section.get("ping_interval");
    if (pingInterval) {
        heartbeat.pingInterval = pingInterval->duration();
    }
    const auto timeout = section.get("timeout");
    if (timeout) {
        heartbeat.timeout = timeout->duration();
    }
    // A default follows the value the user set, so that it never makes that value invalid:
    // three pings fit in a timeout.
    const Duration zero{0};
    if (timeout && !pingInterval && heartbeat.timeout != zero) {
        heartbeat.pingInterval =
            std::clamp(heartbeat.timeout / 3, Duration{1}, heartbeat.pingInterval);
    } else if (pingInterval && !timeout && heartbeat.timeout != zero) {
        heartbeat.timeout = std::max(heartbeat.timeout, heartbeat.pingInterval * 3);
    }
    if (heartbeat.pingInterval != zero && heartbeat.timeout != zero &&
        heartbeat.timeout <= heartbeat.pingInterval) {
        throw ConfigError(timeout->location(),
                          "heartbeat.timeout (" + formatDuration(heartbeat.timeout) +
                              ") must be longer than heartbeat.ping_interval (" +
                              formatDuration(heartbeat.pingInterval) +
                              "): on an idle link the pong to each ping is all that arrives, "
                              "so a shorter timeout would drop healthy links");
    }
    return heartbeat;
}

// `1013: 30s` or `"4000-4099": 5m`: codes a server closes with to say "not soon".
std::vector<CloseCodeWait> parseCloseCodes(const Section& section)
{
    std::vector<CloseCodeWait> waits;
    for (const Entry& entry : section.entries()) {
        const std::string_view name = entry.name;
        const auto dash = name.find('-');
        const std::string_view first = name.substr(0, dash);
        const std::string_view last =
            dash == std::string_view::npos ? first : name.substr(dash + 1);
        CloseCodeWait wait;
        const auto [firstEnd, firstError] =
            std::from_chars(first.data(), first.data() + first.size(), wait.first);
        const auto [lastEnd, lastError] =
            std::from_chars(last.data(), last.data() + last.size(), wait.last);
        if (!isDigits(first) || !isDigits(last) || firstError != std::errc() ||
            lastError != std::errc() || wait.first < 1000 || wait.last > 4999 ||
            wait.first > wait.last) {
            entry.key.outOfRange("a close code from 1000 to 4999, or a range such as 4000-4099");
        }
        wait.wait = entry.value.duration();
        waits.push_back(wait);
    }
    return waits;
}

ReconnectConfig parseReconnect(const Section& section)
{
    section.allowOnly({"initial_delay", "max_delay", "multiplier", "jitter", "max_attempts",
                       "stable_after", "fleet_spread", "close_codes"});
    ReconnectConfig reconnect;
    const auto initialDelay = section.get("initial_delay");
    if (initialDelay) {
        reconnect.initialDelay = initialDelay->duration();
        if (reconnect.initialDelay <= Duration{0}) {
            initialDelay->outOfRange("greater than 0");
        }
    }
    const auto maxDelay = section.get("max_delay");
    if (maxDelay) {
        reconnect.maxDelay = maxDelay->duration();
    } else {
        // The default never makes an initial_delay the user set invalid.
        reconnect.maxDelay = std::max(reconnect.maxDelay, reconnect.initialDelay);
    }
    if (reconnect.maxDelay < reconnect.initialDelay) {
        throw ConfigError(maxDelay->location(),
                          "reconnect.max_delay (" + formatDuration(reconnect.maxDelay) +
                              ") must not be shorter than reconnect.initial_delay (" +
                              formatDuration(reconnect.initialDelay) + ")");
    }
    if (auto v = section.get("multiplier")) {
        reconnect.multiplier = v->number();
        if (reconnect.multiplier < 1.0) {
            v->outOfRange("at least 1.0");
        }
    }
    if (auto v = section.get("jitter")) {
        reconnect.jitter = v->number();
        if (reconnect.jitter < 0.0 || reconnect.jitter >= 1.0) {
            v->outOfRange("at least 0 and less than 1");
        }
    }
    if (auto v = section.get("max_attempts")) {
        reconnect.maxAttempts = v->integer(0, std::numeric_limits<unsigned>::max());
    }
    if (auto v = section.get("stable_after")) {
        reconnect.stableAfter = v->duration();
    }
    if (auto v = section.get("fleet_spread")) {
        reconnect.fleetSpread = v->duration();
    }
    if (auto v = section.get("close_codes")) {
        reconnect.closeCodes = parseCloseCodes(Section(*v));
    }
    return reconnect;
}

FilterConfig parseFilter(const Section& section)
{
    section.allowOnly({"drop"});
    FilterConfig filter;
    if (auto v = section.get("drop")) {
        for (const Value& item : v->items()) {
            filter.drop.push_back(item.string());
        }
    }
    return filter;
}

int parsePriority(const Value& value)
{
    // Indexed by the LOG_* value, which syslog(3) fixes at 0 to 7.
    static_assert(LOG_EMERG == 0 && LOG_DEBUG == 7);
    constexpr std::array<std::string_view, 8> names{"emerg",   "alert",  "crit", "err",
                                                    "warning", "notice", "info", "debug"};
    if (value.node().IsScalar()) {
        const std::string& text = value.node().Scalar();
        if (text.size() == 1 && text[0] >= '0' && text[0] <= '7') {
            return text[0] - '0';
        }
        if (const auto it = std::find(names.begin(), names.end(), text); it != names.end()) {
            return static_cast<int>(it - names.begin());
        }
    }
    value.expected("0-7 or one of emerg, alert, crit, err, warning, notice, info, debug");
}

// Below this a single large message could not even be queued once.
constexpr std::size_t minQueueSize = std::size_t{64} * 1024;

std::size_t parseQueueSize(const Value& value)
{
    const std::size_t size = value.size();
    if (size < minQueueSize) {
        value.outOfRange("at least 64KiB");
    }
    return size;
}

SinkSettings parseJournalSink(const Section& section)
{
    section.allowOnly({"type", "priority", "identifier", "max_queue"});
    JournalSinkConfig sink;
    if (auto v = section.get("priority")) {
        sink.priority = parsePriority(*v);
    }
    if (auto v = section.get("identifier")) {
        sink.identifier = v->nonEmptyString();
    }
    if (auto v = section.get("max_queue")) {
        sink.maxQueue = parseQueueSize(*v);
    }
    return sink;
}

SinkSettings parseSyslogSink(const Section& section)
{
    section.allowOnly({"type", "facility", "identifier", "priority", "socket", "max_queue"});
    SyslogSinkConfig sink;
    if (auto v = section.get("socket")) {
        sink.socket = v->absolutePath();
    }
    if (auto v = section.get("max_queue")) {
        sink.maxQueue = parseQueueSize(*v);
    }
    if (auto v = section.get("facility")) {
        sink.facility = v->oneOf<int>({{"daemon", LOG_DAEMON},
                                       {"user", LOG_USER},
                                       {"local0", LOG_LOCAL0},
                                       {"local1", LOG_LOCAL1},
                                       {"local2", LOG_LOCAL2},
                                       {"local3", LOG_LOCAL3},
                                       {"local4", LOG_LOCAL4},
                                       {"local5", LOG_LOCAL5},
                                       {"local6", LOG_LOCAL6},
                                       {"local7", LOG_LOCAL7}});
    }
    if (auto v = section.get("identifier")) {
        sink.identifier = v->nonEmptyString();
    }
    if (auto v = section.get("priority")) {
        sink.priority = parsePriority(*v);
    }
    return sink;
}

SinkSettings parseUnixSink(const Section& section)
{
    section.allowOnly(
        {"type", "path", "mode", "group", "max_queue", "policy", "replay", "allow_send"});
    UnixSinkConfig sink;
    if (auto v = section.get("path")) {
        sink.path = v->string();
        const bool abstract = sink.path.starts_with('@') && sink.path.size() > 1;
        if (!abstract && !sink.path.starts_with('/')) {
            v->outOfRange("an absolute path or @name for the abstract namespace");
        }
        // sun_path holds a filesystem path with its NUL, or the abstract name after a NUL.
        if (sink.path.size() > sizeof(sockaddr_un::sun_path) - (abstract ? 0 : 1)) {
            v->outOfRange("at most " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                          " bytes long");
        }
    }
    if (auto v = section.get("mode")) {
        sink.mode = v->mode();
    }
    if (auto v = section.get("group")) {
        sink.group = v->string();
    }
    if (auto v = section.get("max_queue")) {
        sink.maxQueue = parseQueueSize(*v);
    }
    if (auto v = section.get("policy")) {
        sink.policy =
            v->oneOf<UnixSinkConfig::Policy>({{"disconnect", UnixSinkConfig::Policy::Disconnect},
                                              {"drop", UnixSinkConfig::Policy::Drop}});
    }
    if (auto v = section.get("replay")) {
        sink.replay = v->integer(0, std::numeric_limits<std::size_t>::max());
    }
    if (auto v = section.get("allow_send")) {
        sink.allowSend = v->boolean();
    }
    return sink;
}

// RFC 6901: "" or "/" followed by reference tokens, "~" only as "~0" or "~1".
std::string parseJsonPointer(const Value& value)
{
    const std::string pointer = value.string();
    bool valid = pointer.empty() || pointer.front() == '/';
    for (std::size_t at = pointer.find('~'); valid && at != std::string::npos;
         at = pointer.find('~', at + 1)) {
        valid = at + 1 < pointer.size() && (pointer[at + 1] == '0' || pointer[at + 1] == '1');
    }
    if (!valid) {
        value.fail("expected \"\" or a JSON pointer such as /id or /meta/seq (RFC 6901), got " +
                   quoted(pointer));
    }
    return pointer;
}

ResumeConfig parseResume(const Section& section)
{
    section.allowOnly({"id", "initial", "message", "dedup", "sequence", "reconnect_on_gap"});
    ResumeConfig resume;
    if (auto v = section.get("id")) {
        resume.id = parseJsonPointer(*v);
    }
    if (auto v = section.get("initial")) {
        resume.initial = v->string();
    }
    if (auto v = section.get("message")) {
        if (v->node().IsMap() || v->node().IsSequence()) {
            v->expected("a string (quote JSON text: '{\"op\":\"resume\",\"id\":\"${LAST_ID}\"}')");
        }
        resume.message = v->string();
        if (hasControlCharacters(resume.message)) {
            v->fail("must not contain control characters");
        }
    }
    if (auto v = section.get("dedup")) {
        resume.dedup = v->integer(0, 1'000'000);
    }
    if (auto v = section.get("sequence")) {
        resume.sequence = parseJsonPointer(*v);
    }
    if (auto v = section.get("reconnect_on_gap")) {
        resume.reconnectOnGap = v->boolean();
        if (resume.reconnectOnGap && resume.sequence.empty()) {
            v->fail("needs resume.sequence: a gap is a jump in that sequence");
        }
    }
    return resume;
}

StoreConfig parseStore(const Section& section)
{
    section.allowOnly({"path", "max_size", "max_age", "sync", "sync_interval"});
    StoreConfig store;
    if (auto v = section.get("path")) {
        store.path = v->absolutePathOrEmpty();
    }
    if (auto v = section.get("max_size")) {
        store.maxSize = v->size();
        // A segment is an eighth of it: below 1MiB, segments would be smaller than a message.
        if (store.maxSize < (std::size_t{1} << 20)) {
            v->outOfRange("at least 1MiB");
        }
    }
    if (auto v = section.get("max_age")) {
        store.maxAge = v->duration();
    }
    if (auto v = section.get("sync")) {
        store.sync = v->oneOf<StoreConfig::Sync>({{"always", StoreConfig::Sync::Always},
                                                  {"interval", StoreConfig::Sync::Interval},
                                                  {"none", StoreConfig::Sync::None}});
    }
    if (auto v = section.get("sync_interval")) {
        store.syncInterval = v->duration();
        if (store.syncInterval <= Duration{0}) {
            v->outOfRange("greater than 0");
        }
    }
    return store;
}

MetricsConfig parseMetrics(const Section& section)
{
    section.allowOnly({"listen", "textfile", "interval"});
    MetricsConfig metrics;
    if (auto v = section.get("listen")) {
        metrics.listen = v->string();
        std::string error;
        if (!metrics.listen.empty() && !parseListenAddress(metrics.listen, error)) {
            v->fail(error + ", got " + quoted(metrics.listen));
        }
    }
    if (auto v = section.get("textfile")) {
        metrics.textfile = v->absolutePathOrEmpty();
        if (metrics.textfile.ends_with('/')) {
            v->outOfRange("a file's path");
        }
    }
    if (auto v = section.get("interval")) {
        metrics.interval = v->duration();
        // Each rewrite reads /proc and writes a file on the loop: not many times a second.
        if (metrics.interval < std::chrono::milliseconds(100)) {
            v->outOfRange("at least 100ms");
        }
    }
    return metrics;
}

SinkSettings parseFileSink(const Section& section)
{
    section.allowOnly(
        {"type", "path", "format", "fsync", "fsync_interval", "max_size", "keep", "max_queue"});
    FileSinkConfig sink;
    if (auto v = section.get("path")) {
        sink.path = v->absolutePath();
    }
    if (auto v = section.get("format")) {
        sink.format = v->oneOf<FileSinkConfig::Format>(
            {{"jsonl", FileSinkConfig::Format::Jsonl}, {"raw", FileSinkConfig::Format::Raw}});
    }
    if (auto v = section.get("fsync")) {
        sink.fsync =
            v->oneOf<FileSinkConfig::Fsync>({{"none", FileSinkConfig::Fsync::None},
                                             {"always", FileSinkConfig::Fsync::Always},
                                             {"interval", FileSinkConfig::Fsync::Interval}});
    }
    if (auto v = section.get("fsync_interval")) {
        sink.fsyncInterval = v->duration();
        if (sink.fsyncInterval <= Duration{0}) {
            v->outOfRange("greater than 0");
        }
    }
    if (auto v = section.get("max_size")) {
        sink.maxSize = v->size();
    }
    if (auto v = section.get("keep")) {
        sink.keep = v->integer(1, 1000);
    }
    if (auto v = section.get("max_queue")) {
        sink.maxQueue = parseQueueSize(*v);
    }
    return sink;
}

// mqtt://host[:port] or mqtts://host[:port], an optional "/" after; credentials go in
// username and password_file, not in the URL.
void parseMqttUrl(const Value& value, MqttSinkConfig& sink)
{
    sink.url = value.string();
    std::string_view rest = sink.url;
    if (rest.starts_with("mqtt://")) {
        rest.remove_prefix(7);
        sink.secure = false;
        sink.port = 1883;
    } else if (rest.starts_with("mqtts://")) {
        rest.remove_prefix(8);
        sink.secure = true;
        sink.port = 8883;
    } else {
        value.fail("must be an mqtt:// or mqtts:// URL, got " + quoted(sink.url));
    }
    if (rest.ends_with('/')) {
        rest.remove_suffix(1);
    }
    if (rest.find('@') != std::string_view::npos) {
        value.fail("credentials go in username and password_file, not in the URL");
    }
    if (!isHostPort(rest, false)) {
        value.fail("expected mqtt://HOST[:PORT], got " + quoted(sink.url));
    }
    std::string_view host = rest;
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        host = rest.substr(1, close - 1);
        rest.remove_prefix(close + 1);
    } else {
        host = rest.substr(0, rest.find(':'));
        rest.remove_prefix(host.size());
    }
    sink.host = std::string(host);
    if (rest.starts_with(':')) {
        rest.remove_prefix(1);
        std::from_chars(rest.data(), rest.data() + rest.size(), sink.port);
    }
}

// Literal text and {/json/pointer} pieces; a publish topic has no wildcards.
std::string parseTopicTemplate(const Value& value)
{
    const std::string topic = value.nonEmptyString();
    if (hasControlCharacters(topic)) {
        value.fail("must not contain control characters");
    }
    std::size_t pos = 0;
    while (pos < topic.size()) {
        const std::size_t open = topic.find_first_of("{}+#", pos);
        if (open == std::string::npos) {
            break;
        }
        if (topic[open] == '+' || topic[open] == '#') {
            value.fail("a topic to publish to cannot hold the wildcard '" +
                       std::string(1, topic[open]) + "', got " + quoted(topic));
        }
        const std::size_t close = topic.find('}', open + 1);
        if (topic[open] == '}' || close == std::string::npos) {
            value.fail("unbalanced '{' or '}' in " + quoted(topic) +
                       "; a piece of the message is written {/json/pointer}");
        }
        const std::string pointer = topic.substr(open + 1, close - open - 1);
        bool valid = pointer.starts_with('/') && pointer.find('{') == std::string::npos;
        for (std::size_t at = pointer.find('~'); valid && at != std::string::npos;
             at = pointer.find('~', at + 1)) {
            valid = at + 1 < pointer.size() && (pointer[at + 1] == '0' || pointer[at + 1] == '1');
        }
        if (!valid) {
            value.fail("expected a JSON pointer such as {/type} (RFC 6901) in the topic, got " +
                       quoted("{" + pointer + "}"));
        }
        pos = close + 1;
    }
    return topic;
}

SinkSettings parseMqttSink(const Section& section)
{
    section.allowOnly({"type", "url", "tls", "topic", "qos", "retain", "client_id", "username",
                       "password_file", "format", "max_inflight", "keepalive"});
    MqttSinkConfig sink;
    if (auto v = section.get("url")) {
        parseMqttUrl(*v, sink);
    }
    if (auto v = section.get("tls")) {
        sink.tls = parseTls(*v);
        if (!sink.secure) {
            v->fail("needs an mqtts:// url");
        }
    }
    if (auto v = section.get("topic")) {
        sink.topic = parseTopicTemplate(*v);
    }
    if (auto v = section.get("qos")) {
        sink.qos = static_cast<unsigned>(v->integer(0, 2));
    }
    if (auto v = section.get("retain")) {
        sink.retain = v->boolean();
    }
    if (auto v = section.get("client_id")) {
        sink.clientId = expandEnvironment(*v, false);
        // A persistent session is kept under this name at the broker.
        if (sink.clientId.empty() || hasControlCharacters(sink.clientId) ||
            sink.clientId.size() > 65535) {
            v->outOfRange("a non-empty name without control characters");
        }
    }
    if (auto v = section.get("username")) {
        sink.username = v->string();
        if (hasControlCharacters(sink.username)) {
            v->fail("must not contain control characters");
        }
    }
    if (auto v = section.get("password_file")) {
        sink.passwordFile = v->absolutePathOrEmpty();
        if (!sink.passwordFile.empty() && sink.username.empty()) {
            v->fail("needs a username as well");
        }
    }
    if (auto v = section.get("format")) {
        sink.format = v->oneOf<MqttSinkConfig::Format>(
            {{"jsonl", MqttSinkConfig::Format::Jsonl}, {"raw", MqttSinkConfig::Format::Raw}});
    }
    if (auto v = section.get("max_inflight")) {
        sink.maxInflight = static_cast<unsigned>(v->integer(1, 65535));
    }
    if (auto v = section.get("keepalive")) {
        sink.keepalive = v->duration();
        if (sink.keepalive < std::chrono::seconds(5) || sink.keepalive > std::chrono::hours(18)) {
            v->outOfRange("between 5s and 18h");
        }
    }
    return sink;
}

// A name a child's environment may hold: not empty, no '=' or NUL.
bool isEnvironmentName(std::string_view name)
{
    return !name.empty() && name.find_first_of(std::string_view("=\0", 2)) == std::string::npos;
}

std::vector<std::string> parseCommand(const Value& value)
{
    const std::vector<Value> items = value.items();
    if (items.empty()) {
        value.fail("must list the program and its arguments, such as [/usr/local/bin/on-push]");
    }
    std::vector<std::string> command;
    for (const Value& item : items) {
        std::string argument = item.string();
        if (argument.find('\0') != std::string::npos) {
            item.fail("must not contain NUL");
        }
        command.push_back(std::move(argument));
    }
    const std::string& program = command.front();
    if (program.empty() || (!program.starts_with('/') && program.find('/') != std::string::npos)) {
        items.front().outOfRange("an absolute path or a name looked up in PATH");
    }
    return command;
}

std::vector<std::pair<std::string, std::string>> parseExecEnvironment(const Value& value)
{
    const Section section(value);
    std::vector<std::pair<std::string, std::string>> environment;
    for (const Entry& entry : section.entries()) {
        if (!isEnvironmentName(entry.name)) {
            entry.key.fail("invalid variable name " + quoted(entry.name));
        }
        if (entry.name.starts_with("WSPUSH_")) {
            entry.key.fail(quoted(entry.name) +
                           " is set by the daemon; WSPUSH_* names are reserved");
        }
        std::string text = entry.value.string();
        if (text.find('\0') != std::string::npos) {
            entry.value.fail("must not contain NUL");
        }
        environment.emplace_back(entry.name, std::move(text));
    }
    return environment;
}

SinkSettings parseExecSink(const Section& section)
{
    section.allowOnly(
        {"type", "command", "mode", "input", "concurrency", "timeout", "retry", "environment"});
    ExecSinkConfig sink;
    if (auto v = section.get("command")) {
        sink.command = parseCommand(*v);
    } else {
        throw ConfigError(section.self().location(),
                          section.self().path() + ".command is required");
    }
    if (auto v = section.get("mode")) {
        sink.mode = v->oneOf<ExecSinkConfig::Mode>(
            {{"each", ExecSinkConfig::Mode::Each}, {"stream", ExecSinkConfig::Mode::Stream}});
    }
    if (auto v = section.get("input")) {
        sink.input = v->oneOf<ExecSinkConfig::Input>({{"jsonl", ExecSinkConfig::Input::Jsonl},
                                                      {"raw", ExecSinkConfig::Input::Raw},
                                                      {"none", ExecSinkConfig::Input::None}});
        if (sink.mode == ExecSinkConfig::Mode::Stream &&
            sink.input == ExecSinkConfig::Input::None) {
            v->fail("mode: stream feeds records to the command's stdin: jsonl or raw");
        }
    }
    // A setting that would have no effect is a mistake worth telling.
    const auto eachOnly = [&section, &sink](std::string_view key) {
        auto v = section.get(key);
        if (v && sink.mode == ExecSinkConfig::Mode::Stream) {
            v->fail("applies to mode: each only (a stream command is restarted whenever it exits)");
        }
        return v;
    };
    if (auto v = eachOnly("concurrency")) {
        sink.concurrency = static_cast<unsigned>(v->integer(1, 256));
    }
    if (auto v = eachOnly("timeout")) {
        sink.timeout = v->duration();
    }
    if (auto v = eachOnly("retry")) {
        sink.retry = static_cast<unsigned>(v->integer(0, 100));
    }
    if (auto v = section.get("environment")) {
        sink.environment = parseExecEnvironment(*v);
    }
    return sink;
}

// redis://host[:port][/db] or unix:/path[?db=N].
void parseRedisUrl(const Value& value, RedisSinkConfig& sink)
{
    sink.url = value.string();
    std::string_view rest = sink.url;
    const auto parseDb = [&value, &sink](std::string_view text) {
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), sink.db);
        if (!isDigits(text) || error != std::errc() || sink.db > 1000) {
            value.fail("the database must be a number from 0 to 1000, got " + quoted(text));
        }
    };
    if (rest.starts_with("unix:")) {
        rest.remove_prefix(5);
        if (const auto query = rest.find("?db="); query != std::string_view::npos) {
            parseDb(rest.substr(query + 4));
            rest = rest.substr(0, query);
        }
        if (!rest.starts_with('/') || rest.size() >= sizeof(sockaddr_un::sun_path)) {
            value.fail("expected unix:/absolute/path[?db=N], got " + quoted(sink.url));
        }
        sink.unixPath = std::string(rest);
        return;
    }
    if (!rest.starts_with("redis://")) {
        value.fail("must be a redis:// URL or unix:/path, got " + quoted(sink.url));
    }
    rest.remove_prefix(8);
    if (rest.find('@') != std::string_view::npos) {
        value.fail("the password goes in password_file, not in the URL");
    }
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
        if (slash + 1 < rest.size()) {
            parseDb(rest.substr(slash + 1));
        }
        rest = rest.substr(0, slash);
    }
    if (!isHostPort(rest, false)) {
        value.fail("expected redis://HOST[:PORT][/DB], got " + quoted(sink.url));
    }
    std::string_view host = rest;
    if (rest.starts_with('[')) {
        host = rest.substr(1, rest.find(']') - 1);
        rest.remove_prefix(host.size() + 2);
    } else {
        host = rest.substr(0, rest.find(':'));
        rest.remove_prefix(host.size());
    }
    sink.host = std::string(host);
    if (rest.starts_with(':')) {
        rest.remove_prefix(1);
        std::from_chars(rest.data(), rest.data() + rest.size(), sink.port);
    }
}

SinkSettings parseRedisSink(const Section& section)
{
    section.allowOnly({"type", "url", "stream", "max_len", "password_file"});
    RedisSinkConfig sink;
    if (auto v = section.get("url")) {
        parseRedisUrl(*v, sink);
    }
    if (auto v = section.get("stream")) {
        sink.stream = v->nonEmptyString();
    }
    if (auto v = section.get("max_len")) {
        sink.maxLen = v->integer(0, std::uint64_t{1} << 40);
    }
    if (auto v = section.get("password_file")) {
        sink.passwordFile = v->absolutePathOrEmpty();
    }
    return sink;
}

using SinkParser = SinkSettings (*)(const Section&);

// The path a sink owns, when it owns one: two sinks writing or binding it would collide.
const std::string* ownedPath(const SinkSettings& settings)
{
    if (const auto* file = std::get_if<FileSinkConfig>(&settings)) {
        return &file->path;
    }
    if (const auto* socket = std::get_if<UnixSinkConfig>(&settings)) {
        return &socket->path;
    }
    return nullptr;
}

std::vector<SinkConfig> parseSinks(const Value& value)
{
    std::vector<SinkConfig> sinks;
    std::map<std::pair<std::string, std::string>, std::string> owners; // (type, path) -> sink
    for (const Value& item : value.items()) {
        const Section section(item);
        const auto type = section.get("type");
        if (!type) {
            throw ConfigError(item.location(), item.path() + ".type is required");
        }
        const SinkParser parse = type->oneOf<SinkParser>({{"journal", parseJournalSink},
                                                          {"syslog", parseSyslogSink},
                                                          {"unix", parseUnixSink},
                                                          {"file", parseFileSink},
                                                          {"mqtt", parseMqttSink},
                                                          {"redis", parseRedisSink},
                                                          {"exec", parseExecSink}});
        SinkConfig sink{type->string(), parse(section), item.location()};
        if (const std::string* path = ownedPath(sink.settings)) {
            const auto [owner, inserted] = owners.emplace(std::pair(sink.type, *path), item.path());
            if (!inserted) {
                const auto pathValue = section.get("path");
                throw ConfigError(pathValue ? pathValue->location() : item.location(),
                                  item.path() + ".path: " + quoted(*path) + " is already used by " +
                                      owner->second);
            }
        }
        // A sink's cursor is named after its command: two exec sinks must not share one.
        if (const auto* exec = std::get_if<ExecSinkConfig>(&sink.settings)) {
            std::string key;
            for (const std::string& argument : exec->command) {
                key.append(argument).push_back('\0');
            }
            const auto [owner, inserted] = owners.emplace(std::pair(sink.type, key), item.path());
            if (!inserted) {
                throw ConfigError(section.get("command")->location(),
                                  item.path() + ".command: the same command as " + owner->second +
                                      "; each exec sink keeps its place under its command");
            }
        }
        sinks.push_back(std::move(sink));
    }
    return sinks;
}

// The mark of a document's root node, from the parser's events.
class RootMark : public YAML::EventHandler
{
public:
    YAML::Mark mark = YAML::Mark::null_mark();

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& at, YAML::anchor_t) override { see(at); }
    void OnAlias(const YAML::Mark& at, YAML::anchor_t) override { see(at); }
    void OnScalar(const YAML::Mark& at, const std::string&, YAML::anchor_t,
                  const std::string&) override
    {
        see(at);
    }
    void OnSequenceStart(const YAML::Mark& at, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override
    {
        see(at);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& at, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override
    {
        see(at);
    }
    void OnMapEnd() override {}

private:
    void see(const YAML::Mark& at)
    {
        if (mark.is_null()) {
            mark = at;
        }
    }
};

// The stream's one document. Not YAML::LoadAll: after a stray ',' at the top level, yaml-cpp
// 0.7 finds empty documents without end (yaml-cpp #1040) and fills the memory, so the parser
// is asked for a second document once. Throws YAML::Exception and ConfigError.
YAML::Node loadSingleDocument(const std::string& text, const std::string& path)
{
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    RootMark first;
    RootMark second;
    if (parser.HandleNextDocument(first) && parser.HandleNextDocument(second)) {
        throw ConfigError(locationOf(path, second.mark), "only one YAML document is allowed");
    }
    return YAML::Load(text);
}

std::string readFile(const std::string& path)
{
    const auto failure = [&path](int error) {
        return ConfigError({path, 1, 1}, std::string("cannot read file: ") + std::strerror(error));
    };
    const system::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.isValid()) {
        throw failure(errno);
    }
    std::string text;
    char buffer[16 * 1024];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n > 0) {
            text.append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0) {
            return text;
        } else if (errno != EINTR) {
            throw failure(errno);
        }
    }
}

} // namespace

Config loadConfigFile(const std::string& path)
{
    return parseConfig(readFile(path), path);
}

Config parseConfig(const std::string& text, const std::string& path)
{
    YAML::Node document;
    try {
        document = loadSingleDocument(text, path);
    } catch (const YAML::Exception& e) {
        throw ConfigError(locationOf(path, e.mark), e.msg);
    }

    const Value root(document, "", path, YAML::Mark());
    if (!root.node().IsNull() && !root.node().IsMap()) {
        root.fail("the document root must be a mapping of sections, got " + root.describe());
    }
    const Section top(root);
    top.allowOnly(
        {"server", "heartbeat", "reconnect", "filter", "resume", "store", "sinks", "metrics"});

    Config config;
    if (auto v = top.get("server")) {
        config.server = parseServer(Section(*v));
    } else {
        throw ConfigError({path, 1, 1}, "server.url is required");
    }
    if (auto v = top.get("heartbeat")) {
        config.heartbeat = parseHeartbeat(Section(*v));
    }
    if (auto v = top.get("reconnect")) {
        config.reconnect = parseReconnect(Section(*v));
    }
    if (auto v = top.get("filter")) {
        config.filter = parseFilter(Section(*v));
    }
    if (auto v = top.get("resume")) {
        config.resume = parseResume(Section(*v));
    }
    if (auto v = top.get("store")) {
        config.store = parseStore(Section(*v));
    }
    if (auto v = top.get("sinks")) {
        config.sinks = parseSinks(*v);
    }
    if (auto v = top.get("metrics")) {
        config.metrics = parseMetrics(Section(*v));
    }
    // Brokers are retried by the push link's rules.
    for (SinkConfig& sink : config.sinks) {
        if (auto* mqtt = std::get_if<MqttSinkConfig>(&sink.settings)) {
            mqtt->reconnect = config.reconnect;
        }
        if (auto* redis = std::get_if<RedisSinkConfig>(&sink.settings)) {
            redis->reconnect = config.reconnect;
        }
    }
    return config;
}

} // namespace wspush::config
