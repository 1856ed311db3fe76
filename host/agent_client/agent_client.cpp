#include "agent_client.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "io/unix_socket.hpp"

namespace gmm::host {
namespace {

using nlohmann::json;
constexpr std::size_t kMaxReplyLine = std::size_t{64} << 20;

int poll_ms(AgentClient::Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - AgentClient::Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

std::string describe(const std::vector<std::string>& argv) {
  std::string text = "`";
  for (const auto& word : argv) text += (text.size() > 1 ? " " : "") + word;
  return text + "`";
}

Result<AgentClient::Output> to_output(const json& reply, const std::string& what, AgentClient::Milliseconds timeout) {
  try {
    if (reply.contains("error")) {
      return make_error(Errc::kInvalidArgument, "guest agent: " + reply.at("error").get<std::string>());
    }
    if (reply.value("timed_out", false)) {
      return make_error(Errc::kIo, what + " timed out after " + std::to_string(timeout.count()) +
                                       " ms and was killed in the guest");
    }
    AgentClient::Output output;
    output.status = reply.at("status").get<int>();
    output.out = reply.at("out").get<std::string>();
    output.err = reply.at("err").get<std::string>();
    output.truncated = reply.value("truncated", false);
    return output;
  } catch (const json::exception& e) {
    return make_error(Errc::kIo, "malformed reply from the guest agent for " + what + ": " + e.what());
  }
}

Result<AgentClient::Milliseconds> uptime_of(const json& pong) {
  try {
    return AgentClient::Milliseconds(pong.at("uptime_ms").get<std::int64_t>());
  } catch (const json::exception& e) {
    return make_error(Errc::kIo, std::string("malformed pong from the guest agent: ") + e.what());
  }
}

}  // namespace

Result<AgentClient> AgentClient::connect(const std::string& socket_path, Milliseconds timeout) {
  // Retries while the socket is missing or refuses: QEMU creates it a moment after it starts.
  auto socket = connect_unix_retry(socket_path, timeout);
  if (!socket && socket.error().code == Errc::kIo) {
    return make_error(Errc::kIo, "the guest control socket: " + socket.error().message + "; is the VM running?");
  }
  if (!socket) return socket.error();
  int fd = socket->release();
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return AgentClient(fd, socket_path);
}

AgentClient AgentClient::adopt(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return AgentClient(fd, "");
}

AgentClient::AgentClient(int fd, std::string socket_path)
    : fd_(fd), reader_(fd), socket_path_(std::move(socket_path)) {
  int type = 0;
  socklen_t size = sizeof type;
  is_socket_ = ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0;
}

Result<AgentClient::Milliseconds> AgentClient::ping(Milliseconds timeout) {
  auto sent = send({{"ping", true}}, Pending{"ping", timeout, Clock::now(), Clock::now() + timeout, {}});
  if (!sent) return sent.error();
  std::uint64_t id = *sent;
  auto got = await_any({id}, pending_.at(id).deadline);
  Pending pending = std::move(pending_.at(id));
  pending_.erase(id);
  if (!got) return no_reply_error(pending);
  return uptime_of(*pending.reply);
}

Result<AgentClient::Milliseconds> AgentClient::wait_ready(Milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::vector<std::uint64_t> pings;
  std::optional<std::uint64_t> answered;
  while (!answered && closed_reason_.empty() && Clock::now() < deadline) {
    // a ping sent before the agent opened its port may be lost: send more
    auto sent = send({{"ping", true}}, Pending{"ping", timeout, Clock::now(), deadline, {}});
    if (sent) pings.push_back(*sent);
    answered = await_any(pings, std::min(deadline, Clock::now() + kPingInterval));
  }
  std::optional<json> pong;
  if (answered) pong = pending_.at(*answered).reply;
  for (auto id : pings) pending_.erase(id);
  if (!pong) {
    if (!closed_reason_.empty()) return channel_error("waiting for the guest agent");
    return make_error(Errc::kIo, "the guest agent did not answer within " + std::to_string(timeout.count()) +
                                     " ms (guest still booting, gmm-agent not running" +
                                     (socket_path_.empty() ? "" : ", or another client connected to " + socket_path_) +
                                     ")");
  }
  return uptime_of(*pong);
}

Result<AgentClient::Output> AgentClient::run(const std::vector<std::string>& argv, Milliseconds timeout,
                                             const RunOptions& options) {
  auto id = start(argv, timeout, options);
  if (!id) return id.error();
  return wait(*id);
}

Result<std::uint64_t> AgentClient::start(const std::vector<std::string>& argv, Milliseconds timeout,
                                         const RunOptions& options) {
  if (argv.empty()) return make_error(Errc::kInvalidArgument, "no command to run");
  json request = {{"argv", argv}, {"timeout_ms", timeout.count()}};
  if (!options.env.empty()) {
    json env = json::object();
    for (const auto& [name, value] : options.env) env[name] = value;
    request["env"] = std::move(env);
  }
  if (options.stdin_data) request["stdin"] = *options.stdin_data;
  auto now = Clock::now();
  return send(std::move(request), Pending{describe(argv), timeout, now, now + timeout + kReplySlack, {}});
}

Result<AgentClient::Output> AgentClient::wait(std::uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return make_error(Errc::kInvalidArgument, "no command with id " + std::to_string(id));
  auto got = await_any({id}, it->second.deadline);
  Pending pending = std::move(pending_.at(id));
  pending_.erase(id);
  if (!got) return no_reply_error(pending);
  return to_output(*pending.reply, pending.what, pending.timeout);
}

Result<std::uint64_t> AgentClient::send(json request, Pending pending) {
  if (!closed_reason_.empty()) return channel_error("sending " + pending.what);
  std::uint64_t id = next_id_++;
  request["id"] = id;
  // replace: an argv word that is not UTF-8 arrives as U+FFFD rather than throwing here
  std::string line = request.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  auto deadline = pending.deadline;
  std::string what = pending.what;
  pending_.emplace(id, std::move(pending));
  if (!write_all(line, deadline)) {
    pending_.erase(id);
    if (!closed_reason_.empty()) return channel_error("sending " + what);
    return make_error(Errc::kIo, "could not send " + what + " to the guest: it is not reading its control channel");
  }
  return id;
}

std::optional<std::uint64_t> AgentClient::await_any(const std::vector<std::uint64_t>& ids,
                                                     Clock::time_point deadline) {
  for (;;) {
    for (auto id : ids) {
      auto it = pending_.find(id);
      if (it != pending_.end() && it->second.reply) return id;
    }
    if (!closed_reason_.empty() || Clock::now() >= deadline) return std::nullopt;
    auto read = reader_.next_line(Deadline(deadline), kMaxReplyLine);
    switch (read.got) {
      case LineReader::Got::kLine: take_line(read.text); break;
      case LineReader::Got::kTimedOut: break;
      case LineReader::Got::kTooLong:
        agent_complaint_ = "a reply line over " + std::to_string(kMaxReplyLine >> 20) + " MiB was dropped";
        complained_at_ = Clock::now();
        break;
      // A socket's EOF, a pty whose other end closed (EIO)
      case LineReader::Got::kClosed: close("the channel was closed (did the VM stop?)"); break;
      case LineReader::Got::kFailed: close(read.text); break;
    }
  }
}

bool AgentClient::write_all(const std::string& data, Clock::time_point deadline) {
  std::size_t done = 0;
  while (done < data.size()) {
    // MSG_NOSIGNAL: a closed socket is an error here, not a SIGPIPE for the whole host program
    ssize_t put = is_socket_ ? ::send(fd_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL)
                             : ::write(fd_.get(), data.data() + done, data.size() - done);
    if (put > 0) {
      done += static_cast<std::size_t>(put);
      continue;
    }
    if (put < 0 && errno != EAGAIN && errno != EINTR) {
      close(std::string("write: ") + std::strerror(errno));
      return false;
    }
    pollfd fd{fd_.get(), POLLOUT, 0};
    if (Clock::now() >= deadline) return false;
    ::poll(&fd, 1, poll_ms(deadline));
  }
  return true;
}

void AgentClient::take_line(const std::string& line) {
  if (line.empty()) return;  // the agent's separators
  json reply = json::parse(line, nullptr, false);
  // junk (a shell's echo before the agent started, a line cut by QEMU) is skipped
  if (!reply.is_object()) return;
  auto id = reply.find("id");
  if (id == reply.end()) {
    if (reply.contains("error") && reply["error"].is_string()) {
      agent_complaint_ = reply["error"];
      complained_at_ = Clock::now();
    }
    return;
  }
  // an echo of our own request (a tty still in cooked mode) is no reply
  bool is_reply = reply.contains("pong") || reply.contains("status") || reply.contains("error");
  if (!id->is_number_unsigned() || !is_reply) return;
  auto it = pending_.find(id->get<std::uint64_t>());
  // unknown ids: replies to requests given up on (or of an earlier client)
  if (it != pending_.end() && !it->second.reply) it->second.reply = std::move(reply);
}

Error AgentClient::channel_error(const std::string& doing) const {
  return make_error(Errc::kIo, "guest control channel" + (socket_path_.empty() ? "" : " " + socket_path_) + ": " +
                                   closed_reason_ + " while " + doing);
}

Error AgentClient::no_reply_error(const Pending& pending) const {
  if (!closed_reason_.empty()) return channel_error("waiting for " + pending.what);
  auto waited = std::chrono::round<Milliseconds>(pending.deadline - pending.sent_at);
  std::string text = "no reply from the guest agent to " + pending.what + " within " +
                     std::to_string(waited.count()) + " ms";
  if (!agent_complaint_.empty() && complained_at_ >= pending.sent_at) {
    text += " (meanwhile the agent said: " + agent_complaint_ + ")";
  }
  return make_error(Errc::kIo, text);
}

void AgentClient::close(std::string reason) {
  reader_ = LineReader(-1);
  fd_.reset();
  closed_reason_ = std::move(reason);
}

}  // namespace gmm::host
