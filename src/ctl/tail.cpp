// SPDX-License-Identifier: MIT
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <signal.h>
#include <stdexcept>
#include <thread>
#include <unistd.h>
#include <vector>

#include "ctl/commands.hpp"
#include "ctl/field_text.hpp"
#include "ctl/request.hpp"
#include "system/errno_error.hpp"

namespace wspush::ctl {

namespace {

using namespace std::chrono_literals;

constexpr auto firstRetryDelay = 200ms;
constexpr auto maxRetryDelay = 5000ms;
// A subscription's records are acknowledged as soon as none waits to be printed, and at
// least once per this many, so that a steady stream does not put acks off for long.
constexpr unsigned ackEvery = 1000;

// Tail cannot go on: its subscription was refused or taken over.
class Refused : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

// Every record is flushed as it is printed and there is nothing else to tidy up, so these
// end tail at once and quietly: Ctrl-C, a service stop, stdout closed (`| head`). A record
// printed and not yet acknowledged comes again at the next `tail --name`: at least once.
void exitQuietly(int /*signal*/)
{
    _exit(0);
}

void exitQuietlyOnSignals()
{
    struct sigaction action = {};
    action.sa_handler = exitQuietly;
    for (const int signal : {SIGINT, SIGTERM, SIGPIPE})
        sigaction(signal, &action, nullptr);
}

// What tail says on stderr for an event, or nothing for those it does not report.
std::optional<std::string> describe(const Event& event)
{
    const Json::Value& fields = event.fields;
    if (event.name == "connected")
        return "upstream connected to " + fieldText(fields["server"]);
    if (event.name == "disconnected")
        return "upstream disconnected: " + fieldText(fields["reason"]);
    if (event.name == "gap" && fields["reason"].isString())
        return std::nullopt; // a new epoch: tail said so when it saw the hello
    if (event.name == "gap" && fields["upstream"].isBool() && fields["upstream"].asBool())
        return "the server skipped messages: expected " + fieldText(fields["expected"]) + ", got " +
               fieldText(fields["got"]);
    if (event.name == "gap")
        return "gap: records " + fieldText(fields["from"]) + "–" + fieldText(fields["to"]) +
               " are no longer held";
    if (event.name == "dropped")
        return "dropped " + fieldText(fields["count"]) + " records (too slow)";
    if (event.name == "error")
        return "error: " + fieldText(fields["message"]);
    return std::nullopt;
}

void report(const Event& event)
{
    if (const auto text = describe(event))
        warn(*text);
}

// Waits after 0.2 s, then twice as long each time up to 5 s, for as long as it takes.
Subscriber reconnect(const std::string& socketPath)
{
    for (auto delay = firstRetryDelay;; delay = std::min(delay * 2, maxRetryDelay)) {
        std::this_thread::sleep_for(delay);
        try {
            return Subscriber(socketPath);
        } catch (const std::system_error&) {
            // Not back yet.
        }
    }
}

class Tail
{
public:
    explicit Tail(const TailOptions& options)
        : after_(options.since), name_(options.name), fromFirst_(options.fromFirst),
          raw_(options.raw)
    {
    }

    // Prints until the connection is lost. Throws Disconnected, Refused, or
    // std::system_error when stdout fails.
    void follow(Subscriber& subscriber, bool reconnected);

private:
    void resume(Subscriber& subscriber, bool reconnected);
    Hello awaitHello(Subscriber& subscriber);
    void awaitSubscribed(Subscriber& subscriber);
    void handle(Subscriber& subscriber, const Event& event);
    void print(Subscriber& subscriber, const Record& record);
    void acknowledge(Subscriber& subscriber);

    // The records of epoch_ up to this seq are done with: printed, or before tail started.
    std::optional<std::uint64_t> after_;
    std::string epoch_; // the daemon's; empty before its first hello
    std::string name_;
    bool fromFirst_;
    bool raw_;
    std::uint64_t unacked_ = 0; // the last record handled and not acknowledged yet; 0: none
    unsigned unackedCount_ = 0;
};

void Tail::follow(Subscriber& subscriber, bool reconnected)
{
    unacked_ = 0;
    unackedCount_ = 0;
    resume(subscriber, reconnected);
    for (;;) {
        try {
            // Acknowledges once nothing more waits to be printed.
            const auto message = subscriber.next(unacked_ != 0 ? 0ms : 1h);
            if (!message)
                acknowledge(subscriber);
            else if (const auto* record = std::get_if<Record>(&*message))
                print(subscriber, *record);
            else
                handle(subscriber, std::get<Event>(*message));
        } catch (const MalformedLine& error) {
            warn(error.what());
        }
    }
}

// Asks at once for what it wants (the daemon holds a new client's records until its first
// request, so that none comes before it), then reads the hello to learn whether the daemon's
// epoch is still the one its seqs belong to.
void Tail::resume(Subscriber& subscriber, bool reconnected)
{
    if (!name_.empty())
        subscriber.send(subscribeRequest(name_, fromFirst_));
    else if (after_)
        subscriber.send(replayRequest(*after_, epoch_));

    const Hello hello = awaitHello(subscriber);
    const bool newEpoch = !epoch_.empty() && hello.epoch != epoch_;
    if (reconnected) {
        if (newEpoch)
            warn("the daemon's seqs began anew (a new epoch); printing all it holds");
        else if (!name_.empty())
            warn("reconnected; resuming subscription '" + name_ + "'");
        else if (after_)
            warn("reconnected; resuming after seq " + std::to_string(*after_));
        else
            warn("reconnected");
    }
    if (newEpoch)
        after_ = name_.empty() ? std::optional<std::uint64_t>(0) : std::nullopt;
    epoch_ = hello.epoch;

    if (!name_.empty())
        awaitSubscribed(subscriber);
    else if (!after_)
        after_ = hello.last; // live from here; after a reconnect it goes on from there
}

Hello Tail::awaitHello(Subscriber& subscriber)
{
    const Deadline deadline = std::chrono::steady_clock::now() + replyTimeout;
    while (std::optional<Message> message = nextBefore(subscriber, deadline)) {
        if (const auto* event = std::get_if<Event>(&*message)) {
            if (const auto hello = helloOf(*event))
                return *hello;
        }
    }
    throw Disconnected("no hello from the daemon within " + std::to_string(replyTimeout.count()) +
                       " s");
}

// Records before the subscription's answer are not part of it: they come again in it.
void Tail::awaitSubscribed(Subscriber& subscriber)
{
    const Deadline deadline = std::chrono::steady_clock::now() + replyTimeout;
    while (std::optional<Message> message = nextBefore(subscriber, deadline)) {
        const auto* event = std::get_if<Event>(&*message);
        if (event == nullptr)
            continue;
        if (event->name == "subscribed")
            return;
        if (event->name == "error")
            throw Refused("subscription '" + name_ +
                          "' refused: " + fieldText(event->fields["message"]));
        report(*event);
    }
    throw Disconnected("no answer to subscribe from the daemon within " +
                       std::to_string(replyTimeout.count()) + " s");
}

void Tail::handle(Subscriber& subscriber, const Event& event)
{
    const Json::Value& reason = event.fields["reason"];
    if (event.name == "error" && reason.isString() && reason.asString() == "taken_over") {
        acknowledge(subscriber); // it does not count any more, but may say what was written
        throw Refused("subscription '" + name_ + "' was taken over by another client");
    }
    report(event);
}

void Tail::print(Subscriber& subscriber, const Record& record)
{
    // Printed already, before a reconnect: a subscription gives again what was not
    // acknowledged; it is acknowledged now.
    if (!after_ || record.seq > *after_) {
        const std::string payload = raw_ ? payloadOf(record) : std::string();
        const std::string& text = raw_ ? payload : record.line;
        if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
            std::fputc('\n', stdout) == EOF || std::fflush(stdout) != 0)
            throw system::errnoError(errno, "cannot write to stdout");
        after_ = record.seq;
    }
    if (name_.empty())
        return;
    unacked_ = record.seq;
    if (++unackedCount_ >= ackEvery)
        acknowledge(subscriber);
}

void Tail::acknowledge(Subscriber& subscriber)
{
    if (unacked_ == 0)
        return;
    const std::uint64_t seq = unacked_;
    unacked_ = 0;
    unackedCount_ = 0;
    subscriber.send(ackRequest(seq));
}

} // namespace

int runTail(const std::string& socketPath, const TailOptions& options)
{
    exitQuietlyOnSignals();
    std::optional<Subscriber> subscriber = connectOrWarn(socketPath);
    if (!subscriber)
        return exitFailure;
    Tail tail(options);
    try {
        for (bool reconnected = false;; reconnected = true) {
            try {
                tail.follow(*subscriber, reconnected);
            } catch (const Disconnected& error) {
                warn(std::string(error.what()) + "; reconnecting");
            }
            subscriber.reset();
            subscriber = reconnect(socketPath);
        }
    } catch (const Refused& error) {
        warn(error.what());
        return exitFailure;
    } catch (const std::system_error& error) {
        warn(error.what());
        return exitFailure;
    }
}

} // namespace wspush::ctl
