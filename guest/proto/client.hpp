// The client side of the gmmd protocol: one connection, blocking calls with
// a deadline. Used by gmmctl and by gmm-host (ping).
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"
#include "io/deadline.hpp"
#include "io/line_reader.hpp"
#include "proto/proto.hpp"

namespace gmm::proto {

class Client {
 public:
  // One attempt (io/unix_socket.hpp's connect_unix). Errors, with the path
  // in the message: kInvalidArgument (empty, or too long for a unix
  // socket), kIo "cannot connect PATH: <strerror>" (no socket, nobody
  // listening, ...).
  static Result<Client> connect(const std::string& socket_path);

  // Sends `request` and waits for its reply until `timeout` has passed.
  // Returns the reply body, the error gmmd replied with, or kIo when the
  // connection failed, timed out or the reply was not protocol.
  // A reply that carries a descriptor (acquire) hands it to `descriptor`
  // when given; otherwise it is closed.
  Result<nlohmann::json> call(const Request& request, std::chrono::milliseconds timeout,
                              UniqueFd* descriptor = nullptr);

  // The next line gmmd sends (after `watch`: an event), without its '\n',
  // at most `max_line` bytes. Errors (kIo): the connection was lost, the
  // line is too long, or `deadline` passed (then timed_out() is true).
  Result<std::string> next_line(std::chrono::steady_clock::time_point deadline, std::size_t max_line);
  bool timed_out() const { return timed_out_; }
  // The connection is gone (gmmd closed it or died): no call can succeed
  // on it any more.
  bool lost() const { return lost_; }

 private:
  Client(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)), reader_(fd_.get()) {}
  Status send_all(std::string_view bytes, const Deadline& deadline);

  UniqueFd fd_;
  std::string path_;
  LineReader reader_;  // of fd_; keeps the descriptors received with SCM_RIGHTS, not yet claimed
  bool timed_out_ = false;  // the last call or next_line ran out of time
  bool lost_ = false;       // the peer closed the connection or reset it
};

}  // namespace gmm::proto
