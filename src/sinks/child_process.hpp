// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <sys/uio.h>
#include <vector>

#include "event/epoll_set.hpp"
#include "event/event_loop.hpp"
#include "event/timer.hpp"
#include "system/unique_fd.hpp"

namespace wspush::sinks {

// What a sink's children write to stdout and stderr, a line at a time into the daemon's
// log under the sink's name: a line is cut at 4 KiB, and at most 100 lines a second are
// logged for one sink; how many more there were is logged once the second is over.
class ChildOutputLog
{
public:
    ChildOutputLog(event::EventLoop& loop, std::string name);

    void line(pid_t pid, std::string_view text, bool cut) noexcept;

    static constexpr std::size_t maxLine = 4096;
    static constexpr unsigned maxLinesPerSecond = 100;

private:
    void tellSuppressed() noexcept;

    std::string name_;
    std::int64_t windowStartUs_ = 0;
    unsigned linesInWindow_ = 0;
    std::uint64_t suppressed_ = 0;
    event::Timer report_;
};

// One child process in a process group of its own, started without a shell, with the
// signal mask and dispositions reset and no fd of the daemon's but 0, 1 and 2. It is reaped
// through the loop (a pidfd in the sink's EpollSet); its output goes to a ChildOutputLog.
class ChildProcess
{
public:
    // The wait status, as waitpid() gives it.
    using ExitCallback = std::function<void(int status)>;

    struct Options
    {
        std::string path;              // what is executed
        std::vector<std::string> argv; // argv[0] as configured
        std::vector<std::string> env;  // NAME=value
        bool stdinPipe = false;        // else /dev/null
    };

    // Throws std::system_error when it cannot be started (the program missing, no fds).
    // `onExit` runs once, from the loop, after the output is read; the ChildProcess may
    // be destroyed in it. `onWritable` runs once after each wantWritable().
    ChildProcess(event::EpollSet& epoll, ChildOutputLog& log, const Options& options,
                 ExitCallback onExit, std::function<void()> onWritable = {});
    // Kills the process group (SIGKILL) and reaps the child if it still runs.
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const noexcept { return pid_; }
    bool exited() const noexcept { return exited_; }
    std::chrono::steady_clock::time_point started() const noexcept { return started_; }

    // To the whole group, which outlives the child while a grandchild is left in it.
    void signalGroup(int signal) noexcept;

    // Writes what the pipe takes now: the bytes written, or -1 with errno (EAGAIN: try again
    // after onWritable; EPIPE: the child closed its stdin).
    ssize_t write(const iovec* vectors, int count) noexcept;
    void wantWritable() noexcept;
    // EOF on the child's stdin.
    void closeStdin() noexcept;
    bool stdinOpen() const noexcept { return stdin_.isValid(); }

    // Reaps the child if it has exited, without waiting and without calling onExit.
    bool tryReap() noexcept;

private:
    struct Output
    {
        system::UniqueFd fd;
        event::EpollSet::Token token = 0;
        std::string partial;
        bool cutting = false; // skipping the rest of a line that was too long
    };

    void readOutput(Output& output) noexcept;
    void closeOutput(Output& output) noexcept;
    void onPidfd() noexcept;

    event::EpollSet& epoll_;
    ChildOutputLog& log_;
    ExitCallback onExit_;
    std::function<void()> onWritable_;
    pid_t pid_ = -1;
    bool exited_ = false;
    std::chrono::steady_clock::time_point started_;
    system::UniqueFd pidfd_;
    event::EpollSet::Token pidfdToken_ = 0;
    system::UniqueFd stdin_;
    event::EpollSet::Token stdinToken_ = 0;
    Output stdout_;
    Output stderr_;
};

} // namespace wspush::sinks
