// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "event/epoll_set.hpp"
#include "event/event_loop.hpp"
#include "event/timer.hpp"
#include "sinks/child_process.hpp"
#include "sinks/sink.hpp"
#include "sinks/sink_host.hpp"

namespace wspush::sinks {

// Runs a command for each record (mode: each), or feeds one long-running command a line per
// record on its stdin (mode: stream). Never blocks the loop: children are started with
// posix_spawn, their pipes are non-blocking and they are reaped through a pidfd.
//
// Each mode: at most `concurrency` records are in hand at once; a failed run (exit status
// not 0, a signal, the timeout) runs again after a backoff, up to `retry` more times, then
// the record is skipped, logged and counted as dropped. The cursor moves over records
// whose run succeeded or was given up, in seq order.
// Stream mode: records wait in a bounded queue while the pipe is full; the cursor moves
// over records written whole to the pipe. A command that exits is started again after a
// backoff, and a record it got part of goes whole to the next one.
class ExecSink final : public Sink
{
public:
    // Throws on error: the command must be found and executable (a stream command must
    // start).
    ExecSink(const config::ExecSinkConfig& config, event::EventLoop& loop, SinkHost& host);
    // Ends every child: stdin closed and SIGTERM to its group, up to a second to exit,
    // then SIGKILL; each one is reaped.
    ~ExecSink() override;

    void deliver(const std::shared_ptr<const record::Record>& record) noexcept override;
    bool wantsMore() const noexcept override;
    std::uint64_t handedOn() const noexcept override { return handedOn_; }
    void flush() noexcept override;

    SinkCounters counters() const noexcept override;
    const std::string& name() const noexcept override { return name_; }

    // "exec /usr/local/bin/on-push --quiet", arguments quoted as a shell would need them.
    static std::string nameOf(const config::ExecSinkConfig& config);

private:
    struct Run;
    struct Job
    {
        std::shared_ptr<const record::Record> record;
        unsigned failures = 0;
        bool done = false;
        std::chrono::steady_clock::time_point notBefore; // of the next run, after a failure
        std::unique_ptr<Run> run;
    };

    // Each mode.
    void startJobs() noexcept;
    void startRun(Job& job) noexcept;
    void writeInput(Job& job) noexcept;
    void onTimeout(Job& job) noexcept;
    void finishRun(Job& job, const std::string& failure) noexcept;
    void advance() noexcept;
    void wakeAt(std::chrono::steady_clock::time_point when) noexcept;

    // Stream mode.
    void startStream() noexcept;
    void writeStream() noexcept;
    void onStreamExit(int status) noexcept;
    void stopStream(const std::string& why) noexcept;

    ChildProcess::Options options(const record::Record* record) const;
    std::size_t inputSize(const record::Record& record) const noexcept;

    config::ExecSinkConfig config_;
    std::string name_;
    std::string path_; // the program, found at start
    std::string epoch_;
    std::vector<std::string> environment_; // NAME=value for every child, WSPUSH_EPOCH too
    event::EventLoop& loop_;
    event::EpollSet epoll_;
    ChildOutputLog output_;
    SinkCounters counters_;
    std::uint64_t handedOn_ = 0;
    std::uint64_t queuedBytes_ = 0;

    std::deque<std::unique_ptr<Job>> jobs_; // in seq order; done ones leave from the front
    unsigned active_ = 0;                   // jobs not done
    event::Timer wake_;                     // the next retry is due
    std::chrono::steady_clock::time_point wakeAt_;

    std::unique_ptr<ChildProcess> stream_;
    std::deque<std::shared_ptr<const record::Record>> queue_;
    std::size_t frontWritten_ = 0; // bytes of queue_.front() in the pipe already
    bool waitingWritable_ = false;
    unsigned streamFailures_ = 0;
    event::Timer restart_;
    event::Timer streamKill_;
};

} // namespace wspush::sinks
