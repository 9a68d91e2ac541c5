// SPDX-License-Identifier: MIT
#include "sinks/outage.hpp"

namespace wspush::sinks {

void Outage::begin(log::Level level, const std::string& why) noexcept
{
    if (ongoing_)
        return;
    ongoing_ = true;
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
    else if (dropped_ != 0)
        log::notice(sinkName_ + ": caught up; " + std::to_string(dropped_) +
                    " records dropped while max_queue was full");
    ongoing_ = false;
    dropped_ = 0;
}

} // namespace wspush::sinks
