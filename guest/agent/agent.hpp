// The agent's event loop: requests from the channel start jobs; finished
// jobs become replies. Single-threaded: one poll() over the channel, every
// job's pipes and a signalfd for SIGCHLD.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "channel.hpp"
#include "job.hpp"
#include "gmm/unique_fd.hpp"

namespace gmm::agent {

class Agent {
 public:
  Agent(std::string device, bool verbose);
  // Serves requests until a fatal error; returns the error message.
  std::string run();

 private:
  void handle_line(const Channel::Line& line);
  void reap_children();
  void finish_jobs();
  void reply(const std::string& line);

  Channel channel_;
  bool verbose_;
  UniqueFd child_signals_;
  std::vector<std::unique_ptr<Job>> jobs_;
};

}  // namespace gmm::agent
