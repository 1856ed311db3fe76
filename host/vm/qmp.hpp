// A minimal QMP client (QEMU Machine Protocol, JSON lines over the socket
// given by `-qmp unix:PATH,server=on,wait=off`): the capabilities handshake,
// commands, and asynchronous events with QEMU's timestamps. What the VM
// orchestrator needs: stop/cont a node (a "paused" node), quit it, query its
// status, and see SHUTDOWN, STOP, RESUME and GUEST_PANICKED (pvpanic with
// -action panic=pause) as they happen. Single-threaded, blocking with timeouts.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"
#include "io/deadline.hpp"
#include "io/line_reader.hpp"

namespace gmm::host::vm {

struct QmpEvent {
  std::string name;       // "SHUTDOWN", "STOP", "RESUME", "GUEST_PANICKED", ...
  nlohmann::json data;    // the event's "data" (null if none)
  std::int64_t seconds = 0;       // QEMU's host clock when it happened
  std::int64_t microseconds = 0;  // (both -1 if QEMU could not read the clock)
  double unix_time() const { return static_cast<double>(seconds) + static_cast<double>(microseconds) / 1e6; }
};

class QmpClient {
 public:
  // Connects (retrying while QEMU has not created the socket yet), reads the
  // greeting and negotiates capabilities; `timeout` covers all of it.
  static Result<QmpClient> connect(const std::string& path, std::chrono::milliseconds timeout);

  const nlohmann::json& greeting() const { return greeting_; }  // {"QMP": {"version": ..., ...}}

  // Runs a command and returns its "return" value. Events arriving meanwhile
  // are queued for next_event(). Errors: kInvalidArgument with QEMU's
  // {"error": {"class", "desc"}} text, kIo for a closed socket or timeout.
  Result<nlohmann::json> execute(const std::string& command, const nlohmann::json& arguments = nullptr,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // query-status "status": "running", "paused", "prelaunch", "guest-panicked", ...
  Result<std::string> status(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The next event (queued ones first), or nullopt after `timeout`.
  // Errors: the connection closed (QEMU exited) with no event left.
  Result<std::optional<QmpEvent>> next_event(std::chrono::milliseconds timeout);
  // Skips other events (they are dropped) until `name` arrives.
  Result<QmpEvent> wait_event(const std::string& name, std::chrono::milliseconds timeout);

  // The events queued so far, oldest first (e.g. after quit).
  std::deque<QmpEvent>& pending_events() { return events_; }

  // For an event loop: the socket turns readable when QEMU sent something.
  int fd() const { return socket_.get(); }
  // Without waiting: the queued events and those completed by what the
  // socket holds now; a line cut in two waits for its rest. Call it once
  // before waiting on fd() (connect() and execute() may have read events
  // along with their answers), then whenever fd() is readable. Errors: the
  // connection closed (QEMU exited) and no event is left to return.
  Result<std::vector<QmpEvent>> read_events();

 private:
  explicit QmpClient(UniqueFd socket) : socket_(std::move(socket)), reader_(socket_.get()) {}
  // One JSON line; nullopt when `deadline` passes first.
  Result<std::optional<nlohmann::json>> next_message(const Deadline& deadline);
  // One JSON line; its absence within `timeout` is an error.
  Result<nlohmann::json> read_message(std::chrono::milliseconds timeout);
  static QmpEvent to_event(const nlohmann::json& message);

  UniqueFd socket_;
  LineReader reader_;  // of socket_
  nlohmann::json greeting_;
  std::deque<QmpEvent> events_;
  std::uint64_t next_id_ = 1;
};

}  // namespace gmm::host::vm
