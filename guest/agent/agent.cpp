#include "agent.hpp"

#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "clock.hpp"
#include "protocol.hpp"

namespace gmm::agent {
namespace {

std::int64_t uptime_ms() {
  timespec now{};
  ::clock_gettime(CLOCK_BOOTTIME, &now);
  return std::int64_t{now.tv_sec} * 1000 + now.tv_nsec / 1000000;
}

int poll_timeout(std::optional<Clock::time_point> wakeup, Clock::time_point now) {
  if (!wakeup) return -1;
  if (*wakeup <= now) return 0;
  // rounded up, so the loop does not spin in the last millisecond
  return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(*wakeup - now).count()) + 1;
}

void earliest(std::optional<Clock::time_point>& current, std::optional<Clock::time_point> other) {
  if (other && (!current || *other < *current)) current = other;
}

}  // namespace

Agent::Agent(std::string device, bool verbose) : channel_(std::move(device)), verbose_(verbose) {}

std::string Agent::run() {
  sigset_t child_signal;
  sigemptyset(&child_signal);
  sigaddset(&child_signal, SIGCHLD);
  if (::sigprocmask(SIG_BLOCK, &child_signal, nullptr) != 0) return std::string("sigprocmask: ") + std::strerror(errno);
  child_signals_.reset(::signalfd(-1, &child_signal, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!child_signals_) return std::string("signalfd: ") + std::strerror(errno);

  std::vector<pollfd> fds;
  std::vector<Job*> owners;  // owners[i] watches fds[first_job + i]
  for (;;) {
    auto now = Clock::now();
    for (auto& job : jobs_) job->on_time(now);
    finish_jobs();

    fds.assign(1, pollfd{child_signals_.get(), POLLIN, 0});
    std::optional<pollfd> device = channel_.prepare(now);
    if (device) fds.push_back(*device);
    std::size_t first_job = fds.size();
    owners.clear();
    std::optional<Clock::time_point> wakeup = channel_.next_wakeup();
    for (auto& job : jobs_) {
      std::size_t before = fds.size();
      job->add_pollfds(fds);
      owners.insert(owners.end(), fds.size() - before, job.get());
      earliest(wakeup, job->next_wakeup());
    }

    int ready = ::poll(fds.data(), fds.size(), poll_timeout(wakeup, now));
    if (ready < 0 && errno != EINTR) return std::string("poll: ") + std::strerror(errno);
    if (ready <= 0) continue;
    if (fds[0].revents) reap_children();
    if (device && fds[1].revents) {
      for (const auto& line : channel_.on_ready(fds[1].revents)) handle_line(line);
    }
    for (std::size_t i = first_job; i < fds.size(); ++i) {
      if (fds[i].revents) owners[i - first_job]->on_ready(fds[i]);
    }
  }
}

void Agent::handle_line(const Channel::Line& line) {
  if (line.too_long) {
    return reply(error_reply(nullptr, "malformed request: line longer than " +
                                          std::to_string(kMaxRequestLine >> 20) + " MiB"));
  }
  Request request = parse_request(line.text);
  if (auto* ping = std::get_if<PingRequest>(&request)) return reply(pong_reply(ping->id, uptime_ms()));
  if (auto* bad = std::get_if<BadRequest>(&request)) {
    std::fprintf(stderr, "gmm-agent: %s\n", bad->message.c_str());
    return reply(error_reply(bad->id, bad->message));
  }
  auto& run = std::get<RunRequest>(request);
  auto started = Job::start(run);
  if (auto* error = std::get_if<std::string>(&started)) return reply(error_reply(run.id, *error));
  auto& job = std::get<std::unique_ptr<Job>>(started);
  if (verbose_) {
    std::fprintf(stderr, "gmm-agent: id %s: pid %d runs %s\n", run.id.dump().c_str(), job->pid(), run.argv[0].c_str());
  }
  jobs_.push_back(std::move(job));
}

void Agent::reap_children() {
  signalfd_siginfo info;
  while (::read(child_signals_.get(), &info, sizeof info) == sizeof info) {
  }
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    auto job = std::find_if(jobs_.begin(), jobs_.end(), [&](const auto& j) { return j->pid() == pid; });
    if (job != jobs_.end()) (*job)->on_exit(status);
  }
}

void Agent::finish_jobs() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (!(*it)->finished()) {
      ++it;
      continue;
    }
    if (verbose_) std::fprintf(stderr, "gmm-agent: id %s: pid %d done\n", (*it)->id().dump().c_str(), (*it)->pid());
    reply((*it)->reply());
    it = jobs_.erase(it);
  }
}

void Agent::reply(const std::string& line) {
  if (!channel_.send(line)) std::fprintf(stderr, "gmm-agent: reply dropped: the host has not read %zu MiB\n",
                                         Channel::kMaxQueued >> 20);
}

}  // namespace gmm::agent
