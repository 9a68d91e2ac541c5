// SPDX-License-Identifier: MIT
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <signal.h>
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

// Every record is flushed as it is printed and there is nothing else to tidy up, so these
// end tail at once and quietly: Ctrl-C, a service stop, stdout closed (`| head`).
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
    Tail(std::optional<std::uint64_t> since, bool raw) : after_(since), raw_(raw) {}

    // Prints until the connection is lost. Throws Disconnected, or std::system_error when
    // stdout fails.
    void follow(Subscriber& subscriber, bool reconnected);

private:
    void resume(Subscriber& subscriber, bool reconnected);
    Event awaitStatus(Subscriber& subscriber, std::vector<Record>& held,
                      std::vector<Event>& events);
    void print(const Record& record);

    std::optional<std::uint64_t> after_; // the records of run_ up to this seq are done with
    std::string run_;                    // the daemon's run id; empty before its first status
    bool raw_;
};

void Tail::follow(Subscriber& subscriber, bool reconnected)
{
    resume(subscriber, reconnected);
    for (;;) {
        try {
            const auto message = subscriber.next(1h);
            if (!message)
                continue;
            if (const auto* record = std::get_if<Record>(&*message))
                print(*record);
            else
                report(std::get<Event>(*message));
        } catch (const MalformedLine& error) {
            warn(error.what());
        }
    }
}

// Asks for what was not printed yet, then for the daemon's run. Records that come before
// the status answer are held and sorted: replayed ones may follow live ones the daemon sent
// before it read the replay request, and which of them to skip depends on the run.
void Tail::resume(Subscriber& subscriber, bool reconnected)
{
    const bool replaying = after_.has_value();
    if (replaying)
        subscriber.send(replayRequest(*after_, run_));
    subscriber.send(statusRequest());

    std::vector<Record> held;
    std::vector<Event> events;
    const Event status = awaitStatus(subscriber, held, events);
    const std::string run = status.fields["run"].isString() ? status.fields["run"].asString() : "";
    if (reconnected) {
        if (!run_.empty() && run != run_) {
            warn("the daemon restarted; printing what its new run holds");
            after_ = 0;
        } else if (after_) {
            warn("reconnected; resuming after seq " + std::to_string(*after_));
        } else {
            warn("reconnected");
        }
    }
    run_ = run;

    for (const Event& event : events)
        report(event);
    std::stable_sort(held.begin(), held.end(),
                     [](const Record& a, const Record& b) { return a.seq < b.seq; });
    for (const Record& record : held)
        print(record);
    // Without --since tail starts live; after a reconnect it goes on from where it started.
    const Json::Value& lastSeq = status.fields["last_seq"];
    if (!replaying && lastSeq.isUInt64())
        after_ = std::max(after_.value_or(0), lastSeq.asUInt64());
}

Event Tail::awaitStatus(Subscriber& subscriber, std::vector<Record>& held,
                        std::vector<Event>& events)
{
    const Deadline deadline = std::chrono::steady_clock::now() + replyTimeout;
    while (std::optional<Message> message = nextBefore(subscriber, deadline)) {
        if (auto* record = std::get_if<Record>(&*message))
            held.push_back(std::move(*record));
        else if (auto& event = std::get<Event>(*message); event.name == "status")
            return std::move(event);
        else
            events.push_back(std::move(event));
    }
    throw Disconnected("no answer to status from the daemon within " +
                       std::to_string(replyTimeout.count()) + " s");
}

void Tail::print(const Record& record)
{
    if (after_ && record.seq <= *after_)
        return;
    const std::string payload = raw_ ? payloadOf(record) : std::string();
    const std::string& text = raw_ ? payload : record.line;
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
        std::fputc('\n', stdout) == EOF || std::fflush(stdout) != 0)
        throw system::errnoError(errno, "cannot write to stdout");
    after_ = record.seq;
}

} // namespace

int runTail(const std::string& socketPath, std::optional<std::uint64_t> since, bool raw)
{
    exitQuietlyOnSignals();
    std::optional<Subscriber> subscriber = connectOrWarn(socketPath);
    if (!subscriber)
        return exitFailure;
    Tail tail(since, raw);
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
    } catch (const std::system_error& error) {
        warn(error.what());
        return exitFailure;
    }
}

} // namespace wspush::ctl
