// The agent's wire protocol: one JSON object per line in each direction.
// Requests and replies are described in README.md. Everything here is pure
// (no I/O), so the request handling is unit-tested on the host.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace gmm::agent {

inline constexpr std::size_t kOutputLimit = std::size_t{1} << 20;  // per stream
inline constexpr std::size_t kMaxRequestLine = std::size_t{16} << 20;

struct RunRequest {
  nlohmann::json id;  // a number or a string, echoed in the reply
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // added to the agent's own
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<std::string> stdin_data;  // without it the command reads /dev/null
};

struct PingRequest {
  nlohmann::json id;
};

struct BadRequest {
  nlohmann::json id;  // null when the line had no usable id
  std::string message;
};

using Request = std::variant<RunRequest, PingRequest, BadRequest>;

Request parse_request(std::string_view line);

// Keeps the first `limit` bytes of a stream and remembers that more came.
class BoundedOutput {
 public:
  explicit BoundedOutput(std::size_t limit = kOutputLimit) : limit_(limit) {}
  void append(std::string_view data);
  const std::string& text() const { return text_; }
  bool truncated() const { return truncated_; }

 private:
  std::size_t limit_;
  std::string text_;
  bool truncated_ = false;
};

struct RunResult {
  int status = 0;  // exit status, or 128 + signal number
  std::string out;
  std::string err;
  bool truncated = false;  // out or err hit the limit
  bool timed_out = false;  // killed by the agent at timeout_ms
};

// waitpid() status -> shell-style exit status.
int exit_status(int wait_status);

// Replies, each one JSON object without the trailing newline. Bytes that are
// not UTF-8 (command output) become U+FFFD instead of breaking the JSON.
std::string run_reply(const nlohmann::json& id, const RunResult& result);
std::string pong_reply(const nlohmann::json& id, std::int64_t uptime_ms);
std::string error_reply(const nlohmann::json& id, std::string_view message);

}  // namespace gmm::agent
