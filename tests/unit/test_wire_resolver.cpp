// SPDX-License-Identifier: MIT
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>

#include "event/event_loop.hpp"
#include "event/fd_watch.hpp"
#include "event/timer.hpp"
#include "system/unique_fd.hpp"
#include "wire/address.hpp"
#include "wire/resolver.hpp"

using namespace wspush;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

constexpr auto patience = std::chrono::seconds(5);

// Runs the loop until `done()` or `timeout`; returns done(). Checked on a short timer: a
// timer's callback runs at the start of an lws_service() call, which then sleeps until the
// next event, so a check after each call could come only with the next event.
bool runUntil(event::EventLoop& loop, const std::function<bool()>& done,
              std::chrono::milliseconds timeout)
{
    if (done())
        return true;
    const auto stop = [&loop] {
        loop.stop();
        lws_cancel_service(loop.context()); // wakes the poll
    };
    event::Timer deadline(loop.context(), stop);
    deadline.schedule(timeout);
    std::function<void()> poll;
    event::Timer check(loop.context(), [&poll] { poll(); });
    poll = [&] {
        if (done())
            stop();
        else
            check.schedule(milliseconds(2));
    };
    check.schedule(milliseconds(2));
    loop.run([&] {
        if (done())
            stop();
    });
    return done();
}

void runFor(event::EventLoop& loop, std::chrono::milliseconds time)
{
    runUntil(
        loop, [] { return false; }, time);
}

struct TempDir
{
    TempDir()
    {
        char pattern[] = "/tmp/wspush-resolver-XXXXXX";
        path = mkdtemp(pattern);
    }
    ~TempDir() { fs::remove_all(path); }
    fs::path path;
};

// Replaces the file as a network manager does: a new file renamed over the old.
void writeResolvConf(const fs::path& path, const std::string& nameserver)
{
    const fs::path next = path.string() + ".new";
    std::ofstream(next) << "nameserver " << nameserver << "\noptions timeout:2 attempts:1\n";
    fs::rename(next, path);
}

// A DNS server on UDP port 53 of a random 127/8 address (c-ares 1.18 reads no port from
// resolv.conf), in the test's loop: A and AAAA answers for the names it was given, NXDOMAIN
// for others; it can hold its answers back, all or those of one type.
class FakeDns
{
public:
    explicit FakeDns(event::EventLoop& loop)
    {
        std::random_device random;
        std::uniform_int_distribution<int> byte(1, 254);
        address_ = "127";
        for (int i = 0; i < 3; ++i) {
            address_ += '.';
            address_ += std::to_string(byte(random));
        }
        socket_.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        sockaddr_in bound{};
        bound.sin_family = AF_INET;
        bound.sin_port = htons(53);
        inet_pton(AF_INET, address_.c_str(), &bound.sin_addr);
        if (::bind(socket_.get(), reinterpret_cast<const sockaddr*>(&bound), sizeof bound) != 0) {
            socket_.reset(); // port 53 needs root (CAP_NET_BIND_SERVICE)
            return;
        }
        watch_ = std::make_unique<event::FdWatch>(loop, socket_.get(), [this] { receive(); });
    }

    bool isUsable() const { return socket_.isValid(); }
    const std::string& address() const { return address_; }
    int queries() const { return queries_; }

    void add(const std::string& name, const std::string& address)
    {
        names_[name].push_back(address);
    }
    static constexpr int everyType = -1;
    // Holds back the answers to queries of `type` (1 A, 28 AAAA, everyType), 0 none.
    void hold(int type) { heldType_ = type; }
    void releaseHeld()
    {
        for (const auto& [to, answer] : held_)
            ::sendto(socket_.get(), answer.data(), answer.size(), 0,
                     reinterpret_cast<const sockaddr*>(&to), sizeof to);
        held_.clear();
    }

private:
    void receive()
    {
        unsigned char query[512];
        sockaddr_in from{};
        socklen_t fromLength = sizeof from;
        const ssize_t got = ::recvfrom(socket_.get(), query, sizeof query, 0,
                                       reinterpret_cast<sockaddr*>(&from), &fromLength);
        if (got < 12)
            return;
        ++queries_;
        int type = 0;
        const std::string answer = answerTo(query, static_cast<std::size_t>(got), type);
        if (answer.empty())
            return;
        if (heldType_ == everyType || (heldType_ != 0 && heldType_ == type))
            held_.emplace_back(from, answer);
        else
            ::sendto(socket_.get(), answer.data(), answer.size(), 0,
                     reinterpret_cast<const sockaddr*>(&from), sizeof from);
    }

    std::string answerTo(const unsigned char* query, std::size_t length, int& type) const
    {
        std::string name;
        std::size_t at = 12;
        while (at < length && query[at] != 0) {
            const std::size_t label = query[at];
            if (at + 1 + label > length)
                return {};
            if (!name.empty())
                name += '.';
            name.append(reinterpret_cast<const char*>(query) + at + 1, label);
            at += 1 + label;
        }
        if (at + 5 > length)
            return {};
        type = (query[at + 1] << 8) | query[at + 2];
        const std::size_t questionEnd = at + 5;

        std::vector<std::string> rdatas;
        const auto known = names_.find(name);
        if (known != names_.end()) {
            for (const std::string& address : known->second) {
                unsigned char bytes[16];
                if (type == 1 && inet_pton(AF_INET, address.c_str(), bytes) == 1)
                    rdatas.emplace_back(reinterpret_cast<char*>(bytes), 4);
                if (type == 28 && inet_pton(AF_INET6, address.c_str(), bytes) == 1)
                    rdatas.emplace_back(reinterpret_cast<char*>(bytes), 16);
            }
        }
        std::string answer(reinterpret_cast<const char*>(query), questionEnd);
        answer[2] = static_cast<char>(0x80 | (query[2] & 0x01));            // QR, RD as asked
        answer[3] = static_cast<char>(known == names_.end() ? 0x83 : 0x80); // RA, NXDOMAIN
        answer[4] = 0;
        answer[5] = 1;
        answer[6] = 0;
        answer[7] = static_cast<char>(rdatas.size());
        for (int i = 8; i < 12; ++i)
            answer[i] = 0;
        for (const std::string& rdata : rdatas) {
            const char record[] = {'\xc0', '\x0c', 0, static_cast<char>(type),        0, 1, 0, 0,
                                   0,      60,     0, static_cast<char>(rdata.size())};
            answer.append(record, sizeof record);
            answer += rdata;
        }
        return answer;
    }

    std::string address_;
    system::UniqueFd socket_;
    std::unique_ptr<event::FdWatch> watch_;
    std::map<std::string, std::vector<std::string>> names_;
    int heldType_ = 0;
    std::vector<std::pair<sockaddr_in, std::string>> held_;
    int queries_ = 0;
};

// One lookup's answer, once it came.
struct Answer
{
    int calls = 0;
    std::vector<std::string> addresses; // textWithPort()
    std::vector<int> families;
    std::string error;

    wire::Resolver::Callback callback()
    {
        return [this](const std::vector<wire::Address>& found, const std::string& why) {
            ++calls;
            for (const wire::Address& address : found) {
                addresses.push_back(address.textWithPort());
                families.push_back(address.family());
            }
            error = why;
        };
    }
};

wire::Address addressOf(const std::string& text)
{
    wire::Address address;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        address.length = sizeof *v4;
    } else {
        REQUIRE(inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1);
        v6->sin6_family = AF_INET6;
        address.length = sizeof *v6;
    }
    return address;
}

std::vector<std::string> textsOf(const std::vector<wire::Address>& addresses)
{
    std::vector<std::string> texts;
    texts.reserve(addresses.size());
    for (const wire::Address& address : addresses)
        texts.push_back(address.text());
    return texts;
}

// A resolver whose resolv.conf names a FakeDns; `dns` is empty where port 53 is refused.
struct Fixture
{
    TempDir dir;
    event::EventLoop loop;
    FakeDns dns{loop};
    fs::path resolvConf = dir.path / "resolv.conf";
    std::unique_ptr<wire::Resolver> resolver;

    Fixture()
    {
        writeResolvConf(resolvConf, dns.address());
        resolver = std::make_unique<wire::Resolver>(loop, resolvConf.string());
    }
};

} // namespace

TEST_CASE("addresses are written numerically, IPv6 in brackets with a port")
{
    wire::Address v4 = addressOf("192.0.2.7");
    reinterpret_cast<sockaddr_in*>(&v4.storage)->sin_port = htons(443);
    CHECK(v4.family() == AF_INET);
    CHECK(v4.text() == "192.0.2.7");
    CHECK(v4.textWithPort() == "192.0.2.7:443");
    wire::Address v6 = addressOf("2001:db8::1");
    reinterpret_cast<sockaddr_in6*>(&v6.storage)->sin6_port = htons(8080);
    CHECK(v6.family() == AF_INET6);
    CHECK(v6.text() == "2001:db8::1");
    CHECK(v6.textWithPort() == "[2001:db8::1]:8080");
}

TEST_CASE("families are interleaved, starting with the first address's")
{
    using Texts = std::vector<std::string>;
    const auto interleaved = [](const Texts& texts) {
        std::vector<wire::Address> addresses;
        for (const std::string& text : texts)
            addresses.push_back(addressOf(text));
        return textsOf(wire::interleaveFamilies(addresses));
    };
    CHECK(interleaved({}).empty());
    CHECK(interleaved({"2001:db8::1", "2001:db8::2", "192.0.2.1", "192.0.2.2"}) ==
          Texts{"2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2"});
    CHECK(interleaved({"192.0.2.1", "2001:db8::1", "2001:db8::2", "2001:db8::3"}) ==
          Texts{"192.0.2.1", "2001:db8::1", "2001:db8::2", "2001:db8::3"});
    CHECK(interleaved({"192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1"}) ==
          Texts{"192.0.2.1", "2001:db8::1", "192.0.2.2", "192.0.2.3"});
    CHECK(interleaved({"2001:db8::1", "2001:db8::2"}) == Texts{"2001:db8::1", "2001:db8::2"});
}

TEST_CASE("an address literal answers from the loop, without a query")
{
    Fixture f;
    Answer v4;
    Answer v6;
    f.resolver->resolve("127.0.0.1", 443, v4.callback());
    CHECK(v4.calls == 0); // never from inside resolve()
    REQUIRE(runUntil(
        f.loop, [&] { return v4.calls > 0; }, patience));
    CHECK(v4.addresses == std::vector<std::string>{"127.0.0.1:443"});
    CHECK(v4.error.empty());

    f.resolver->resolve("::1", 8080, v6.callback());
    CHECK(v6.calls == 0);
    REQUIRE(runUntil(
        f.loop, [&] { return v6.calls > 0; }, patience));
    CHECK(v6.addresses == std::vector<std::string>{"[::1]:8080"});
    runFor(f.loop, milliseconds(50));
    CHECK(v4.calls == 1);
    CHECK(v6.calls == 1);
    CHECK(f.dns.queries() == 0);
}

TEST_CASE("localhost answers with loopback addresses, without a query")
{
    Fixture f;
    Answer answer;
    f.resolver->resolve("localhost", 80, answer.callback());
    CHECK(answer.calls == 0);
    REQUIRE(runUntil(
        f.loop, [&] { return answer.calls > 0; }, patience));
    CHECK(answer.error.empty());
    REQUIRE_FALSE(answer.addresses.empty());
    for (const std::string& address : answer.addresses)
        CHECK((address.rfind("127.", 0) == 0 || address == "[::1]:80"));
    CHECK(f.dns.queries() == 0);
}

TEST_CASE("a name's addresses come from the name server, families interleaved")
{
    Fixture f;
    if (!f.dns.isUsable()) {
        MESSAGE("skipped: cannot bind UDP port 53 on loopback (not root)");
        return;
    }
    f.dns.add("both.test", "127.0.0.2");
    f.dns.add("both.test", "127.0.0.3");
    f.dns.add("both.test", "::1");
    f.dns.add("both.test", "::2");
    Answer answer;
    f.resolver->resolve("both.test", 8443, answer.callback());
    CHECK(answer.calls == 0);
    REQUIRE(runUntil(
        f.loop, [&] { return answer.calls > 0; }, patience));
    CHECK(answer.error.empty());
    REQUIRE(answer.addresses.size() == 4);
    // c-ares orders them by RFC 6724 (which family depends on the routes here); the
    // families then alternate.
    for (std::size_t i = 1; i < answer.families.size(); ++i)
        CHECK(answer.families[i] != answer.families[i - 1]);
    std::vector<std::string> sorted = answer.addresses;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted ==
          std::vector<std::string>{"127.0.0.2:8443", "127.0.0.3:8443", "[::1]:8443", "[::2]:8443"});
}

TEST_CASE("a name that does not exist cannot be resolved, with the server's reason")
{
    Fixture f;
    if (!f.dns.isUsable()) {
        MESSAGE("skipped: cannot bind UDP port 53 on loopback (not root)");
        return;
    }
    Answer answer;
    f.resolver->resolve("nosuch.test", 443, answer.callback());
    REQUIRE(runUntil(
        f.loop, [&] { return answer.calls > 0; }, patience));
    CHECK(answer.addresses.empty());
    CHECK(answer.error == "cannot resolve nosuch.test: Domain name not found");
    CHECK(f.dns.queries() > 0);
}

TEST_CASE("an unreachable name server is a reason too")
{
    TempDir dir;
    event::EventLoop loop;
    const fs::path resolvConf = dir.path / "resolv.conf";
    // Loopback, where nothing listens on port 53: refused at once.
    writeResolvConf(resolvConf, "127.0.0.254");
    wire::Resolver resolver(loop, resolvConf.string());
    Answer answer;
    resolver.resolve("nosuch.test", 443, answer.callback());
    REQUIRE(runUntil(
        loop, [&] { return answer.calls > 0; }, patience));
    CHECK(answer.addresses.empty());
    CHECK(answer.error.rfind("cannot resolve nosuch.test: ", 0) == 0);
}

TEST_CASE("after cancel() there is no callback")
{
    Fixture f;
    Answer literal;
    f.resolver->resolve("127.0.0.1", 443, literal.callback());
    f.resolver->cancel();
    runFor(f.loop, milliseconds(100));
    CHECK(literal.calls == 0);

    if (!f.dns.isUsable()) {
        MESSAGE("skipped the name server part: cannot bind UDP port 53 on loopback");
        return;
    }
    f.dns.add("slow.test", "127.0.0.5");
    f.dns.hold(FakeDns::everyType);
    Answer named;
    f.resolver->resolve("slow.test", 443, named.callback());
    REQUIRE(runUntil(
        f.loop, [&] { return f.dns.queries() >= 2; }, patience)); // A and AAAA
    f.resolver->cancel();
    f.dns.releaseHeld();
    runFor(f.loop, milliseconds(200));
    CHECK(named.calls == 0);
}

TEST_CASE("a lookup ended after one of its two answers calls nothing either")
{
    Fixture f;
    if (!f.dns.isUsable()) {
        MESSAGE("skipped: cannot bind UDP port 53 on loopback (not root)");
        return;
    }
    f.dns.add("half.test", "127.0.0.6");
    f.dns.hold(28); // AAAA; the A answer comes
    // Cancelled, c-ares ends such a lookup with the half it has, as a success.
    for (const bool replaced : {false, true}) {
        CAPTURE(replaced);
        Answer half;
        Answer next;
        const int queries = f.dns.queries();
        f.resolver->resolve("half.test", 443, half.callback());
        REQUIRE(runUntil(
            f.loop, [&] { return f.dns.queries() >= queries + 2; }, patience));
        runFor(f.loop, milliseconds(100)); // c-ares reads the A answer
        if (replaced)
            f.resolver->resolve("127.0.0.1", 9, next.callback());
        else
            f.resolver->cancel();
        f.dns.releaseHeld();
        runFor(f.loop, milliseconds(200));
        CHECK(half.calls == 0);
        CHECK(next.calls == (replaced ? 1 : 0));
        if (replaced)
            CHECK(next.addresses == std::vector<std::string>{"127.0.0.1:9"});
    }
}

TEST_CASE("a second resolve() replaces the first")
{
    Fixture f;
    Answer first;
    Answer second;
    f.resolver->resolve("127.0.0.1", 1, first.callback());
    f.resolver->resolve("::1", 2, second.callback());
    REQUIRE(runUntil(
        f.loop, [&] { return second.calls > 0; }, patience));
    runFor(f.loop, milliseconds(50));
    CHECK(first.calls == 0);
    CHECK(second.calls == 1);
    CHECK(second.addresses == std::vector<std::string>{"[::1]:2"});
}

TEST_CASE("the callback may resolve again, or destroy the resolver")
{
    Fixture f;
    Answer again;
    bool firstCame = false;
    f.resolver->resolve("127.0.0.1", 1, [&](const std::vector<wire::Address>&, const std::string&) {
        firstCame = true;
        f.resolver->resolve("127.0.0.2", 2, again.callback());
    });
    REQUIRE(runUntil(
        f.loop, [&] { return again.calls > 0; }, patience));
    CHECK(firstCame);
    CHECK(again.addresses == std::vector<std::string>{"127.0.0.2:2"});

    bool destroyed = false;
    f.resolver->resolve("localhost", 3, [&](const std::vector<wire::Address>&, const std::string&) {
        f.resolver.reset();
        destroyed = true;
    });
    REQUIRE(runUntil(
        f.loop, [&] { return destroyed; }, patience));
    runFor(f.loop, milliseconds(20));
}

TEST_CASE("a changed resolv.conf is read again at the next lookup")
{
    Fixture f;
    if (!f.dns.isUsable()) {
        MESSAGE("skipped: cannot bind UDP port 53 on loopback (not root)");
        return;
    }
    FakeDns other(f.loop);
    REQUIRE(other.isUsable());
    f.dns.add("moved.test", "127.0.0.7");
    other.add("moved.test", "127.0.0.8");

    Answer before;
    f.resolver->resolve("moved.test", 80, before.callback());
    REQUIRE(runUntil(
        f.loop, [&] { return before.calls > 0; }, patience));
    CHECK(before.addresses == std::vector<std::string>{"127.0.0.7:80"});

    writeResolvConf(f.resolvConf, other.address());
    Answer after;
    f.resolver->resolve("moved.test", 80, after.callback());
    REQUIRE(runUntil(
        f.loop, [&] { return after.calls > 0; }, patience));
    CHECK(after.addresses == std::vector<std::string>{"127.0.0.8:80"});
    CHECK(other.queries() > 0);
}

TEST_CASE("destroying the resolver during a lookup calls nothing")
{
    Fixture f;
    if (!f.dns.isUsable()) {
        MESSAGE("skipped: cannot bind UDP port 53 on loopback (not root)");
        return;
    }
    f.dns.add("gone.test", "127.0.0.9");
    f.dns.hold(28);
    Answer answer;
    f.resolver->resolve("gone.test", 80, answer.callback());
    REQUIRE(runUntil(
        f.loop, [&] { return f.dns.queries() >= 2; }, patience));
    f.resolver.reset();
    f.dns.releaseHeld();
    runFor(f.loop, milliseconds(100));
    CHECK(answer.calls == 0);
}
