// A scripted stand-in for gmm-agent on one end of a socketpair, for the
// client's unit tests: each request line goes to a handler that returns the
// raw bytes to answer (any number of lines, junk, nothing) or closes.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace gmm::host::test {

class FakeAgent {
 public:
  // Returns what to write back; nullopt closes the connection.
  using Handler = std::function<std::optional<std::string>(const nlohmann::json& request)>;

  explicit FakeAgent(Handler handler);
  ~FakeAgent();
  FakeAgent(const FakeAgent&) = delete;
  FakeAgent& operator=(const FakeAgent&) = delete;

  // The client's end; the caller owns it (AgentClient::adopt).
  int take_client_fd();
  // Every request received so far.
  std::vector<nlohmann::json> requests();
  void join();

 private:
  void serve(Handler handler);

  int agent_fd_ = -1;
  int client_fd_ = -1;
  std::mutex mutex_;
  std::vector<nlohmann::json> requests_;
  std::thread thread_;
};

// A reply line as gmm-agent frames it: "\n{...}\n".
std::string framed(const nlohmann::json& reply);

}  // namespace gmm::host::test
