// SPDX-License-Identifier: MIT
#include "sinks/outage.hpp"

namespace wspush::sinks {

void Outage::begin(log::Level level, const std::string& why) noexcept
{
    if (ongoing_)
        return;
    ongoing_ = true;
    dropped_ = 0;
    log::write(level, sinkName_ + ": " + why);
}

void Outage::countDrop() noexcept
{
    if (dropped_++ == 0)
        log::warning(sinkName_ + ": max_queue is full: dropping records until it drains "
                                 "(counted as dropped in the status)");
}

void Outage::end() noexcept
{
    if (ongoing_)
        log::notice(sinkName_ + ": writing again; " + std::to_string(dropped_) +
                    " records dropped meanwhile");
    ongoing_ = false;
    dropped_ = 0;
}

} // namespace wspush::sinks
