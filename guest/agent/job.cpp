#include "job.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "io/unix_socket.hpp"

namespace gmm::agent {
namespace {

struct Pipe {
  UniqueFd read, write;
};

bool make_pipe(Pipe& pipe) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  pipe.read.reset(fds[0]);
  pipe.write.reset(fds[1]);
  return true;
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// In the forked child: only async-signal-safe calls plus setenv (the agent is
// single-threaded, so the allocator is in a sane state). Never returns.
[[noreturn]] void exec_child(const RunRequest& request, std::vector<char*>& argv, int in, int out, int err,
                             int status_fd) {
  ::setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  ::signal(SIGHUP, SIG_DFL);
  if (in < 0) in = ::open("/dev/null", O_RDONLY);
  // dup2 leaves the new descriptors without O_CLOEXEC; all others close on exec
  if (in < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
    int error = errno;
    (void)!::write(status_fd, &error, sizeof error);
    ::_exit(127);
  }
  for (const auto& [name, value] : request.env) ::setenv(name.c_str(), value.c_str(), 1);
  ::execvp(argv[0], argv.data());
  int error = errno;
  (void)!::write(status_fd, &error, sizeof error);
  ::_exit(127);
}

}  // namespace

std::variant<std::unique_ptr<Job>, std::string> Job::start(const RunRequest& request) {
  auto fail = [&](int error) { return "cannot run " + request.argv.at(0) + ": " + std::strerror(error); };
  Pipe out, err, in, status;
  if (!make_pipe(out) || !make_pipe(err) || !make_pipe(status) || (request.stdin_data && !make_pipe(in))) {
    return fail(errno);
  }
  std::vector<char*> argv;
  for (const std::string& word : request.argv) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return fail(errno);
  if (pid == 0) exec_child(request, argv, in.read.get(), out.write.get(), err.write.get(), status.write.get());
  ::setpgid(pid, pid);  // also here, so a kill at once reaches the group

  status.write.reset();
  int error = 0;
  ssize_t got;
  do {
    got = ::read(status.read.get(), &error, sizeof error);
  } while (got < 0 && errno == EINTR);
  if (got == sizeof error) {
    ::waitpid(pid, nullptr, 0);
    return fail(error);
  }

  auto job = std::unique_ptr<Job>(new Job());
  job->id_ = request.id;
  job->pid_ = pid;
  job->out_ = std::move(out.read);
  job->err_ = std::move(err.read);
  set_nonblocking(job->out_.get());
  set_nonblocking(job->err_.get());
  if (request.stdin_data) {
    job->in_ = std::move(in.write);
    job->stdin_data_ = *request.stdin_data;
    set_nonblocking(job->in_.get());
    job->feed_stdin();
  }
  if (request.timeout) job->deadline_ = Clock::now() + *request.timeout;
  return job;
}

void Job::add_pollfds(std::vector<pollfd>& fds) const {
  if (out_) fds.push_back({out_.get(), POLLIN, 0});
  if (err_) fds.push_back({err_.get(), POLLIN, 0});
  if (in_) fds.push_back({in_.get(), POLLOUT, 0});
}

void Job::on_ready(const pollfd& fd) {
  if (fd.fd == out_.get()) drain(out_, out_text_);
  if (fd.fd == err_.get()) drain(err_, err_text_);
  if (fd.fd == in_.get()) feed_stdin();
}

void Job::drain(UniqueFd& fd, BoundedOutput& sink) {
  std::array<char, 65536> buffer;
  // a bounded number of reads per wakeup, so one chatty command cannot starve the others
  for (int round = 0; round < 16 && fd; ++round) {
    ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
    if (got > 0) {
      sink.append(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
    } else if (got < 0 && errno == EINTR) {
      continue;
    } else if (got < 0 && errno == EAGAIN) {
      return;
    } else {
      fd.reset();  // EOF or error
    }
  }
}

void Job::feed_stdin() {
  if (!in_) return;
  const ssize_t put = write_available(in_.get(), std::string_view(stdin_data_).substr(stdin_written_));
  if (put >= 0) stdin_written_ += static_cast<std::size_t>(put);
  // All written: the command sees EOF. An error (EPIPE): it does not want the rest.
  if (put < 0 || stdin_written_ == stdin_data_.size()) in_.reset();
}

void Job::on_exit(int wait_status) {
  wait_status_ = wait_status;
  exited_at_ = Clock::now();
  in_.reset();
}

void Job::on_time(Clock::time_point now) {
  if (!wait_status_ && deadline_ && now >= *deadline_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    timed_out_ = true;
    deadline_.reset();
  }
  if (wait_status_ && now >= exited_at_ + kPipeGrace) {
    drain(out_, out_text_);
    drain(err_, err_text_);
    out_.reset();
    err_.reset();
  }
}

std::optional<Clock::time_point> Job::next_wakeup() const {
  if (!wait_status_) return deadline_;
  if (out_ || err_) return exited_at_ + kPipeGrace;
  return std::nullopt;
}

std::string Job::reply() const {
  RunResult result;
  result.status = exit_status(wait_status_.value_or(0));
  result.out = out_text_.text();
  result.err = err_text_.text();
  result.truncated = out_text_.truncated() || err_text_.truncated();
  result.timed_out = timed_out_;
  return run_reply(id_, result);
}

}  // namespace gmm::agent
