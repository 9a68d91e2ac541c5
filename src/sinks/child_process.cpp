// SPDX-License-Identifier: MIT
#include "sinks/child_process.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "system/errno_error.hpp"
#include "system/log.hpp"

namespace wspush::sinks {

namespace {

constexpr std::int64_t usPerSecond = 1'000'000;

std::int64_t monotonicUs() noexcept
{
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// A line as the log may show it: control characters become '?'.
std::string printable(std::string_view text)
{
    if (text.ends_with('\r'))
        text.remove_suffix(1);
    std::string out(text);
    for (char& c : out) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f)
            c = '?';
    }
    return out;
}

// Owns what posix_spawn needs and frees it on every path.
struct SpawnSetup
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;

    SpawnSetup()
    {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attributes);
    }
    ~SpawnSetup()
    {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attributes);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;
};

std::vector<char*> pointersTo(const std::vector<std::string>& strings)
{
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (const std::string& string : strings)
        pointers.push_back(const_cast<char*>(string.c_str()));
    pointers.push_back(nullptr);
    return pointers;
}

void makePipe(system::UniqueFd& readEnd, system::UniqueFd& writeEnd)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw system::errnoError(errno, "pipe2");
    readEnd.reset(fds[0]);
    writeEnd.reset(fds[1]);
}

void setNonBlocking(int fd)
{
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        throw system::errnoError(errno, "fcntl O_NONBLOCK");
}

} // namespace

ChildOutputLog::ChildOutputLog(event::EventLoop& loop, std::string name)
    : name_(std::move(name)), report_(loop.context(), [this] { tellSuppressed(); })
{
}

void ChildOutputLog::line(pid_t pid, std::string_view text, bool cut) noexcept
{
    const std::int64_t now = monotonicUs();
    if (now - windowStartUs_ >= usPerSecond) {
        tellSuppressed();
        windowStartUs_ = now;
        linesInWindow_ = 0;
    }
    if (linesInWindow_ >= maxLinesPerSecond) {
        ++suppressed_;
        if (!report_.isPending())
            report_.schedule(std::chrono::microseconds(windowStartUs_ + usPerSecond - now));
        return;
    }
    ++linesInWindow_;
    try {
        log::info(name_ + " [" + std::to_string(pid) + "]: " + printable(text) +
                  (cut ? " [cut at 4 KiB]" : ""));
    } catch (const std::bad_alloc&) {
    }
}

void ChildOutputLog::tellSuppressed() noexcept
{
    report_.cancel();
    if (suppressed_ == 0)
        return;
    try {
        log::notice(name_ + ": " + std::to_string(suppressed_) +
                    " more lines of output not logged (at most " +
                    std::to_string(maxLinesPerSecond) + " a second)");
    } catch (const std::bad_alloc&) {
    }
    suppressed_ = 0;
}

ChildProcess::ChildProcess(event::EpollSet& epoll, ChildOutputLog& log, const Options& options,
                           ExitCallback onExit, std::function<void()> onWritable)
    : epoll_(epoll), log_(log), onExit_(std::move(onExit)), onWritable_(std::move(onWritable))
{
    system::UniqueFd childStdin;
    if (options.stdinPipe) {
        makePipe(childStdin, stdin_);
        setNonBlocking(stdin_.get());
    } else {
        childStdin.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (!childStdin.isValid())
            throw system::errnoError(errno, "open /dev/null");
    }
    system::UniqueFd childStdout;
    system::UniqueFd childStderr;
    makePipe(stdout_.fd, childStdout);
    makePipe(stderr_.fd, childStderr);
    setNonBlocking(stdout_.fd.get());
    setNonBlocking(stderr_.fd.get());

    SpawnSetup setup;
    posix_spawn_file_actions_adddup2(&setup.actions, childStdin.get(), 0);
    posix_spawn_file_actions_adddup2(&setup.actions, childStdout.get(), 1);
    posix_spawn_file_actions_adddup2(&setup.actions, childStderr.get(), 2);
    // Nothing of the daemon's (sockets, the store, the lock) reaches the command.
    posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
    // The daemon blocks the signals it reads from a signalfd and ignores SIGPIPE; a child
    // inherits both through exec unless told otherwise.
    sigset_t none;
    sigemptyset(&none);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigmask(&setup.attributes, &none);
    posix_spawnattr_setsigdefault(&setup.attributes, &all);
    posix_spawnattr_setpgroup(&setup.attributes, 0);
    posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                    POSIX_SPAWN_SETPGROUP);
    const std::vector<char*> argv = pointersTo(options.argv);
    const std::vector<char*> env = pointersTo(options.env);
    pid_t pid = -1;
    const int error = posix_spawn(&pid, options.path.c_str(), &setup.actions, &setup.attributes,
                                  argv.data(), env.data());
    if (error != 0)
        throw system::errnoError(error, "cannot run " + options.path);
    pid_ = pid;
    started_ = std::chrono::steady_clock::now();

    // Until it is reaped the pid cannot be reused, so the pidfd is the child's.
    // Through syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C" for C++.
    pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    const auto watch = [this](system::UniqueFd& fd, event::EpollSet::Token& token,
                              std::uint32_t events, event::EpollSet::Callback callback) {
        token = epoll_.add(fd.get(), events, std::move(callback));
        if (token == 0)
            throw system::errnoError(errno, "epoll_ctl");
    };
    try {
        if (!pidfd_.isValid())
            throw system::errnoError(errno, "pidfd_open");
        watch(pidfd_, pidfdToken_, EPOLLIN, [this](std::uint32_t) { onPidfd(); });
        watch(stdout_.fd, stdout_.token, EPOLLIN, [this](std::uint32_t) { readOutput(stdout_); });
        watch(stderr_.fd, stderr_.token, EPOLLIN, [this](std::uint32_t) { readOutput(stderr_); });
    } catch (...) {
        signalGroup(SIGKILL);
        while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
        exited_ = true;
        epoll_.remove(pidfdToken_);
        epoll_.remove(stdout_.token);
        epoll_.remove(stderr_.token);
        throw;
    }
}

ChildProcess::~ChildProcess()
{
    if (!exited_) {
        signalGroup(SIGKILL);
        while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    epoll_.remove(pidfdToken_);
    epoll_.remove(stdinToken_);
    epoll_.remove(stdout_.token);
    epoll_.remove(stderr_.token);
}

void ChildProcess::signalGroup(int signal) noexcept
{
    // The group is the child's pid; it stays valid while any member lives, even after
    // the child itself was reaped.
    if (pid_ > 0)
        ::kill(-pid_, signal);
}

ssize_t ChildProcess::write(const iovec* vectors, int count) noexcept
{
    if (!stdin_.isValid()) {
        errno = EPIPE;
        return -1;
    }
    ssize_t written = 0;
    do {
        written = ::writev(stdin_.get(), vectors, count);
    } while (written < 0 && errno == EINTR);
    return written;
}

void ChildProcess::wantWritable() noexcept
{
    if (!stdin_.isValid())
        return;
    // One-shot: a pipe whose reader is gone reports EPOLLERR for as long as it is watched.
    constexpr std::uint32_t events = EPOLLOUT | EPOLLONESHOT;
    if (stdinToken_ != 0) {
        epoll_.modify(stdinToken_, events);
        return;
    }
    stdinToken_ = epoll_.add(stdin_.get(), events, [this](std::uint32_t) {
        if (onWritable_)
            onWritable_();
    });
}

void ChildProcess::closeStdin() noexcept
{
    epoll_.remove(stdinToken_);
    stdinToken_ = 0;
    stdin_.reset();
}

bool ChildProcess::tryReap() noexcept
{
    if (exited_)
        return true;
    if (waitpid(pid_, nullptr, WNOHANG) != pid_)
        return false;
    exited_ = true;
    return true;
}

void ChildProcess::readOutput(Output& output) noexcept
{
    char buffer[16 * 1024];
    // Bounded, so a chatty child shares the loop; what is left comes in the next round.
    for (int round = 0; round < 4 && output.fd.isValid(); ++round) {
        const ssize_t got = ::read(output.fd.get(), buffer, sizeof buffer);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got == 0 || errno != EAGAIN)
                closeOutput(output);
            return;
        }
        std::string_view data(buffer, static_cast<std::size_t>(got));
        try {
            while (!data.empty()) {
                const auto newline = data.find('\n');
                const std::string_view piece = data.substr(0, newline);
                if (!output.cutting) {
                    const std::size_t room = ChildOutputLog::maxLine - output.partial.size();
                    output.partial.append(piece.substr(0, room));
                    if (piece.size() > room) {
                        log_.line(pid_, output.partial, true);
                        output.partial.clear();
                        output.cutting = true;
                    } else if (newline != std::string_view::npos) {
                        log_.line(pid_, output.partial, false);
                        output.partial.clear();
                    }
                }
                if (newline == std::string_view::npos)
                    break;
                output.cutting = false;
                data.remove_prefix(newline + 1);
            }
        } catch (const std::bad_alloc&) {
            output.partial.clear();
        }
    }
}

void ChildProcess::closeOutput(Output& output) noexcept
{
    if (!output.partial.empty() && !output.cutting)
        log_.line(pid_, output.partial, false);
    output.partial.clear();
    epoll_.remove(output.token);
    output.token = 0;
    output.fd.reset();
}

void ChildProcess::onPidfd() noexcept
{
    int status = 0;
    pid_t reaped = 0;
    do {
        reaped = waitpid(pid_, &status, WNOHANG);
    } while (reaped < 0 && errno == EINTR);
    if (reaped == 0)
        return; // not yet (a spurious wake)
    exited_ = true;
    epoll_.remove(pidfdToken_);
    pidfdToken_ = 0;
    // What it wrote before it exited is logged before its exit is told; the pipes close
    // even when a grandchild still holds their other end.
    for (Output* output : {&stdout_, &stderr_}) {
        for (int round = 0; round < 16 && output->fd.isValid(); ++round)
            readOutput(*output);
        closeOutput(*output);
    }
    closeStdin();
    // Last: it may destroy this object.
    const ExitCallback onExit = std::move(onExit_);
    onExit(reaped < 0 ? 0 : status);
}

} // namespace wspush::sinks
