// SPDX-License-Identifier: MIT
#include "ctl/request.hpp"

#include <cstdio>
#include <system_error>

#include "ctl/field_text.hpp"

namespace wspush::ctl {

void warn(std::string_view text)
{
    std::fprintf(stderr, "wspushctl: %.*s\n", static_cast<int>(text.size()), text.data());
}

std::optional<Subscriber> connectOrWarn(const std::string& socketPath)
{
    try {
        return Subscriber(socketPath);
    } catch (const std::system_error& error) {
        warn(error.what());
        return std::nullopt;
    }
}

std::optional<Message> nextBefore(Subscriber& subscriber, Deadline deadline)
{
    using Clock = std::chrono::steady_clock;
    while (Clock::now() < deadline) {
        try {
            return subscriber.next(
                std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
        } catch (const MalformedLine& error) {
            warn(error.what());
        }
    }
    return std::nullopt;
}

std::optional<Event> request(Subscriber& subscriber, const std::string& requestLine,
                             std::string_view answer)
{
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + replyTimeout;
    try {
        subscriber.send(requestLine);
        while (Clock::now() < deadline) {
            std::optional<Message> message = nextBefore(subscriber, deadline);
            auto* event = message ? std::get_if<Event>(&*message) : nullptr;
            if (event && event->name == answer)
                return std::move(*event);
            if (event && event->name == "error") {
                warn("error: " + fieldText(event->fields["message"]));
                return std::nullopt;
            }
        }
    } catch (const Disconnected& error) {
        warn(error.what());
        return std::nullopt;
    }
    warn("no answer from the daemon within " + std::to_string(replyTimeout.count()) + " s");
    return std::nullopt;
}

} // namespace wspush::ctl
