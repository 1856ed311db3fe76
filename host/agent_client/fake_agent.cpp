#include "fake_agent.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace gmm::host::test {

FakeAgent::FakeAgent(Handler handler) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw std::runtime_error("socketpair");
  agent_fd_ = fds[0];
  client_fd_ = fds[1];
  thread_ = std::thread([this, handler = std::move(handler)] { serve(handler); });
}

FakeAgent::~FakeAgent() {
  if (client_fd_ >= 0) ::close(client_fd_);
  join();
}

int FakeAgent::take_client_fd() { return std::exchange(client_fd_, -1); }

std::vector<nlohmann::json> FakeAgent::requests() {
  std::lock_guard lock(mutex_);
  return requests_;
}

void FakeAgent::join() {
  if (thread_.joinable()) thread_.join();
}

void FakeAgent::serve(Handler handler) {
  std::string input;
  char buffer[4096];
  for (;;) {
    ssize_t got = ::read(agent_fd_, buffer, sizeof buffer);
    if (got <= 0) break;
    input.append(buffer, static_cast<std::size_t>(got));
    std::size_t newline;
    while ((newline = input.find('\n')) != std::string::npos) {
      auto request = nlohmann::json::parse(input.substr(0, newline));
      input.erase(0, newline + 1);
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
      }
      auto answer = handler(request);
      if (!answer) {
        ::close(agent_fd_);
        return;
      }
      for (std::size_t done = 0; done < answer->size();) {
        ssize_t put = ::write(agent_fd_, answer->data() + done, answer->size() - done);
        if (put <= 0) break;
        done += static_cast<std::size_t>(put);
      }
    }
  }
  ::close(agent_fd_);
}

std::string framed(const nlohmann::json& reply) { return "\n" + reply.dump() + "\n"; }

}  // namespace gmm::host::test
