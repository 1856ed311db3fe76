// One command the agent runs: its process (in a process group of its own, so
// a timeout kills the whole pipeline), its pipes and what it printed.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "clock.hpp"
#include "protocol.hpp"
#include "gmm/unique_fd.hpp"

namespace gmm::agent {

class Job {
 public:
  // How long the pipes may stay open after the command exited: a background
  // child (`daemon &`) that keeps them open must not hold the reply back.
  static constexpr std::chrono::milliseconds kPipeGrace{200};

  // Forks and execs request.argv (PATH lookup, request.env added). On
  // failure: "cannot run ARGV0: reason".
  static std::variant<std::unique_ptr<Job>, std::string> start(const RunRequest& request);

  const nlohmann::json& id() const { return id_; }
  pid_t pid() const { return pid_; }

  // The pipe ends to watch; on_ready() gets each one back with its revents.
  void add_pollfds(std::vector<pollfd>& fds) const;
  void on_ready(const pollfd& fd);
  void on_exit(int wait_status);
  // Kills the command at its deadline; closes the pipes after the grace.
  void on_time(Clock::time_point now);
  std::optional<Clock::time_point> next_wakeup() const;

  bool finished() const { return wait_status_.has_value() && !out_ && !err_; }
  std::string reply() const;

 private:
  Job() = default;
  void drain(UniqueFd& fd, BoundedOutput& sink);
  void feed_stdin();

  nlohmann::json id_;
  pid_t pid_ = -1;
  UniqueFd out_, err_, in_;
  std::string stdin_data_;
  std::size_t stdin_written_ = 0;
  BoundedOutput out_text_, err_text_;
  std::optional<Clock::time_point> deadline_;
  std::optional<int> wait_status_;
  Clock::time_point exited_at_;
  bool timed_out_ = false;
};

}  // namespace gmm::agent
