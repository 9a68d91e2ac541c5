// SPDX-License-Identifier: MIT
#include "sinks/exec_sink.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "record/timestamp.hpp"
#include "system/errno_error.hpp"
#include "system/log.hpp"

extern char** environ;

namespace wspush::sinks {

namespace {

using std::chrono::steady_clock;

// Records a stream command's queue holds beyond its pipe; then the sink waits, and
// catches up from the store.
constexpr std::size_t maxStreamQueue = std::size_t{1} << 20;
// Records in hand in each mode, done ones waiting for an earlier one included.
constexpr std::size_t maxJobs = 1024;
constexpr auto killAfter = std::chrono::seconds(5);
constexpr auto firstBackoff = std::chrono::seconds(1);
constexpr auto maxBackoff = std::chrono::seconds(60);
// A stream command that ran this long had started well: its backoff starts again.
constexpr auto streamStableAfter = std::chrono::seconds(30);
// How long stopping the sink waits for its children after SIGTERM.
constexpr auto stopGrace = std::chrono::seconds(1);

std::chrono::seconds backoff(unsigned failures) noexcept
{
    const unsigned shift = std::min(failures, 6U);
    return std::min<std::chrono::seconds>(firstBackoff * (1U << shift), maxBackoff);
}

std::string seconds(std::chrono::milliseconds duration)
{
    const auto ms = duration.count();
    if (ms % 1000 == 0)
        return std::to_string(ms / 1000) + " s";
    return std::to_string(ms) + " ms";
}

std::string describeStatus(int status)
{
    if (WIFEXITED(status))
        return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* name = sigabbrev_np(WTERMSIG(status));
        return std::string("killed by ") + (name != nullptr
                                                ? std::string("SIG") + name
                                                : "signal " + std::to_string(WTERMSIG(status)));
    }
    return "status " + std::to_string(status);
}

bool isExecutableFile(const std::string& path)
{
    struct stat status
    {
    };
    return ::stat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
}

// argv[0] as the path to execute: as it is when absolute, else the first executable file
// of that name in the daemon's PATH.
std::string findProgram(const std::string& program)
{
    if (program.starts_with('/')) {
        if (!isExecutableFile(program))
            throw std::runtime_error("cannot run " + program + ": " +
                                     (::access(program.c_str(), F_OK) != 0
                                          ? std::strerror(errno)
                                          : "not an executable file"));
        return program;
    }
    const char* variable = std::getenv("PATH");
    const std::string path =
        variable != nullptr && *variable != '\0' ? variable : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t end = std::min(path.find(':', start), path.size());
        const std::string directory = path.substr(start, end - start);
        if (directory.starts_with('/')) { // a relative entry would depend on the cwd
            std::string candidate = directory;
            candidate.append("/").append(program);
            if (isExecutableFile(candidate))
                return candidate;
        }
        start = end + 1;
    }
    throw std::runtime_error("cannot run " + program +
                             ": no executable file of that name in PATH (" + path + ")");
}

bool needsQuotes(const std::string& argument)
{
    return argument.empty() ||
           argument.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789_-./:=@%+,") != std::string::npos;
}

} // namespace

struct ExecSink::Run
{
    Run(lws_context* context, event::Timer::Callback onTimeout, event::Timer::Callback onKill)
        : timeout(context, std::move(onTimeout)), kill(context, std::move(onKill))
    {
    }

    std::unique_ptr<ChildProcess> child;
    std::size_t written = 0; // bytes of the input in the pipe
    bool timedOut = false;
    event::Timer timeout;
    event::Timer kill;
};

std::string ExecSink::nameOf(const config::ExecSinkConfig& config)
{
    std::string name = "exec";
    for (const std::string& argument : config.command) {
        name += ' ';
        if (!needsQuotes(argument)) {
            name += argument;
            continue;
        }
        name += '\'';
        for (const char c : argument)
            name += c == '\'' ? std::string("'\\''") : std::string(1, c);
        name += '\'';
    }
    return name;
}

ExecSink::ExecSink(const config::ExecSinkConfig& config, event::EventLoop& loop, SinkHost& host)
    : config_(config), name_(nameOf(config)), path_(findProgram(config.command.at(0))),
      epoch_(host.store().epoch()), loop_(loop), epoll_(loop), output_(loop, name_),
      wake_(loop.context(), [this] { startJobs(); }),
      restart_(loop.context(), [this] { startStream(); }), streamKill_(loop.context(), [this] {
          if (stream_)
              stream_->signalGroup(SIGKILL);
      })
{
    // The daemon's environment, less what the config sets and any WSPUSH_* of its own.
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        const std::string_view variable = text.substr(0, text.find('='));
        const bool replaced =
            std::any_of(config_.environment.begin(), config_.environment.end(),
                        [variable](const auto& set) { return set.first == variable; });
        if (!replaced && !variable.starts_with("WSPUSH_"))
            environment_.emplace_back(text);
    }
    for (const auto& [variable, value] : config_.environment) {
        environment_.push_back(variable);
        environment_.back().append("=").append(value);
    }
    environment_.push_back("WSPUSH_EPOCH=" + epoch_);

    if (config_.mode == config::ExecSinkConfig::Mode::Stream) {
        stream_ = std::make_unique<ChildProcess>(
            epoll_, output_, options(nullptr), [this](int status) { onStreamExit(status); },
            [this] {
                waitingWritable_ = false;
                writeStream();
            });
        log::info(name_ + ": started [" + std::to_string(stream_->pid()) + "]");
    }
}

ExecSink::~ExecSink()
{
    std::vector<ChildProcess*> children;
    if (stream_)
        children.push_back(stream_.get());
    for (const auto& job : jobs_) {
        if (job->run && job->run->child)
            children.push_back(job->run->child.get());
    }
    for (ChildProcess* child : children) {
        child->closeStdin();
        child->signalGroup(SIGTERM);
    }
    const auto deadline = steady_clock::now() + stopGrace;
    while (steady_clock::now() < deadline &&
           !std::all_of(children.begin(), children.end(),
                        [](ChildProcess* child) { return child->tryReap(); }))
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // What is left of each group (the ChildProcess destructors kill those not reaped).
    for (ChildProcess* child : children)
        child->signalGroup(SIGKILL);
}

ChildProcess::Options ExecSink::options(const record::Record* record) const
{
    ChildProcess::Options options;
    options.path = path_;
    options.argv = config_.command;
    options.env = environment_;
    options.stdinPipe = config_.input != config::ExecSinkConfig::Input::None;
    if (record != nullptr) {
        options.env.push_back("WSPUSH_SEQ=" + std::to_string(record->seq));
        std::string ts = "WSPUSH_TS=";
        record::appendTimestamp(record->receivedUs, ts);
        options.env.push_back(std::move(ts));
        if (record->binary)
            options.env.emplace_back("WSPUSH_BINARY=1");
    }
    return options;
}

std::size_t ExecSink::inputSize(const record::Record& record) const noexcept
{
    switch (config_.input) {
    case config::ExecSinkConfig::Input::Jsonl:
        return record.line.size();
    case config::ExecSinkConfig::Input::Raw:
        // A stream command gets a line per record; a command per record the payload alone.
        return record.payload.size() + (config_.mode == config::ExecSinkConfig::Mode::Stream);
    case config::ExecSinkConfig::Input::None:
        break;
    }
    return 0;
}

void ExecSink::deliver(const std::shared_ptr<const record::Record>& record) noexcept
{
    try {
        if (config_.mode == config::ExecSinkConfig::Mode::Stream) {
            queue_.push_back(record);
            queuedBytes_ += inputSize(*record);
        } else {
            auto job = std::make_unique<Job>();
            job->record = record;
            jobs_.push_back(std::move(job));
            ++active_;
        }
    } catch (const std::bad_alloc&) {
        ++counters_.dropped;
        log::error(name_ + ": out of memory; record " + std::to_string(record->seq) + " skipped");
    }
}

bool ExecSink::wantsMore() const noexcept
{
    if (config_.mode == config::ExecSinkConfig::Mode::Stream)
        return queuedBytes_ < maxStreamQueue;
    return active_ < config_.concurrency && jobs_.size() < maxJobs;
}

void ExecSink::flush() noexcept
{
    if (config_.mode == config::ExecSinkConfig::Mode::Stream)
        writeStream();
    else
        startJobs();
}

SinkCounters ExecSink::counters() const noexcept
{
    SinkCounters counters = counters_;
    if (config_.mode == config::ExecSinkConfig::Mode::Stream) {
        counters.queuedBytes = queuedBytes_;
    } else {
        for (const auto& job : jobs_) {
            if (!job->done)
                counters.queuedBytes += job->record->payload.size();
        }
    }
    return counters;
}

// Each mode ---------------------------------------------------------------------------

void ExecSink::startJobs() noexcept
{
    const auto now = steady_clock::now();
    auto next = steady_clock::time_point::max();
    std::vector<Job*> due;
    for (const auto& job : jobs_) {
        if (job->done || job->run)
            continue;
        if (job->notBefore > now)
            next = std::min(next, job->notBefore);
        else
            due.push_back(job.get());
    }
    // Not started while iterating: a run that cannot start may finish its job at once, and
    // done jobs leave the list.
    for (Job* job : due)
        startRun(*job);
    if (next != steady_clock::time_point::max())
        wakeAt(next);
}

void ExecSink::startRun(Job& job) noexcept
{
    try {
        job.run = std::make_unique<Run>(
            loop_.context(), [this, &job] { onTimeout(job); },
            [&job] { job.run->child->signalGroup(SIGKILL); });
        job.run->child = std::make_unique<ChildProcess>(
            epoll_, output_, options(job.record.get()),
            [this, &job](int status) {
                const bool timedOut = job.run->timedOut;
                if (timedOut) // whatever of its group ignored SIGTERM
                    job.run->child->signalGroup(SIGKILL);
                job.run.reset(); // the child too: its last act was to call this
                if (timedOut)
                    finishRun(job, "still running after " + seconds(config_.timeout) + ", " +
                                       describeStatus(status));
                else
                    finishRun(job, WIFEXITED(status) && WEXITSTATUS(status) == 0
                                       ? std::string()
                                       : describeStatus(status));
            },
            [this, &job] { writeInput(job); });
    } catch (const std::exception& error) {
        job.run.reset();
        finishRun(job, error.what());
        return;
    }
    if (config_.timeout.count() > 0)
        job.run->timeout.schedule(config_.timeout);
    if (config_.input != config::ExecSinkConfig::Input::None)
        writeInput(job);
}

void ExecSink::writeInput(Job& job) noexcept
{
    Run& run = *job.run;
    const record::Record& record = *job.record;
    const std::string& data =
        config_.input == config::ExecSinkConfig::Input::Raw ? record.payload : record.line;
    while (run.written < data.size()) {
        iovec vector{const_cast<char*>(data.data()) + run.written, data.size() - run.written};
        const ssize_t written = run.child->write(&vector, 1);
        if (written < 0) {
            if (errno == EAGAIN) {
                run.child->wantWritable();
                return;
            }
            break; // it closed its stdin: how it exits tells whether the run worked
        }
        run.written += static_cast<std::size_t>(written);
    }
    run.child->closeStdin();
}

void ExecSink::onTimeout(Job& job) noexcept
{
    Run& run = *job.run;
    log::warning(name_ + ": record " + std::to_string(job.record->seq) + " [" +
                 std::to_string(run.child->pid()) + "] still running after " +
                 seconds(config_.timeout) + "; SIGTERM to its process group, SIGKILL in " +
                 seconds(killAfter));
    run.timedOut = true;
    run.child->signalGroup(SIGTERM);
    run.kill.schedule(killAfter);
}

void ExecSink::finishRun(Job& job, const std::string& failure) noexcept
{
    const std::string seq = std::to_string(job.record->seq);
    if (failure.empty()) {
        job.done = true;
        --active_;
        ++counters_.forwarded;
        advance();
        return;
    }
    ++job.failures;
    if (job.failures > config_.retry) {
        log::error(name_ + ": record " + seq + " failed (" + failure + "); given up after " +
                   std::to_string(job.failures) + (job.failures == 1 ? " run" : " runs") +
                   ", skipped");
        job.done = true;
        --active_;
        ++counters_.dropped;
        advance();
        return;
    }
    const auto delay = backoff(job.failures - 1);
    log::warning(name_ + ": record " + seq + " failed (" + failure + "); run " +
                 std::to_string(job.failures + 1) + " of " + std::to_string(config_.retry + 1) +
                 " in " + seconds(delay));
    job.notBefore = steady_clock::now() + delay;
    wakeAt(job.notBefore);
}

void ExecSink::wakeAt(steady_clock::time_point when) noexcept
{
    if (wake_.isPending() && wakeAt_ <= when)
        return;
    wakeAt_ = when;
    wake_.schedule(std::chrono::duration_cast<std::chrono::microseconds>(
        std::max(when - steady_clock::now(), steady_clock::duration::zero())));
}

void ExecSink::advance() noexcept
{
    while (!jobs_.empty() && jobs_.front()->done) {
        handedOn_ = jobs_.front()->record->seq;
        jobs_.pop_front();
    }
}

// Stream mode -------------------------------------------------------------------------

void ExecSink::startStream() noexcept
{
    try {
        stream_ = std::make_unique<ChildProcess>(
            epoll_, output_, options(nullptr), [this](int status) { onStreamExit(status); },
            [this] {
                waitingWritable_ = false;
                writeStream();
            });
    } catch (const std::exception& error) {
        const auto delay = backoff(streamFailures_++);
        log::error(name_ + ": " + error.what() + "; trying again in " + seconds(delay));
        restart_.schedule(delay);
        return;
    }
    log::info(name_ + ": started [" + std::to_string(stream_->pid()) + "]");
    frontWritten_ = 0;
    waitingWritable_ = false;
    writeStream();
}

void ExecSink::writeStream() noexcept
{
    if (!stream_ || !stream_->stdinOpen() || waitingWritable_)
        return;
    static const char newline = '\n';
    constexpr int maxVectors = 64;
    constexpr std::size_t maxBytes = std::size_t{256} * 1024;
    while (!queue_.empty()) {
        iovec vectors[maxVectors];
        int count = 0;
        std::size_t bytes = 0;
        std::size_t skip = frontWritten_;
        const auto add = [&](const char* data, std::size_t size) {
            if (skip >= size) {
                skip -= size;
                return;
            }
            vectors[count++] = {const_cast<char*>(data) + skip, size - skip};
            bytes += size - skip;
            skip = 0;
        };
        for (const auto& record : queue_) {
            if (count + 2 > maxVectors || bytes >= maxBytes)
                break;
            if (config_.input == config::ExecSinkConfig::Input::Raw) {
                add(record->payload.data(), record->payload.size());
                add(&newline, 1);
            } else {
                add(record->line.data(), record->line.size());
            }
        }
        ssize_t written = stream_->write(vectors, count);
        if (written < 0) {
            if (errno == EAGAIN) {
                waitingWritable_ = true;
                stream_->wantWritable();
            } else {
                stopStream(std::string("its stdin cannot be written: ") + std::strerror(errno));
            }
            return;
        }
        auto left = static_cast<std::size_t>(written);
        while (left > 0) {
            const std::size_t size = inputSize(*queue_.front());
            const std::size_t rest = size - frontWritten_;
            if (left < rest) {
                frontWritten_ += left;
                break;
            }
            left -= rest;
            handedOn_ = queue_.front()->seq;
            queuedBytes_ -= size;
            ++counters_.forwarded;
            queue_.pop_front();
            frontWritten_ = 0;
        }
    }
}

void ExecSink::stopStream(const std::string& why) noexcept
{
    log::warning(name_ + " [" + std::to_string(stream_->pid()) + "]: " + why +
                 "; SIGTERM to its process group, SIGKILL in " + seconds(killAfter));
    stream_->closeStdin();
    stream_->signalGroup(SIGTERM);
    streamKill_.schedule(killAfter);
}

void ExecSink::onStreamExit(int status) noexcept
{
    if (steady_clock::now() - stream_->started() >= streamStableAfter)
        streamFailures_ = 0;
    const auto delay = backoff(streamFailures_++);
    log::warning(name_ + " [" + std::to_string(stream_->pid()) + "]: " + describeStatus(status) +
                 "; starting it again in " + seconds(delay));
    stream_->signalGroup(SIGKILL); // what is left of its group
    stream_.reset();               // its last act was to call this
    streamKill_.cancel();
    frontWritten_ = 0; // a record it got part of goes whole to the next one
    waitingWritable_ = false;
    restart_.schedule(delay);
}

} // namespace wspush::sinks
